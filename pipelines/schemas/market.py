"""Contracts of the market tables: one row per (day, metric, feed), and hash rate by country.

Feeds differ in units and layout; readers convert to the canonical units of ``MARKET_METRICS``,
so the combining step (``pipelines.market.daily``) only ever compares like with like.
"""

import polars as pl

from pipelines.schemas import table
from pipelines.schemas.rejects import rejects_table

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

MARKET_OBSERVATIONS = table(
    "raw.market_observations",
    "Daily BTC market and network values from every configured market feed, one row per day, "
    "metric and feed, in canonical units (USD, BTC, EH/s). One lake partition per feed.",
    ("date", pl.Date(), "UTC day the value is for"),
    ("metric", pl.String(), "what is measured (see market_daily's columns for units)"),
    ("value", pl.Float64(), "the value in the metric's canonical unit"),
    ("feed", pl.String(), "configured feed it came from ([sources.market.<feed>])"),
    (
        "source",
        pl.String(),
        "kind of the feed (coinmetrics_api, coinmetrics_csv, mempool_api, blockchain_com)",
    ),
    (
        "record",
        pl.String(),
        "where in the source the value was read: 'row 17', 'page 2 item 5', 'file.csv row 3'",
    ),
)
OBSERVATION_SCHEMA = MARKET_OBSERVATIONS.schema
MARKET_REJECTS = rejects_table(
    "raw.market_rejects", "Market rows the feeds could not use, with the reason."
)

OTHER = "OTHER"  # the country code of CBECI's "Other" (all countries not listed)
HASHRATE_GEOGRAPHY = table(
    "raw.hashrate_geography",
    "Share of Bitcoin's hash rate by country and month (ISO alpha-2; OTHER for the published "
    "residual), from the Cambridge CBECI mining map.",
    ("month", pl.Date(), "month the share is the average for (its first day)"),
    (
        "country",
        pl.String(),
        f"ISO 3166-1 alpha-2 code; {OTHER} for every country the source does not list",
    ),
    ("country_name", pl.String(), "country as the source names it, footnote marker removed"),
    ("share", pl.Float64(), "share of network hash rate located in the country that month, 0–1"),
    (
        "hashrate_ehs",
        pl.Float64(),
        "the country's mean hash rate that month, EH/s, as published (null if not)",
    ),
    (
        "flagged",
        pl.Boolean(),
        "the source marks the country with a footnote (*): CBECI stars Germany and Ireland "
        "because their shares are believed to come from miners routing their pool connections "
        "through VPN or proxy services there, not from mining located there",
    ),
    ("feed", pl.String(), "configured feed it came from"),
    ("source", pl.String(), "kind of the feed (cbeci)"),
)
HASHRATE_GEOGRAPHY_SCHEMA = HASHRATE_GEOGRAPHY.schema
HASHRATE_GEOGRAPHY_REJECTS = rejects_table(
    "raw.hashrate_geography_rejects",
    "Rows of the hash rate geography source that could not be used.",
)
