"""Mining concentration per time window: shares and metrics by pool, owner and template builder.

Cost is linear in blocks: blocks are first counted per (day, entity), the daily counts are summed
once per window kind and ranked once (``window_counts``), and both tables are computed from the
ranked counts with vectorised Polars expressions (``pipelines.metrics``). While computing,
grouping, policy, window kind and entity are Enums (categories in text order, so they sort as their
text) and a window is keyed by its kind and first day (its end and label follow from those); the
tables hold them as text.

Unknown blocks (``pool = 'unknown'``) under two policies, both kept in the tables:

* ``entity`` (the default view): "unknown" counts as one more entity. It keeps every block in
  the sample, at the cost of treating many small unidentified miners as one.
* ``excluded``: unknown blocks are left out and shares are among identified blocks only.

``unknown_share`` is always the share of unknown blocks among all blocks of the window, and
``blocks`` is the number of blocks behind the metrics (all blocks, or identified ones).
Windows without blocks have no row: a gap in the data is a gap, never zero blocks.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import polars.selectors as cs

from pipelines.metrics.concentration import (
    GROUP_TOTAL,
    concentration_exprs,
    rank_columns,
    share_columns,
)
from pipelines.metrics.windows import WINDOWS, assign_windows, window_bounds, window_label
from pipelines.schemas.mining import MINING_CONCENTRATION

# grouping → the block_attribution column holding each block's entity
GROUPINGS = {
    "pool": "pool",
    "owner": "owner",
    "template_observed": "template_builder_observed",
    "template_inclusive": "template_builder_inclusive",
}
POLICIES = ("entity", "excluded")
UNKNOWN = "unknown"
WINDOW_KEYS = ["window", "window_start", "window_end", "window_label"]
GROUP_KEYS = ["grouping", "unknown_policy", *WINDOW_KEYS]
GROUPING_ENUM = pl.Enum(sorted(GROUPINGS))
POLICY_ENUM = pl.Enum(sorted(POLICIES))
WINDOW_ENUM = pl.Enum(sorted(WINDOWS))
WINDOW_ID = ["window", "window_start"]  # what identifies a window; end and label follow
GROUP_ID = ["grouping", "unknown_policy", *WINDOW_ID]


def daily_counts(attribution: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Blocks per (grouping, date, entity) for every grouping (``grouping`` an Enum)."""
    entities = attribution.lazy().group_by("date", *GROUPINGS.values()).agg(pl.len())
    return pl.concat(
        [
            entities.group_by("date", pl.col(column).alias("entity"))
            .agg(pl.col("len").sum().cast(pl.Int64).alias("count"))
            .with_columns(pl.lit(grouping, GROUPING_ENUM).alias("grouping"))
            for grouping, column in GROUPINGS.items()
        ]
    )


def _entity_enum(daily: pl.DataFrame) -> pl.Enum:
    """An Enum of the entities (and ``UNKNOWN``) in text order, so that it sorts as its text."""
    entities = pl.concat([daily["entity"].drop_nulls(), pl.Series([UNKNOWN])])
    return pl.Enum(entities.unique().sort())


def _counts_by_window(daily: pl.DataFrame, window: str, anchor: date) -> pl.LazyFrame:
    """Blocks per (grouping, window of kind ``window``, entity)."""
    start, _ = window_bounds(pl.col("date"), window, anchor)
    _, end = window_bounds(pl.col("window_start"), window, anchor)
    counts = daily.lazy().with_columns(start.alias("window_start"))
    if window != "day":  # the daily counts are one row per day already
        counts = counts.group_by("grouping", "window_start", "entity").agg(pl.col("count").sum())
    return counts.select(
        "grouping",
        pl.lit(window, WINDOW_ENUM).alias("window"),
        "window_start",
        end.alias("window_end"),
        window_label(window, pl.col("window_start")).alias("window_label"),
        "entity",
        "count",
    )


