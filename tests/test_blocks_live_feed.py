"""``raw/blocks`` from a mempool.space-shaped API on 127.0.0.1: heights found by date, a resumable
cache, and a reorg replacing a block."""

import copy
import json
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.defs.blocks import blocks
from pipelines.lake import Lake
from pipelines.partitions import run_tags
from pipelines.resources import ObservatoryResource
from tests.conftest import FIXTURES, write_config
from tests.fakeserver import FakeServer, RecordedRequest, json_response

# 15 real blocks 911234..911248, from 2025-08-22 20:54 to 2025-08-23 01:13 UTC.
REAL = {
    b["height"]: b
    for b in json.loads((FIXTURES / "blocks" / "mempool-blocks-911248.json").read_text())
}
TIP = 911260
DAYS = run_tags(date.fromisoformat("2025-08-22"), date.fromisoformat("2025-08-23"))


class Chain:
    """A mempool API: the real blocks, and made-up ones (10 minutes apart) around them."""

    def __init__(self) -> None:
        self.replaced: dict[int, str] = {}

    def block(self, height: int) -> dict:
        if height in REAL:
            block = copy.deepcopy(REAL[height])
        else:
            block = copy.deepcopy(REAL[911234])
            block["height"] = height
            block["timestamp"] = REAL[911234]["timestamp"] + (height - 911234) * 600
            block["id"] = f"{height:064x}"
        if height in self.replaced:
            block["id"] = self.replaced[height]
        return block

    def page(self, request: RecordedRequest):
        top = min(int(request.path.rsplit("/", 1)[1]), TIP)
        return json_response([self.block(h) for h in range(top, max(top - 15, -1), -1)])


def serve(fake_server: FakeServer, chain: Chain) -> None:
    fake_server.route("/api/blocks/tip/height", (200, {}, str(TIP).encode()))
    fake_server.handler("/api/v1/blocks/*", chain.page)


def config(tmp_path: Path, url: str) -> Path:
    path = write_config(
        tmp_path,
        {"blocks.api": {"kind": "mempool_rest", "location": url, "min_interval_seconds": 0.0}},
    )
    path.write_text(path.read_text() + "\n[http]\nbackoff_seconds = 0.01\n")
    return path


def run(cfg: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [blocks], resources={"observatory": ObservatoryResource(config_file=str(cfg))}, tags=DAYS
    )


def day_rows(home: Path, day: str) -> pl.DataFrame:
    month = Lake(home / "lake").read("raw", "blocks", ("month", day[:7]))
    return month.filter(pl.col("date") == date.fromisoformat(day))


def test_days_are_fetched_by_height_and_cached(fake_server: FakeServer, tmp_path: Path) -> None:
    chain = Chain()
    serve(fake_server, chain)
    cfg = config(tmp_path, fake_server.base_url)
    first = run(cfg)
    assert first.success
    home = tmp_path / "warehouse"
    late = day_rows(home, "2025-08-22")
    early = day_rows(home, "2025-08-23")
    assert {911234, 911245} <= set(late["height"])
    assert {911246, 911247, 911248} <= set(early["height"])
    assert (late["time"].dt.date().cast(pl.String) == "2025-08-22").all()
    real = late.filter(pl.col("height") == 911245).row(0, named=True)
    assert real["hash"] == REAL[911245]["id"]
    assert real["coinbase_hex"] == REAL[911245]["extras"]["coinbaseRaw"]
    assert list((home / "lake" / "cache" / "blocks" / "api").glob("blocks-*.parquet"))

    pages_before = len([r for r in fake_server.requests if "/api/v1/blocks/" in r.path])
    assert run(cfg).success
    pages_after = len([r for r in fake_server.requests if "/api/v1/blocks/" in r.path])
    fetched_again = pages_after - pages_before
    assert fetched_again < pages_before  # the second run reads its heights from the cache


def test_a_reorg_replaces_the_block_and_is_reported(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    chain = Chain()
    serve(fake_server, chain)
    cfg = config(tmp_path, fake_server.base_url)
    assert run(cfg).success
    chain.replaced[TIP - 1] = "00" * 31 + "ab"  # the block below the tip changed
    result = run(cfg)
    feeds = result.get_asset_materialization_events()[0].materialization.metadata["feeds"].value
    assert "| api | mempool_rest |" in feeds
    reorg_column = feeds.splitlines()[0].split(" | ").index("reorgs")
    assert feeds.splitlines()[2].split(" | ")[reorg_column].strip(" |") == "1"


def test_http_settings_reach_the_live_block_feed(fake_server: FakeServer, tmp_path: Path) -> None:
    """``[http] max_retry_after_seconds`` applies to block feeds as to every live reader: a
    Retry-After longer than it stops the read at once instead of waiting (it was dropped)."""
    fake_server.route("/api/blocks/tip/height", (429, {"Retry-After": "120"}, b"slow down"))
    cfg = config(tmp_path, fake_server.base_url)
    cfg.write_text(cfg.read_text() + "max_retry_after_seconds = 5\n")
    result = dg.materialize(
        [blocks],
        resources={"observatory": ObservatoryResource(config_file=str(cfg))},
        tags=DAYS,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert "Retry-After of 120s exceeds max_retry_after=5s" in message
    assert len(fake_server.requests) == 1
