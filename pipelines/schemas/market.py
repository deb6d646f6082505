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
        "the source marks the country with a footnote (*): CBECI stars Germany and Ireland because"
        " their shares are believed to come from miners routing their pool connections through VPN"
        " or proxy services there, not from mining located there",
    ),
    ("feed", pl.String(), "configured feed it came from"),
    ("source", pl.String(), "kind of the feed (cbeci)"),
)
HASHRATE_GEOGRAPHY_SCHEMA = HASHRATE_GEOGRAPHY.schema
HASHRATE_GEOGRAPHY_REJECTS = rejects_table(
    "raw.hashrate_geography_rejects",
    "Rows of the hash rate geography source that could not be used.",
)


MARKET_DAILY = table(
    "intermediate.market_daily",
    (
        "One row per day: price, hash rate, difficulty, blocks, fees, issuance, miners' revenue, "
        "hashprice and market cap, each from the feed with precedence for that column and with its"
        " source; days no feed covers are null (never interpolated)."
    ),
    ("date", pl.Date(), "UTC day"),
    ("price_usd", pl.Float64(), "closing price of one BTC, USD (end of the UTC day)"),
    (
        "hashrate_ehs",
        pl.Float64(),
        "network hash rate, EH/s (10^18 hashes per second), daily mean estimate",
    ),
    (
        "difficulty",
        pl.Float64(),
        "mining difficulty (dimensionless), mean over the day's blocks or in effect",
    ),
    ("block_count", pl.Float64(), "blocks mined that UTC day"),
    ("fees_btc", pl.Float64(), "transaction fees paid to miners that day, BTC"),
    ("fees_usd", pl.Float64(), "transaction fees paid to miners that day, USD"),
    ("issuance_btc", pl.Float64(), "new BTC issued (block subsidies) that day"),
    ("issuance_usd", pl.Float64(), "new BTC issued that day, USD"),
    ("miner_revenue_usd", pl.Float64(), "miners' revenue that day (subsidy plus fees), USD"),
    (
        "hashprice_usd_per_ph_day",
        pl.Float64(),
        (
            "miners' revenue per PH/s of hash rate per day, USD (miner_revenue_usd / (1,000 x "
            "hashrate_ehs))"
        ),
    ),
    ("market_cap_usd", pl.Float64(), "market capitalisation (current supply x price), USD"),
    (
        "price_usd_source",
        pl.String(),
        "feed price_usd came from ('derived': computed from other columns)",
    ),
    (
        "hashrate_ehs_source",
        pl.String(),
        "feed hashrate_ehs came from ('derived': computed from other columns)",
    ),
    (
        "difficulty_source",
        pl.String(),
        "feed difficulty came from ('derived': computed from other columns)",
    ),
    (
        "block_count_source",
        pl.String(),
        "feed block_count came from ('derived': computed from other columns)",
    ),
    (
        "fees_btc_source",
        pl.String(),
        "feed fees_btc came from ('derived': computed from other columns)",
    ),
    (
        "fees_usd_source",
        pl.String(),
        "feed fees_usd came from ('derived': computed from other columns)",
    ),
    (
        "issuance_btc_source",
        pl.String(),
        "feed issuance_btc came from ('derived': computed from other columns)",
    ),
    (
        "issuance_usd_source",
        pl.String(),
        "feed issuance_usd came from ('derived': computed from other columns)",
    ),
    (
        "miner_revenue_usd_source",
        pl.String(),
        "feed miner_revenue_usd came from ('derived': computed from other columns)",
    ),
    (
        "hashprice_usd_per_ph_day_source",
        pl.String(),
        "feed hashprice_usd_per_ph_day came from ('derived': computed from other columns)",
    ),
    (
        "market_cap_usd_source",
        pl.String(),
        "feed market_cap_usd came from ('derived': computed from other columns)",
    ),
)

