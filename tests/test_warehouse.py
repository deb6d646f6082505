"""Serving: readers hold the serving file without blocking a publish, and never see half a build."""

import contextlib
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import duckdb
import polars as pl
import pytest

from pipelines.lake import Lake
from pipelines.warehouse import (
    Warehouse,
    WarehouseNotBuilt,
    describe_relations,
    load_lake_tables,
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


def lake_loads(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str | None]]:
    rows = con.sql("select relation, how, pinned from meta.lake_loads").fetchall()
    return {relation: (how, pinned) for relation, how, pinned in rows}


def unregistered(relation: str, description: str, column: str) -> SimpleNamespace:
    """What the loader reads of a contract, without adding a table to the project's contracts."""
    layer, table = relation.split(".")
    return SimpleNamespace(
        relation=relation,
        layer=layer,
        table=table,
        description=description,
        descriptions={column: f"a {column}"},
        schema={column: pl.Int64()},
    )


MONTHLY = unregistered("raw.t", "days", "day")
PARTS = unregistered("intermediate.p", "parts", "v")


def test_lake_tables_are_views_over_pinned_files(tmp_path: Path) -> None:
    """A local lake table is a view over hard links to its files: stored once, and a later lake
    write does not show through until the table is loaded again."""
    lake = Lake(tmp_path / "lake")
    lake.write(pl.DataFrame({"day": [1, 2]}), "raw", "t", ("month", "2024-01"))
    with lake.parts_writer("intermediate", "p") as parts:
        parts.append(pl.DataFrame({"v": [1]}))
        parts.append(pl.DataFrame({"v": [2]}))
    warehouse = Warehouse(tmp_path)
    with warehouse.writer() as con:
        assert load_lake_tables(con, lake, [MONTHLY, PARTS], warehouse.pinned_path) == [
            "raw.t",
            "intermediate.p",
        ]
        described = {r["name"]: r for r in describe_relations(con)}
        assert (described["raw.t"]["kind"], described["raw.t"]["description"]) == ("view", "days")
        assert described["raw.t"]["columns"][0]["description"] == "a day"
        assert (described["intermediate.p"]["kind"], described["intermediate.p"]["rows"]) == (
            "view",
            2,
        )
        first = lake_loads(con)["raw.t"]
    assert first[0] == "view" and Path(first[1]).parent == warehouse.pinned_path / "raw.t"
    pinned_file = Path(first[1]) / "month=2024-01" / "data.parquet"
    assert pinned_file.stat().st_ino == lake.files("raw", "t")[0].stat().st_ino  # a link

    lake.write(pl.DataFrame({"day": [3]}), "raw", "t", ("month", "2024-02"))
    lake.write(pl.DataFrame({"day": [10]}), "raw", "t", ("month", "2024-01"))
    with warehouse.writer() as con:
        assert con.sql("select day from raw.t order by day").fetchall() == [(1,), (2,)]
        assert load_lake_tables(con, lake, [MONTHLY, PARTS], warehouse.pinned_path) == ["raw.t"]
        assert con.sql("select day from raw.t order by day").fetchall() == [(3,), (10,)]
        second = lake_loads(con)["raw.t"]
    assert second[1] != first[1] and pinned_file.is_file()  # the old pin stays until a publish

    shutil.rmtree(second[1])  # lost (a crash before the links reached the disk, a user's rm)
    with warehouse.writer() as con:
        assert load_lake_tables(con, lake, [MONTHLY, PARTS], warehouse.pinned_path) == ["raw.t"]
        assert con.sql("select day from raw.t order by day").fetchall() == [(3,), (10,)]
    assert Path(second[1]).is_dir()


def test_publish_keeps_the_pins_of_the_new_and_the_previous_serving_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    warehouse = Warehouse(tmp_path)
    pins = []
    for day in (1, 2, 3):
        lake.write(pl.DataFrame({"day": [day]}), "raw", "t", ("month", "2024-01"))
        with warehouse.writer() as con:
            load_lake_tables(con, lake, [MONTHLY], warehouse.pinned_path)
            pins.append(Path(lake_loads(con)["raw.t"][1]))
        stale = warehouse.pinned_path / "raw.t" / f".{day}.tmp-crashed"  # a crashed pin_files
        stale.mkdir()
        warehouse.publish()
        assert not stale.exists()
        with warehouse.reader() as reader:
            assert reader.sql("select day from raw.t").fetchall() == [(day,)]
    assert [p.is_dir() for p in pins] == [False, True, True]


def test_lake_tables_are_copied_where_files_cannot_be_linked(tmp_path: Path) -> None:
    """A lake on another file system than the warehouse (here /dev/shm) is copied."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        lake = Lake(Path(other) / "lake")
        lake.write(pl.DataFrame({"day": [1, 2]}), "raw", "t", ("month", "2024-01"))
        warehouse = Warehouse(tmp_path)
        with warehouse.writer() as con:
            assert load_lake_tables(con, lake, [MONTHLY], warehouse.pinned_path) == ["raw.t"]
            assert lake_loads(con)["raw.t"] == ("copy", None)
            (relation,) = [r for r in describe_relations(con) if r["name"] == "raw.t"]
            assert (relation["kind"], relation["rows"]) == ("table", 2)
        assert not [p for p in warehouse.pinned_path.rglob("*") if p.is_file()]


def test_a_copy_is_replaced_by_a_view_and_back(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write(pl.DataFrame({"day": [1, 2]}), "raw", "t", ("month", "2024-01"))
    (file,) = lake.files("raw", "t")
    with Warehouse(tmp_path).writer() as con:
        assert load_parquet_table(con, "raw.t", [file]) == 2
        assert load_parquet_view(con, "raw.t", str(file)) == 2
        assert con.sql(
            "select count(*) from duckdb_tables() where table_name = 't'"
        ).fetchall() == [(0,)]
        assert load_parquet_table(con, "raw.t", [file]) == 2
        assert con.sql("select count(*) from duckdb_views() where view_name = 't'").fetchall() == [
            (0,)
        ]


def test_pins_are_named_by_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warehouse opened by a relative path still writes views a reader elsewhere can follow."""
    monkeypatch.chdir(tmp_path)
    lake = Lake(Path("lake"))
    lake.write(pl.DataFrame({"day": [1]}), "raw", "t", ("month", "2024-01"))
    warehouse = Warehouse(Path("home"))
    with warehouse.writer() as con:
        load_lake_tables(con, lake, [MONTHLY], warehouse.pinned_path)
        assert Path(lake_loads(con)["raw.t"][1]).is_absolute()
    warehouse.publish()
    monkeypatch.chdir("/")
    with duckdb.connect(str(tmp_path / "home" / "observatory.duckdb"), read_only=True) as con:
        assert con.sql("select day from raw.t").fetchall() == [(1,)]
