"""The orchestration benchmarks' helpers: run breakdowns, the generated config and selections,
the DuckDB floor, the accuracy check and the shared-data skip (the benchmarks are not run here)."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.benchmarks import shared_data_runs
from pipelines.benchmarks.cli_runs import (
    Event,
    breakdown,
    describe_run,
    recorded_runs,
    slowest_steps,
)
from pipelines.benchmarks.end_to_end import (
    blob_text,
    floor_counts,
    orchestrated_runs,
    problems_of,
    ratios,
    step_lines,
    tag_pattern,
    write_config,
)
from pipelines.benchmarks.mining import FEED, attribution_accuracy
from pipelines.config import load_config


def _events() -> list[Event]:
    return [
        Event(105.0, "ASSET_MATERIALIZATION_PLANNED", "a"),
        Event(105.5, "ASSET_MATERIALIZATION_PLANNED", "a"),
        Event(106.0, "RUN_START", None),
        Event(106.5, "STEP_START", "a"),
        Event(108.0, "ASSET_MATERIALIZATION", "a"),
        Event(109.0, "ASSET_MATERIALIZATION", "a"),
        Event(109.5, "ASSET_MATERIALIZATION", "a"),
        Event(110.0, "STEP_SUCCESS", "a"),
        Event(110.2, "STEP_START", "b"),
        Event(111.0, "STEP_SUCCESS", "b"),
        Event(111.5, "RUN_SUCCESS", None),
    ]


def test_breakdown_splits_the_wall_time() -> None:
    result = breakdown(_events(), launched=100.0, exited=112.0)
    assert result["phases"] == pytest.approx(
        {
            "startup": 5.0,
            "before_run_start": 1.0,
            "in_steps": 3.5 + 0.8,
            "outside_steps": 5.5 - 4.3,
            "exit": 0.5,
        }
    )
    assert sum(result["phases"].values()) == pytest.approx(12.0)
    assert result["planned_events"] == 2
    assert result["steps"]["a"] == pytest.approx(
        {"seconds": 3.5, "materializations": 3, "after_first_materialization": 2.0}
    )
    assert result["steps"]["b"]["materializations"] == 0
    run = {"seconds": 12.0, "peak_rss_mb": 100.0, **result}
    assert [key for key, _ in slowest_steps(run, 1)] == ["a"]
    lines = describe_run("blocks", run)
    assert "(2 planned events)" in lines[2] and "in steps (2 steps)" in lines[3]
    assert "step a" in lines[6] and "3 materializations; 2.0 s from the first" in lines[6]


def test_overlapping_steps_are_counted_once() -> None:
    events = [
        Event(0.0, "RUN_START", None),
        Event(0.0, "STEP_START", "a"),
        Event(1.0, "STEP_START", "b"),
        Event(2.0, "STEP_SUCCESS", "a"),
        Event(3.0, "STEP_FAILURE", "b"),
        Event(5.0, "STEP_START", "c"),
        Event(6.0, "STEP_SUCCESS", "c"),
        Event(7.0, "RUN_FAILURE", None),
    ]
    phases = breakdown(events, launched=0.0, exited=7.0)["phases"]
    assert phases["in_steps"] == pytest.approx(4.0)
    assert phases["outside_steps"] == pytest.approx(3.0)


def test_recorded_runs_read_the_instance(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    @dg.asset
    def numbers() -> int:
        return 1

    @dg.asset
    def doubled(numbers: int) -> int:
        return 2 * numbers

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        before = instance.get_runs()
        assert dg.materialize([numbers, doubled], instance=instance).success
    assert not before
    runs, events = recorded_runs(tmp_path, since=0.0)
    assert list(runs.values()) == ["SUCCESS"]
    result = breakdown(events, launched=events[0].timestamp, exited=events[-1].timestamp)
    assert set(result["steps"]) == {"numbers", "doubled"}
    assert result["planned_events"] == 2
    assert all(step["materializations"] == 1 for step in result["steps"].values())


def test_generated_config_has_the_ndjson_as_only_block_feed(tmp_path: Path) -> None:
    ndjson, registry = tmp_path / "chain.ndjson", tmp_path / "pools.json"
    ndjson.touch()
    registry.touch()
    path = write_config(tmp_path / "observatory.toml", ndjson, registry, tmp_path / "home")
    config = load_config(path)
    assert config.data_home == tmp_path / "home"
    (feed,) = config.feeds("blocks")
    assert (feed.name, feed.kind, feed.location) == (
        FEED,
        "bigquery_coinbase_ndjson",
        str(ndjson),
    )
    (registry_feed,) = config.feeds("pool_registry")
    assert (registry_feed.kind, registry_feed.location) == ("mempool_pools_v2", str(registry))
    assert set(config.sources) == {f"blocks.{FEED}", "pool_registry.mempool"}


def test_orchestrated_selections_plan_the_mining_chain(tmp_path: Path) -> None:
    from pipelines.definitions import defs
    from pipelines.partitions import run_tags
    from pipelines.runner import plan

    commands = orchestrated_runs(tmp_path / "c.toml", "2009-01-03", "2009-01-20")

    def planned(args: list[str]) -> tuple[set[str], dict[str, str]]:
        options = dict(zip(args[3::2], args[4::2], strict=True))
        start, end = (options.get(f"--{k}") for k in ("from", "to"))
        keys, tags = plan(
            defs,
            options["--select"],
            date.fromisoformat(start) if start else None,
            date.fromisoformat(end) if end else None,
        )
        return {key.to_user_string() for key in keys}, tags

    (keys, tags), *others = [planned(args) for args in commands.values()]
    assert not others  # one process
    assert tags == run_tags(date(2009, 1, 3), date(2009, 1, 20))  # its month, bounded to its days
    assert {
        "raw/pool_registry",
        "raw/pool_owners",
        "raw/pool_template_builders",
        "raw/pool_label_aliases",
        "raw/blocks",
        "intermediate/blocks",
        "intermediate/block_attribution",
        "intermediate/pool_shares",
        "intermediate/mining_concentration",
        "marts/mining_concentration",
        "serving/observatory_duckdb",
    } <= keys
    assert not any(key.startswith("report/") for key in keys)
    assert not {"marts/mining_economics", "marts/decentralization_scoreboard"} & keys
    assert not {"raw/market_observations", "raw/node_snapshots"} & keys


def test_blob_text_is_duckdbs_cast() -> None:
    every_byte = bytes(range(256))
    cast = duckdb.sql("select unhex($hex)::varchar", params={"hex": every_byte.hex()})
    assert cast.fetchall() == [(blob_text(every_byte),)]


def test_floor_counts_blocks_per_window_and_tag(tmp_path: Path) -> None:
    foundry, fish = b"/Foundry/".hex(), "/八宝池/".encode().hex()
    rows = [
        # a tag among other bytes, in window 0 (from the 2018-01-01 anchor)
        ("2018-01-01 00:00:00 UTC", "03aabb5c" + foundry + "00", "1Payout"),
        ("2018-01-30 23:59:59 UTC", foundry, "1Other"),
        ("2018-01-30 12:00:00 UTC", "ff" + fish, "1Other"),
        # the tag's hex shifted by one digit is other bytes: labelled by the address
        ("2018-01-31 00:00:00 UTC", "0" + foundry + "0", "1Payout"),
        ("2017-12-31 12:00:00 UTC", "00", "1Payout"),
    ]
    path = tmp_path / "chain.ndjson"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "number": "1",
                    "timestamp": ts,
                    "identifiers": coinbase,
                    "outputs": [{"index": "0", "addresses": [address], "value": 1}],
                }
            )
            + "\n"
            for ts, coinbase, address in rows
        )
    )
    tags = tag_pattern(["/Foundry/", "/八宝池/", "Foundry"])
    counts = floor_counts(duckdb.connect(), path, tags, date(2018, 1, 1))
    assert sorted(counts.iter_rows()) == [
        (-1, "1Payout", 1),
        (0, "/Foundry/", 2),  # the longer of two tags found at one place
        (0, blob_text("/八宝池/".encode()), 1),  # as the cast writes it
        (1, "1Payout", 1),
    ]


def test_accuracy_and_problems() -> None:
    truth = pl.DataFrame({"height": [0, 1, 2, 3], "true_pool": ["A", "B", "unknown", "A"]})
    attributed = pl.DataFrame(
        {
            "height": [0, 1, 2, 3],
            "pool": ["A", "A", "unknown", "A"],
            "method": ["tag", "tag", "none", "address"],
        }
    )
    accuracy = attribution_accuracy(attributed, truth)
    assert accuracy["accuracy"] == 0.75
    assert accuracy["top_mismatches"] == [
        {"true_pool": "B", "pool": "A", "method": "tag", "len": 1}
    ]
    rows = {"blocks": 4, "share_rows": 10, "concentration_rows": 5}
    summaries = {
        "pure": {"runs": [{"rows": {**rows, "window_count_rows": 7}}]},
        "orchestrated": {"runs": [{"published": {"rows": {**rows, "share_rows": 9}, **accuracy}}]},
        "floor": {"runs": [{"rows": {"blocks": 4, "groups": 3}}]},
    }
    assert problems_of({"blocks": 4, "accuracy": 1.0}, summaries) == [
        "orchestrated attribution accuracy 75.0000%",
        "share_rows: pure 10, orchestrated 9",
    ]


def test_ratios_of_best_and_median() -> None:
    summaries = {
        "pure": {"best_seconds": 2.0, "median_seconds": 4.0},
        "orchestrated": {"best_seconds": 20.0, "median_seconds": 20.0},
        "floor": {"best_seconds": 1.0, "median_seconds": 1.0},
    }
    assert ratios(summaries) == {
        "orchestrated/pure": {"best": 10.0, "median": 5.0},
        "pure/floor": {"best": 2.0, "median": 4.0},
    }


def test_pure_path_and_floor_alone() -> None:
    """With --repeat-orchestrated 0: the pure/floor ratio, no orchestrated checks, the steps."""
    steps = {"read_ndjson": 2.0, "attribute": 1.0}
    pure_runs = [
        {"seconds": s, "peak_rss_mb": 900.0, "rows": {"blocks": 4}, "steps": steps}
        for s in (3.0, 4.0)
    ]
    pure_runs[0]["step_peak_rss_mb"] = {"read_ndjson": 600.0, "attribute": 800.0}
    pure_runs[1]["step_peak_rss_mb"] = {"read_ndjson": 700.0, "attribute": 750.0}
    summaries = {
        "pure": {"best_seconds": 3.0, "median_seconds": 3.5, "runs": pure_runs},
        "floor": {"best_seconds": 1.0, "median_seconds": 1.0, "runs": [{"rows": {"blocks": 4}}]},
    }
    assert ratios(summaries) == {"pure/floor": {"best": 3.0, "median": 3.5}}
    assert problems_of({"blocks": 4, "accuracy": 1.0}, summaries) == []
    assert step_lines(pure_runs) == [
        "  read_ndjson                2.00 s  peak    700 MB",
        "  attribute                  1.00 s  peak    800 MB",
    ]


def test_shared_data_runs_skip_without_the_shared_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shared_data_runs, "SHARED_DATA", tmp_path / "absent")
    assert shared_data_runs.main(["--workdir", str(tmp_path / "work")]) == 0
    assert capsys.readouterr().out.startswith(f"skipped: the shared data is not at {tmp_path}")
    assert not (tmp_path / "work").exists()
