"""Bitnodes snapshot API: parsing answers, paging, retries and the download cache.

``fixtures/nodes/api-snapshot-1700000300.json`` is a made-up ``/api/v1/snapshots/<ts>/``
answer: full 13-field nodes (IPv4, bracketed IPv6, onion), two nodes in the recent 5- and
6-field form without geography, a key without a port and a node with 2 fields.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.http import HttpSettings, SourceFormatError, SourceUnavailable
from pipelines.schemas.nodes import NODE_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.bitnodes_api import (
    BitnodesApi,
    SnapshotListing,
    fetch_snapshots,
    read_bitnodes_api_snapshot,
)
from tests.conftest import FIXTURES
from tests.fakeserver import FakeServer, RecordedRequest, Reply, json_response

SNAPSHOT_BYTES = (FIXTURES / "nodes" / "api-snapshot-1700000300.json").read_bytes()
SNAPSHOT = json.loads(SNAPSHOT_BYTES)
LIST_PATH = "/api/v1/snapshots/"
# newest first, three pages: 2023-11-15, three on 2023-11-14, then two on 2023-11-13
PAGES = [[1700010000, 1700000300, 1699990000], [1699950000, 1699900000], [1699850000]]
DAY = date(2023, 11, 14)
ONION = ("testonionone" + "abcdefghijklmnopqrstuvwxyz234567" * 2)[:56] + ".onion"


def rejects_of(rejects: pl.DataFrame) -> list[tuple[str, str, str | None, str]]:
    return [
        (r["record"], r["field"], r["value"], r["problem"]) for r in rejects.iter_rows(named=True)
    ]


def api(fake_server: FakeServer, sleeps: list[float] | None = None, **options: Any) -> BitnodesApi:
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return BitnodesApi(fake_server.base_url, min_interval=0, sleep=record, **options)


def listing_page(n: int) -> dict:
    """Page `n` (1-based) as bitnodes.io answers it: absolute URLs on its own host."""
    host = "https://bitnodes.io"
    return {
        "count": sum(len(p) for p in PAGES),
        "next": f"{host}{LIST_PATH}?limit=100&page={n + 1}" if n < len(PAGES) else None,
        "previous": f"{host}{LIST_PATH}?limit=100&page={n - 1}" if n > 1 else None,
        "results": [
            {
                "url": f"{host}{LIST_PATH}{ts}/",
                "timestamp": ts,
                "total_nodes": 7,
                "latest_height": 1,
            }
            for ts in PAGES[n - 1]
        ],
    }


def serve_listing(request: RecordedRequest) -> Reply:
    return json_response(listing_page(int(request.query.get("page", ["1"])[0])))


def serve_snapshot(request: RecordedRequest) -> Reply:
    timestamp = int(request.path.strip("/").rsplit("/", 1)[-1])
    return json_response({**SNAPSHOT, "timestamp": timestamp})


def serve_bitnodes(fake_server: FakeServer) -> None:
    fake_server.handler(LIST_PATH, serve_listing)
    fake_server.handler(LIST_PATH + "*", serve_snapshot)


def snapshot_requests(fake_server: FakeServer) -> list[str]:
    return [r.path for r in fake_server.requests if r.path != LIST_PATH]


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [SNAPSHOT, SNAPSHOT_BYTES])
def test_snapshot_answer(document: dict | bytes) -> None:
    nodes, rejects = read_bitnodes_api_snapshot(document, "bitnodes_api")
    assert nodes.schema == pl.Schema(NODE_SCHEMA)
    assert rejects.schema == pl.Schema(REJECT_SCHEMA)
    assert nodes.select("address", "port", "network").rows() == [
        ("192.0.2.10", 8333, "ipv4"),
        ("2001:db8::10", 8333, "ipv6"),
        (ONION, 8333, "onion"),
        ("198.51.100.7", 8333, "ipv4"),
        ("2001:db8::30", 8333, "ipv6"),
    ]
    assert set(nodes["snapshot_time"]) == {datetime(2023, 11, 14, 22, 18, 20, tzinfo=UTC)}
    assert set(nodes["reachability"]) == {"crawled"}
    full = nodes.row(0, named=True)
    assert (full["country_code"], full["asn"], full["latitude"]) == ("RU", 12389, 59.8983)
    assert (full["location_source"], full["asn_source"]) == ("source", "source")
    # the recent short form: no geography, left for the enrichment to fill
    short = nodes.filter(pl.col("address").is_in(["198.51.100.7", "2001:db8::30"]))
    assert short["height"].to_list() == [817001, 817001]
    assert short["services"].to_list() == [1033, 1033]
    geography = ["city", "country_code", "latitude", "longitude", "asn", "organization"]
    assert short.select(*geography, "location_source", "asn_source").null_count().row(0) == (2,) * 8
    assert rejects_of(rejects) == [
        ("snapshot 1700000300 node 192.0.2.99", "key", "192.0.2.99", "expected address:port"),
        (
            "snapshot 1700000300 node 192.0.2.98:8333",
            "value",
            "[70016, /Satoshi:25.0.0/]",
            "expected 5 to 13 fields, got 2",
        ),
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", "bad JSON"),
        ({"timestamp": 1, "nodes": []}, "field 'nodes' should be dict"),
        ({"nodes": {}}, "missing field 'timestamp'"),
    ],
)
def test_snapshot_answer_of_the_wrong_shape_raises(document: Any, message: str) -> None:
    with pytest.raises(SourceFormatError, match=message) as caught:
        read_bitnodes_api_snapshot(document, "bitnodes_api", where="GET http://x/1/")
    assert "bitnodes_api: GET http://x/1/" in str(caught.value)


# --- the API client ------------------------------------------------------------------------------


def test_list_snapshots_follows_next_on_the_configured_host(fake_server: FakeServer) -> None:
    serve_bitnodes(fake_server)
    with api(fake_server) as client:
        listings = client.list_snapshots()
    assert [s.timestamp for s in listings] == [ts for page in PAGES for ts in page]
    assert listings[0] == SnapshotListing(
        1700010000, f"https://bitnodes.io{LIST_PATH}1700010000/", 7, 1
    )
    assert [r.query for r in fake_server.requests] == [
        {"limit": ["100"]},
        {"limit": ["100"], "page": ["2"]},
        {"limit": ["100"], "page": ["3"]},
    ]


def test_list_snapshots_stops_at_limit_or_since(fake_server: FakeServer) -> None:
    serve_bitnodes(fake_server)
    with api(fake_server) as client:
        assert [s.timestamp for s in client.list_snapshots(limit=2)] == PAGES[0][:2]
        assert len(fake_server.requests) == 1
        since = datetime(2023, 11, 14, tzinfo=UTC)
        assert [s.timestamp for s in client.list_snapshots(since=since)] == [
            *PAGES[0],
            1699950000,
        ]
    assert len(fake_server.requests) == 3  # page 3 is older than `since`: not requested


def test_list_snapshots_rejects_a_next_loop(fake_server: FakeServer) -> None:
    page = {**listing_page(1), "next": f"http://elsewhere{LIST_PATH}"}
    fake_server.route(LIST_PATH, json_response(page))
    with api(fake_server) as client, pytest.raises(SourceFormatError, match="leads back"):
        client.list_snapshots()


def test_retry_after_429_then_success(fake_server: FakeServer) -> None:
    fake_server.route(
        LIST_PATH,
        (429, {"Retry-After": "7"}, b"daily limit reached"),
        json_response(listing_page(3)),
    )
    sleeps: list[float] = []
    with api(fake_server, sleeps) as client:
        assert [s.timestamp for s in client.list_snapshots()] == PAGES[2]
    assert sleeps == [7.0]
    assert len(fake_server.requests) == 2


def test_retry_after_beyond_the_limit_gives_up(fake_server: FakeServer) -> None:
    fake_server.route(LIST_PATH, (429, {"Retry-After": "86400"}, b"daily limit reached"))
    with api(fake_server) as client, pytest.raises(SourceUnavailable, match="Retry-After"):
        client.list_snapshots()
    assert len(fake_server.requests) == 1


def test_malformed_json_names_the_url(fake_server: FakeServer) -> None:
    fake_server.route(LIST_PATH, (200, {}, b"<html>maintenance"))
    fake_server.route(f"{LIST_PATH}1700000300/", (200, {}, b'{"timestamp": 1700000300,'))
    with api(fake_server) as client:
        with pytest.raises(SourceFormatError, match="bad JSON") as listing:
            client.list_snapshots()
        with pytest.raises(SourceFormatError, match="bad JSON") as snapshot:
            client.snapshot(1700000300)
    assert f"{fake_server.base_url}{LIST_PATH}?limit=100" in str(listing.value)
    assert f"{fake_server.base_url}{LIST_PATH}1700000300/" in str(snapshot.value)


def test_api_key_is_sent_and_never_shown(
    fake_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    serve_bitnodes(fake_server)
    fake_server.route(f"{LIST_PATH}1/", (500, {}, b"key Token s3cret-key rejected"))
    with api(fake_server, api_key="Token s3cret-key", http=HttpSettings(max_attempts=2)) as client:
        with pytest.raises(SourceUnavailable) as caught:
            client.snapshot(1)
        assert "s3cret-key" not in repr(client)
    assert [r.headers["Authorization"] for r in fake_server.requests] == ["Token s3cret-key"] * 2
    assert "s3cret-key" not in str(caught.value) and "s3cret-key" not in caplog.text
    assert "HTTP 500" in caplog.text
    with api(fake_server, api_key="abc123", api_key_header="X-Api-Key") as client:
        client.snapshot(1700000300)
    assert fake_server.requests[-1].headers["X-Api-Key"] == "abc123"
    with api(fake_server) as client:
        client.snapshot(1700000300)
    assert "Authorization" not in fake_server.requests[-1].headers


# --- fetch_snapshots -----------------------------------------------------------------------------


def test_fetch_downloads_each_snapshot_once(fake_server: FakeServer, tmp_path: Path) -> None:
    serve_bitnodes(fake_server)
    in_range = [f"{LIST_PATH}{ts}/" for ts in (1699950000, 1699990000, 1700000300)]
    with api(fake_server) as client:
        nodes, rejects, report = fetch_snapshots(client, tmp_path / "cache", DAY, DAY)
        assert snapshot_requests(fake_server) == in_range
        assert (report.listed, report.downloaded, report.from_cache) == (3, 3, 0)
        assert report.timestamps == [1699950000, 1699990000, 1700000300]
        assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
            "1699950000.json",
            "1699990000.json",
            "1700000300.json",
        ]
        assert nodes.height == 3 * 5 and rejects.height == 3 * 2
        assert nodes["snapshot_time"].dt.epoch("s").unique(maintain_order=True).to_list() == [
            1699950000,
            1699990000,
            1700000300,
        ]
        assert set(nodes["snapshot_date"]) == {DAY}
        assert rejects["record"][0] == "snapshot 1699950000 node 192.0.2.99"

        again, _, report = fetch_snapshots(client, tmp_path / "cache", DAY, DAY)
    assert snapshot_requests(fake_server) == in_range  # nothing downloaded twice
    assert (report.listed, report.downloaded, report.from_cache) == (3, 0, 3)
    assert again.equals(nodes)
    assert len(fake_server.requests) == 2 * 2 + 3  # two listing pages per call, 3 snapshots


def test_fetch_keeps_cached_snapshots_the_api_forgot(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    serve_bitnodes(fake_server)
    cache = tmp_path / "cache"
    cache.mkdir()
    old = {**SNAPSHOT, "timestamp": 1699920100}  # 2023-11-14, no longer listed
    (cache / "1699920100.json").write_text(json.dumps(old))
    (cache / "1600000000.json").write_text("outside the range: not read")
    with api(fake_server) as client:
        nodes, _, report = fetch_snapshots(client, cache, DAY, DAY, per_day=2)
    assert report.timestamps == [1699990000, 1700000300]  # the day's last two
    assert (report.listed, report.downloaded, report.from_cache) == (3, 2, 0)
    with api(fake_server) as client:
        _, _, report = fetch_snapshots(client, cache, DAY, DAY)
    assert report.timestamps == [1699920100, 1699950000, 1699990000, 1700000300]
    assert (report.listed, report.downloaded, report.from_cache) == (3, 1, 3)
    assert nodes.height == 10


def test_fetch_never_caches_a_bad_answer(fake_server: FakeServer, tmp_path: Path) -> None:
    fake_server.route(LIST_PATH, json_response(listing_page(2)))
    fake_server.route(f"{LIST_PATH}1699950000/", json_response({"timestamp": 1699950000}))
    with api(fake_server) as client, pytest.raises(SourceFormatError, match="'nodes'") as caught:
        fetch_snapshots(client, tmp_path, DAY, DAY)
    assert f"{LIST_PATH}1699950000/" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("start", "end", "per_day", "message"),
    [(DAY, date(2023, 11, 13), None, "before start_date"), (DAY, DAY, 0, "per_day")],
)
def test_fetch_checks_its_arguments(
    fake_server: FakeServer,
    tmp_path: Path,
    start: date,
    end: date,
    per_day: int | None,
    message: str,
) -> None:
    with api(fake_server) as client, pytest.raises(ValueError, match=message):
        fetch_snapshots(client, tmp_path, start, end, per_day=per_day)
    assert fake_server.requests == []
