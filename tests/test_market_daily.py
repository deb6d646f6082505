"""market_daily: precedence per column, derived values, discrepancies and gaps (hand-made data)."""

from datetime import date

import polars as pl
import pytest

from pipelines.config import MARKET_TOLERANCES
from pipelines.market.daily import column_gaps, market_daily, market_discrepancies
from pipelines.schemas.market import (
    MARKET_DAILY,
    MARKET_DISCREPANCIES,
    MARKET_OBSERVATIONS,
    OBSERVATION_SCHEMA,
)

FEEDS = ["cm", "bc", "mp"]  # config order
KIND = {"cm": "coinmetrics_csv", "bc": "blockchain_com", "mp": "mempool_api"}


def obs(*rows: tuple[str, str, float, str]) -> pl.DataFrame:
    """Observations from (day, metric, value, feed) tuples."""
    return pl.DataFrame(
        [
            (date.fromisoformat(d), m, float(v), f, KIND[f], f"row {i}")
            for i, (d, m, v, f) in enumerate(rows, start=1)
        ],
        schema=OBSERVATION_SCHEMA,
        orient="row",
    )


def test_precedence_is_per_column_by_kind_then_config_order():
    observations = obs(
        # mempool is listed last in the config but beats Blockchain.com for hash rate
        ("2024-01-01", "hashrate_ehs", 500.0, "bc"),
        ("2024-01-01", "hashrate_ehs", 510.0, "mp"),
        # Coin Metrics beats both
        ("2024-01-02", "hashrate_ehs", 520.0, "mp"),
        ("2024-01-02", "hashrate_ehs", 530.0, "cm"),
        ("2024-01-02", "price_usd", 42_000.0, "bc"),
    )
    daily = market_daily(observations, FEEDS)
    assert daily.columns == list(MARKET_DAILY.descriptions)
    assert daily.select("date", "hashrate_ehs", "hashrate_ehs_source").rows() == [
        (date(2024, 1, 1), 510.0, "mp"),
        (date(2024, 1, 2), 530.0, "cm"),
    ]
    assert daily["price_usd"].to_list() == [None, 42_000.0]
    assert daily["price_usd_source"].to_list() == [None, "bc"]


def test_same_kind_feeds_follow_config_order():
    observations = obs(
        ("2024-01-01", "price_usd", 100.0, "bc"),
    ).vstack(
        pl.DataFrame(
            [(date(2024, 1, 1), "price_usd", 101.0, "bc_later", "blockchain_com", "row 1")],
            schema=OBSERVATION_SCHEMA,
            orient="row",
        )
    )
    assert market_daily(observations, ["bc_later", "bc"])["price_usd_source"].to_list() == [
        "bc_later"
    ]


def test_derived_values_fill_only_missing_columns_and_hashprice():
    observations = obs(
        ("2024-01-01", "price_usd", 40_000.0, "bc"),
        ("2024-01-01", "fees_btc", 50.0, "bc"),
        ("2024-01-01", "hashrate_ehs", 500.0, "bc"),
        ("2024-01-02", "price_usd", 40_000.0, "cm"),
        ("2024-01-02", "fees_usd", 1_000_000.0, "cm"),
        ("2024-01-02", "issuance_btc", 900.0, "cm"),
        ("2024-01-02", "miner_revenue_usd", 40_000_000.0, "bc"),
        ("2024-01-02", "hashrate_ehs", 400.0, "cm"),
    )
    daily = market_daily(observations, FEEDS)
    day1, day2 = daily.to_dicts()
    # day 1: fees in USD derived; no issuance, so no revenue and no hashprice
    assert (day1["fees_usd"], day1["fees_usd_source"]) == (2_000_000.0, "derived")
    assert day1["miner_revenue_usd"] is None and day1["hashprice_usd_per_ph_day"] is None
    # day 2: observed fees kept; issuance derived; observed revenue beats the derivation
    assert (day2["fees_usd"], day2["fees_usd_source"]) == (1_000_000.0, "cm")
    assert (day2["issuance_usd"], day2["issuance_usd_source"]) == (36_000_000.0, "derived")
    assert (day2["miner_revenue_usd"], day2["miner_revenue_usd_source"]) == (40_000_000.0, "bc")
    # 40M USD / 400,000 PH/s = 100 USD per PH/s per day
    assert day2["hashprice_usd_per_ph_day"] == pytest.approx(100.0)
    assert day2["hashprice_usd_per_ph_day_source"] == "derived"


