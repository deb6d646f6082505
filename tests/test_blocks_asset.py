"""``raw/blocks`` as Dagster runs it: ranges of days, quarantine, idempotence, checks."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.defs.blocks import blocks, blocks_expectations
from pipelines.lake import Lake
from pipelines.partitions import run_tags
from pipelines.resources import ObservatoryResource
from pipelines.schemas import contract
from pipelines.warehouse import Warehouse, describe_relations, load_lake_tables
from tests.conftest import FIXTURES, write_config

RANGE = run_tags(date.fromisoformat("2024-01-01"), date.fromisoformat("2024-01-04"))


def labelled_config(tmp_path: Path, csv: Path) -> Path:
    return write_config(
        tmp_path,
        {
            "blocks.sample": {
                "kind": "labelled_blocks",
                "location": str(csv),
                "height_column": "height",
                "label_column": "pool",
                "label_scheme": "name",
                "time_column": "time",
            }
        },
    )


def run(config: Path, tags: dict[str, str] = RANGE) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [blocks, blocks_expectations],
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        tags=tags,
        raise_on_error=False,
    )


def partitions(home: Path) -> dict[str, pl.DataFrame]:
    """The stored blocks by day (read from the monthly partitions)."""
    lake = Lake(home / "lake")
    if not lake.files("raw", "blocks"):
        return {}
    rows = lake.read("raw", "blocks")
    return {str(day): part for (day,), part in rows.partition_by("date", as_dict=True).items()}


def test_a_range_run_writes_one_partition_per_month_and_is_idempotent(tmp_path: Path) -> None:
    config = labelled_config(tmp_path, FIXTURES / "blocks" / "labelled-sample.csv")
    first = run(config)
    assert first.success
    lake = Lake(tmp_path / "warehouse" / "lake")
    assert lake.partitions("raw", "blocks") == ["2024-01"]
    written = partitions(tmp_path / "warehouse")
    assert sorted(written) == ["2024-01-01", "2024-01-02", "2024-01-03"]  # 2024-01-04: no blocks
    assert sum(f.height for f in written.values()) == 27
    (check,) = first.get_asset_check_evaluations()
    assert check.passed and check.metadata["partitions checked"].value == 1
    assert run(config).success
    again = partitions(tmp_path / "warehouse")
    assert all(again[day].equals(written[day]) for day in written)


def test_a_run_over_some_days_keeps_the_other_days_of_its_month(tmp_path: Path) -> None:
    """Day-level replacement inside a monthly partition: re-running 2024-01-02 alone, from a
    file that no longer has that day's blocks, empties that day and keeps the others."""
    csv = tmp_path / "blocks.csv"
    full = (FIXTURES / "blocks" / "labelled-sample.csv").read_text().splitlines()
    csv.write_text("\n".join(full) + "\n")
    config = labelled_config(tmp_path, csv)
    assert run(config).success
    before = partitions(tmp_path / "warehouse")
    csv.write_text("\n".join(line for line in full if "2024-01-02" not in line) + "\n")
    one_day = run_tags(date(2024, 1, 2), date(2024, 1, 2))
    assert run(config, one_day).success
    after = partitions(tmp_path / "warehouse")
    assert sorted(after) == ["2024-01-01", "2024-01-03"]
    assert after["2024-01-01"].equals(before["2024-01-01"])
    assert after["2024-01-03"].equals(before["2024-01-03"])
    warehouse = Warehouse(tmp_path / "warehouse")
    with warehouse.writer() as con:  # a view over the lake's months
        assert load_lake_tables(
            con,
            Lake(tmp_path / "warehouse" / "lake"),
            [contract("raw.blocks")],
            warehouse.pinned_path,
        )
        (relation,) = [r for r in describe_relations(con) if r["name"] == "raw.blocks"]
        assert relation["kind"] == "view"
        assert relation["rows"] == sum(day.height for day in after.values())


