"""Tests for pipelines.http against the local fake server (127.0.0.1 only)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path

import pytest

from pipelines.http import (
    OFFLINE_HINT,
    HttpClient,
    SourceFormatError,
    SourceUnavailable,
    read_location,
)
from tests.fakeserver import Delay, FakeServer, json_response

SECRET = "sk-live-0123456789abcdef"


class RecordingSleep:
    """A `sleep` that records the requested waits and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(sleep: RecordingSleep) -> Iterator[HttpClient]:
    with HttpClient("pool_registry", sleep=sleep, timeout=5) as http:
        yield http


def test_get_json_ok(fake_server: FakeServer, client: HttpClient) -> None:
    fake_server.route("/pools", json_response({"pools": [{"name": "Foundry"}]}))
    data = client.get_json(fake_server.url("/pools"), params={"page": 2, "q": "a b"})
    assert data == {"pools": [{"name": "Foundry"}]}
    [request] = fake_server.requests
    assert request.path == "/pools"
    assert request.query == {"page": ["2"], "q": ["a b"]}
    assert request.headers["User-Agent"].startswith("decentralization-observatory/0.1")


def test_get_bytes_ok(fake_server: FakeServer, client: HttpClient) -> None:
    body = bytes(range(256)) * 10
    fake_server.route("/blob.bin", (200, {"Content-Type": "application/octet-stream"}, body))
    assert client.get_bytes(fake_server.url("/blob.bin")) == body


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_at_once(
    fake_server: FakeServer, client: HttpClient, sleep: RecordingSleep, status: int
) -> None:
    fake_server.route("/missing", (status, {}, b"nothing here\n" + b"x" * 5000))
    with pytest.raises(SourceUnavailable) as info:
        client.get_bytes(fake_server.url("/missing"), params={"page": 3})
    message = str(info.value)
    assert message.startswith("pool_registry: ")
    assert fake_server.url("/missing?page=3") in message
    assert f"HTTP {status}" in message
    assert "nothing here" in message
    assert len(message) < 500
    assert OFFLINE_HINT not in message
    assert len(fake_server.requests) == 1
    assert sleep.calls == []


def test_429_retry_after_seconds(
    fake_server: FakeServer, client: HttpClient, sleep: RecordingSleep
) -> None:
    fake_server.route("/r", (429, {"Retry-After": "2"}, b"slow down"), json_response([1]))
    assert client.get_json(fake_server.url("/r")) == [1]
    assert sleep.calls == [2]
    assert len(fake_server.requests) == 2


