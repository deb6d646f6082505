"""Which pool built each block's template: pools that send their miners another pool's template.

Stratum-job observations since 2024 show several pools sending their miners exactly AntPool's
block template (same Merkle branches), so the transactions in their blocks are chosen by one
builder. ``dbt_like_sql/seeds/pool_template_builders.csv`` maps such a pool to its builder over
dated ranges with a confidence; two variants read it:

* ``observed``: only rows where identical templates were seen;
* ``inclusive``: also rows where the sources say "possibly" or "sometimes" (``partial``).

A pool without a valid row on the block's date (before the first observation, after its end, or
never observed) builds its own template; unknown blocks stay ``unknown``.
"""

from __future__ import annotations

import polars as pl

from pipelines.mining.attribution import UNKNOWN, PoolLookup, normalise_key
from pipelines.schemas.mining import TEMPLATE_COLUMNS

CONFIDENCE = {"observed": ("observed",), "inclusive": ("observed", "partial")}


def _builders_by_pool_and_day(pairs: pl.DataFrame, builders: pl.DataFrame) -> pl.DataFrame:
    """For distinct ``pool, date`` pairs, the builder of each variant where a seed row is valid
    (null where the pool builds its own template)."""
    out = pairs
    for variant, levels in CONFIDENCE.items():
        valid = (
            pairs.join(
                builders.filter(pl.col("confidence").is_in(levels)).select(
                    "pool", "template_builder", "valid_from", "valid_to"
                ),
                on="pool",
                how="inner",
            )
            .filter(
                (pl.col("valid_from").is_null() | (pl.col("date") >= pl.col("valid_from")))
                & (pl.col("valid_to").is_null() | (pl.col("date") <= pl.col("valid_to")))
            )
            # the seed's overlap check allows one row per pool and day; min() keeps it stable
            .group_by("pool", "date")
            .agg(pl.col("template_builder").min().alias(f"template_builder_{variant}"))
        )
        out = out.join(valid, on=["pool", "date"], how="left")
    return out


def with_template_builders(attributed: pl.DataFrame, builders: pl.DataFrame) -> pl.DataFrame:
    """``attributed`` (with ``pool`` and ``date``) with one ``template_builder_<variant>`` column
    per variant appended; same rows, same order.

    ``builders`` has the seed's ``pool``, ``template_builder``, ``valid_from``, ``valid_to``
    (inclusive, null = open) and ``confidence``. Looked up once per pool and day, not per block.
    """
    mapped = _builders_by_pool_and_day(attributed.select("pool", "date").unique(), builders)
    return attributed.join(
        mapped, on=["pool", "date"], how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(
        pl.when(pl.col("pool") == UNKNOWN)
        .then(pl.lit(UNKNOWN))
        .otherwise(pl.coalesce(column, "pool"))
        .alias(column)
        for column in TEMPLATE_COLUMNS
    )


def template_builders(attributed: pl.DataFrame, builders: pl.DataFrame) -> pl.DataFrame:
    """``height`` and the template-builder columns for every block, sorted by height."""
    return (
        with_template_builders(attributed.select("height", "date", "pool"), builders)
        .select("height", *TEMPLATE_COLUMNS)
        .sort("height")
    )


def unknown_pool_names(builders: pl.DataFrame, lookup: PoolLookup) -> pl.DataFrame:
    """Names in ``pool`` or ``template_builder`` that are not a pool name the attribution uses.

    One row per (column, name) with the CSV ``line`` of its first use and, when the name is a
    known alias or spelling of a registry pool, that pool as ``use_instead``.
    """
    named = pl.concat(
        [
            builders.with_row_index("line", offset=2).select(
                "line", pl.lit(column).alias("column"), pl.col(column).alias("name")
            )
            for column in ("pool", "template_builder")
        ]
    )
    return (
        named.filter(~pl.col("name").is_in(lookup.pools["pool"].implode()))
        .with_columns(normalise_key(pl.col("name")).alias("key"))
        .join(lookup.name_keys.rename({"pool": "use_instead"}), on="key", how="left")
        .group_by("column", "name")
        .agg(pl.col("line").min(), pl.col("use_instead").first())
        .sort("line", "column")
        .select("line", "column", "name", "use_instead")
    )
