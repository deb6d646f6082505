"""The Polars engine on hand-worked cases, one or more per expectation type, and its suite loading
and regex translation (``tests/test_validation_engines.py`` compares it with GX)."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.validation import SuiteDefinitionError, polars_engine
from pipelines.validation.regex_search import rust_pattern, search
from tests.conftest import PROJECT_ROOT, SAMPLE_SOURCES, write_config


def evaluate(tmp_path: Path, expectation: str, frame: pl.DataFrame, **kwargs: Any) -> tuple:
    """(success, unexpected count, unexpected percent, examples) of one expectation."""
    suite = {"name": "case", "expectations": [{"type": expectation, "kwargs": kwargs}]}
    (tmp_path / "case.json").write_text(json.dumps(suite))
    (result,), _ = polars_engine.evaluate(polars_engine.load_suite("case", tmp_path), frame)
    r = result.report
    return result.success, r.unexpected_count, r.unexpected_percent, r.examples


V = pl.DataFrame({"v": [0.0, 0.5, 1.0, None, float("nan"), 2.0]})  # 4 values, 2 missing


def test_null_checks_judge_every_row(tmp_path: Path) -> None:
    assert evaluate(tmp_path, "expect_column_values_to_not_be_null", V, column="v") == (
        False,
        2,
        2 / 6 * 100,
        [None],  # NaN is null, as in pandas
    )
    assert evaluate(tmp_path, "expect_column_values_to_not_be_null", V, column="v", mostly=4 / 6)[0]
    assert not evaluate(
        tmp_path, "expect_column_values_to_not_be_null", V, column="v", mostly=0.67
    )[0]
    assert evaluate(tmp_path, "expect_column_values_to_be_null", V, column="v") == (
        False,
        4,
        4 / 6 * 100,
        [0.0, 0.5, 1.0, 2.0],
    )


def test_between_judges_present_values_with_strict_and_open_bounds(tmp_path: Path) -> None:
    def between(**kwargs: Any) -> tuple:
        return evaluate(tmp_path, "expect_column_values_to_be_between", V, column="v", **kwargs)

    assert between(min_value=0, max_value=1) == (False, 1, 25.0, [2.0])
    assert between(min_value=0, max_value=1, strict_min=True) == (False, 2, 50.0, [0.0, 2.0])
    assert between(min_value=0, max_value=1, strict_max=True)[1:] == (2, 50.0, [1.0, 2.0])
    assert between(max_value=0.5) == (False, 2, 50.0, [1.0, 2.0])
    assert between(min_value=1, strict_min=True) == (False, 3, 75.0, [0.0, 0.5, 1.0])
    assert between(min_value=0, max_value=1, mostly=0.75)[:2] == (True, 1)
    empty = pl.DataFrame({"v": [None, None]}, schema={"v": pl.Int64})
    assert evaluate(
        tmp_path, "expect_column_values_to_be_between", empty, column="v", min_value=0
    ) == (True, 0, None, [])  # nothing judged: vacuously true


def test_in_set_compares_like_pandas(tmp_path: Path) -> None:
    frame = pl.DataFrame({"s": ["a", "b", None, "1"], "n": [1, 2, None, 3]})
    assert evaluate(
        tmp_path, "expect_column_values_to_be_in_set", frame, column="s", value_set=["a", 1]
    ) == (False, 2, 2 / 3 * 100, ["b", "1"])
    assert evaluate(
        tmp_path, "expect_column_values_to_be_in_set", frame, column="n", value_set=[1.0, 3]
    ) == (False, 1, 1 / 3 * 100, [2])


def test_regexes_search_like_python(tmp_path: Path) -> None:
    frame = pl.DataFrame({"s": ["US", "US\n", "US\n\n", "usa", " ", "\x1c", "", None]})
    assert evaluate(
        tmp_path, "expect_column_values_to_match_regex", frame, column="s", regex="^[A-Z]{2}$"
    ) == (False, 5, 5 / 7 * 100, ["US\n\n", "usa", " ", "\x1c", ""])
    assert evaluate(
        tmp_path, "expect_column_values_to_not_match_regex", frame, column="s", regex=r"^\s*$"
    ) == (False, 3, 3 / 7 * 100, [" ", "\x1c", ""])
    assert evaluate(
        tmp_path, "expect_column_values_to_match_regex", frame, column="s", regex="s"
    ) == (False, 6, 6 / 7 * 100, ["US", "US\n", "US\n\n", " ", "\x1c"])  # search, not match


def test_uniqueness_counts_every_duplicated_row(tmp_path: Path) -> None:
    frame = pl.DataFrame({"v": [1, 1, 1, 2, None, None]})
    assert evaluate(tmp_path, "expect_column_values_to_be_unique", frame, column="v") == (
        False,
        3,
        75.0,
        [1],
    )


def test_compound_uniqueness_and_ignore_row_if(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "a": ["x", "x", "x", "x", None, None, "y"],
            "b": [1, 1, None, None, None, None, 2],
            "d": [date(2024, 1, 1)] * 7,
        }
    )

    def unique(**kwargs: Any) -> tuple:
        return evaluate(
            tmp_path,
            "expect_compound_columns_to_be_unique",
            frame,
            column_list=["a", "b"],
            **kwargs,
        )

    # default: the two all-null rows are dropped; (x, 1) twice and (x, null) twice remain
    assert unique() == (False, 4, 80.0, [{"a": "x", "b": 1}, {"a": "x", "b": None}])
    assert unique(ignore_row_if="any_value_is_missing")[:3] == (False, 2, 2 / 3 * 100)
    assert unique(ignore_row_if="never")[:3] == (False, 6, 6 / 7 * 100)
    dated = evaluate(
        tmp_path, "expect_compound_columns_to_be_unique", frame, column_list=["a", "d"]
    )
    assert dated[3][0] == {"a": "x", "d": "2024-01-01T00:00:00"}  # as GX shows pandas dates


def test_pair_comparison_and_ignore_row_if(tmp_path: Path) -> None:
    frame = pl.DataFrame({"a": [2.0, 1.0, None, 3.0, None], "b": [1.0, 1.0, 1.0, None, None]})

    def greater(**kwargs: Any) -> tuple:
        return evaluate(
            tmp_path,
            "expect_column_pair_values_a_to_be_greater_than_b",
            frame,
            column_A="a",
            column_B="b",
            **kwargs,
        )

    assert greater() == (False, 3, 75.0, [[1.0, 1.0], [None, 1.0], [3.0, None]])
    assert greater(or_equal=True)[:2] == (False, 2)
    assert greater(or_equal=True, ignore_row_if="either_value_is_missing") == (True, 0, 0.0, [])
    assert greater(ignore_row_if="neither")[:3] == (False, 4, 80.0)


def test_row_count(tmp_path: Path) -> None:
    frame = pl.DataFrame({"v": range(3)})
    kind = "expect_table_row_count_to_be_between"
    assert evaluate(tmp_path, kind, frame, min_value=3, max_value=3)[0]
    assert not evaluate(tmp_path, kind, frame, min_value=3, strict_min=True)[0]
    assert not evaluate(tmp_path, kind, frame.clear(), min_value=1)[0]
    suite = {"name": "count", "expectations": [{"type": kind, "kwargs": {"max_value": 2}}]}
    (tmp_path / "count.json").write_text(json.dumps(suite))
    outcome = polars_engine.validate_frame("count", frame.lazy(), expectations_dir=tmp_path)
    assert outcome.rows == 3 and outcome.failed[0].observed_value == 3


def test_an_error_names_its_expectation_and_the_rest_are_evaluated(tmp_path: Path) -> None:
    suite = {
        "name": "mixed",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "s", "min_value": 0},
            },
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "gone"}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}},
        ],
    }
    (tmp_path / "mixed.json").write_text(json.dumps(suite))
    frame = pl.DataFrame({"s": ["a", "a"]})
    outcome = polars_engine.validate_frame("mixed", frame, expectations_dir=tmp_path)
    between, missing, unique = outcome.failed
    assert "cannot compare string with numeric" in between.error
    assert missing.error == 'Error: The column "gone" in BatchData does not exist.'
    assert unique.error is None and unique.unexpected_count == 2


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        (
            {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "v"}},
            "suite 'bad' uses expectation type 'expect_column_mean_to_be_between', which the "
            "Polars engine does not implement",
        ),
        (
            {
                "type": "expect_column_values_to_be_null",
                "kwargs": {"column": "v", "row_condition": "x"},
            },
            "kwarg 'row_condition' is not supported by the Polars engine",
        ),
        (
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "v", "regex": "("},
            },
            "invalid regex '('",
        ),
        (
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "v"}},
            "min_value and max_value cannot both be None",
        ),
        (
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "v", "min_value": "a"},
            },
            "invalid min_value 'a'",
        ),
        (
            {"type": "expect_column_values_to_be_null", "kwargs": {"column": "v", "mostly": 2}},
            "invalid mostly 2",
        ),
        (
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a"]}},
            "invalid column_list ['a']",
        ),
        (
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "v"}},
            "missing kwargs ['value_set']",
        ),
    ],
)
def test_what_the_engine_cannot_evaluate_fails_at_load(
    tmp_path: Path, expectation: dict, message: str
) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"name": "bad", "expectations": [expectation]}))
    with pytest.raises(SuiteDefinitionError) as error:
        polars_engine.load_suite("bad", tmp_path)
    assert message in str(error.value)
    assert str(tmp_path / "bad.json") in str(error.value)


def test_an_unimplemented_type_says_how_to_add_it(tmp_path: Path) -> None:
    suite = {"name": "new", "expectations": [{"type": "expect_column_values_to_be_uniqe"}]}
    (tmp_path / "new.json").write_text(json.dumps(suite))
    with pytest.raises(SuiteDefinitionError) as error:
        polars_engine.load_suite("new", tmp_path)
    message = str(error.value)
    assert "did you mean expect_column_values_to_be_unique" in message
    assert "add it to EXPECTATION_TYPES in pipelines/validation/polars_engine.py" in message


PATTERNS = [
    r"^(?:[0-9a-fA-F]{2})*$",
    r"^https?://\S+$",
    r"^\s*$",
    r"a|b|cd",
    r"[^\d\sx-z]+",
    r"\bfo+\B",
    r"\Aa\Z",
    r"(?s:.)x*?",
    r"[[:alpha:]]",  # a class of [ : a l p h, then ], in Python; a POSIX class in Rust
    r"\w+\W",
    r"(?m)^b$",
    r"x$\n?",
    r"(?i)ab",  # left to Python
    r"(a)\1",  # left to Python
]


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
@pytest.mark.parametrize("pattern", PATTERNS)
def test_search_agrees_with_python_re(pattern: str) -> None:
    alphabet = [*"abxyzAB09 _-[]:\n\t\x0b\x1c\x85\xa0é\u2003\u0660", "ab", "fo", "http://"]
    rng = random.Random(pattern)
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(3000)]
    found = search(pl.Series([*texts, None]), pattern).to_list()
    assert found == [re.search(pattern, t) is not None for t in texts] + [None]


def test_patterns_are_rewritten_not_passed_through() -> None:
    assert rust_pattern(r"^[A-Z]{2}$") == r"\A(?:[A-Z]){2,2}\z"
    assert rust_pattern(r"\s") == r"[[\x{9}-\x{D}\x{1C}-\x{20}]]"
    assert rust_pattern(r"(?i)ab") is None
    assert rust_pattern(r"(?<=a)b") is None


def test_a_polars_run_never_imports_great_expectations(tmp_path: Path) -> None:
    """A check run in a fresh process: GX is imported with the great_expectations engine only."""
    script = textwrap.dedent(
        """
        import sys
        import dagster as dg
        from pipelines.defs.pool_registry import pool_registry, pool_registry_expectations
        from pipelines.resources import ObservatoryResource

        result = dg.materialize(
            [pool_registry, pool_registry_expectations],
            resources={"observatory": ObservatoryResource(config_file=sys.argv[1])},
        )
        (check,) = result.get_asset_check_evaluations()
        assert check.passed, check.metadata["summary"]
        print("great_expectations" in sys.modules)
        """
    )
    for engine, imported in (("polars", "False"), ("great_expectations", "True")):
        folder = tmp_path / engine
        folder.mkdir()
        registry = {"pool_registry.mempool": SAMPLE_SOURCES["pool_registry.mempool"]}
        config = write_config(folder, registry, validation={"engine": engine})
        run = subprocess.run(
            [sys.executable, "-c", script, str(config)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "GX_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(PROJECT_ROOT)},
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.strip().splitlines()[-1] == imported
