"""mempool.space market data: hash rate, difficulty and price answers, and the client.

``fixtures/market/mempool-hashrate.json`` is a hand-written ``/api/v1/mining/hashrate/all``
answer for 2022-05-11 .. 2022-05-15 (two points on 05-13) with adjustments on 05-10, on 05-13
(under the older ``timestamp`` key) and on 05-27, after the last hash rate day.
``mempool-historical-price.json`` is a ``/api/v1/historical-price?currency=USD`` answer: a zero
price (none yet) in 2010, two daily prices and three hourly prices on 2022-05-13.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from pipelines.http import SourceFormatError
from pipelines.schemas.market import OBSERVATION_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.mempool_market import (
    MempoolMarketApi,
    fetch_mempool_market,
    read_mempool_hashrate,
)
from tests.conftest import FIXTURES
from tests.fakeserver import FakeServer, Reply, json_response

HASHRATE = json.loads((FIXTURES / "market" / "mempool-hashrate.json").read_text())
PRICES = json.loads((FIXTURES / "market" / "mempool-historical-price.json").read_text())
HASHRATE_PATH = "/api/v1/mining/hashrate/all"
PRICE_PATH = "/api/v1/historical-price"
D1, D2 = 29794407589312.0, 31251101365711.12


def rows(observations: pl.DataFrame) -> list[tuple]:
    return observations.select("date", "metric", "value", "record").rows()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def api(fake_server: FakeServer, sleeps: list[float] | None = None, **options: Any) -> Any:
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return MempoolMarketApi(fake_server.base_url, min_interval=0, sleep=record, **options)


def serve(fake_server: FakeServer, hashrate: Any = HASHRATE, prices: Any = PRICES) -> None:
    fake_server.route(HASHRATE_PATH, json_response(hashrate))
    fake_server.route(PRICE_PATH, json_response(prices))


FIXTURE_HASHRATE = [
    (date(2022, 5, 11), "hashrate_ehs", pytest.approx(219.89383813814887), "hashrates[0]"),
    (date(2022, 5, 12), "hashrate_ehs", pytest.approx(208.56729474285707), "hashrates[1]"),
    (date(2022, 5, 13), "hashrate_ehs", pytest.approx(225.0), "hashrates[2..3]"),  # the mean
    (date(2022, 5, 14), "hashrate_ehs", pytest.approx(225.03017658467437), "hashrates[4]"),
    (date(2022, 5, 15), "hashrate_ehs", pytest.approx(231.40508327612727), "hashrates[5]"),
]
# in effect at the end of each day, up to the last hash rate day (not to the 05-27 adjustment)
FIXTURE_DIFFICULTY = [
    (day, "difficulty", D1, "difficulty[0]") for day in days(date(2022, 5, 10), date(2022, 5, 12))
] + [(day, "difficulty", D2, "difficulty[1]") for day in days(date(2022, 5, 13), date(2022, 5, 15))]


def test_fetch_reads_hashrate_difficulty_and_price(
    fake_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipelines.sources.mempool_market")
    serve(fake_server)
    with api(fake_server) as client:
        observations, rejects = fetch_mempool_market(client, "mempool")
    assert [(r.path, r.query) for r in fake_server.requests] == [
        (HASHRATE_PATH, {}),
        (PRICE_PATH, {"currency": ["USD"]}),
    ]
    assert observations.schema == pl.Schema(OBSERVATION_SCHEMA)
    assert rejects.schema == pl.Schema(REJECT_SCHEMA) and rejects.is_empty()
    assert set(observations["feed"]) == {"mempool"}
    assert set(observations["source"]) == {"mempool_api"}
    assert rows(observations) == [
        *FIXTURE_HASHRATE,
        *FIXTURE_DIFFICULTY,
        (date(2010, 7, 19), "price_usd", 0.08, "prices[1]"),
        (date(2010, 7, 20), "price_usd", 0.0747, "prices[2]"),
        (date(2022, 5, 13), "price_usd", 30080.0, "prices[5]"),  # the day's last point, 23:00
    ]
    assert "mempool: 1 zero USD prices (no price yet) dropped" in caplog.text


def test_the_period_is_configurable(fake_server: FakeServer) -> None:
    fake_server.route("/api/v1/mining/hashrate/3y", json_response(HASHRATE))
    fake_server.route(PRICE_PATH, json_response(PRICES))
    with api(fake_server, period="3y") as client:
        observations, _ = fetch_mempool_market(client, "mempool")
    assert fake_server.requests[0].path == "/api/v1/mining/hashrate/3y"
    assert observations.height == 5 + 6 + 3


def test_bad_entries_are_rejected_and_the_rest_kept() -> None:
    document = copy.deepcopy(HASHRATE)
    document["hashrates"] += [
        {"timestamp": 1652659200, "avgHashrate": "fast"},
        {"timestamp": "2022-05-16", "avgHashrate": 2e20},
        {"timestamp": 1652659200, "avgHashrate": -1},
        {"avgHashrate": 2e20},
        {"timestamp": 1652659200, "avgHashrate": True},
    ]
    document["difficulty"].append({"time": 1652600000, "height": 736300, "difficulty": None})
    observations, rejects = read_mempool_hashrate(document, "mempool")
    assert rows(observations) == [*FIXTURE_HASHRATE, *FIXTURE_DIFFICULTY]
    assert rejects.select("feed", "record", "field", "value", "problem").rows() == [
        ("mempool", "hashrates[6]", "avgHashrate", "fast", "not a number"),
        ("mempool", "hashrates[7]", "timestamp", "2022-05-16", "not a Unix time"),
        ("mempool", "hashrates[8]", "avgHashrate", "-1", "negative"),
        ("mempool", "hashrates[9]", "timestamp", None, "missing"),
        ("mempool", "hashrates[10]", "avgHashrate", "true", "not a number"),
        ("mempool", "difficulty[3]", "difficulty", None, "missing"),
    ]


def test_zero_hash_rate_at_the_start_of_history_is_kept() -> None:
    document = {
        "hashrates": [
            {"timestamp": 1231459200, "avgHashrate": 0},
            {"timestamp": 1231545600, "avgHashrate": 1.2e13},
        ],
        "difficulty": [{"time": 1231006505, "height": 0, "difficulty": 1, "adjustment": 0}],
    }
    observations, rejects = read_mempool_hashrate(document, "mempool")
    assert rejects.is_empty()
    assert rows(observations) == [
        (date(2009, 1, 9), "hashrate_ehs", 0.0, "hashrates[0]"),
        (date(2009, 1, 10), "hashrate_ehs", pytest.approx(1.2e-5), "hashrates[1]"),
        *[
            (day, "difficulty", 1.0, "difficulty[0]")
            for day in days(date(2009, 1, 3), date(2009, 1, 10))
        ],
    ]


def test_difficulty_without_hash_rates_ends_at_the_last_adjustment() -> None:
    document = {"hashrates": [], "difficulty": HASHRATE["difficulty"][:2]}
    observations, _ = read_mempool_hashrate(document, "mempool")
    assert rows(observations) == [
        *[
            (day, "difficulty", D1, "difficulty[0]")
            for day in days(date(2022, 5, 10), date(2022, 5, 12))
        ],
        (date(2022, 5, 13), "difficulty", D2, "difficulty[1]"),
    ]


def test_retry_after_is_honoured(fake_server: FakeServer) -> None:
    fake_server.route(HASHRATE_PATH, (429, {"Retry-After": "2"}, b"busy"), json_response(HASHRATE))
    fake_server.route(PRICE_PATH, json_response(PRICES))
    sleeps: list[float] = []
    with api(fake_server, sleeps) as client:
        observations, _ = fetch_mempool_market(client, "mempool")
    assert sleeps == [2.0]
    assert [r.path for r in fake_server.requests] == [HASHRATE_PATH, HASHRATE_PATH, PRICE_PATH]
    assert observations.height == 14


@pytest.mark.parametrize(
    ("path", "reply", "message"),
    [
        (HASHRATE_PATH, (200, {}, b"<html>502 Bad Gateway</html>"), "bad JSON"),
        (HASHRATE_PATH, json_response({"difficulty": []}), "missing field 'hashrates'"),
        (
            HASHRATE_PATH,
            json_response({"hashrates": [1652227200], "difficulty": []}),
            r"field 'hashrates\[0\]' should be dict",
        ),
        (HASHRATE_PATH, json_response({"hashrates": []}), "missing field 'difficulty'"),
        (PRICE_PATH, json_response({"prices": {}}), "field 'prices' should be list"),
        (PRICE_PATH, (200, {}, b'{"prices": [{"time": 1279497600,'), "bad JSON"),
    ],
)
def test_a_malformed_answer_names_the_url(
    fake_server: FakeServer, path: str, reply: Reply, message: str
) -> None:
    serve(fake_server)
    fake_server.route(path, reply)
    with api(fake_server) as client, pytest.raises(SourceFormatError, match=message) as caught:
        fetch_mempool_market(client, "mempool")
    assert f"GET {fake_server.base_url}{path}" in str(caught.value)
