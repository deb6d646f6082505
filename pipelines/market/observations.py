"""The common shape every market feed is read into: one row per (day, metric, feed).

Feeds differ in units and layout; readers convert to the canonical units below, so the
combining step (``pipelines.market.daily``) only ever compares like with like. A reader
returns ``(observations, rejects)``: rows it could not use go to the rejects (the shared
``REJECT_SCHEMA``: feed, record, field, value, problem) and the good rows are kept.
"""

from __future__ import annotations

import polars as pl

from pipelines.mining.blocks import MAX_REJECT_VALUE, REJECT_SCHEMA

# metric -> what it is, in the canonical unit every reader converts to
MARKET_METRICS: dict[str, str] = {
    "price_usd": "closing price of one BTC, USD (end of the UTC day)",
    "hashrate_ehs": "network hash rate, EH/s (10^18 hashes per second), daily mean estimate",
    "difficulty": "mining difficulty (dimensionless), mean over the day's blocks or in effect",
    "block_count": "blocks mined that UTC day",
    "fees_btc": "transaction fees paid to miners that day, BTC",
    "fees_usd": "transaction fees paid to miners that day, USD",
    "issuance_btc": "new BTC issued (block subsidies) that day",
    "issuance_usd": "new BTC issued that day, USD",
    "miner_revenue_usd": "miners' revenue that day (subsidy plus fees), USD",
    "market_cap_usd": "market capitalisation (current supply x price), USD",
}

OBSERVATION_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),  # the UTC day the value is for
    "metric": pl.String(),  # a key of MARKET_METRICS
    "value": pl.Float64(),  # in the metric's canonical unit
    "feed": pl.String(),  # the configured feed name ([sources.market.<feed>])
    "source": pl.String(),  # the feed's kind: coinmetrics_api, coinmetrics_csv, ...
    "record": pl.String(),  # where in the source: "row 17", "page 2 item 5", "file.csv row 3"
}

OBSERVATION_COLUMN_DESCRIPTIONS: dict[str, str] = {
    "date": "UTC day the value is for",
    "metric": "what is measured (see market_daily's columns for units)",
    "value": "the value in the metric's canonical unit",
    "feed": "configured feed it came from ([sources.market.<feed>])",
    "source": "kind of the feed (coinmetrics_api, coinmetrics_csv, mempool_api, blockchain_com)",
    "record": "where in the source the value was read",
}

__all__ = [
    "MARKET_METRICS",
    "MAX_REJECT_VALUE",
    "OBSERVATION_COLUMN_DESCRIPTIONS",
    "OBSERVATION_SCHEMA",
    "REJECT_SCHEMA",
    "empty_observations",
    "rejects_of",
]


def empty_observations() -> pl.DataFrame:
    return pl.DataFrame(schema=OBSERVATION_SCHEMA)


def rejects_of(
    frame: pl.DataFrame, feed: str, field: str, value: str, problem: pl.Expr
) -> pl.DataFrame:
    """A reject per row of ``frame`` (which has ``row`` and ``record``): ``row`` (to sort by),
    then the ``REJECT_SCHEMA`` columns, with column ``value`` cut to ``MAX_REJECT_VALUE``."""
    return frame.select(
        "row",
        pl.lit(feed).alias("feed"),
        pl.col("record"),
        pl.lit(field).alias("field"),
        pl.col(value).str.slice(0, MAX_REJECT_VALUE).alias("value"),
        problem.alias("problem"),
    )
