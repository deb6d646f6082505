"""A run rebuilds what is out of date: the ledger, the fingerprints and the two-phase plan."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.freshness import Ledger, _merge, feed_stamp, uncovered
from pipelines.lake import Lake, path_stamp
from pipelines.sources.registry import Feed
from pipelines.warehouse import Warehouse
from tests.conftest import FIXTURES, SAMPLE_SOURCES, use_config, write_config

D = date.fromisoformat


def test_uncovered_days_are_the_span_of_the_days_not_yet_read() -> None:
    covered = [["2024-01-01", "2024-01-10"], ["2024-01-20", "2024-01-31"]]
    assert uncovered(covered, D("2024-01-02"), D("2024-01-09")) is None
    assert uncovered(covered, D("2024-01-05"), D("2024-01-15")) == (
        D("2024-01-11"),
        D("2024-01-15"),
    )
    assert uncovered(covered, D("2024-01-05"), D("2024-01-25")) == (
        D("2024-01-11"),
        D("2024-01-19"),
    )
    assert uncovered(covered, D("2024-01-30"), D("2024-02-02")) == (
        D("2024-02-01"),
        D("2024-02-02"),
    )
    assert uncovered([], D("2024-01-01"), D("2024-01-01")) == (D("2024-01-01"), D("2024-01-01"))


def test_days_read_merge_into_spans() -> None:
    spans = _merge([["2024-01-01", "2024-01-10"]], D("2024-01-11"), D("2024-01-12"))
    assert spans == [["2024-01-01", "2024-01-12"]]
    spans = _merge(spans, D("2024-02-01"), D("2024-02-01"))
    assert spans == [["2024-01-01", "2024-01-12"], ["2024-02-01", "2024-02-01"]]
    assert _merge(spans, D("2024-01-05"), D("2024-02-03")) == [["2024-01-01", "2024-02-03"]]


def test_a_table_version_follows_its_bytes_not_its_modification_time(tmp_path: Path) -> None:
    folder = tmp_path / "lake" / "raw" / "t"
    (folder / "month=2024-01").mkdir(parents=True)
    frame = pl.DataFrame({"a": [1, 2, 3]})
    frame.write_parquet(folder / "month=2024-01" / "data.parquet")
    ledger = Ledger(tmp_path / "ledger.json")
    lake = Lake(tmp_path / "lake")

    def version(table: str = "t") -> str | None:
        return lake.version("raw", table, ledger.file_hash)

    first = version()
    frame.write_parquet(folder / "month=2024-01" / "data.parquet")  # rewritten, same rows
    os.utime(folder / "month=2024-01" / "data.parquet", ns=(1, 1))
    assert version() == first
    (folder / "month=2024-01" / ".data.parquet.tmp-1").write_bytes(b"half written")
    assert version() == first  # a writer's temporary file is not the table
    pl.DataFrame({"a": [1, 2, 4]}).write_parquet(folder / "month=2024-01" / "data.parquet")
    assert version() != first
    assert version("absent") is None


def test_a_ledger_without_its_build_database_is_empty(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    ledger = Ledger.load(warehouse)
    ledger.assets["raw/x"] = {"inputs": "abc"}
    ledger.save()
    assert Ledger.load(warehouse).assets == {}  # no build database: everything is rebuilt
    warehouse.build_path.write_bytes(b"")
    assert Ledger.load(warehouse).assets == {"raw/x": {"inputs": "abc"}}
    ledger.path.write_text("{not json")
    assert Ledger.load(warehouse).assets == {}


def test_feed_stamps_see_file_changes_and_live_sources(tmp_path: Path) -> None:
    source = tmp_path / "blocks.csv"
    source.write_text("height\n1\n")
    feed = Feed("blocks", "f", "labelled_blocks", str(source), _labelled_options())
    stamp, live = feed_stamp(feed)
    assert not live
    source.write_text("height\n1\n2\n")
    assert feed_stamp(feed)[0] != stamp
    remote = Feed("blocks", "f", "labelled_blocks", "https://example.org/b.csv", feed.options)
    assert feed_stamp(remote)[1]
    assert path_stamp(tmp_path / "absent") == [[str(tmp_path / "absent"), "missing"]]


def _labelled_options():
    from pipelines.sources.registry import kinds

    return kinds()["blocks"]["labelled_blocks"].options(
        height_column="height", label_column="pool", label_scheme="name", time_column="time"
    )


@pytest.fixture
def copied_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The sample config with the market CSV and the block file copied into tmp (to edit)."""
    market = tmp_path / "coinmetrics.csv"
    shutil.copy(FIXTURES / "market" / "coinmetrics-sample.csv", market)
    blocks = tmp_path / "blocks.csv"
    shutil.copy(FIXTURES / "blocks" / "labelled-sample.csv", blocks)
    sources = {
        **SAMPLE_SOURCES,
        "market.coinmetrics": {**SAMPLE_SOURCES["market.coinmetrics"], "location": str(market)},
        "blocks.sample": {**SAMPLE_SOURCES["blocks.sample"], "location": str(blocks)},
    }
    use_config(write_config(tmp_path, sources), monkeypatch)
    return {"market": market, "blocks": blocks}