def test_429_retry_after_http_date(
    fake_server: FakeServer, client: HttpClient, sleep: RecordingSleep
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake_server.route("/r", (429, {"Retry-After": when}, b""), json_response([1]))
    assert client.get_json(fake_server.url("/r")) == [1]
    [wait] = sleep.calls
    assert 27 < wait <= 30


def test_429_without_retry_after_uses_backoff(
    fake_server: FakeServer, client: HttpClient, sleep: RecordingSleep
) -> None:
    fake_server.route("/r", (429, {}, b""), (429, {"Retry-After": "soon"}, b""), (200, {}, b"ok"))
    assert client.get_bytes(fake_server.url("/r")) == b"ok"
    assert sleep.calls == [1.0, 2.0]


def test_429_retry_after_too_long_fails_fast(
    fake_server: FakeServer, sleep: RecordingSleep
) -> None:
    fake_server.route("/r", (429, {"Retry-After": "3600"}, b"quota exhausted"))
    with (
        HttpClient("pool_registry", sleep=sleep, max_retry_after=300) as http,
        pytest.raises(SourceUnavailable, match="Retry-After of 3600s") as info,
    ):
        http.get_bytes(fake_server.url("/r"))
    assert fake_server.url("/r") in str(info.value)
    assert len(fake_server.requests) == 1
    assert sleep.calls == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_then_ok(
    fake_server: FakeServer,
    client: HttpClient,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    fake_server.route("/r", (status, {}, b"oops"), json_response({"ok": True}))
    with caplog.at_level(logging.WARNING, logger="pipelines.http"):
        assert client.get_json(fake_server.url("/r")) == {"ok": True}
    assert sleep.calls == [1.0]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    for part in ("pool_registry", fake_server.url("/r"), f"HTTP {status}", "1.0s"):
        assert part in record.getMessage()


def test_server_error_forever(fake_server: FakeServer, sleep: RecordingSleep) -> None:
    fake_server.route("/r", (500, {}, b"database on fire"))
    with (
        HttpClient("pool_registry", sleep=sleep, max_attempts=5, max_backoff=5) as http,
        pytest.raises(SourceUnavailable) as info,
    ):
        http.get_bytes(fake_server.url("/r"), params={"day": "2024-01-01"})
    message = str(info.value)
    assert fake_server.url("/r?day=2024-01-01") in message
    assert "pool_registry" in message
    assert "5 attempts" in message
    assert "HTTP 500" in message
    assert "database on fire" in message
    assert message.endswith(OFFLINE_HINT)
    assert len(fake_server.requests) == 5
    assert sleep.calls == [1.0, 2.0, 4.0, 5.0]


def test_timeout_is_retried_then_fails(fake_server: FakeServer, sleep: RecordingSleep) -> None:
    fake_server.route("/slow", Delay(5, (200, {}, b"too late")))
    started = time.monotonic()
    with (
        HttpClient("pool_registry", sleep=sleep, timeout=0.3, max_attempts=3) as http,
        pytest.raises(SourceUnavailable, match="3 attempts") as info,
    ):
        http.get_bytes(fake_server.url("/slow"))
    assert time.monotonic() - started < 3
    assert "Timeout" in str(info.value)
    assert str(info.value).endswith(OFFLINE_HINT)
    assert len(fake_server.requests) == 3


def test_connection_refused_is_retried_then_fails(sleep: RecordingSleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/nothing"
    with (
        HttpClient("pool_registry", sleep=sleep, max_attempts=2) as http,
        pytest.raises(SourceUnavailable, match="2 attempts") as info,
    ):
        http.get_bytes(url)
    assert url in str(info.value)
    assert "ConnectionError" in str(info.value)
    assert str(info.value).endswith(OFFLINE_HINT)
    assert sleep.calls == [1.0]


def test_malformed_json(fake_server: FakeServer, client: HttpClient) -> None:
    fake_server.route(
        "/bad", (200, {}, b'{"pools": [\n  {"name": "Foundry"},\n  {"name": oops}\n]}')
    )
    with pytest.raises(SourceFormatError) as info:
        client.get_json(fake_server.url("/bad"))
    message = str(info.value)
    assert "pool_registry" in message
    assert fake_server.url("/bad") in message
    assert "line 3 column 12" in message
    assert "oops" in message


def test_truncated_and_undecodable_json(fake_server: FakeServer, client: HttpClient) -> None:
    fake_server.route("/cut", (200, {}, b'{"pools": [1, 2'))
    with pytest.raises(SourceFormatError, match="line 1 column 16"):
        client.get_json(fake_server.url("/cut"))
    fake_server.route("/latin1", (200, {}, b'{"name": "Caf\xe9"}'))
    with pytest.raises(SourceFormatError, match="byte 13"):
        client.get_json(fake_server.url("/latin1"))


def test_min_interval_between_request_starts(fake_server: FakeServer) -> None:
    fake_server.route("/r", (200, {}, b"ok"))
    with (
        HttpClient("pool_registry", min_interval=0.1) as http,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        bodies = list(pool.map(lambda _: http.get_bytes(fake_server.url("/r")), range(4)))
    assert bodies == [b"ok"] * 4
    arrivals = sorted(request.time for request in fake_server.requests)
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert len(gaps) == 3
    assert min(gaps) > 0.08


def test_min_interval_waits_through_sleep(fake_server: FakeServer, sleep: RecordingSleep) -> None:
    fake_server.route("/r", (200, {}, b"ok"))
    with HttpClient("pool_registry", min_interval=60, sleep=sleep) as http:
        http.get_bytes(fake_server.url("/r"))
        http.get_bytes(fake_server.url("/r"))
    [wait] = sleep.calls
    assert 59 < wait <= 60


def test_secret_headers_never_shown(
    fake_server: FakeServer, sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"X-Api-Key": SECRET, "Authorization": f"Bearer {SECRET}"}
    fake_server.route("/denied", (403, {}, f"invalid key {SECRET}".encode()))
    fake_server.route("/flaky", (503, {}, f"key {SECRET} is throttled".encode()))
    with (
        caplog.at_level(logging.WARNING, logger="pipelines.http"),
        HttpClient("pool_registry", headers=headers, sleep=sleep, max_attempts=2) as http,
    ):
        assert SECRET not in repr(http)
        with pytest.raises(SourceUnavailable) as denied:
            http.get_bytes(fake_server.url("/denied"))
        with pytest.raises(SourceUnavailable) as flaky:
            http.get_bytes(fake_server.url("/flaky"))
    assert fake_server.requests[0].headers["x-api-key"] == SECRET
    for text in (str(denied.value), str(flaky.value), caplog.text):
        assert SECRET not in text
        assert "pool_registry" in text
    assert "invalid key ***" in str(denied.value)


def test_read_location_local_file(tmp_path: Path) -> None:
    path = tmp_path / "pools.json"
    path.write_bytes(b'{"pools": []}')
    assert read_location(str(path), source="pool_registry") == b'{"pools": []}'


def test_read_location_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "pools.json"
    with pytest.raises(FileNotFoundError) as info:
        read_location(str(missing), source="pool_registry")
    assert "pool_registry" in str(info.value)
    assert str(missing) in str(info.value)


def test_read_location_url(fake_server: FakeServer, client: HttpClient) -> None:
    fake_server.route("/pools.json", (200, {}, b"[]"))
    url = fake_server.url("/pools.json")
    assert read_location(url, source="pool_registry") == b"[]"
    assert read_location(url, source="pool_registry", client=client) == b"[]"
    assert len(fake_server.requests) == 2


def test_fake_server_scripts_and_records(fake_server: FakeServer, client: HttpClient) -> None:
    fake_server.route("/s", (200, {}, b"one"), (200, {}, b"two"))
    got = [client.get_bytes(fake_server.url("/s?x=1")) for _ in range(3)]
    assert got == [b"one", b"two", b"two"]
    assert [r.query for r in fake_server.requests] == [{"x": ["1"]}] * 3
    with pytest.raises(SourceUnavailable, match="no route for /unrouted"):
        client.get_bytes(fake_server.url("/unrouted"))


def test_secrets_are_redacted_in_plain_and_url_quoted_form(fake_server: FakeServer) -> None:
    fake_server.route("/data", (403, {}, b"forbidden"))
    key = "k3y/with+chars"
    with (
        HttpClient("api", max_attempts=1, secrets=(key,)) as http,
        pytest.raises(SourceUnavailable) as err,
    ):
        http.get_bytes(fake_server.url("/data"), params={"api_key": key})
    message = str(err.value)
    assert "403" in message and "api_key=***" in message
    assert key not in message and "k3y%2Fwith%2Bchars" not in message
