"""``raw/node_snapshots`` from a Bitnodes-shaped API on 127.0.0.1: listing, 429, cache reuse."""

from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.defs.node_snapshots import node_snapshots
from pipelines.lake import Lake
from pipelines.partitions import run_tags
from pipelines.resources import ObservatoryResource
from tests.conftest import FIXTURES, write_config
from tests.fakeserver import FakeServer, json_response

SNAPSHOT = (FIXTURES / "nodes" / "api-snapshot-1700000300.json").read_bytes()  # 2023-11-14
DAY = run_tags(date.fromisoformat("2023-11-14"), date.fromisoformat("2023-11-14"))


def serve(fake_server: FakeServer) -> None:
    listing = {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "url": fake_server.url("/api/v1/snapshots/1700000300/"),
                "timestamp": 1700000300,
                "total_nodes": 7,
                "latest_height": 817001,
            }
        ],
    }
    fake_server.route(
        "/api/v1/snapshots/", (429, {"Retry-After": "0"}, b""), json_response(listing)
    )
    fake_server.route("/api/v1/snapshots/1700000300/", (200, {}, SNAPSHOT))


def run(tmp_path: Path, url: str) -> dg.ExecuteInProcessResult:
    config = write_config(
        tmp_path,
        {"nodes.api": {"kind": "bitnodes_api", "location": url, "min_interval_seconds": 0.0}},
    )
    config.write_text(config.read_text() + "\n[http]\nbackoff_seconds = 0.01\n")
    return dg.materialize(
        [node_snapshots],
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        tags=DAY,
    )


def test_snapshots_come_from_the_api_once(fake_server: FakeServer, tmp_path: Path) -> None:
    serve(fake_server)
    assert run(tmp_path, fake_server.base_url).success
    nodes = Lake(tmp_path / "warehouse" / "lake").read(
        "raw", "node_snapshots", ("month", "2023-11")
    )
    assert nodes.height >= 5 and set(nodes["reachability"]) == {"crawled"}
    assert run(tmp_path, fake_server.base_url).success
    downloads = [r for r in fake_server.requests if r.path == "/api/v1/snapshots/1700000300/"]
    assert len(downloads) == 1  # the second run read it from the cache
