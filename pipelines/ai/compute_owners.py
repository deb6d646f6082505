"""Who owns the AI chips: the chip-owner rows (``raw.ai_chip_owners``, read by
``pipelines/sources/epoch_chip_owners.py``) without double counting, and their concentration.

No-double-counting rule (``ai_compute_owners``): (1) a (quarter, maker, owner) is taken from
one file only, the one naming the fewest owners (the most specific), ties by file name; (2) an
"Other" row counts the maker's chips of everyone its Notes do not exclude, so a named owner of
the same maker and quarter that its "Excludes ..." list leaves out is subtracted from it (median
from median, 95th from 5th and 5th from 95th, floored at 0). An "Other" row without an
"Excludes" note is taken to exclude every named owner. On the Epoch files neither rule changes
anything: every named owner is excluded from its maker's "Other". ``raw.ai_chip_owners`` keeps
every row the files hold; the rule is applied here, and what it changes is reported with the
files' problems in ``raw.ai_chip_owner_problems``.
"""

from __future__ import annotations

import polars as pl

from pipelines.metrics.concentration import concentration_table, ordered_sum
from pipelines.schemas.ai import AI_CHIP_OWNERS, AI_COMPUTE_CONCENTRATION, AI_COMPUTE_OWNERS, OTHER

_QUARTER_KEYS = ["quarter", "chip_manufacturer", "owner"]


