"""Coin Metrics: the daily CSV reader and the community API v4 client.

``fixtures/market/coinmetrics-sample.csv`` holds real rows of July 2010 and 2020-01-01 with a
bad date (row 3) and a non-numeric HashRate (row 4). ``coinmetrics-api-page-{1,2,3}.json`` are
hand-written ``/v4/timeseries/asset-metrics`` answers (``page_size=2``) whose ``next_page_url``
points at the real host: page 2 has a null HashRate, an absent RevUSD and a bad PriceUSD; page 3
is the last page and has a bad time.
"""

from __future__ import annotations

import codecs
import json
from datetime import date
from typing import Any

import polars as pl
import pytest

from pipelines.http import HttpSettings, SourceFormatError, SourceUnavailable
from pipelines.schemas.market import OBSERVATION_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.coinmetrics import (
    ASSET_METRICS_PATH,
    COINMETRICS_METRICS,
    CoinMetricsApi,
    fetch_coinmetrics,
    read_coinmetrics_csv,
)
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data
from tests.fakeserver import FakeServer, RecordedRequest, Reply, json_response

MARKET = FIXTURES / "market"
SAMPLE_CSV = (MARKET / "coinmetrics-sample.csv").read_bytes()
PAGES = [json.loads((MARKET / f"coinmetrics-api-page-{n}.json").read_text()) for n in (1, 2, 3)]
TOKENS = [None, "0.MjAyMC0wMS0wM1QwMDowMDowMFo", "0.MjAyMC0wMS0wNVQwMDowMDowMFo"]
REAL_CSV = SHARED_DATA / "market" / "coinmetrics-btc-daily.csv"
ALL_METRICS = ",".join(COINMETRICS_METRICS)
FIRST_QUERY = {
    "assets": ["btc"],
    "metrics": [ALL_METRICS],
    "frequency": ["1d"],
    "page_size": ["2"],
    "paging_from": ["start"],
    "ignore_forbidden_errors": ["true"],
    "ignore_unsupported_errors": ["true"],
}
RATE_LIMITED = (
    429,
    {"Content-Type": "application/json", "Retry-After": "3"},
    b'{"error": {"type": "too_many_requests", "message": "Requests rate limit exceeded."}}',
)


def rows(observations: pl.DataFrame) -> list[tuple]:
    return observations.select("date", "metric", "value", "record").rows()


def rejects_of(rejects: pl.DataFrame) -> list[tuple]:
    return rejects.select("record", "field", "value", "problem").rows()


def api(fake_server: FakeServer, sleeps: list[float] | None = None, **options: Any) -> Any:
    options.setdefault("min_interval", 0)
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return CoinMetricsApi(fake_server.base_url, page_size=2, sleep=record, **options)


def serve_pages(request: RecordedRequest) -> Reply:
    token = request.query.get("next_page_token", [None])[0]
    return json_response(PAGES[TOKENS.index(token)])


# --- the CSV ------------------------------------------------------------------------------------


def test_csv_keeps_good_rows_and_reports_bad_ones() -> None:
    observations, rejects = read_coinmetrics_csv(SAMPLE_CSV, "cm_csv")
    assert observations.schema == pl.Schema(OBSERVATION_SCHEMA)
    assert rejects.schema == pl.Schema(REJECT_SCHEMA)
    assert rejects_of(rejects) == [
        ("row 3", "time", "2010-07-32", "not a date (YYYY-MM-DD)"),
        ("row 4", "HashRate", "n/a", "not a number"),
    ]
    assert set(rejects["feed"]) == {"cm_csv"}
    assert set(observations["feed"]) == {"cm_csv"}
    assert set(observations["source"]) == {"coinmetrics_csv"}
    counts = observations.group_by("date", maintain_order=True).len().rows()
    assert counts == [
        (date(2010, 7, 17), 5),  # no price yet: IssTotUSD and PriceUSD empty
        (date(2010, 7, 18), 7),
        (date(2010, 7, 20), 6),  # all but the rejected HashRate
        (date(2020, 1, 1), 7),
    ]
    assert rows(observations.filter(pl.col("date") == date(2010, 7, 18))) == [
        (date(2010, 7, 18), "price_usd", 0.08584, "row 2"),
        (date(2010, 7, 18), "hashrate_ehs", pytest.approx(1.55222532856273e-9), "row 2"),
        (date(2010, 7, 18), "difficulty", 181.54328936405, "row 2"),
        (date(2010, 7, 18), "block_count", 172.0, "row 2"),
        (date(2010, 7, 18), "fees_btc", 0.79, "row 2"),
        (date(2010, 7, 18), "issuance_btc", 8600.0, "row 2"),
        (date(2010, 7, 18), "issuance_usd", 738.224, "row 2"),
    ]
    hashrate = observations.filter(pl.col("metric") == "hashrate_ehs")
    assert hashrate["value"][-1] == pytest.approx(112.92977450430365, rel=1e-12)  # TH/s -> EH/s
    assert hashrate["record"][-1] == "row 5"