def test_gaps_stay_null_and_are_listed():
    observations = obs(
        ("2024-01-01", "price_usd", 1.0, "bc"),
        ("2024-01-04", "price_usd", 2.0, "bc"),
        ("2024-01-07", "price_usd", 3.0, "bc"),
        ("2024-01-02", "hashrate_ehs", 5.0, "mp"),
        ("2024-01-03", "hashrate_ehs", 5.0, "mp"),
    )
    daily = market_daily(observations, FEEDS)
    assert daily["date"].to_list() == [date(2024, 1, d) for d in range(1, 8)]
    assert daily["price_usd"].to_list() == [1.0, None, None, 2.0, None, None, 3.0]
    gaps = column_gaps(daily)
    # hash rate has no gap between its own first and last day; price has two
    assert gaps.rows() == [
        ("price_usd", date(2024, 1, 2), date(2024, 1, 3), 2),
        ("price_usd", date(2024, 1, 5), date(2024, 1, 6), 2),
    ]


def test_discrepancies_beyond_tolerance_only():
    observations = obs(
        ("2024-01-01", "price_usd", 100.0, "cm"),
        ("2024-01-01", "price_usd", 102.0, "bc"),  # 1.96%: within 3%
        ("2024-01-02", "price_usd", 100.0, "cm"),
        ("2024-01-02", "price_usd", 110.0, "bc"),  # 9.09%: a discrepancy
        ("2024-01-02", "hashrate_ehs", 100.0, "cm"),
        ("2024-01-02", "hashrate_ehs", 140.0, "mp"),  # 28.6% > 25%
        ("2024-01-02", "hashrate_ehs", 120.0, "bc"),  # 16.7% < 25%
        ("2024-01-02", "fees_btc", 10.0, "cm"),
        ("2024-01-02", "issuance_btc", 900.0, "cm"),
        ("2024-01-02", "fees_usd", 1_000.0, "cm"),
        ("2024-01-02", "issuance_usd", 90_000.0, "cm"),
    )
    daily = market_daily(observations, FEEDS)
    found = market_discrepancies(observations, daily, MARKET_TOLERANCES)
    assert found.columns == list(MARKET_DISCREPANCIES.descriptions)
    rows = [(r[0], r[1], r[2], r[4]) for r in found.rows()]
    assert rows == [
        # fees_usd observed 1,000 vs fees_btc x price = 1,000: agree; issuance 90,000 = 900 x 100
        (date(2024, 1, 2), "hashrate_ehs", "cm", "mp"),
        (date(2024, 1, 2), "price_usd", "cm", "bc"),
    ]
    assert found.filter(pl.col("metric") == "price_usd")["relative_difference"].item() == (
        pytest.approx(10 / 110)
    )


def test_derivation_disagreeing_with_an_observed_column_is_a_discrepancy():
    observations = obs(
        ("2024-01-02", "price_usd", 100.0, "cm"),
        ("2024-01-02", "fees_btc", 10.0, "cm"),
        ("2024-01-02", "fees_usd", 2_000.0, "cm"),  # fees_btc x price = 1,000
    )
    daily = market_daily(observations, FEEDS)
    found = market_discrepancies(observations, daily, MARKET_TOLERANCES)
    assert found.select("metric", "chosen_value", "other_feed", "other_value").rows() == [
        ("fees_usd", 2_000.0, "derived", 1_000.0)
    ]


def test_no_observations_gives_an_empty_table_with_the_schema():
    daily = market_daily(MARKET_OBSERVATIONS.empty(), FEEDS)
    assert daily.is_empty() and daily.columns == list(MARKET_DAILY.descriptions)
    assert column_gaps(daily).is_empty()
    assert market_discrepancies(MARKET_OBSERVATIONS.empty(), daily, MARKET_TOLERANCES).is_empty()