def resolve_double_counts(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows with the no-double-counting rule applied, and what it changed: file, row, field
    (Epoch's column: Owner or Notes), value and change, sorted by file and row."""
    specificity = pl.col("owner").filter(pl.col("owner") != OTHER).n_unique().over("file")
    ranked = rows.with_columns(specificity.alias("_named")).sort(
        [*_QUARTER_KEYS, "_named", "file", "row"]
    )
    first = pl.int_range(pl.len()).over(_QUARTER_KEYS) == 0
    ranked = ranked.with_columns(
        first.alias("_kept"),
        pl.format("{} row {}", pl.col("file").first(), pl.col("row").first())
        .over(_QUARTER_KEYS)
        .alias("_kept_record"),
    )
    duplicates = ranked.filter(~pl.col("_kept")).select(
        "file",
        "row",
        pl.lit("Owner").alias("field"),
        pl.col("owner").alias("value"),
        pl.format("also counted in {}: row left out", "_kept_record").alias("change"),
    )
    kept = ranked.filter(pl.col("_kept")).drop("_named", "_kept", "_kept_record")
    residuals = kept.filter((pl.col("owner") == OTHER) & pl.col("excludes").is_not_null())
    inside = (
        kept.filter(pl.col("owner") != OTHER)
        .join(
            residuals.select("quarter", "chip_manufacturer", "excludes", "file", "row"),
            on=["quarter", "chip_manufacturer"],
            suffix="_other",
        )
        .filter(~pl.col("excludes_other").list.contains(pl.col("owner")))
    )
    overlap = pl.format(
        "does not exclude {} ({} row {}): its H100e subtracted from Other", "owner", "file", "row"
    )
    not_excluded = inside.select(
        pl.col("file_other").alias("file"),
        pl.col("row_other").alias("row"),
        pl.lit("Notes").alias("field"),
        pl.col("excludes_other").list.join(", ").alias("value"),
        overlap.alias("change"),
    )
    subtract = inside.group_by(
        pl.col("file_other").alias("file"), pl.col("row_other").alias("row")
    ).agg(
        ordered_sum(pl.col("h100e")).alias("_median"),
        ordered_sum(pl.coalesce("h100e_p05", "h100e")).alias("_p05"),
        ordered_sum(pl.coalesce("h100e_p95", "h100e")).alias("_p95"),
    )
    resolved = (
        kept.join(subtract, on=["file", "row"], how="left")
        .with_columns(
            (pl.col("h100e") - pl.col("_median").fill_null(0)).clip(lower_bound=0),
            (pl.col("h100e_p05") - pl.col("_p95").fill_null(0)).clip(lower_bound=0),
            (pl.col("h100e_p95") - pl.col("_p05").fill_null(0)).clip(lower_bound=0),
        )
        .select(list(AI_CHIP_OWNERS.schema))
    )
    changes = pl.concat([duplicates, not_excluded]).sort("file", "row", maintain_order=True)
    return resolved, changes


def ai_compute_owners(rows: pl.DataFrame) -> pl.DataFrame:
    """H100e per (quarter, owner) summed over chip makers, no chip counted twice
    (``AI_COMPUTE_OWNERS``, sorted by quarter and owner). See the module docstring for the rule."""
    resolved, _ = resolve_double_counts(rows)
    return (
        resolved.group_by("quarter", "quarter_end", "owner")
        .agg(
            pl.col("chip_manufacturer").unique().sort().alias("chip_manufacturers"),
            ordered_sum(pl.col("h100e")),
            ordered_sum(pl.coalesce("h100e_p05", "h100e")).alias("h100e_p05"),
            ordered_sum(pl.coalesce("h100e_p95", "h100e")).alias("h100e_p95"),
            pl.col("partial").any(),
        )
        .select(list(AI_COMPUTE_OWNERS.descriptions))
        .sort("quarter", "owner")
    )


def _scenario(owners: pl.DataFrame, largest_at: str, others_at: str) -> pl.DataFrame:
    """hhi and cr1 per quarter with the largest owner (by median) at one bound, the rest at
    the other."""
    largest = pl.int_range(pl.len()).over("quarter") == 0
    ranked = owners.sort(["quarter", "h100e", "owner"], descending=[False, True, False])
    counts = ranked.select(
        "quarter",
        "owner",
        pl.when(largest).then(pl.col(largest_at)).otherwise(pl.col(others_at)).alias("count"),
    )
    return concentration_table(counts, ["quarter"], entity="owner", unknown_entity=OTHER).select(
        "quarter", "hhi", "cr1"
    )


def ai_compute_concentration(owners: pl.DataFrame) -> pl.DataFrame:
    """The metric set per quarter over owners' median H100e (``AI_COMPUTE_CONCENTRATION``).

    Every quarter with data is computed over the owners present. A series (owner, maker) counts
    from its first quarter with a value, as Epoch counts chips from each file's Start date: a
    series not started yet is no gap. ``missing_series`` lists the started ones without a value
    in the quarter (xAI in Q1-Q3 2025; AMD, Trainium, CoreWeave and xAI in Q1 2026), whose
    owners are then understated; ``complete`` says there is none and Epoch does not mark the
    quarter incomplete.
    "Other" is one entity, reported as unknown_share. hhi_low/hhi_high and cr1_low/cr1_high are
    the metrics in the two extreme scenarios the percentile bounds allow (``_scenario``).
    """
    table = (
        concentration_table(
            owners, ["quarter", "quarter_end"], entity="owner", count="h100e", unknown_entity=OTHER
        )
        .rename({"total": "h100e"})
        .with_columns(
            pl.lit(None, dtype).alias(name)
            for name, dtype in (
                ("hhi_ci_low", pl.Float64),
                ("hhi_ci_high", pl.Float64),
                ("nakamoto_ci_low", pl.Int64),
                ("nakamoto_ci_high", pl.Int64),
            )
        )
    )
    low = _scenario(owners, "h100e_p05", "h100e_p95").rename({"hhi": "hhi_low", "cr1": "cr1_low"})
    high = _scenario(owners, "h100e_p95", "h100e_p05").rename(
        {"hhi": "hhi_high", "cr1": "cr1_high"}
    )
    series = owners.explode("chip_manufacturers").select(
        "quarter", pl.format("{} ({})", "owner", "chip_manufacturers").alias("series")
    )
    started = series.group_by("series").agg(pl.col("quarter").min().alias("first"))
    missing = (
        series.select("quarter")
        .unique()
        .join(started, how="cross")
        .filter(pl.col("first") <= pl.col("quarter"))
        .join(series, on=["quarter", "series"], how="anti")
        .group_by("quarter")
        .agg(pl.col("series").sort().alias("missing_series"))
    )
    per_quarter = owners.group_by("quarter").agg(
        ((pl.col("owner") != OTHER) & (pl.col("h100e") > 0)).sum().cast(pl.Int64).alias("owners"),
        pl.col("partial").any(),
    )
    return (
        table.join(low, on="quarter", how="left")
        .join(high, on="quarter", how="left")
        .join(per_quarter, on="quarter", how="left")
        .join(missing, on="quarter", how="left")
        .with_columns(pl.col("missing_series").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .with_columns(
            ((pl.col("missing_series").list.len() == 0) & ~pl.col("partial")).alias("complete")
        )
        .select(list(AI_COMPUTE_CONCENTRATION.descriptions))
        .sort("quarter")
    )