SAMPLE_DAYS = (D("2024-01-01"), D("2024-01-03"))


def test_runs_rebuild_only_what_changed(copied_sources: dict[str, Path]) -> None:
    from pipelines.runner import execute

    first = execute(start=SAMPLE_DAYS[0], end=D("2024-01-02"))
    assert first.success, first.summary()
    assert len(first.run_ids) == 2  # ingest, then build

    again = execute(start=SAMPLE_DAYS[0], end=D("2024-01-02"))
    assert again.success and again.run_ids == [] and again.materialized == [], again.rebuilt
    assert "up to date" in again.summary()

    # a new day: raw/blocks reads that day only; the node branch is left alone
    new_day = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1])
    assert new_day.success, new_day.summary()
    reasons = {r.key: r.reason for r in new_day.rebuilt}
    assert reasons["raw/blocks"] == "new days 2024-01-03..2024-01-03"
    assert "intermediate/block_attribution" in new_day.materialized
    assert "intermediate/nodes" not in new_day.materialized

    # the market file touched, same bytes: re-read, and nothing downstream moves
    os.utime(copied_sources["market"])
    touched = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1])
    assert [r.key for r in touched.rebuilt] == ["raw/market_observations"]
    assert touched.materialized == ["raw/market_observations"]

    # a changed market value: the market branch is rebuilt, the mining branch is not
    lines = copied_sources["market"].read_text().splitlines()
    fields = lines[-1].split(",")
    fields[1] = str(float(fields[1]) + 1)  # one more block that day
    copied_sources["market"].write_text("\n".join([*lines[:-1], ",".join(fields)]) + "\n")
    changed = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1])
    assert changed.success, changed.summary()
    assert "marts/market_daily" in changed.materialized
    assert "serving/observatory_duckdb" in changed.materialized
    assert "intermediate/block_attribution" not in changed.materialized

    forced = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1], force=True)
    assert {r.reason for r in forced.rebuilt} <= {"forced", "forced 2024-01-01..2024-01-03"}
    assert "intermediate/nodes" in forced.materialized


def test_a_removed_output_is_rebuilt(copied_sources: dict[str, Path], tmp_path: Path) -> None:
    from pipelines.runner import execute

    assert execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1]).success
    shutil.rmtree(tmp_path / "warehouse" / "lake" / "intermediate" / "nodes")
    again = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1])
    assert again.success, again.summary()
    assert {r.key: r.reason for r in again.rebuilt}["intermediate/nodes"] == "output missing"
    assert (tmp_path / "warehouse" / "lake" / "intermediate" / "nodes").is_dir()


def test_the_code_fingerprint_follows_the_code_that_makes_tables(tmp_path: Path) -> None:
    from pipelines.freshness import code_fingerprint

    for name in ("pipelines/metrics/x.py", "pipelines/cli.py", "dbt_like_sql/marts/m.sql"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("one")
    (tmp_path / "uv.lock").write_text("lock")
    before = code_fingerprint(tmp_path)
    (tmp_path / "pipelines" / "cli.py").write_text("two")  # decides what runs, makes no table
    assert code_fingerprint(tmp_path) == before
    (tmp_path / "dbt_like_sql" / "marts" / "m.sql").write_text("two")
    assert code_fingerprint(tmp_path) != before
    changed = code_fingerprint(tmp_path)
    (tmp_path / "uv.lock").write_text("another polars")
    assert code_fingerprint(tmp_path) != changed
