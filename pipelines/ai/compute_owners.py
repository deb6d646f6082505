"""Who owns the AI chips: Epoch AI's quarterly cumulative chip stock by owner, in H100 equivalents.

Each file counts chips of one maker delivered since its ``Start date`` up to the quarter's
``End date`` (median, 5th and 95th percentile), per owner:

- nvidia_owners_cumulative_totals: Nvidia chips of Microsoft, Meta, Amazon, Google, Oracle and
  China (the Chinese market as a whole, not one company), from 2022;
- nvidia_owners_OTHER_cumulative_totals: Nvidia chips of everyone else ("Other"), whose Notes
  say "Excludes Microsoft, Meta, Amazon, Google, Oracle, China, xAI, CoreWeave";
- coreweave_owners_cumulative_totals: CoreWeave's Nvidia chips, from 2023;
- named_other_owners_cumulative_totals: xAI's Nvidia chips (Colossus), a yearly data-centre
  estimate without percentiles, dated M/D/YY;
- amd_owners_cumulative_totals: AMD chips of Meta, Microsoft, Oracle, China (Q4 2025 only) and
  "Other" ("Excludes Microsoft, Meta, Oracle, China"), from 2024;
- tpu_owners_cumulative_totals: Google's TPUs (maker "Google"), from 2023;
- trainium_owners_cumulative_totals: Amazon's Trainium (maker "Amazon"), from 2024.

No-double-counting rule (``ai_compute_owners``): (1) a (quarter, maker, owner) is taken from
one file only, the one naming the fewest owners (the most specific), ties by file name; (2) an
"Other" row counts the maker's chips of everyone its Notes do not exclude, so a named owner of
the same maker and quarter that its "Excludes ..." list leaves out is subtracted from it (median
from median, 95th from 5th and 5th from 95th, floored at 0). An "Other" row without an
"Excludes" note is taken to exclude every named owner. On the Epoch files neither rule changes
anything: every named owner is excluded from its maker's "Other".
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.http import SourceFormatError
from pipelines.metrics.concentration import concentration_table
from pipelines.schemas.ai import AI_CHIP_OWNERS, AI_COMPUTE_CONCENTRATION, AI_COMPUTE_OWNERS
from pipelines.schemas.rejects import MAX_REJECT_VALUE, REJECT_SCHEMA
from pipelines.sources.text_csv import read_text_csv

OTHER = "Other"
OWNER = "Owner"
MAKER = "Chip manufacturer"
END_DATE = "End date"
MEDIAN = "Compute estimate in H100e (median)"
P05 = "H100e (5th percentile)"
P95 = "H100e (95th percentile)"
NOTES = "Notes"
INCOMPLETE = "Incomplete"
REQUIRED = (OWNER, MAKER, END_DATE, MEDIAN)

# lower-case name -> the name used across files
OWNERS = {
    "microsoft": "Microsoft",
    "meta": "Meta",
    "facebook": "Meta",
    "amazon": "Amazon",
    "aws": "Amazon",
    "google": "Google",
    "oracle": "Oracle",
    "china": "China",
    "coreweave": "CoreWeave",
    "xai": "xAI",
    "other": OTHER,
    "others": OTHER,
}
MAKERS = {"nvidia": "Nvidia", "amd": "AMD", "google": "Google", "amazon": "Amazon"}


_QUARTER_KEYS = ["quarter", "chip_manufacturer", "owner"]


def _name(raw: pl.Expr, names: dict[str, str]) -> pl.Expr:
    """A name stripped, spaces collapsed, and spelled as ``names`` spells it when listed."""
    text = raw.str.replace_all(r"\s+", " ").str.strip_chars()
    canonical = text.str.to_lowercase().replace_strict(names, default=None, return_dtype=pl.String)
    return pl.when(text != "").then(pl.coalesce(canonical, text))


def _end_date(raw: pl.Expr) -> pl.Expr:
    """M/D/YYYY, M/D/YY (20YY) or YYYY-MM-DD; null otherwise."""
    text = raw.str.strip_chars()
    return (
        pl.when(text.str.contains(r"^\d{1,2}/\d{1,2}/\d{4}$"))
        .then(text.str.to_date("%m/%d/%Y", strict=False))
        .when(text.str.contains(r"^\d{1,2}/\d{1,2}/\d{2}$"))
        .then(text.str.to_date("%m/%d/%y", strict=False))
        .when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$"))
        .then(text.str.to_date("%Y-%m-%d", strict=False))
    )


def _number(raw: pl.Expr) -> pl.Expr:
    return (
        raw.str.strip_chars().str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    )


def _number_problem(raw: pl.Expr) -> pl.Expr:
    """Why a cell is not a finite non-negative number ('missing' when empty); null when it is."""
    number = _number(raw)
    return (
        pl.when(raw.is_null() | (raw.str.strip_chars() == ""))
        .then(pl.lit("missing"))
        .when(number.is_null() | ~number.is_finite())
        .then(pl.lit("not a number"))
        .when(number < 0)
        .then(pl.lit("negative"))
    )


def _problem_rows(
    frame: pl.DataFrame, field: str, value: pl.Expr, problem: pl.Expr
) -> pl.DataFrame:
    return frame.filter(problem.is_not_null()).select(
        "file",
        "row",
        pl.lit(field).alias("field"),
        value.cast(pl.String).str.slice(0, MAX_REJECT_VALUE).alias("value"),
        problem.alias("problem"),
    )


def _read_file(path: Path, feed: str) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Rows (``AI_CHIP_OWNERS``) and problem parts of one file."""
    frame = read_text_csv(path.read_bytes(), f"{feed}: {path.name}")
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise SourceFormatError(
            f"{feed}: {path.name} has no column {', '.join(missing)}; "
            f"the file has: {', '.join(frame.columns)}"
        )
    optional = (P05, P95, NOTES, INCOMPLETE)
    raw = frame.select(
        pl.lit(path.name).alias("file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        *REQUIRED,
        *[
            (pl.col(c) if c in frame.columns else pl.lit(None, pl.String)).alias(c)
            for c in optional
        ],
    )
    end = _end_date(pl.col(END_DATE))
    quarter = pl.date(end.dt.year(), (end.dt.month() - 1) // 3 * 3 + 1, 1)
    owner = _name(pl.col(OWNER), OWNERS)
    excluded = (
        pl.col(NOTES)
        .str.extract(r"(?i)excludes\s+([^.]*)", 1)
        .str.split(",")
        .list.eval(_name(pl.element(), OWNERS))
        .list.drop_nulls()
    )
    parsed = raw.with_columns(
        quarter.alias("quarter"),
        quarter.dt.offset_by("2mo").dt.month_end().alias("quarter_end"),
        end.alias("_end"),
        owner.alias("owner"),
        _name(pl.col(MAKER), MAKERS).alias("chip_manufacturer"),
        *[
            pl.when(_number_problem(pl.col(c)).is_null()).then(_number(pl.col(c))).alias(ours)
            for c, ours in ((MEDIAN, "h100e"), (P05, "h100e_p05"), (P95, "h100e_p95"))
        ],
        pl.when(owner == OTHER).then(excluded).alias("excludes"),
        (pl.col(INCOMPLETE).str.strip_chars().str.to_lowercase() == "checked")
        .fill_null(False)
        .alias("partial"),
        pl.lit(feed).alias("feed"),
    )
    problems = [
        _problem_rows(
            parsed,
            OWNER,
            pl.col(OWNER),
            pl.when(pl.col("owner").is_null()).then(pl.lit("missing: row left out")),
        ),
        _problem_rows(
            parsed,
            MAKER,
            pl.col(MAKER),
            pl.when(pl.col("chip_manufacturer").is_null()).then(pl.lit("missing: row left out")),
        ),
        _problem_rows(
            parsed,
            END_DATE,
            pl.col(END_DATE),
            pl.when(pl.col("_end").is_null())
            .then(pl.lit("not a date (M/D/YYYY): row left out"))
            .when(pl.col("_end") != pl.col("quarter_end"))
            .then(pl.lit("not the last day of a quarter: counted in the quarter holding it")),
        ),
        _problem_rows(
            parsed,
            MEDIAN,
            pl.col(MEDIAN),
            pl.when(pl.col("h100e").is_null()).then(
                _number_problem(pl.col(MEDIAN)) + ": row left out"
            ),
        ),
        *[
            _problem_rows(
                parsed,
                bound,
                pl.col(bound),
                pl.when((pl.col(bound).str.strip_chars() != "") & pl.col(ours).is_null())
                .then(_number_problem(pl.col(bound)) + ": bound left null")
                .when(wrong_side)
                .then(pl.lit(f"on the wrong side of the median ({MEDIAN}): bound left null")),
            )
            for bound, ours, wrong_side in (
                (P05, "h100e_p05", pl.col("h100e_p05") > pl.col("h100e")),
                (P95, "h100e_p95", pl.col("h100e_p95") < pl.col("h100e")),
            )
        ],
    ]
    usable = pl.all_horizontal(pl.col("owner", "chip_manufacturer", "_end", "h100e").is_not_null())
    rows = parsed.filter(usable).with_columns(  # a bound on the wrong side is no bound
        pl.when(pl.col("h100e_p05") <= pl.col("h100e")).then("h100e_p05").alias("h100e_p05"),
        pl.when(pl.col("h100e_p95") >= pl.col("h100e")).then("h100e_p95").alias("h100e_p95"),
    )
    rows = rows.select(list(AI_CHIP_OWNERS.schema)).cast(AI_CHIP_OWNERS.schema)
    return rows, problems


def _double_counts(rows: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """The rows with the no-double-counting rule applied, and problem parts for what it changed."""
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
    duplicates = _problem_rows(
        ranked.filter(~pl.col("_kept")),
        OWNER,
        pl.col("owner"),
        pl.format("also counted in {}: row left out", "_kept_record"),
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
    not_excluded = _problem_rows(
        inside.select(
            pl.col("file_other").alias("file"),
            pl.col("row_other").alias("row"),
            pl.col("excludes_other").list.join(", ").alias("excludes"),
            overlap.alias("problem"),
        ),
        NOTES,
        pl.col("excludes"),
        pl.col("problem"),
    )
    subtract = inside.group_by(
        pl.col("file_other").alias("file"), pl.col("row_other").alias("row")
    ).agg(
        pl.col("h100e").sum().alias("_median"),
        pl.coalesce("h100e_p05", "h100e").sum().alias("_p05"),
        pl.coalesce("h100e_p95", "h100e").sum().alias("_p95"),
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
    return resolved, [duplicates, not_excluded]


def read_chip_owner_files(folder: Path, feed: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(rows, problems)`` of every ``*.csv`` of Epoch's chip-owner folder.

    Rows (``AI_CHIP_OWNERS``) are everything the files say, sorted by quarter, owner, maker,
    file, row; a row without an owner, maker, End date or median is left out. Problems
    (``REJECT_SCHEMA``, record ``<file> row N``) report those, bad or disordered bounds, End
    dates that are not a quarter's last day, and what the no-double-counting rule changes. A
    missing or empty folder, an unreadable file or one without the needed columns raises
    SourceFormatError naming ``feed``.
    """
    paths = sorted(Path(folder).glob("*.csv")) if Path(folder).is_dir() else []
    if not paths:
        raise SourceFormatError(f"{feed}: no chip-owner CSV files in {folder}")
    parts = [_read_file(path, feed) for path in paths]
    rows = pl.concat([part_rows for part_rows, _ in parts]).sort(
        "quarter", "owner", "chip_manufacturer", "file", "row"
    )
    _, rule_problems = _double_counts(rows)
    problems = (
        pl.concat([p for _, file_problems in parts for p in file_problems] + rule_problems)
        .sort("file", "row", maintain_order=True)
        .select(
            pl.lit(feed).alias("feed"),
            pl.format("{} row {}", "file", "row").alias("record"),
            "field",
            "value",
            "problem",
        )
        .cast(REJECT_SCHEMA)
    )
    return rows, problems


def ai_compute_owners(rows: pl.DataFrame) -> pl.DataFrame:
    """H100e per (quarter, owner) summed over chip makers, no chip counted twice
    (``AI_COMPUTE_OWNERS``, sorted by quarter and owner). See the module docstring for the rule."""
    resolved, _ = _double_counts(rows)
    return (
        resolved.group_by("quarter", "quarter_end", "owner")
        .agg(
            pl.col("chip_manufacturer").unique().sort().alias("chip_manufacturers"),
            pl.col("h100e").sum(),
            pl.coalesce("h100e_p05", "h100e").sum().alias("h100e_p05"),
            pl.coalesce("h100e_p95", "h100e").sum().alias("h100e_p95"),
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