MARKET_DISCREPANCIES = table(
    "intermediate.market_discrepancies",
    "Days and columns where two market feeds (or a feed and the value derived from other columns) "
    "disagree by more than the column's tolerance.",
    ("date", pl.Date(), "UTC day"),
    ("metric", pl.String(), "market_daily column"),
    ("chosen_feed", pl.String(), "feed whose value market_daily holds (by precedence)"),
    ("chosen_value", pl.Float64(), "the value market_daily holds"),
    ("other_feed", pl.String(), "feed (or 'derived') that disagrees"),
    ("other_value", pl.Float64(), "its value"),
    ("relative_difference", pl.Float64(), "|chosen - other| / max(|chosen|, |other|)"),
    (
        "tolerance",
        pl.Float64(),
        "the column's tolerance the difference exceeds ([market.tolerances])",
    ),
)

MARKET_GAPS = table(
    "intermediate.market_gaps",
    "Runs of days without a value, per market_daily column, between the column's first and last "
    "value.",
    ("metric", pl.String(), "market_daily column"),
    ("gap_start", pl.Date(), "first day without a value"),
    ("gap_end", pl.Date(), "last day without a value"),
    ("days", pl.Int64(), "days in the gap"),
)

HASHRATE_GEOGRAPHY_CONCENTRATION = table(
    "intermediate.hashrate_geography_concentration",
    (
        "Concentration of hash rate by country per month (HHI, Nakamoto, CRk, entropy, Gini, "
        "Theil), with Other counted as one country ('entity') or left out ('excluded')."
    ),
    ("month", pl.Date(), "first day of the month"),
    ("source", pl.String(), "where the shares come from (feed)"),
    (
        "other_policy",
        pl.String(),
        (
            "'entity' (Other is one country: most concentrated reading) or 'excluded' (named "
            "countries only, renormalised)"
        ),
    ),
    (
        "countries",
        pl.Int64(),
        "countries with a positive share (Other counts as one under 'entity')",
    ),
    (
        "hashrate_ehs",
        pl.Float64(),
        "network hash rate the shares apply to, EH/s (sum of the published rows)",
    ),
    ("hhi", pl.Float64(), "Herfindahl-Hirschman index, sum of (100 x share)^2, 0-10,000"),
    ("nakamoto", pl.Int64(), "fewest countries holding at least 50% of hash rate"),
    ("tau_033", pl.Int64(), "fewest countries holding at least 33%"),
    ("tau_066", pl.Int64(), "fewest countries holding at least 66%"),
    ("cr1", pl.Float64(), "share of the largest country"),
    ("cr3", pl.Float64(), "share of the three largest"),
    ("cr5", pl.Float64(), "share of the five largest"),
    ("gini", pl.Float64(), "Gini coefficient over countries with a positive share"),
    ("entropy_bits", pl.Float64(), "Shannon entropy of shares, bits"),
    ("entropy_normalized", pl.Float64(), "entropy / log2(countries)"),
    ("theil", pl.Float64(), "Theil T index"),
    ("effective_entities", pl.Float64(), "1 / sum of squared shares"),
    ("other_share", pl.Float64(), "share published as Other (of all hash rate)"),
    (
        "top_country",
        pl.String(),
        "ISO alpha-2 of the largest country (OTHER if Other is largest under 'entity')",
    ),
)

HASHRATE_POINT_ESTIMATES = table(
    "raw.hashrate_point_estimates",
    (
        "Curated, reviewed later point estimates of hash rate by country (surveys, analysts), each"
        " with its source and coverage (dbt_like_sql/seeds/hashrate_point_estimates.csv); kept "
        "apart from Cambridge's monthly series."
    ),
    (
        "as_of",
        pl.Date(),
        "day the estimate describes (the end of the period measured, for a survey)",
    ),
    ("country", pl.String(), "ISO 3166-1 alpha-2 code, or OTHER"),
    ("share", pl.Float64(), "the country's share of the hash rate the estimate covers, 0–1"),
    (
        "coverage",
        pl.String(),
        "whose hash rate the share is of (a survey's respondents, the whole network)",
    ),
    ("source", pl.String(), "publisher and title"),
    ("url", pl.String(), "where the figure was read"),
    ("note", pl.String(), "what the source says, its caveats, and how the figure was checked"),
)
