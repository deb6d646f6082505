"""Differential tests: the Polars engine reports what Great Expectations (the reference) reports.

For every expectation of every suite in ``expectations/``, on generated frames (passing and
failing rows, nulls, NaN, bounds and their neighbours, duplicate keys with nulls, regex near
misses), and for every expectation type on hand-made cases (strict bounds, ``mostly`` at its
threshold, each ``ignore_row_if``), both engines must agree on success, unexpected count and
percent, examples, observed value and whether the expectation errored.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.schemas import contract
from pipelines.validation import gx_engine, polars_engine
from pipelines.validation.suites import ExpectationResult
from tests.test_schemas import SUITES, VALIDATION_FRAMES

# Strings each suite regex must accept; the tests add near misses of each.
REGEX_MATCHES = {
    "^(?:[0-9a-fA-F]{2})*$": ["", "00", "abCD", "0a1b2c3d"],
    "^[0-9a-f]{64}$": ["0" * 64, "a1" * 32],
    "^(?:[A-Z]{2}|OTHER)$": ["US", "OTHER"],
    "^https?://\\S+$": ["http://a.example", "https://x.org/p?q=1"],
    "^https://\\S+$": ["https://a.example/b"],
    "^[A-Z]{2}$": ["DE"],
    "^\\s*$": ["", " ", "\t\r"],
}
BASE_VALUES: dict[type, list[Any]] = {
    pl.String: ["a", "B c", "x\n", "\x1c", "é", "1"],
    pl.Int64: [-1, 0, 1, 2],
    pl.Int8: [0, 1, 2],
    pl.Float64: [-0.5, 0.0, 0.25, 1.0, math.nan, math.inf],
    pl.Boolean: [True, False],
    pl.Date: [date(2024, 1, 1), date(2024, 1, 2)],
    pl.Datetime: [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)],
}


def near_misses(text: str) -> list[str]:
    """``text`` with the edits a regex most often misjudges: newlines, blanks, case, Unicode."""
    edits = [
        text + "\n",
        text + "\n\n",
        "\n" + text,
        " " + text,
        text + "\x1c",
        text + "é",
        text.upper(),
        text.lower(),
        text + text,
        text[:-1],
        "\u0660" + text[1:],  # an Arabic-Indic digit: Unicode \d, not [0-9]
    ]
    return [e for e in edits if e != text]


def report(result: ExpectationResult) -> tuple:
    r = result.report
    return (
        r.label(),
        result.success,
        r.unexpected_count,
        r.unexpected_percent,
        r.examples,
        r.observed_value,
        r.error is None,
    )


def assert_engines_agree(name: str, frame: pl.DataFrame, folder: Path | None = None) -> list:
    """Both engines' results for every expectation of the suite; returns the Polars ones."""
    reference, reference_rows = gx_engine.evaluate(name, frame, expectations_dir=folder)
    suite = polars_engine.load_suite(name, folder)
    results, rows = polars_engine.evaluate(suite, frame)
    assert rows == reference_rows
    assert [report(r) for r in results] == [report(r) for r in reference]
    return results


def write_suite(folder: Path, *expectations: dict) -> str:
    (folder / "case.json").write_text(json.dumps({"name": "case", "expectations": expectations}))
    return "case"


# --------------------------------------------------------------------------- every suite


def suite_schema(name: str) -> pl.Schema:
    frame = VALIDATION_FRAMES.get(name, lambda f: f)(contract(f"raw.{name}").empty())
    used = {c for e in polars_engine.load_suite(name).expectations for c in e.columns()}
    return pl.Schema({c: t for c, t in frame.schema.items() if c in used})


def candidates(name: str, column: str, dtype: pl.DataType) -> list[Any]:
    """Values to draw ``column`` from: its type's, and each expectation's bounds, set members and
    regex matches with their near misses."""
    values: list[Any] = [None, *BASE_VALUES[dtype.base_type()]]
    for e in SUITES[name]["expectations"]:
        kwargs = e["kwargs"]
        if kwargs.get("column") != column:
            continue
        for bound in (kwargs.get("min_value"), kwargs.get("max_value")):
            if bound is not None and dtype.is_float():
                values += [bound, math.nextafter(bound, -math.inf), math.nextafter(bound, math.inf)]
            elif bound is not None:
                values += [bound - 1, bound, bound + 1]
        values += kwargs.get("value_set", [])
        for text in REGEX_MATCHES.get(kwargs.get("regex"), []):
            values += [text, *near_misses(text)]
    return values


def draw(name: str, pools: dict[str, list], seed: int, height: int) -> pl.DataFrame:
    """``height`` rows drawn from ``pools``; half the time a few distinct rows repeated, so keys
    collide (with nulls in them) as well as values."""
    rng = random.Random(seed)
    distinct = [{c: rng.choice(pool) for c, pool in pools.items()} for _ in range(height)]
    rows = [rng.choice(distinct) for _ in range(height)] if rng.random() < 0.5 else distinct
    return pl.DataFrame(rows, schema=suite_schema(name))


def candidate_pools(name: str) -> dict[str, list]:
    return {c: candidates(name, c, t) for c, t in suite_schema(name).items()}