def test_csv_with_a_bom_reads_the_same() -> None:
    plain = read_coinmetrics_csv(SAMPLE_CSV, "cm_csv")
    with_bom = read_coinmetrics_csv(codecs.BOM_UTF8 + SAMPLE_CSV, "cm_csv")
    assert with_bom[0].equals(plain[0]) and with_bom[1].equals(plain[1])
    assert with_bom[0].height == 25


def test_csv_value_problems_duplicates_and_blank_lines() -> None:
    long = "9" * 300
    data = (
        "time,PriceUSD,HashRate\n"
        "2020-01-01, 7170.6 ,112929774.5\n"
        "2020-01-02,-1,inf\n"
        ",7000,\n"
        "2020-01-01,7171,1\n"
        "\n"
        "2020-01-03,,\n"
        f"2020-01-04,{long}x,NaN\n"
    ).encode()
    observations, rejects = read_coinmetrics_csv(data, "cm_csv")
    assert rows(observations) == [
        (date(2020, 1, 1), "price_usd", 7170.6, "row 1"),
        (date(2020, 1, 1), "hashrate_ehs", pytest.approx(112.9297745), "row 1"),
    ]
    assert rejects_of(rejects) == [
        ("row 2", "PriceUSD", "-1", "negative"),
        ("row 2", "HashRate", "inf", "not finite"),
        ("row 3", "time", None, "missing date"),
        ("row 4", "time", "2020-01-01", "duplicate date"),
        ("row 7", "PriceUSD", long[:200], "not a number"),
        ("row 7", "HashRate", "NaN", "not finite"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a readable CSV"),
        (b"time,PriceUSD\n2020-01-01,1,2,3\n", "not a readable CSV: found more fields"),
        (b'time,PriceUSD\n2020-01-01,"1\n', "not a readable CSV"),
        (b"date,PriceUSD\n2020-01-01,1\n", "needs a 'time' column"),
        (b"time,TxCnt,PriceBTC\n2020-01-01,1,1\n", "the file has: time, TxCnt, PriceBTC"),
    ],
)
def test_csv_of_the_wrong_shape_raises_naming_the_feed(data: bytes, message: str) -> None:
    with pytest.raises(SourceFormatError, match=message) as caught:
        read_coinmetrics_csv(data, "cm_csv")
    assert str(caught.value).startswith("cm_csv: ")


@needs_shared_data
@pytest.mark.skipif(not REAL_CSV.is_file(), reason=f"{REAL_CSV} not present")
def test_the_real_file() -> None:
    observations, rejects = read_coinmetrics_csv(REAL_CSV.read_bytes(), "coinmetrics")
    assert rejects.height == 0
    days = observations["date"]
    assert (days.min(), days.max(), days.n_unique()) == (date(2009, 1, 3), date(2020, 7, 27), 4224)
    assert set(observations["metric"]) == {
        metric for metric, _ in COINMETRICS_METRICS.values() if metric != "miner_revenue_usd"
    }
    price = observations.filter(pl.col("metric") == "price_usd").sort("date")
    assert rows(price.head(1)) == [(date(2010, 7, 18), "price_usd", 0.08584, "row 562")]
    assert rows(price.tail(1)) == [(date(2020, 7, 27), "price_usd", 11046.5083295149, "row 4224")]
    hashrate = observations.filter(pl.col("metric") == "hashrate_ehs").sort("date")
    assert hashrate["date"][0] == date(2009, 1, 9)
    assert hashrate["value"][-1] == pytest.approx(128.08209807778554, rel=1e-12)


# --- the API ------------------------------------------------------------------------------------


