"""The node tables built in batches of days equal those built in one batch; parts in the lake."""

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.benchmarks.nodes import generate
from pipelines.lake import Lake
from pipelines.node_tables import TABLES, build_node_tables, partition_batches
from pipelines.sources.ip_databases import default_databases
from pipelines.sources.seeds import read_hosting_providers, read_node_organizations


def test_batches_of_months_give_the_same_tables(tmp_path: Path) -> None:
    one, many = Lake(tmp_path / "one"), Lake(tmp_path / "many")
    for lake in (one, many):
        generate(lake, snapshots=5, nodes=400, every_days=31)  # five months, a file each
    files = many.files("raw", "node_snapshots")
    assert [len(b) for b in partition_batches(many, files, 900)] == [2, 2, 1]
    assert [len(b) for b in partition_batches(many, files, 1)] == [
        1
    ] * 5  # a big month is a batch alone
    seeds = read_node_organizations(), read_hosting_providers()
    whole = build_node_tables(one, default_databases(), *seeds, batch_rows=10**9)
    batched = build_node_tables(many, default_databases(), *seeds, batch_rows=900)
    assert (whole.batches, batched.batches) == (1, 3)
    assert whole.rows == batched.rows and whole.rows["nodes"] == 2_000
    assert whole.agreement == batched.agreement
    for table in TABLES:
        assert len(many.files("intermediate", table)) == 3
        assert_frame_equal(one.read("intermediate", table), many.read("intermediate", table))


def test_parts_replace_the_table_only_when_complete(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(pl.DataFrame({"a": [0]}), "intermediate", "t")  # an old single-file table
    with lake.parts_writer("intermediate", "t") as writer:
        writer.append(pl.DataFrame({"a": [1, 2]}))
        writer.append(pl.DataFrame({"a": [3]}))
    assert [p.name for p in lake.files("intermediate", "t")] == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert lake.read("intermediate", "t")["a"].to_list() == [1, 2, 3]
    with pytest.raises(RuntimeError), lake.parts_writer("intermediate", "t") as writer:
        writer.append(pl.DataFrame({"a": [9]}))
        raise RuntimeError("crash mid-write")
    assert lake.read("intermediate", "t")["a"].to_list() == [1, 2, 3]
    assert [p.name for p in (tmp_path / "intermediate").iterdir()] == ["t"]
    lake.write(pl.DataFrame({"a": [4]}), "intermediate", "t")  # single frame over parts
    assert lake.read("intermediate", "t")["a"].to_list() == [4]


def test_a_crash_between_the_two_renames_is_repaired(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with lake.parts_writer("intermediate", "t") as writer:
        writer.append(pl.DataFrame({"a": [1]}))
    base = lake.table_dir("intermediate", "t")
    base.rename(base.parent / ".t.old-0123")  # the old table set aside, the new one not in yet
    assert lake.read("intermediate", "t")["a"].to_list() == [1]
    assert base.is_dir()