def _with_policies(counts: pl.DataFrame) -> pl.DataFrame:
    """``counts`` (sorted by grouping first) under each unknown policy, in the same order with
    the policy second: each grouping's rows, then those of its identified entities."""
    policies = [
        pl.lit("entity", POLICY_ENUM).alias("unknown_policy"),
        pl.lit("excluded", POLICY_ENUM).alias("unknown_policy"),
    ]
    parts = [
        part
        for grouping in counts.partition_by("grouping", maintain_order=True)
        for part in (
            grouping.with_columns(policies[0]),
            grouping.filter(pl.col("entity") != UNKNOWN).with_columns(policies[1]),
        )
    ]
    return pl.concat(parts) if parts else counts.with_columns(policies[0])


def window_counts(daily: pl.LazyFrame, anchor: date) -> pl.DataFrame:
    """Blocks per (grouping, unknown policy, window, entity) over every window kind, ranked, from
    ``daily_counts`` (one row per grouping, day and entity).

    Rows are sorted by ``GROUP_ID``, then count descending, then entity (an Enum in text order),
    and carry ``window_number`` (one per group) and the ``rank_columns`` of their group: what
    ``pool_shares`` and ``mining_concentration`` both need, computed once.
    """
    daily = daily.collect()
    daily = daily.with_columns(pl.col("entity").cast(_entity_enum(daily)))
    counts = (
        pl.concat([_counts_by_window(daily, window, anchor) for window in WINDOWS])
        .sort(["grouping", *WINDOW_ID, "count", "entity"], descending=[False] * 3 + [True, False])
        .collect()
    )
    ranked = _with_policies(counts).with_columns(
        pl.struct(GROUP_ID).rle_id().alias("window_number")
    )
    return ranked.with_columns(rank_columns(["window_number"]))


def days_covered(attribution: pl.DataFrame | pl.LazyFrame, anchor: date) -> pl.DataFrame:
    """Per window: days that have blocks, and the window's length in days."""
    days = attribution.lazy().select("date").unique()
    return (
        assign_windows(days, date_col="date", windows=WINDOWS, anchor=anchor)
        .group_by(*WINDOW_KEYS)
        .agg(pl.len().cast(pl.Int64).alias("days_with_blocks"))
        .with_columns(
            ((pl.col("window_end") - pl.col("window_start")).dt.total_days() + 1)
            .cast(pl.Int64)
            .alias("days_in_window")
        )
        .collect()
    )


def pool_shares(counts: pl.DataFrame) -> pl.DataFrame:
    """Each entity's share of each window, with its Wilson interval (``counts`` from
    ``window_counts``, whose order it keeps: by group, then share descending, then entity)."""
    return (
        counts.lazy()
        .select(
            *GROUP_KEYS,
            "entity",
            pl.col("count").alias("blocks"),
            *share_columns(pl.col("count"), pl.col(GROUP_TOTAL)),
        )
        .with_columns(cs.enum().cast(pl.String))
        .collect()
    )


def mining_concentration(counts: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """The metric set per (grouping, unknown policy, window), ``counts`` from ``window_counts``."""
    table = (
        counts.lazy()
        .group_by("window_number")
        .agg(
            *(pl.col(key).first() for key in GROUP_KEYS),
            *concentration_exprs("entity", "count", UNKNOWN),
        )
        .drop("window_number")
        .rename({"total": "blocks"})
        .with_columns(cs.enum().cast(pl.String))
        .collect()
    )
    unknown = table.filter(pl.col("unknown_policy") == "entity").select(
        "grouping", *WINDOW_ID, pl.col("unknown_share").alias("all_unknown_share")
    )
    return (
        table.join(unknown, on=["grouping", *WINDOW_ID], how="left")
        .with_columns(pl.col("all_unknown_share").alias("unknown_share"))
        .join(days, on=WINDOW_ID, how="left")
        .select(list(MINING_CONCENTRATION.descriptions))
        .sort(GROUP_KEYS)
    )