def test_fetch_follows_three_pages_on_the_configured_host(fake_server: FakeServer) -> None:
    fake_server.handler(ASSET_METRICS_PATH, serve_pages)
    with api(fake_server) as client:
        observations, rejects = fetch_coinmetrics(client, "cm_api", start=date(2020, 1, 1))
    assert [r.path for r in fake_server.requests] == [ASSET_METRICS_PATH] * 3
    first = {**FIRST_QUERY, "start_time": ["2020-01-01"]}
    assert [r.query for r in fake_server.requests] == [
        first,
        {**first, "next_page_token": [TOKENS[1]]},
        {**first, "next_page_token": [TOKENS[2]]},
    ]
    assert observations.schema == pl.Schema(OBSERVATION_SCHEMA)
    assert set(observations["source"]) == {"coinmetrics_api"}
    assert rows(observations) == [
        (date(2020, 1, 1), "price_usd", 7170.63186879018, "page 1 item 1"),
        (date(2020, 1, 1), "hashrate_ehs", pytest.approx(112.92977450430365), "page 1 item 1"),
        (date(2020, 1, 1), "block_count", 174.0, "page 1 item 1"),
        (date(2020, 1, 1), "miner_revenue_usd", 15667014.9441016, "page 1 item 1"),
        (date(2020, 1, 2), "price_usd", 6946.82526914085, "page 1 item 2"),
        (date(2020, 1, 2), "hashrate_ehs", pytest.approx(96.71771831238091), "page 1 item 2"),
        (date(2020, 1, 2), "block_count", 141.0, "page 1 item 2"),
        (date(2020, 1, 2), "miner_revenue_usd", 12339096.4393672, "page 1 item 2"),
        # null HashRate and absent RevUSD: no observation, no reject
        (date(2020, 1, 3), "price_usd", 7315.3093603156, "page 2 item 1"),
        (date(2020, 1, 3), "block_count", 169.0, "page 2 item 1"),
        # the bad PriceUSD is rejected, the rest of the item kept
        (date(2020, 1, 4), "hashrate_ehs", pytest.approx(115.238132457305), "page 2 item 2"),
        (date(2020, 1, 4), "block_count", 168.0, "page 2 item 2"),
        (date(2020, 1, 4), "miner_revenue_usd", 15509853.1617710, "page 2 item 2"),
        (date(2020, 1, 5), "price_usd", 7345.53069181765, "page 3 item 1"),
        (date(2020, 1, 5), "hashrate_ehs", pytest.approx(111.80842613417092), "page 3 item 1"),
        (date(2020, 1, 5), "block_count", 163.0, "page 3 item 1"),
        (date(2020, 1, 5), "miner_revenue_usd", 15053857.7430915, "page 3 item 1"),
    ]
    assert rejects_of(rejects) == [
        ("page 2 item 2", "PriceUSD", "7343.16419438925.1", "not a number"),
        ("page 3 item 2", "time", "2020-01-32T00:00:00.000000000Z", "not a date (YYYY-MM-DD)"),
    ]
    assert set(rejects["feed"]) == {"cm_api"}


def test_without_start_all_history_is_asked_for(fake_server: FakeServer) -> None:
    fake_server.route(ASSET_METRICS_PATH, json_response(PAGES[2]))
    with api(fake_server) as client:
        observations, _ = fetch_coinmetrics(client, "cm_api")
    assert [r.query for r in fake_server.requests] == [FIRST_QUERY]
    assert observations.height == 4


