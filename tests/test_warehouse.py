"""Serving: readers hold the serving file without blocking a publish, and never see half a build."""

import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.lake import Lake
from pipelines.warehouse import (
    Warehouse,
    WarehouseNotBuilt,
    describe_relations,
    load_parquet_table,
    load_parquet_view,
)

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    before = con.execute("select count(*), max(v) from t").fetchall()[0]
    print("open", before, flush=True)
    sys.stdin.readline()          # the test publishes a new version meanwhile
    after = con.execute("select count(*), max(v) from t").fetchall()[0]
    print("still", after, flush=True)
    """
)

HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipelines.warehouse import Warehouse
    with Warehouse(Path(sys.argv[1])).writer():
        print("locked", flush=True)
        time.sleep({seconds})
    """
)


def build(warehouse: Warehouse, rows: int) -> None:
    with warehouse.writer() as con:
        con.execute(f"create or replace table t as select range as v from range({rows})")
        con.execute("comment on table t is 'numbers'")


def test_publish_while_a_reader_holds_the_serving_file(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    build(warehouse, 10)
    warehouse.publish()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse.serving_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "open (10, 9)"
        build(warehouse, 1000)
        started = time.monotonic()
        published = warehouse.publish()
        assert time.monotonic() - started < 10  # not blocked by the reader
        assert published["tables"] == 1
        fresh = warehouse.reader()
        assert fresh.execute("select count(*) from t").fetchall() == [(1000,)]
        fresh.close()
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "still (10, 9)"  # its snapshot, whole
    finally:
        reader.kill()
        reader.wait()


def test_serving_file_is_read_only(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    build(warehouse, 3)
    warehouse.publish()
    con = warehouse.reader()
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("drop table t")
    con.close()


def test_unpublished_changes_stay_private(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    build(warehouse, 3)
    warehouse.publish()
    build(warehouse, 7)  # a run that has not reached publish yet
    con = warehouse.reader()
    assert con.execute("select count(*) from t").fetchall() == [(3,)]
    con.close()


@contextlib.contextmanager
def lock_held_elsewhere(home: Path, seconds: float) -> Iterator[None]:
    """Another process holds the writer lock for ``seconds``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK.format(seconds=seconds), str(home)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    with lock_held_elsewhere(tmp_path, 1.5):
        started = time.monotonic()
        build(Warehouse(tmp_path), 1)
        assert time.monotonic() - started > 0.5


def test_writer_gives_up_after_its_timeout(tmp_path: Path) -> None:
    with lock_held_elsewhere(tmp_path, 5), pytest.raises(TimeoutError, match="held by another"):
        build(Warehouse(tmp_path, lock_timeout_seconds=0.3), 1)


def test_reader_before_any_publish(tmp_path: Path) -> None:
    with pytest.raises(WarehouseNotBuilt, match="observatory run"):
        Warehouse(tmp_path).reader()


def test_describe_relations_lists_comments_and_counts(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path)
    build(warehouse, 4)
    with warehouse.writer() as con:
        con.execute("create view staging.v as select v from t")
        con.execute("comment on column t.v is 'a number'")
        (t, v) = describe_relations(con)
    assert t["name"] == "t" and t["rows"] == 4 and t["description"] == "numbers"
    assert t["columns"] == [{"name": "v", "type": "BIGINT", "description": "a number"}]
    assert v["name"] == "staging.v" and v["kind"] == "view"


def test_lake_view_reads_files_where_they_lie_and_replaces_a_copy(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write(pl.DataFrame({"day": [1, 2]}), "raw", "t", ("month", "2024-01"))
    warehouse = Warehouse(tmp_path)
    files = lake.files("raw", "t")
    with warehouse.writer() as con:
        assert load_parquet_table(con, "raw.t", files) == 2  # as an earlier version stored it
        pattern = lake.glob("raw", "t")
        rows = load_parquet_view(
            con, "raw.t", pattern, description="days", column_descriptions={"day": "a day"}
        )
        assert rows == 2
        (relation,) = describe_relations(con)
        assert (relation["name"], relation["kind"], relation["description"]) == (
            "raw.t",
            "view",
            "days",
        )
        assert relation["columns"][0]["description"] == "a day"
    # a month written later is seen without reloading, and a month's rewrite replaces its rows
    lake.write(pl.DataFrame({"day": [3]}), "raw", "t", ("month", "2024-02"))
    lake.write(pl.DataFrame({"day": [10]}), "raw", "t", ("month", "2024-01"))
    with warehouse.writer() as con:
        assert con.sql("select day from raw.t order by day").fetchall() == [(3,), (10,)]
        assert load_parquet_table(con, "raw.t", lake.files("raw", "t")) == 2  # a copy again
        assert con.sql("select count(*) from duckdb_views() where view_name = 't'").fetchall() == [
            (0,)
        ]
