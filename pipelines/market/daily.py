"""From the feeds' observations to one row per day: precedence, derived values, discrepancies, gaps.

**Precedence.** For each column, the kinds of feed in ``PRECEDENCE`` order, best first; among
feeds of one kind, config order. Coin Metrics comes first wherever it has the column: its
values are defined per UTC day from the chain itself (block counts, fees, issuance, mean
difficulty) with a documented end-of-day reference price. mempool.space comes next for hash rate
and difficulty (computed from its own node), then Blockchain.com's chart exports.

**Derived values** fill a column only where no feed has it, in this order, and are marked
``derived`` in the column's ``_source``: ``fees_usd = fees_btc × price_usd``,
``issuance_usd = issuance_btc × price_usd``, ``miner_revenue_usd = issuance_usd + fees_usd``.
``hashprice_usd_per_ph_day = miner_revenue_usd / (1,000 × hashrate_ehs)`` is always derived.

**Gaps stay gaps**: a day no feed covers is null, never interpolated. The table spans the first
to the last day any feed covers, so a column's gaps are the null runs between its own first
and last value (``column_gaps``).

**Discrepancies**: wherever another feed (or a derived value) has a value for a day and column
besides the chosen one, and the relative difference ``|a − b| / max(|a|, |b|)`` exceeds the
column's tolerance (``[market.tolerances]``), a row in ``market_discrepancies``.
"""

from __future__ import annotations

import polars as pl

from pipelines.schemas.market import (
    MARKET_DAILY,
    MARKET_DISCREPANCIES,
    MARKET_METRICS,
    OBSERVATION_SCHEMA,
)

DERIVED = "derived"
HASHPRICE = "hashprice_usd_per_ph_day"
PH_PER_EH = 1_000.0

_COINMETRICS = ("coinmetrics_api", "coinmetrics_csv")
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "price_usd": (*_COINMETRICS, "mempool_api", "blockchain_com"),
    "hashrate_ehs": (*_COINMETRICS, "mempool_api", "blockchain_com"),
    "difficulty": (*_COINMETRICS, "mempool_api", "blockchain_com"),
    "block_count": _COINMETRICS,
    "fees_btc": (*_COINMETRICS, "blockchain_com"),
    "fees_usd": (*_COINMETRICS, "blockchain_com"),
    "issuance_btc": _COINMETRICS,
    "issuance_usd": _COINMETRICS,
    "miner_revenue_usd": (*_COINMETRICS, "blockchain_com"),
    "market_cap_usd": _COINMETRICS,
}

# column -> (formula, inputs): fills the column where no feed has it; applied in this order
DERIVATIONS: dict[str, tuple[str, pl.Expr]] = {
    "fees_usd": ("fees_btc × price_usd", pl.col("fees_btc") * pl.col("price_usd")),
    "issuance_usd": ("issuance_btc × price_usd", pl.col("issuance_btc") * pl.col("price_usd")),
    "miner_revenue_usd": (
        "issuance_usd + fees_usd",
        pl.col("issuance_usd") + pl.col("fees_usd"),
    ),
}

VALUE_COLUMNS = (
    "price_usd",
    "hashrate_ehs",
    "difficulty",
    "block_count",
    "fees_btc",
    "fees_usd",
    "issuance_btc",
    "issuance_usd",
    "miner_revenue_usd",
    HASHPRICE,
    "market_cap_usd",
)


def _ranked(observations: pl.DataFrame, feed_order: list[str]) -> pl.DataFrame:
    """Observations with ``_rank`` (0 = best) per the precedence and config order."""
    kind_ranks = pl.DataFrame(
        [(m, kind, i) for m, kinds in PRECEDENCE.items() for i, kind in enumerate(kinds)],
        schema={"metric": pl.String, "source": pl.String, "_kind": pl.Int64},
        orient="row",
    )
    last_kind = max(len(kinds) for kinds in PRECEDENCE.values())
    feed_rank = pl.col("feed").replace_strict(
        {feed: i for i, feed in enumerate(feed_order)},
        default=len(feed_order),
        return_dtype=pl.Int64,
    )
    return (
        observations.join(kind_ranks, on=["metric", "source"], how="left")
        .with_columns(
            (pl.col("_kind").fill_null(last_kind) * (len(feed_order) + 1) + feed_rank).alias(
                "_rank"
            )
        )
        .drop("_kind")
    )


def choose(observations: pl.DataFrame, feed_order: list[str]) -> pl.DataFrame:
    """One row per (date, metric): the observation with precedence, plus ``_rank``."""
    return (
        _ranked(observations, feed_order)
        .sort("date", "metric", "_rank")
        .unique(["date", "metric"], keep="first", maintain_order=True)
    )


def market_daily(observations: pl.DataFrame, feed_order: list[str]) -> pl.DataFrame:
    """One row per day from the first to the last observed day (see the module docstring)."""
    columns = list(MARKET_DAILY.descriptions)
    if observations.is_empty():
        return pl.DataFrame(schema=_daily_schema())
    chosen = choose(observations, feed_order)
    spine = pl.DataFrame(
        {"date": pl.date_range(chosen["date"].min(), chosen["date"].max(), "1d", eager=True)}
    )
    wide = spine
    for metric in MARKET_METRICS:
        part = chosen.filter(pl.col("metric") == metric).select(
            "date", pl.col("value").alias(metric), pl.col("feed").alias(f"{metric}_source")
        )
        wide = wide.join(part, on="date", how="left")
    wide = _derive(wide)
    return wide.select(columns).sort("date")