def test_bad_rows_are_quarantined_and_good_rows_kept(tmp_path: Path) -> None:
    lines = (FIXTURES / "blocks" / "labelled-sample.csv").read_text().splitlines()
    lines[3] = "82300x,AntPool,2024-01-01T05:25:00Z"  # a height that is not a number
    lines[5] = "823004,AntPool,yesterday"  # a time that is not a time
    csv = tmp_path / "blocks.csv"
    csv.write_text("\n".join(lines) + "\n")
    result = run(labelled_config(tmp_path, csv))
    assert result.success
    kept = sum(f.height for f in partitions(tmp_path / "warehouse").values())
    rejects = Lake(tmp_path / "warehouse" / "lake").read("raw", "block_rejects")
    problems = {(r["record"], r["field"]) for r in rejects.iter_rows(named=True)}
    assert ("line 4", "height") in problems and ("line 6", "time") in problems
    assert kept == 25  # the row without a height and the undatable one stay in quarantine
    materialization = result.get_asset_materialization_events()[0].materialization
    assert materialization.metadata["rejected_rows"].value == rejects.height


def test_days_that_lose_their_blocks_are_emptied(tmp_path: Path) -> None:
    csv = tmp_path / "blocks.csv"
    full = (FIXTURES / "blocks" / "labelled-sample.csv").read_text().splitlines()
    csv.write_text("\n".join(full) + "\n")
    config = labelled_config(tmp_path, csv)
    assert run(config).success
    csv.write_text("\n".join(line for line in full if "2024-01-03" not in line) + "\n")
    assert run(config).success
    assert sorted(partitions(tmp_path / "warehouse")) == ["2024-01-01", "2024-01-02"]


def test_a_misdated_partition_fails_the_check_and_names_it(tmp_path: Path) -> None:
    config = labelled_config(tmp_path, FIXTURES / "blocks" / "labelled-sample.csv")
    assert run(config).success
    lake = Lake(tmp_path / "warehouse" / "lake")
    month = lake.read("raw", "blocks", ("month", "2024-01"))
    # a block whose header time is on another day than its date, filed under 2024-01
    moved = month.with_columns(
        pl.when(pl.col("date") == date(2024, 1, 2))
        .then(pl.col("time").dt.offset_by("1d"))
        .otherwise(pl.col("time"))
    )
    lake.write(moved, "raw", "blocks", ("month", "2024-01"))
    result = dg.materialize(
        [blocks, blocks_expectations],
        selection=dg.AssetSelection.checks(blocks_expectations),
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        tags=RANGE,
        raise_on_error=False,
    )
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    summary = check.metadata["summary"].value
    assert "1 failing: 2024-01" in summary
    assert "date_mismatch" in check.metadata["failures"].value


def test_a_feed_dropped_from_the_config_leaves_no_rejects_behind(tmp_path: Path) -> None:
    """Rejects are kept per feed and pruned with the feed (they used to stay for good)."""
    lines = (FIXTURES / "blocks" / "labelled-sample.csv").read_text().splitlines()
    lines[3] = "82300x,AntPool,2024-01-01T05:25:00Z"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    feed = {
        "kind": "labelled_blocks",
        "height_column": "height",
        "label_column": "pool",
        "label_scheme": "name",
        "time_column": "time",
    }
    both = {
        "blocks.good": {**feed, "location": str(FIXTURES / "blocks" / "labelled-sample.csv")},
        "blocks.bad": {**feed, "location": str(bad)},
    }
    lake = Lake(tmp_path / "warehouse" / "lake")
    assert run(write_config(tmp_path, both)).success
    assert lake.read("raw", "block_rejects")["feed"].unique().to_list() == ["bad"]
    only_good = write_config(tmp_path, {"blocks.good": both["blocks.good"]})
    result = run(only_good)
    assert result.success
    assert lake.read("raw", "block_rejects").height == 0
    materialization = result.get_asset_materialization_events()[0].materialization
    assert materialization.metadata["rejected_rows"].value == 0
    assert materialization.metadata["feeds_removed"].value == {"raw.block_rejects": ["bad"]}


def test_rejects_written_whole_by_an_earlier_version_are_replaced(tmp_path: Path) -> None:
    """A rejects table once written unpartitioned (data.parquet at its root) is not read twice
    once rejects are per feed: the old file goes."""
    config = labelled_config(tmp_path, FIXTURES / "blocks" / "labelled-sample.csv")
    lake = Lake(tmp_path / "warehouse" / "lake")
    stale = pl.DataFrame(
        {"feed": ["old"], "record": ["line 2"], "field": ["x"], "value": ["y"], "problem": ["z"]}
    )
    old_file = lake.write(stale, "raw", "block_rejects")
    assert run(config).success
    assert not old_file.exists()
    assert lake.partitions("raw", "block_rejects") == ["sample"]
