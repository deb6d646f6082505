"""Tests for pipelines.validation (suites from JSON, run against frames by either engine)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import polars as pl
import pytest

from pipelines import validation as v
from pipelines.config import VALIDATION_ENGINES
from pipelines.validation import gx_engine

ROOT = Path(__file__).resolve().parent.parent
engines = pytest.mark.parametrize("engine", VALIDATION_ENGINES)


def registry(**overrides: list) -> pl.DataFrame:
    """A valid pool_registry frame; keyword arguments replace whole columns."""
    data: dict[str, list] = {
        "registry": ["mempool", "mempool", "mempool", "edi"],
        "registry_kind": ["mempool_pools_v2", "mempool_pools_v2", "mempool_pools_v2", "edi_pools"],
        "precedence": [0, 0, 0, 1],
        "tag_matching": ["regex_like", "regex_like", "regex_like", "literal"],
        "id": [1, 2, 3, None],
        "name": ["Foundry USA", "AntPool", "ViaBTC", "Unknown pool"],
        "addresses": [["bc1qfoundry"], ["1Ant", "3Ant"], [], ["1Unk"]],
        "tags": [["Foundry USA Pool"], ["/AntPool/"], ["/ViaBTC/", "viabtc.com"], []],
        "link": ["https://foundryusa.com", "https://antpool.com", "", ""],
        "tag_errors": [None, None, None, None],
        "record_errors": [None, None, None, None],
        "n_addresses": [1, 2, 0, 1],
        "n_tags": [1, 1, 2, 0],
    }
    data.update(overrides)
    return pl.DataFrame(
        data,
        schema_overrides={
            "precedence": pl.Int64,
            "id": pl.Int64,
            "tag_errors": pl.String,
            "record_errors": pl.String,
            "n_addresses": pl.Int64,
            "n_tags": pl.Int64,
        },
    )


def failure(outcome: v.SuiteOutcome, expectation: str, column: str) -> v.FailedExpectation:
    matches = [f for f in outcome.failed if f.expectation == expectation and f.column == column]
    assert matches, f"{expectation}({column}) did not fail: {outcome.summary()}"
    return matches[0]


def test_suite_file_shape() -> None:
    suite = v.load_suite_json("pool_registry")
    assert suite["name"] == "pool_registry"
    assert all(e.get("meta", {}).get("notes") for e in suite["expectations"])
    notes = {
        e["kwargs"].get("column"): e["meta"]["notes"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_null"
    }
    assert "every coinbase tag must compile as a regex" in notes["tag_errors"]


@engines
def test_good_frame_passes(engine: str) -> None:
    outcome = v.validate_frame("pool_registry", registry(), engine=engine)
    assert outcome.success, outcome.summary()
    assert outcome.failed == []
    assert outcome.evaluated == len(v.load_suite_json("pool_registry")["expectations"])
    assert outcome.rows == 4
    assert "passed" in outcome.summary()


def test_context_is_built_once() -> None:
    assert gx_engine._runtime() is gx_engine._runtime()


@engines
def test_duplicate_id_fails_and_names_value(engine: str) -> None:
    """An id twice in one registry fails; the same id in two registries, or no id, does not."""
    outcome = v.validate_frame("pool_registry", registry(id=[1, 2, 2, 2]), engine=engine)
    assert not outcome.success
    f = failure(outcome, "expect_compound_columns_to_be_unique", "registry,id")
    assert f.unexpected_count == 2
    assert "expect_compound_columns_to_be_unique(registry,id)" in outcome.summary()
    json.dumps([f.examples, f.kwargs, f.observed_value])  # JSON-serialisable
    assert v.validate_frame("pool_registry", registry(id=[None, 2, 3, None]), engine=engine).success


@engines
def test_empty_and_blank_names_fail(engine: str) -> None:
    outcome = v.validate_frame(
        "pool_registry", registry(name=["Foundry USA", "", "  ", "X"]), engine=engine
    )
    f = failure(outcome, "expect_column_values_to_not_match_regex", "name")
    assert f.unexpected_count == 2
    assert set(f.examples) == {"", "  "}


@engines
def test_tag_errors_must_be_null(engine: str) -> None:
    bad = registry(tag_errors=[None, "bad tags: '(['", None, None])
    outcome = v.validate_frame("pool_registry", bad, engine=engine)
    f = failure(outcome, "expect_column_values_to_be_null", "tag_errors")
    assert f.examples == ["bad tags: '(['"]
    assert [x.label() for x in outcome.failed] == ["expect_column_values_to_be_null(tag_errors)"]


@engines
def test_pandas_input_negative_counts_and_missing_column(engine: str) -> None:
    frame = registry(n_tags=[1, -1, 2, None]).to_pandas().drop(columns=["n_addresses"])
    assert isinstance(frame, pd.DataFrame)
    outcome = v.validate_frame("pool_registry", frame, engine=engine)
    assert failure(outcome, "expect_column_values_to_be_between", "n_tags").examples == [-1]
    missing = failure(outcome, "expect_column_values_to_be_between", "n_addresses")
    assert missing.error and "n_addresses" in missing.error


@engines
def test_unknown_expectation_type_is_a_clear_error(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "broken.json"
    suite = {
        "name": "broken",
        "expectations": [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
            {"type": "expect_column_values_to_be_uniqe", "kwargs": {"column": "id"}},
        ],
    }
    path.write_text(json.dumps(suite))
    with pytest.raises(v.SuiteDefinitionError) as err:
        v.validate_frame("broken", registry(), engine=engine, expectations_dir=tmp_path)
    message = str(err.value)
    assert str(path) in message
    assert "expect_column_values_to_be_uniqe" in message
    assert "expect_column_values_to_be_unique" in message  # the suggestion


def test_suite_name_must_match_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"name": "b", "expectations": []}))
    with pytest.raises(v.SuiteDefinitionError, match=r"a\.json.*does not match"):
        v.load_suite_json("a", tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        v.load_suite_json("nope", tmp_path)


def test_no_progress_bars_or_info_logs(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    big = pl.concat([registry(id=[i, i + 1, i + 2, i + 3]) for i in range(0, 2000, 4)])
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG):
        v.validate_frame("pool_registry", big, engine="great_expectations")
    out, err = capfd.readouterr()
    for text in (out, err):
        assert "Calculating Metrics" not in text
        assert "it/s" not in text
        assert "%|" not in text
    noisy = [r for r in caplog.records if r.name.startswith("great_expectations")]
    assert all(r.levelno >= logging.WARNING for r in noisy), noisy[:3]


@engines
def test_check_result_metadata(engine: str) -> None:
    bad = registry(id=[7, 7, 3, 4])
    result = v.suite_check_result("pool_registry", bad, engine=engine, partition="2024-05")
    assert isinstance(result, dg.AssetCheckResult)
    assert result.passed is False
    assert result.severity == dg.AssetCheckSeverity.ERROR
    meta = result.metadata
    assert meta["suite"].value == "pool_registry"
    assert meta["rows"].value == 4
    assert meta["failed count"].value == 1
    assert meta["partition"].value == "2024-05"
    assert "| expect_compound_columns_to_be_unique | registry,id |" in meta["failures"].value
    assert meta["failures json"].value[0]["unexpected_count"] == 2

    ok = v.suite_check_result("pool_registry", registry(), engine=engine)
    assert ok.passed is True
    assert "partition" not in ok.metadata


def test_import_does_not_load_great_expectations() -> None:
    code = (
        "import sys, pipelines.validation\n"
        "assert 'great_expectations' not in sys.modules, 'imported eagerly'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def write_suite(folder: Path, *expectations: dict) -> str:
    (folder / "parts.json").write_text(
        json.dumps({"name": "parts", "expectations": list(expectations)})
    )
    return "parts"


POSITIVE = {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0}}
UNIQUE = {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "x"}}


def test_stackable_suites_judge_rows_without_tolerance() -> None:
    mostly = {**POSITIVE, "kwargs": {**POSITIVE["kwargs"], "mostly": 0.5}}
    rows = {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 3}}
    assert v.polars_engine.stackable({"expectations": [POSITIVE, UNIQUE]})
    assert not v.polars_engine.stackable({"expectations": [POSITIVE, mostly]})
    assert not v.polars_engine.stackable({"expectations": [POSITIVE, rows]})
    assert all(
        v.polars_engine.stackable(v.load_suite_json(s)) for s in ("blocks", "node_snapshots")
    )


def months(*values: list[int]) -> list[tuple[str, pl.DataFrame]]:
    return [(f"2024-{i + 1:02d}", pl.DataFrame({"x": xs})) for i, xs in enumerate(values)]


@engines
def test_stacked_partitions_name_each_failing_one(tmp_path: Path, engine: str) -> None:
    suite = write_suite(tmp_path, POSITIVE, UNIQUE)
    # a value repeated across months is no duplicate: the failing stack is checked month by month
    parts = months([1, 2], [-1, 2], [2, 3], [4, 4], [5])
    checked, rows, failures = v.validate_partitions(
        suite, parts, engine=engine, expectations_dir=tmp_path
    )
    assert (checked, rows) == (5, 9)
    assert [key for key, _ in failures] == ["2024-02", "2024-04"]
    assert failures[0][1].failed[0].expectation == "expect_column_values_to_be_between"
    assert failures[1][1].failed[0].expectation == "expect_column_values_to_be_unique"
    good = months([1, 2], [2, 3])
    assert v.validate_partitions(suite, good, engine=engine, expectations_dir=tmp_path)[2] == []


@engines
def test_a_tolerant_suite_judges_each_partition_alone(tmp_path: Path, engine: str) -> None:
    """Stacked, 2 bad rows of 8 pass ``mostly: 0.7``; the month holding both (of 2) does not."""
    tolerant = {**POSITIVE, "kwargs": {**POSITIVE["kwargs"], "mostly": 0.7}}
    suite = write_suite(tmp_path, tolerant)
    parts = months([1, 2, 3], [-1, -2], [4, 5, 6])
    _, _, failures = v.validate_partitions(suite, parts, engine=engine, expectations_dir=tmp_path)
    assert [key for key, _ in failures] == ["2024-02"]
