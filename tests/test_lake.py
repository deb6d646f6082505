"""The Parquet lake: partitions are replaced whole, and a crashed write leaves the old data.

Tests taking the ``lake`` fixture run twice: on a local folder and on the S3 server
(``tests/s3server.py``), with the same assertions."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.lake import TMP_PREFIX, Lake
from pipelines.object_lake import ObjectLake


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(tmp_path)
    return ObjectLake.open(request.getfixturevalue("s3_url"))


def stored_objects(lake: Lake) -> list[str]:
    """Every file or object the lake holds, hidden or not, relative to its root."""
    if isinstance(lake, ObjectLake):
        root = lake.location.key()
        return [i.path[len(root) + 1 :] for i in lake._objects(root)]
    return sorted(str(p.relative_to(lake.root)) for p in Path(lake.root).rglob("*") if p.is_file())


def day(value: str, rows: int) -> pl.DataFrame:
    return pl.DataFrame({"date": [value] * rows, "height": list(range(rows))})


def test_partitions_are_written_and_read(lake: Lake) -> None:
    lake.write(day("2024-01-01", 3), "raw", "blocks", ("date", "2024-01-01"))
    lake.write(day("2024-01-02", 2), "raw", "blocks", ("date", "2024-01-02"))
    assert lake.partitions("raw", "blocks") == ["2024-01-01", "2024-01-02"]
    assert "raw/blocks/date=2024-01-01/data.parquet" in stored_objects(lake)
    assert lake.read("raw", "blocks").height == 5
    assert lake.read("raw", "blocks", ("date", "2024-01-02")).height == 2


def test_rewriting_a_partition_replaces_it_exactly(lake: Lake) -> None:
    lake.write(day("2024-01-01", 5), "raw", "blocks", ("date", "2024-01-01"))
    lake.write(day("2024-01-01", 2), "raw", "blocks", ("date", "2024-01-01"))
    lake.write(day("2024-01-01", 2), "raw", "blocks", ("date", "2024-01-01"))
    assert lake.read("raw", "blocks").equals(day("2024-01-01", 2))


def test_crash_during_write_leaves_the_previous_partition(tmp_path: Path, monkeypatch) -> None:
    lake = Lake(tmp_path)
    lake.write(day("2024-01-01", 4), "raw", "blocks", ("date", "2024-01-01"))

    def half_written_then_crash(self: pl.DataFrame, file, **kwargs) -> None:
        Path(file).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_written_then_crash)
    with pytest.raises(OSError, match="disk full"):
        lake.write(day("2024-01-01", 9), "raw", "blocks", ("date", "2024-01-01"))
    monkeypatch.undo()
    assert lake.read("raw", "blocks").equals(day("2024-01-01", 4))
    assert not list((tmp_path / "raw" / "blocks").rglob(f"{TMP_PREFIX}*"))


def test_a_killed_writer_leftover_is_invisible_and_cleaned(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(day("2024-01-01", 1), "raw", "blocks", ("date", "2024-01-01"))
    leftover = tmp_path / "raw" / "blocks" / "date=2024-01-01" / f"{TMP_PREFIX}dead"
    leftover.write_bytes(b"garbage from a killed process")
    assert lake.read("raw", "blocks").height == 1  # readers never see it
    lake.write(day("2024-01-01", 2), "raw", "blocks", ("date", "2024-01-01"))
    assert not leftover.exists()


def test_unpartitioned_table_and_unknown_layer(lake: Lake) -> None:
    lake.write(pl.DataFrame({"a": [1]}), "raw", "pool_registry")
    assert lake.partitions("raw", "pool_registry") == []
    assert lake.read("raw", "pool_registry")["a"].to_list() == [1]
    with pytest.raises(ValueError, match="unknown lake layer 'gold'"):
        lake.write(pl.DataFrame({"a": [1]}), "gold", "x")
    with pytest.raises(FileNotFoundError, match="raw/absent"):
        lake.read("raw", "absent")


def test_keep_partitions_removes_only_the_others(lake: Lake) -> None:
    for feed in ("a", "b", "c"):
        lake.write(pl.DataFrame({"x": [1]}), "raw", "t", ("feed", feed))
    assert lake.keep_partitions("raw", "t", "feed", ["b", "z"]) == ["a", "c"]
    assert lake.partitions("raw", "t") == ["b"]
    assert lake.keep_partitions("raw", "t", "feed", ["b"]) == []


def test_replace_days_rewrites_only_the_range_inside_monthly_partitions(lake: Lake) -> None:

    def blocks(*days: str) -> pl.DataFrame:
        return pl.DataFrame(
            {"date": [date.fromisoformat(d) for d in days], "height": list(range(len(days)))},
            schema={"date": pl.Date, "height": pl.Int64},
        )

    def stored() -> list[str]:
        return sorted(str(d) for d in lake.read("raw", "t")["date"].to_list())

    written = lake.replace_days(
        blocks("2024-01-30", "2024-01-31", "2024-02-01"),
        "raw",
        "t",
        column="date",
        start=date(2024, 1, 30),
        end=date(2024, 2, 1),
        sort_by=["date"],
    )
    assert written == (2, 0)
    assert lake.partitions("raw", "t") == ["2024-01", "2024-02"]
    # a later run over 2024-01-31..2024-02-01 only: 01-30 kept, 01-31 emptied, 02-01 replaced
    again = blocks("2024-02-01", "2024-02-01")
    assert lake.replace_days(
        again,
        "raw",
        "t",
        column="date",
        start=date(2024, 1, 31),
        end=date(2024, 2, 1),
        sort_by=["date", "height"],
    ) == (2, 0)
    assert stored() == ["2024-01-30", "2024-02-01", "2024-02-01"]
    # a month left without rows loses its file
    empty = blocks()
    assert lake.replace_days(
        empty,
        "raw",
        "t",
        column="date",
        start=date(2024, 2, 1),
        end=date(2024, 2, 29),
        sort_by=["date"],
    ) == (0, 1)
    assert lake.partitions("raw", "t") == ["2024-01"]


def test_read_partitions_in_order_each_with_its_own_columns(lake: Lake) -> None:
    months = [f"2024-{m:02d}" for m in range(1, 6)]
    for i, month in enumerate(months):
        frame = pl.DataFrame({"v": [i] * (i + 1)})
        if month == "2024-03":  # a file written by an older version, without a later column
            frame = frame.with_columns(extra=pl.lit("x"))
        lake.write(frame, "raw", "t", ("month", month))
    read = list(lake.read_partitions("raw", "t", "month", months[::-1], batch=2))
    assert [month for month, _ in read] == months[::-1]
    assert [rows["v"].to_list() for _, rows in read][-1] == [0]
    assert dict(read)["2024-03"].columns == ["v", "extra"]
    assert all(rows.height == int(month[-1]) for month, rows in read)


def test_read_only_some_columns(lake: Lake) -> None:
    lake.write(pl.DataFrame({"a": [1], "b": ["x"], "c": [2.0]}), "raw", "t", ("month", "2024-01"))
    assert lake.read("raw", "t", columns=["c", "a"]).columns == ["c", "a"]
    assert lake.read("raw", "t", ("month", "2024-01"), columns=["b"]).to_dicts() == [{"b": "x"}]


def test_a_failed_write_leaves_the_previous_partition(lake: Lake, monkeypatch) -> None:
    lake.write(day("2024-01-01", 4), "raw", "blocks", ("date", "2024-01-01"))
    before = stored_objects(lake)

    def crash(self: pl.DataFrame, file, **kwargs) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        lake.write(day("2024-01-01", 9), "raw", "blocks", ("date", "2024-01-01"))
    monkeypatch.undo()
    assert lake.read("raw", "blocks").equals(day("2024-01-01", 4))
    assert stored_objects(lake) == before


def test_parts_are_committed_whole_and_orphans_cleaned(lake: Lake) -> None:
    lake.write(pl.DataFrame({"a": [0]}), "intermediate", "t")  # an old single-file table
    with lake.parts_writer("intermediate", "t") as writer:
        writer.append(pl.DataFrame({"a": [1, 2]}))
        writer.append(pl.DataFrame({"a": [3]}))
    assert lake.read("intermediate", "t")["a"].to_list() == [1, 2, 3]
    committed = stored_objects(lake)
    with pytest.raises(RuntimeError), lake.parts_writer("intermediate", "t") as writer:
        writer.append(pl.DataFrame({"a": [9]}))
        raise RuntimeError("crash mid-write")
    assert lake.read("intermediate", "t")["a"].to_list() == [1, 2, 3]
    assert stored_objects(lake) == committed
    # a writer killed before its commit: its parts are never read, and the next commit removes them
    killed = lake.parts_writer("intermediate", "t").__enter__()
    killed.append(pl.DataFrame({"a": [7]}))
    assert lake.read("intermediate", "t")["a"].to_list() == [1, 2, 3]
    lake.write(pl.DataFrame({"a": [4]}), "intermediate", "t")  # a single frame over parts
    assert lake.read("intermediate", "t")["a"].to_list() == [4]
    assert len(stored_objects(lake)) <= 2  # the new part (and its manifest): nothing else