def _derive(wide: pl.DataFrame) -> pl.DataFrame:
    for column, (_, formula) in DERIVATIONS.items():
        fill = pl.col(column).is_null() & formula.is_not_null()
        wide = wide.with_columns(
            pl.when(fill)
            .then(pl.lit(DERIVED))
            .otherwise(pl.col(f"{column}_source"))
            .alias(f"{column}_source"),
            pl.coalesce(column, formula).alias(column),
        )
    hashprice = pl.when(pl.col("hashrate_ehs") > 0).then(
        pl.col("miner_revenue_usd") / (PH_PER_EH * pl.col("hashrate_ehs"))
    )
    return wide.with_columns(
        hashprice.alias(HASHPRICE),
        pl.when(hashprice.is_not_null()).then(pl.lit(DERIVED)).alias(f"{HASHPRICE}_source"),
    )


def _daily_schema() -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"date": pl.Date()}
    schema |= {c: pl.Float64() for c in VALUE_COLUMNS}
    schema |= {f"{c}_source": pl.String() for c in VALUE_COLUMNS}
    return {c: schema[c] for c in MARKET_DAILY.descriptions}


def derived_candidates(daily: pl.DataFrame) -> pl.DataFrame:
    """What each derivation gives on every day its inputs exist, as observations of 'derived'.

    Computed from ``daily``'s chosen values, so an observed column can be checked against
    the value its formula would give (e.g. a feed's revenue against fees + issuance).
    """
    frames = [
        daily.select(
            "date",
            pl.lit(column).alias("metric"),
            formula.alias("value"),
            pl.lit(DERIVED).alias("feed"),
            pl.lit(DERIVED).alias("source"),
            pl.lit(text).alias("record"),
        ).filter(pl.col("value").is_not_null())
        for column, (text, formula) in DERIVATIONS.items()
    ]
    return pl.concat(frames).cast(OBSERVATION_SCHEMA)


def market_discrepancies(
    observations: pl.DataFrame, daily: pl.DataFrame, tolerances: dict[str, float]
) -> pl.DataFrame:
    """Every (day, column) where a feed or derivation disagrees with the chosen value."""
    chosen = daily.unpivot(
        index="date", on=list(MARKET_METRICS), variable_name="metric", value_name="chosen_value"
    ).join(
        daily.unpivot(
            index="date",
            on=[f"{m}_source" for m in MARKET_METRICS],
            variable_name="metric",
            value_name="chosen_feed",
        ).with_columns(pl.col("metric").str.strip_suffix("_source")),
        on=["date", "metric"],
    )
    others = pl.concat([observations, derived_candidates(daily)]).select(
        "date", "metric", pl.col("feed").alias("other_feed"), pl.col("value").alias("other_value")
    )
    scale = pl.max_horizontal(pl.col("chosen_value").abs(), pl.col("other_value").abs())
    difference = (pl.col("chosen_value") - pl.col("other_value")).abs()
    tolerance = pl.col("metric").replace_strict(tolerances, default=0.0, return_dtype=pl.Float64)
    return (
        chosen.filter(pl.col("chosen_value").is_not_null())
        .join(others, on=["date", "metric"])
        .filter(pl.col("other_feed") != pl.col("chosen_feed"))
        .with_columns(
            pl.when(scale > 0).then(difference / scale).otherwise(0.0).alias("relative_difference"),
            tolerance.alias("tolerance"),
        )
        .filter(pl.col("relative_difference") > pl.col("tolerance"))
        .select(list(MARKET_DISCREPANCIES.descriptions))
        .sort("date", "metric", "other_feed")
    )


def column_gaps(daily: pl.DataFrame) -> pl.DataFrame:
    """Runs of missing days per column, between the column's own first and last value."""
    frames = []
    for column in VALUE_COLUMNS:
        present = daily.filter(pl.col(column).is_not_null())["date"]
        if present.is_empty():
            continue
        missing = daily.filter(
            pl.col(column).is_null() & pl.col("date").is_between(present.min(), present.max())
        ).select("date")
        runs = (
            missing.with_columns(
                (pl.col("date").diff().dt.total_days().fill_null(1) != 1).cum_sum().alias("_run")
            )
            .group_by("_run")
            .agg(
                pl.col("date").min().alias("gap_start"),
                pl.col("date").max().alias("gap_end"),
                pl.len().cast(pl.Int64).alias("days"),
            )
            .select(pl.lit(column).alias("metric"), "gap_start", "gap_end", "days")
        )
        frames.append(runs)
    schema = {
        "metric": pl.String(),
        "gap_start": pl.Date(),
        "gap_end": pl.Date(),
        "days": pl.Int64(),
    }
    if not frames:
        return pl.DataFrame(schema=schema)
    order = {column: i for i, column in enumerate(VALUE_COLUMNS)}
    return pl.concat(frames).cast(schema).sort(pl.col("metric").replace_strict(order), "gap_start")