def passing_pools(name: str) -> dict[str, list]:
    """Each column's candidates that pass the suite's expectations on that column alone."""
    pools = {}
    for column, values in candidate_pools(name).items():
        frame = pl.DataFrame({column: values}, schema={column: suite_schema(name)[column]})
        pools[column] = passing_rows(name, frame.unique(maintain_order=True))[column].to_list()
    return pools


def first_of_each_key(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` less the later rows of each key a uniqueness expectation names."""
    for e in polars_engine.load_suite(name).expectations:
        if e.type.endswith("_unique"):
            frame = frame.unique(subset=e.columns(), keep="first", maintain_order=True)
    return frame


def passing_rows(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows no row-level expectation of the suite on ``frame``'s columns counts against (by
    the Polars engine)."""
    suite = polars_engine.load_suite(name)
    unexpected = [
        e.spec.judge(e.kwargs, frame.schema).unexpected
        for e in suite.expectations
        if e.spec.judge and set(e.columns()) <= set(frame.columns)
    ]
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).filter(
        ~pl.any_horizontal(pl.lit(False), *unexpected)
    )


def test_every_suite_column_has_generated_values() -> None:
    regexes = {
        e["kwargs"]["regex"]
        for s in SUITES.values()
        for e in s["expectations"]
        if "regex" in e["kwargs"]
    }
    assert regexes <= set(REGEX_MATCHES), "add matching strings for the new regex"
    for name in SUITES:
        for column, dtype in suite_schema(name).items():
            assert dtype.base_type() in BASE_VALUES, (name, column, dtype)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_engines_agree_on_every_suite(name: str) -> None:
    failed, unexpected = set(), 0
    pools = candidate_pools(name)
    for seed, height in enumerate([0, 1, 3, 12, 60, 60, 60]):
        results = assert_engines_agree(name, draw(name, pools, seed, height))
        failed |= {i for i, r in enumerate(results) if not r.success}
        unexpected += sum(r.report.unexpected_count or 0 for r in results)
    assert failed == set(range(len(results))) and unexpected  # every expectation failed once
    good = passing_rows(name, first_of_each_key(name, draw(name, passing_pools(name), 0, 60)))
    assert good.height > 1
    assert all(r.success for r in assert_engines_agree(name, good))


# --------------------------------------------------------------------------- every type


def column_case(expectation: str, values: list, dtype: pl.DataType, **kwargs: Any) -> tuple:
    frame = pl.DataFrame({"v": values}, schema={"v": dtype})
    return {"type": expectation, "kwargs": {"column": "v", **kwargs}}, frame


FLOATS = [-1.0, 0.0, 0.5, 1.0, 1.5, None, math.nan]
TEXTS = ["US", "OTHER", "us", "USA", "US\n", "US\n\n", " US", "\x1cUS", "", " ", "\x1c", None]
CASES = {
    "not_null": column_case("expect_column_values_to_not_be_null", FLOATS, pl.Float64),
    "not_null mostly at threshold": column_case(
        "expect_column_values_to_not_be_null", FLOATS, pl.Float64, mostly=5 / 7
    ),
    "not_null mostly above threshold": column_case(
        "expect_column_values_to_not_be_null", FLOATS, pl.Float64, mostly=0.72
    ),
    "be_null strings": column_case("expect_column_values_to_be_null", TEXTS, pl.String),
    "be_null all null": column_case("expect_column_values_to_be_null", [None, None], pl.Int64),
    "between inclusive": column_case(
        "expect_column_values_to_be_between", FLOATS, pl.Float64, min_value=0, max_value=1
    ),
    "between strict": column_case(
        "expect_column_values_to_be_between",
        FLOATS,
        pl.Float64,
        min_value=0,
        max_value=1,
        strict_min=True,
        strict_max=True,
    ),
    "between min only strict": column_case(
        "expect_column_values_to_be_between",
        [0, 1, 2, None],
        pl.Int64,
        min_value=0,
        strict_min=True,
    ),
    "between max only": column_case(
        "expect_column_values_to_be_between", [0, 1, 2, None], pl.Int64, max_value=1
    ),
    "between mostly": column_case(
        "expect_column_values_to_be_between", FLOATS, pl.Float64, min_value=0, mostly=0.8
    ),
    "between all null": column_case(
        "expect_column_values_to_be_between", [None, None], pl.Float64, min_value=0
    ),
    "between min above max": column_case(
        "expect_column_values_to_be_between", [1], pl.Int64, min_value=2, max_value=1
    ),
    "between text with numbers": column_case(
        "expect_column_values_to_be_between", ["a"], pl.String, min_value=0
    ),
    "in_set": column_case(
        "expect_column_values_to_be_in_set", TEXTS, pl.String, value_set=["US", "OTHER", 1]
    ),
    "in_set ints against floats": column_case(
        "expect_column_values_to_be_in_set", [1, 2, 3, None], pl.Int64, value_set=[1.0, 2.5]
    ),
    "in_set small ints": column_case(
        "expect_column_values_to_be_in_set", [1, 2, None], pl.Int8, value_set=[1, 300]
    ),
    "match_regex": column_case(
        "expect_column_values_to_match_regex", TEXTS, pl.String, regex="^(?:[A-Z]{2}|OTHER)$"
    ),
    "match_regex search, not match": column_case(
        "expect_column_values_to_match_regex", TEXTS, pl.String, regex="S"
    ),
    "match_regex mostly": column_case(
        "expect_column_values_to_match_regex", TEXTS, pl.String, regex="US", mostly=0.5
    ),
    "match_regex ints": column_case(
        "expect_column_values_to_match_regex", [1, 21, None], pl.Int64, regex="^1"
    ),
    "match_regex lookahead (Python only)": column_case(
        "expect_column_values_to_match_regex", TEXTS, pl.String, regex="^(?=U)\\w+$"
    ),
    "not_match_regex blank": column_case(
        "expect_column_values_to_not_match_regex",
        [*TEXTS, "\t", "\u00a0", "\u200b", "\u3000"],
        pl.String,
        regex="^\\s*$",
    ),
    "not_match_regex ignorecase": column_case(
        "expect_column_values_to_not_match_regex", TEXTS, pl.String, regex="(?i)^us"
    ),
    "unique": column_case(
        "expect_column_values_to_be_unique", [1.0, 1.0, 2.0, None, None, math.nan], pl.Float64
    ),
    "unique zero signs": column_case(
        "expect_column_values_to_be_unique", [0.0, -0.0, 3.0], pl.Float64
    ),
    "unique strings": column_case("expect_column_values_to_be_unique", TEXTS * 2, pl.String),
}
KEYS = pl.DataFrame(
    {
        "a": ["x", "x", "x", "x", None, None, "y", None],
        "b": [1, 1, None, None, None, None, 2, 2],
        "c": [date(2024, 1, 1)] * 2 + [None] * 6,
    }
)
for ignore in (None, "all_values_are_missing", "any_value_is_missing", "never"):
    kwargs = {"column_list": ["a", "b"], **({"ignore_row_if": ignore} if ignore else {})}
    CASES[f"compound {ignore}"] = (
        {"type": "expect_compound_columns_to_be_unique", "kwargs": kwargs},
        KEYS,
    )
CASES["compound with dates, mostly"] = (
    {
        "type": "expect_compound_columns_to_be_unique",
        "kwargs": {"column_list": ["a", "c"], "mostly": 0.5},
    },
    KEYS,
)
PAIRS = pl.DataFrame(
    {
        "a": [2.0, 1.0, 1.0, None, 3.0, None, 0.5],
        "b": [1.0, 1.0, 2.0, 1.0, None, None, 0.25],
        "s": ["b", "a", "a", None, "c", None, "z"],
        "t": ["a", "a", "b", "a", None, None, "y"],
    }
)
for ignore in (None, "both_values_are_missing", "either_value_is_missing", "neither"):
    for or_equal in (None, True):
        kwargs = {"column_A": "a", "column_B": "b"}
        kwargs |= {"ignore_row_if": ignore} if ignore else {}
        kwargs |= {"or_equal": or_equal} if or_equal else {}
        CASES[f"pair {ignore} or_equal={or_equal}"] = (
            {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": kwargs},
            PAIRS,
        )
CASES["pair strings mostly"] = (
    {
        "type": "expect_column_pair_values_a_to_be_greater_than_b",
        "kwargs": {"column_A": "s", "column_B": "t", "mostly": 0.6},
    },
    PAIRS,
)
for height in (0, 1, 10, 11):
    for strict in (False, True):
        CASES[f"row count {height} strict={strict}"] = (
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": 1, "max_value": 10, "strict_min": strict},
            },
            pl.DataFrame({"v": range(height)}),
        )
CASES["missing column"] = (
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "v"}},
    pl.DataFrame({"w": [1]}),
)


def test_every_expectation_type_has_cases() -> None:
    covered = {expectation["type"] for expectation, _ in CASES.values()}
    assert covered == set(polars_engine.EXPECTATION_TYPES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_engines_agree_on_each_type(case: str, tmp_path: Path) -> None:
    expectation, frame = CASES[case]
    assert_engines_agree(write_suite(tmp_path, expectation), frame, tmp_path)


def test_known_divergence_nullable_int_pairs(tmp_path: Path) -> None:
    """GX raises comparing pandas' nullable integers with a missing value ("boolean value of NA
    is ambiguous"); Polars counts the row as unexpected, as GX does for floats. Both fail."""
    pair = {"column_A": "a", "column_B": "b"}
    name = write_suite(
        tmp_path, {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": pair}
    )
    ints = pl.DataFrame({"a": [1, None, 3], "b": [0, 1, 2]})
    (reference,), _ = gx_engine.evaluate(name, ints, expectations_dir=tmp_path)
    (result,), _ = polars_engine.evaluate(polars_engine.load_suite(name, tmp_path), ints)
    assert not reference.success and "NA is ambiguous" in reference.report.error
    assert not result.success and result.report.unexpected_count == 1
    (floats,) = assert_engines_agree(name, ints.cast(pl.Float64), tmp_path)
    assert floats.report.unexpected_count == 1