def test_api_key_is_sent_once_per_request_and_never_shown(
    fake_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = "s3cret-key"
    # the real API repeats the key in next_page_url; it must not be sent twice
    page = {**PAGES[0], "next_page_url": PAGES[0]["next_page_url"] + f"&api_key={key}"}
    fake_server.route(ASSET_METRICS_PATH, json_response(page), json_response(PAGES[2]))
    with api(fake_server, api_key=key) as client:
        fetch_coinmetrics(client, "cm_api")
        assert key not in repr(client)
    assert [r.query["api_key"] for r in fake_server.requests] == [[key], [key]]

    fake_server.route(ASSET_METRICS_PATH, (500, {}, f"upstream failed for api_key={key}".encode()))
    client = api(fake_server, api_key=key, http=HttpSettings(max_attempts=2))
    with client, pytest.raises(SourceUnavailable) as unavailable:
        fetch_coinmetrics(client, "cm_api")
    fake_server.route(ASSET_METRICS_PATH, (200, {}, b'{"data": ['))
    with api(fake_server, api_key=key) as client, pytest.raises(SourceFormatError) as malformed:
        fetch_coinmetrics(client, "cm_api")
    assert "HTTP 500" in caplog.text and "api_key=***" in caplog.text
    for text in (str(unavailable.value), str(malformed.value), caplog.text):
        assert key not in text
    assert "api_key=***" in str(malformed.value)


def test_429_waits_for_retry_after(fake_server: FakeServer) -> None:
    fake_server.route(ASSET_METRICS_PATH, RATE_LIMITED, json_response(PAGES[2]))
    sleeps: list[float] = []
    with api(fake_server, sleeps) as client:
        observations, _ = fetch_coinmetrics(client, "cm_api")
    assert sleeps == [3.0]
    assert len(fake_server.requests) == 2
    assert observations.height == 4


def test_requests_are_spaced_by_min_interval(fake_server: FakeServer) -> None:
    """The client spaces request starts ``min_interval`` apart (through its sleep, so the test
    needs no clock: the sleeps do not pass time, so the starts are reserved at 0, 60 and 120 s
    and the second and third requests wait 60 and 120 s)."""
    fake_server.handler(ASSET_METRICS_PATH, serve_pages)
    sleeps: list[float] = []
    with CoinMetricsApi(
        fake_server.base_url, page_size=2, min_interval=60, sleep=sleeps.append
    ) as client:
        fetch_coinmetrics(client, "cm_api")
    assert len(fake_server.requests) == 3
    assert [round(s) for s in sleeps] == [60, 120]


def test_default_min_interval_stays_under_the_community_limit(fake_server: FakeServer) -> None:
    fake_server.handler(ASSET_METRICS_PATH, serve_pages)
    sleeps: list[float] = []
    with CoinMetricsApi(fake_server.base_url, page_size=2, sleep=sleeps.append) as client:
        fetch_coinmetrics(client, "cm_api")
    # recorded, not slept: each request waits for its slot, 0.65 s after the previous one's
    assert sleeps == pytest.approx([0.65, 1.3], abs=0.1)


def test_an_error_answer_is_surfaced(fake_server: FakeServer) -> None:
    message = "Bad parameter 'metrics'. Value 'RevUSD' is not supported for asset 'btc'."
    body = {"error": {"type": "bad_request", "message": message}}
    fake_server.route(ASSET_METRICS_PATH, json_response(body, status=400))
    with api(fake_server) as client, pytest.raises(SourceUnavailable) as caught:
        fetch_coinmetrics(client, "cm_api")
    assert caught.value.status == 400
    assert "HTTP 400" in str(caught.value) and message in str(caught.value)
    assert len(fake_server.requests) == 1  # a client error is not retried


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ((200, {}, b'{"data": [{"asset": "btc",'), "bad JSON"),
        (json_response({"error": {"type": "unavailable"}}), "missing field 'data'"),
        (json_response({"data": {"asset": "btc"}}), "field 'data' should be list"),
        (json_response({"data": ["btc"]}), r"field 'data\[0\]' should be dict"),
    ],
)
def test_a_malformed_answer_names_the_url(
    fake_server: FakeServer, reply: Reply, message: str
) -> None:
    fake_server.route(ASSET_METRICS_PATH, reply)
    with api(fake_server) as client, pytest.raises(SourceFormatError, match=message) as caught:
        fetch_coinmetrics(client, "cm_api")
    assert f"GET {fake_server.base_url}{ASSET_METRICS_PATH}?assets=btc" in str(caught.value)


def test_a_next_page_loop_is_refused(fake_server: FakeServer) -> None:
    query = f"assets=btc&metrics={ALL_METRICS}&frequency=1d&page_size=2&paging_from=start"
    query += "&ignore_forbidden_errors=true&ignore_unsupported_errors=true"
    page = {**PAGES[0], "next_page_url": f"https://elsewhere{ASSET_METRICS_PATH}?{query}"}
    fake_server.route(ASSET_METRICS_PATH, json_response(page))
    with api(fake_server) as client, pytest.raises(SourceFormatError, match="leads back"):
        fetch_coinmetrics(client, "cm_api")
    assert len(fake_server.requests) == 1
