"""Blockchain.com chart exports and API answers → market observations."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.http import SourceFormatError
from pipelines.schemas.market import OBSERVATION_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.blockchain_com import (
    chart_of,
    read_blockchain_com_chart,
    read_blockchain_com_charts,
)
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

MARKET = FIXTURES / "market"
CHARTS = SHARED_DATA / "market" / "blockchain-com-charts"
needs_charts = pytest.mark.skipif(not CHARTS.is_dir(), reason=f"no {CHARTS}")


def read(name: str, metric: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    return read_blockchain_com_chart((MARKET / name).read_bytes(), name, "bc", metric)


def test_xy_export_converts_th_to_eh_exactly_and_rejects_bad_rows():
    observations, rejects = read("blockchain-com-hash-rate.csv")
    assert observations.schema == pl.Schema(OBSERVATION_SCHEMA)
    assert observations.to_dicts() == [
        {
            "date": date(2019, 10, 23),
            "metric": "hashrate_ehs",
            "value": 98.75051578246196,
            "feed": "bc",
            "source": "blockchain_com",
            "record": "blockchain-com-hash-rate.csv row 1",
        },
        {
            "date": date(2019, 10, 24),
            "metric": "hashrate_ehs",
            "value": 412.345678,
            "feed": "bc",
            "source": "blockchain_com",
            "record": "blockchain-com-hash-rate.csv row 2",
        },
        {
            "date": date(2019, 10, 27),
            "metric": "hashrate_ehs",
            "value": 500.0,
            "feed": "bc",
            "source": "blockchain_com",
            "record": "blockchain-com-hash-rate.csv row 6",
        },
    ]
    assert rejects.schema == pl.Schema(REJECT_SCHEMA)
    assert rejects.rows() == [
        ("bc", "blockchain-com-hash-rate.csv row 3", "y", "n/a", "not a non-negative number"),
        ("bc", "blockchain-com-hash-rate.csv row 4", "y", "-5", "not a non-negative number"),
        (
            "bc",
            "blockchain-com-hash-rate.csv row 5",
            "x",
            "soon",
            "not a Unix time in milliseconds",
        ),
    ]


def test_timestamp_export_rounds_to_the_nearest_utc_day_and_keeps_a_days_last_point():
    observations, rejects = read("blockchain-com-1year-miners-revenue.csv")
    assert observations.select("date", "metric", "value", "record").rows() == [
        (
            date(2021, 11, 6),
            "miner_revenue_usd",
            59379244.680895254,
            "blockchain-com-1year-miners-revenue.csv row 1",
        ),
        (
            date(2021, 11, 7),
            "miner_revenue_usd",
            60030049.95190955,
            "blockchain-com-1year-miners-revenue.csv row 2",
        ),
        # row 3 (2021-11-07 23:00) is 8 November too; row 4 comes later in the file and wins
        (
            date(2021, 11, 8),
            "miner_revenue_usd",
            65840419.26028567,
            "blockchain-com-1year-miners-revenue.csv row 4",
        ),
        (
            date(2021, 11, 11),
            "miner_revenue_usd",
            65183349.254919946,
            "blockchain-com-1year-miners-revenue.csv row 6",
        ),
    ]
    assert rejects.rows() == [
        (
            "bc",
            "blockchain-com-1year-miners-revenue.csv row 5",
            "Timestamp",
            "2021-11-31 23:00:00",
            "not a YYYY-MM-DD HH:MM:SS time",
        )
    ]


def test_all_time_price_drops_zero_prices_and_leaves_gaps_unfilled():
    observations, rejects = read("blockchain-com-all-time-market-price.csv")
    assert rejects.is_empty()
    # each price is the close of the day before its midnight stamp (2010-08-20 00:00 -> 19th)
    assert observations.select("date", "metric", "value").rows() == [
        (date(2010, 8, 19), "price_usd", 0.07),
        (date(2010, 8, 22), "price_usd", 0.07),
        (date(2010, 11, 5), "price_usd", 0.25),
        (date(2010, 11, 8), "price_usd", 0.36),
        (date(2010, 11, 11), "price_usd", 0.24),
    ]


def test_zero_is_kept_where_it_is_a_real_value():
    data = b'"x","y"\n"1262304000000","0"'
    observations, _ = read_blockchain_com_chart(data, "2010-transaction-fees.csv", "bc")
    assert observations.select("date", "metric", "value").rows() == [
        (date(2010, 1, 1), "fees_btc", 0.0)
    ]


def test_api_answer_by_file_name_or_url():
    observations, rejects = read("blockchain-com-hash-rate.json")
    assert rejects.is_empty()
    assert observations.select("date", "metric", "value", "record").rows() == [
        (
            date(2024, 4, 23),
            "hashrate_ehs",
            721.4589575903468,
            "blockchain-com-hash-rate.json row 1",
        ),
        (
            date(2024, 4, 24),
            "hashrate_ehs",
            671.7722631512126,
            "blockchain-com-hash-rate.json row 2",
        ),
        (
            date(2024, 4, 25),
            "hashrate_ehs",
            630.6743658262494,
            "blockchain-com-hash-rate.json row 3",
        ),
    ]
    url = "https://api.blockchain.info/charts/hash-rate?timespan=all&format=json&sampled=false"
    by_url, _ = read_blockchain_com_chart(
        (MARKET / "blockchain-com-hash-rate.json").read_bytes(), url, "bc"
    )
    assert by_url["value"].to_list() == observations["value"].to_list()
    assert by_url["record"][0] == "hash-rate row 1"


def test_api_answer_names_its_chart_and_unit():
    body = (
        b'\xef\xbb\xbf{"status":"ok","name":"Market Price (USD)","unit":"USD","period":"day",'
        b'"values":[{"x":1714262400,"y":63420.25},{"x":1714348800,"y":"bad"}]}'
    )
    observations, rejects = read_blockchain_com_chart(body, "answer.json", "bc")
    assert observations.select("date", "metric", "value").rows() == [
        (date(2024, 4, 27), "price_usd", 63420.25)  # stamped 2024-04-28 00:00: the 27th's close
    ]
    assert rejects.rows() == [("bc", "answer.json row 2", "y", "bad", "not a non-negative number")]
    wrong_unit = body.replace(b"Market Price (USD)", b"Hash Rate").replace(b'"USD"', b'"EH/s"')
    with pytest.raises(SourceFormatError, match="hash rate in 'EH/s'"):
        read_blockchain_com_chart(wrong_unit, "answer.json", "bc")
    with pytest.raises(SourceFormatError, match="answered"):
        read_blockchain_com_chart(b'{"status":"not-found","values":[]}', "hash-rate", "bc")


def test_unknown_chart_names_the_file_and_the_known_charts():
    data = b'"x","y"\n"1571788800000","5"'
    with pytest.raises(SourceFormatError) as error:
        read_blockchain_com_chart(data, "bitcoin-mempool-size.csv", "bc")
    assert "bitcoin-mempool-size.csv" in str(error.value)
    assert "hash-rate, difficulty, market-price" in str(error.value)
    observations, _ = read_blockchain_com_chart(data, "bitcoin-mempool-size.csv", "bc", "fees_usd")
    assert observations.select("metric", "value").rows() == [("fees_usd", 5.0)]
    with pytest.raises(ValueError, match="no 'tvl_usd'"):
        read_blockchain_com_chart(data, "x.csv", "bc", "tvl_usd")


def test_name_and_content_must_agree():
    data = b"Timestamp,difficulty\r\n2021-10-08 00:00:00,19893045048575"
    with pytest.raises(SourceFormatError, match="the name says chart hash-rate"):
        read_blockchain_com_chart(data, "bitcoin-hash-rate.csv", "bc")
    observations, _ = read_blockchain_com_chart(data, "export.csv", "bc")
    assert observations.select("metric", "value").rows() == [("difficulty", 19893045048575.0)]


@pytest.mark.parametrize(
    ("label", "chart"),
    [
        ("bitcoin-3year-hash-rate", "hash-rate"),
        ("bitcoin-1year-miner-difficulty", "difficulty"),
        ("2023-2024-transaction-fees", "transaction-fees"),
        ("2023-2024-transaction-fees-usd", "transaction-fees-usd"),
        ("Market Price (USD)", "market-price"),
        ("Hash Rate", "hash-rate"),
        ("miners-revenue", "miners-revenue"),
        ("mempool-size", None),
        ("crash-rate", None),
    ],
)
def test_chart_of(label: str, chart: str | None):
    assert chart_of(label) == chart


def test_unreadable_csv_is_a_format_error():
    with pytest.raises(SourceFormatError, match="expected the header"):
        read_blockchain_com_chart(b"date,price\n2020-01-01,5", "market-price.csv", "bc")


def test_folder_keeps_one_value_per_day_from_the_file_sorting_last(tmp_path: Path):
    (tmp_path / "a-3year-hash-rate.csv").write_bytes(
        b'"x","y"\n"1571788800000","100000000"\n"1571875200000","200000000"'
    )
    (tmp_path / "b-1year-hash-rate.csv").write_bytes(b'"x","y"\n"1571875200000","250000000"')
    shutil.copy(MARKET / "blockchain-com-all-time-market-price.csv", tmp_path)
    (tmp_path / "notes.txt").write_text("not a chart")
    observations, rejects = read_blockchain_com_charts(tmp_path, "bc")
    assert rejects.is_empty()
    hashrate = observations.filter(pl.col("metric") == "hashrate_ehs")
    assert hashrate.select("date", "value", "record").rows() == [
        (date(2019, 10, 23), 100.0, "a-3year-hash-rate.csv row 1"),
        (date(2019, 10, 24), 250.0, "b-1year-hash-rate.csv row 1"),
    ]
    assert observations.filter(pl.col("metric") == "price_usd").height == 5
    single, _ = read_blockchain_com_charts(tmp_path / "a-3year-hash-rate.csv", "bc")
    assert single["value"].to_list() == [100.0, 200.0]


def test_empty_folder_is_a_format_error(tmp_path: Path):
    with pytest.raises(SourceFormatError, match=r"no \.csv or \.json"):
        read_blockchain_com_charts(tmp_path, "bc")


@needs_shared_data
@needs_charts
def test_shared_charts():
    observations, rejects = read_blockchain_com_charts(CHARTS, "bc")
    assert rejects.is_empty()
    assert not observations.select("date", "metric").is_duplicated().any()

    hashrate = observations.filter(pl.col("metric") == "hashrate_ehs").sort("date")
    assert hashrate["date"].min() == date(2019, 10, 23)
    assert hashrate["date"].max() == date(2024, 4, 27)
    assert hashrate.height == 1094 + 364
    assert hashrate["value"][0] == 98.75051578246196  # "98750515.78246196" TH/s
    # nothing between the 3-year export (to 2022-10-20) and the 2023-2024 one (from 2023-04-30)
    gap = hashrate.filter(pl.col("date").is_between(date(2022, 10, 21), date(2023, 4, 29)))
    assert gap.is_empty()
    steps = hashrate["date"].diff().dt.total_days().drop_nulls().value_counts()
    assert dict(steps.rows()) == {1: 1456, 192: 1}

    price = observations.filter(pl.col("metric") == "price_usd").sort("date")
    assert price.row(0)[:3] == (date(2010, 8, 19), "price_usd", 0.07)  # the zeros before dropped
    all_time = price.filter(pl.col("record").str.starts_with("bitcoin-all-time"))
    assert all_time.height == 1478
    assert set(all_time["date"].diff().dt.total_days().drop_nulls()) == {3}
    # "2021-11-07 23:00:00" (US winter time) is 8 November, and no day is lost or doubled
    difficulty = observations.filter(
        pl.col("record").str.starts_with("bitcoin-1year-miner-difficulty")
    )
    assert difficulty.height == 365
    assert difficulty["date"].min() == date(2021, 10, 8)
    assert difficulty["date"].max() == date(2022, 10, 7)
    assert difficulty.filter(pl.col("date") == date(2021, 11, 8))["record"].to_list() == [
        "bitcoin-1year-miner-difficulty.csv row 32"
    ]
    counts = observations.group_by("metric").len().sort("metric").rows()
    assert counts == [
        ("difficulty", 729),
        ("fees_btc", 364),
        ("hashrate_ehs", 1458),
        ("miner_revenue_usd", 729),
        ("price_usd", 1843),
    ]
