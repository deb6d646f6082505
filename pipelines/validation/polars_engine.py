"""Expectation suites evaluated on Polars frames, with Great Expectations 1.x semantics.

Each expectation type the suites use is one function from its kwargs and the frame's schema to
two Polars expressions: which rows count against it (``unexpected``, never null) and how many
rows it judges (``judged``, the denominator of ``mostly`` and of the unexpected percent). They
follow GX's pandas engine (``great_expectations/expectations/metrics`` and ``expectation.py``):

- column-map expectations judge the column's non-null values (NaN counts as null, as in pandas);
  ``expect_column_values_to_(not_)be_null`` judge every row;
- pair and compound expectations first drop the rows their ``ignore_row_if`` names (defaults
  ``both_values_are_missing`` and ``all_values_are_missing``); a comparison with a missing value
  is unexpected, and uniqueness counts every row of a duplicated key, nulls equal to nulls;
- success is ``(judged - unexpected) / judged >= mostly``, vacuously true when nothing is judged;
- regexes are searched with Python's semantics on the value's text (``regex_search``).

All expectations of a suite are computed in one pass over the frame; examples (the first
unexpected values, as GX lists them) only for those with unexpected rows. A type without an
implementation here fails when the suite is loaded.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from pipelines.validation.regex_search import search
from pipelines.validation.suites import (
    ExpectationResult,
    FailedExpectation,
    SuiteDefinitionError,
    SuiteOutcome,
    column_of,
    examples,
    jsonable,
    load_suite_json,
    partial_unexpected_count,
    suite_outcome,
    suite_path,
)


class Judgement(NamedTuple):
    """The rows an expectation counts against it, and how many rows it judges."""

    unexpected: pl.Expr  # boolean per row, never null
    judged: pl.Expr  # a count


# --------------------------------------------------------------------------- expectation types


def _column_map(column: str, fails: pl.Expr) -> Judgement:
    """A column-map expectation: ``fails`` judged on the non-null values only."""
    present = pl.col(column).is_not_null()
    return Judgement(present & fails.fill_null(True), present.sum())


def _not_be_null(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    return Judgement(pl.col(kwargs["column"]).is_null(), pl.len())


def _be_null(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    return Judgement(pl.col(kwargs["column"]).is_not_null(), pl.len())


def _be_between(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    name = kwargs["column"]
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None and low > high:
        raise ValueError("min_value cannot be greater than max_value")  # as GX's metric says
    value = pl.col(name)
    if schema[name] == pl.Boolean:  # pandas compares Python bools as 0 and 1
        value = value.cast(pl.Int8)
    elif schema[name].is_float():  # numpy compares float32 values as float64
        value = value.cast(pl.Float64)
    inside = pl.lit(True)
    if low is not None:
        inside &= value > low if kwargs.get("strict_min") else value >= low
    if high is not None:
        inside &= value < high if kwargs.get("strict_max") else value <= high
    return _column_map(name, ~inside)


def _be_in_set(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    name, members = kwargs["column"], kwargs["value_set"]
    dtype, value = schema[name], pl.col(name)
    if dtype == pl.String:  # pandas' isin: a number never equals a string
        member_set = pl.Series([m for m in members if isinstance(m, str)], dtype=dtype)
    elif dtype.is_numeric():
        numbers = [m for m in members if isinstance(m, int | float)]
        member_set = pl.Series(numbers)
        if not (dtype.is_integer() and member_set.dtype.is_integer()):
            value, member_set = value.cast(pl.Float64), member_set.cast(pl.Float64)  # 1 == 1.0
    else:
        member_set = pl.Series(members)
    return _column_map(name, ~value.is_in(member_set.implode()))


def _searched(name: str, schema: pl.Schema, pattern: str) -> pl.Expr:
    """Whether ``pattern`` is found in each value's text (``str(value)``, as pandas' astype)."""
    dtype, value = schema[name], pl.col(name)
    if dtype.is_integer():
        value = value.cast(pl.String)
    elif dtype.is_float() or dtype == pl.Boolean:
        value = value.map_elements(str, return_dtype=pl.String)
    elif dtype != pl.String:
        raise TypeError(
            f"regex expectations on column {name!r} of type {dtype}: the Polars engine matches "
            "text and numbers only; derive a string column to check"
        )
    return value.map_batches(lambda values: search(values, pattern), return_dtype=pl.Boolean)


def _match_regex(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    name = kwargs["column"]
    return _column_map(name, ~_searched(name, schema, kwargs["regex"]))


def _not_match_regex(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    name = kwargs["column"]
    return _column_map(name, _searched(name, schema, kwargs["regex"]))


def _be_unique(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    name = kwargs["column"]  # nulls are duplicates of each other here, but not judged
    return _column_map(name, pl.col(name).is_duplicated())


def _compound_unique(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    columns = kwargs["column_list"]
    missing = [pl.col(c).is_null() for c in columns]
    dropped = {
        "all_values_are_missing": pl.all_horizontal(missing),
        "any_value_is_missing": pl.any_horizontal(missing),
        "never": pl.lit(False),
    }[kwargs.get("ignore_row_if", "all_values_are_missing")]
    # a dropped row can only equal other dropped rows, so the whole frame's duplicates serve
    return _kept_rows(dropped, pl.struct(columns).is_duplicated())


def _a_greater_than_b(kwargs: Mapping[str, Any], schema: pl.Schema) -> Judgement:
    a, b = pl.col(kwargs["column_A"]), pl.col(kwargs["column_B"])
    dropped = {
        "both_values_are_missing": a.is_null() & b.is_null(),
        "either_value_is_missing": a.is_null() | b.is_null(),
        "neither": pl.lit(False),
    }[kwargs.get("ignore_row_if", "both_values_are_missing")]
    greater = a >= b if kwargs.get("or_equal") else a > b
    return _kept_rows(dropped, ~greater.fill_null(False))


def _kept_rows(dropped: pl.Expr, fails: pl.Expr) -> Judgement:
    """A pair or compound expectation: ``fails`` judged on the rows ``ignore_row_if`` keeps."""
    return Judgement(~dropped & fails, pl.len() - dropped.sum())


# --------------------------------------------------------------------------- kwargs


def _column(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(value: Any) -> bool:
    return value is None or _number(value)


def _flag(value: Any) -> bool:
    return isinstance(value, bool) or value is None


def _mostly(value: Any) -> bool:
    return _number(value) and 0 <= value <= 1


def _regex(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


def _choice(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


_COLUMN_MAP_KWARGS = {"column": _column, "mostly": _mostly}


@dataclass(frozen=True)
class ExpectationType:
    """How the Polars engine evaluates one GX expectation type."""

    judge: Callable[[Mapping[str, Any], pl.Schema], Judgement] | None  # None: the row count
    kwargs: Mapping[str, Callable[[Any], bool]]  # the kwargs it takes, each with its check
    required: tuple[str, ...]
    # unexpected rows -> the values GX lists for them (None with judge)
    example: Callable[[pl.DataFrame, Mapping[str, Any]], list] | None


def _column_values(rows: pl.DataFrame, kwargs: Mapping[str, Any]) -> list:
    return rows.get_column(kwargs["column"]).to_list()


def _pair_values(rows: pl.DataFrame, kwargs: Mapping[str, Any]) -> list:
    a, b = (rows.get_column(kwargs[k]).to_list() for k in ("column_A", "column_B"))
    return list(zip(a, b, strict=True))


def _row_records(rows: pl.DataFrame, kwargs: Mapping[str, Any]) -> list:
    return rows.select(kwargs["column_list"]).to_dicts()


def _column_map_type(judge: Callable, **kwargs: Callable[[Any], bool]) -> ExpectationType:
    return ExpectationType(
        judge, {**_COLUMN_MAP_KWARGS, **kwargs}, ("column", *kwargs), _column_values
    )


EXPECTATION_TYPES: dict[str, ExpectationType] = {
    "expect_column_values_to_not_be_null": _column_map_type(_not_be_null),
    "expect_column_values_to_be_null": _column_map_type(_be_null),
    "expect_column_values_to_be_between": ExpectationType(
        _be_between,
        {
            **_COLUMN_MAP_KWARGS,
            "min_value": _bound,
            "max_value": _bound,
            "strict_min": _flag,
            "strict_max": _flag,
        },
        ("column",),
        _column_values,
    ),
    "expect_column_values_to_be_in_set": _column_map_type(
        _be_in_set, value_set=lambda v: isinstance(v, list)
    ),
    "expect_column_values_to_match_regex": _column_map_type(_match_regex, regex=_regex),
    "expect_column_values_to_not_match_regex": _column_map_type(_not_match_regex, regex=_regex),
    "expect_column_values_to_be_unique": _column_map_type(_be_unique),
    "expect_compound_columns_to_be_unique": ExpectationType(
        _compound_unique,
        {
            "column_list": lambda v: isinstance(v, list) and len(v) >= 2 and all(map(_column, v)),
            "mostly": _mostly,
            "ignore_row_if": _choice("all_values_are_missing", "any_value_is_missing", "never"),
        },
        ("column_list",),
        _row_records,
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": ExpectationType(
        _a_greater_than_b,
        {
            "column_A": _column,
            "column_B": _column,
            "or_equal": _flag,
            "mostly": _mostly,
            "ignore_row_if": _choice(
                "both_values_are_missing", "either_value_is_missing", "neither"
            ),
        },
        ("column_A", "column_B"),
        _pair_values,
    ),
    "expect_table_row_count_to_be_between": ExpectationType(
        None,
        {
            "min_value": lambda v: v is None or _number(v),
            "max_value": lambda v: v is None or _number(v),
            "strict_min": _flag,
            "strict_max": _flag,
        },
        (),
        None,
    ),
}


# --------------------------------------------------------------------------- suites


class Expectation(NamedTuple):
    type: str
    kwargs: dict[str, Any]
    spec: ExpectationType

    def columns(self) -> list[str]:
        named = [self.kwargs.get(k) for k in ("column", "column_A", "column_B")]
        return [c for c in named if c is not None] + list(self.kwargs.get("column_list", []))


class Suite(NamedTuple):
    name: str
    expectations: list[Expectation]


def stackable(suite_json: Mapping[str, Any]) -> bool:
    """Whether partitions stacked pass the suite exactly when each of them does: every
    expectation judges rows one by one or looks for duplicates (a duplicate inside one partition
    is one in the stack too), and none accepts a share of failures (``mostly`` below 1). A stack
    failing only across partitions is then checked partition by partition."""
    return all(
        (spec := EXPECTATION_TYPES.get(exp["type"])) is not None
        and spec.judge is not None
        and exp.get("kwargs", {}).get("mostly", 1) >= 1
        for exp in suite_json["expectations"]
    )


def load_suite(suite_name: str, expectations_dir: Path | None = None) -> Suite:
    """Load a suite file for the Polars engine; a type or kwarg it cannot evaluate is an error."""
    data = load_suite_json(suite_name, expectations_dir)
    path = suite_path(suite_name, expectations_dir)
    expectations = []
    for i, exp in enumerate(data["expectations"]):
        kind, kwargs = exp["type"], dict(exp.get("kwargs", {}))
        where = f"{path}: expectation #{i} ({kind})"
        spec = EXPECTATION_TYPES.get(kind)
        if spec is None:
            close = difflib.get_close_matches(kind, EXPECTATION_TYPES, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise SuiteDefinitionError(
                f"{where}: suite {suite_name!r} uses expectation type {kind!r}, which the "
                f"Polars engine does not implement{hint}; add it to EXPECTATION_TYPES in "
                "pipelines/validation/polars_engine.py, or set [validation] engine = "
                '"great_expectations"'
            )
        for key, value in kwargs.items():
            if key not in spec.kwargs:
                raise SuiteDefinitionError(
                    f"{where}: kwarg {key!r} is not supported by the Polars engine; "
                    f"supported: {', '.join(spec.kwargs)}"
                )
            if not spec.kwargs[key](value):
                raise SuiteDefinitionError(f"{where}: invalid {key} {value!r}")
        missing = [key for key in spec.required if key not in kwargs]
        if missing:
            raise SuiteDefinitionError(f"{where}: missing kwargs {missing}")
        if kind == "expect_column_values_to_be_between" and (
            kwargs.get("min_value") is None and kwargs.get("max_value") is None
        ):
            raise SuiteDefinitionError(f"{where}: min_value and max_value cannot both be None")
        expectations.append(Expectation(kind, kwargs, spec))
    return Suite(suite_name, expectations)


def _prepared(frame: pl.DataFrame | pl.LazyFrame | Any, suite: Suite) -> tuple[pl.DataFrame, int]:
    """The suite's columns of ``frame`` (pandas frames converted), NaN as null like pandas and
    categoricals as text; and the frame's row count."""
    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        frame = pl.from_pandas(frame)
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    named = {c for e in suite.expectations for c in e.columns()}
    data = lazy.select(
        pl.col(c).fill_nan(None)
        if dtype.is_float()
        else pl.col(c).cast(pl.String)
        if isinstance(dtype, pl.Categorical | pl.Enum)
        else pl.col(c)
        for c, dtype in schema.items()
        if c in named
    ).collect()
    return data, data.height if data.width else lazy.select(pl.len()).collect().item()


def _counts(
    frame: pl.DataFrame, judgements: dict[int, Judgement]
) -> dict[int, tuple[int, int] | Exception]:
    """(unexpected, judged) per expectation, in one pass; one by one to isolate an error."""
    if not judgements:
        return {}

    def exprs(i: int, j: Judgement) -> list[pl.Expr]:
        return [j.unexpected.sum().alias(f"unexpected {i}"), j.judged.alias(f"judged {i}")]

    try:
        row = frame.select(e for i, j in judgements.items() for e in exprs(i, j)).row(0)
        return {i: (row[2 * n], row[2 * n + 1]) for n, i in enumerate(judgements)}
    except Exception:  # attributed to its expectation below
        counts: dict[int, tuple[int, int] | Exception] = {}
        for i, j in judgements.items():
            try:
                counts[i] = frame.select(exprs(i, j)).row(0)
            except Exception as error:  # reported as the expectation's error
                counts[i] = error
        return counts


def _as_gx_shows(value: Any) -> Any:
    """A value as GX reports it from pandas: a date is a midnight Timestamp there."""
    if type(value) is date:
        return datetime.combine(value, time())
    if isinstance(value, dict):
        return {k: _as_gx_shows(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_as_gx_shows(v) for v in value)
    return value


def _row_count_success(rows: int, kwargs: Mapping[str, Any]) -> bool:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    above = low is None or (rows > low if kwargs.get("strict_min") else rows >= low)
    below = high is None or (rows < high if kwargs.get("strict_max") else rows <= high)
    return above and below


def _judged_success(judged: int, unexpected: int, mostly: float) -> bool:
    """GX's ``_mostly_success``, vacuously true when no row is judged."""
    if judged == 0:
        return True
    return (float(judged) - float(unexpected)) / float(judged) >= mostly


def evaluate(
    suite: Suite, frame: Any, *, max_examples: int = 5
) -> tuple[list[ExpectationResult], int]:
    """Every expectation of ``suite`` on ``frame`` (a Polars or pandas frame), in suite order,
    and the frame's row count."""
    data, rows = _prepared(frame, suite)
    schema = data.schema
    judgements: dict[int, Judgement] = {}
    errors: dict[int, str] = {}
    for i, exp in enumerate(suite.expectations):
        missing = [c for c in exp.columns() if c not in schema]
        if missing:  # GX's words
            errors[i] = f'Error: The column "{missing[0]}" in BatchData does not exist.'
        elif exp.spec.judge is not None:
            try:
                judgements[i] = exp.spec.judge(exp.kwargs, schema)
            except (TypeError, ValueError) as error:
                errors[i] = str(error)
    counts = _counts(data, judgements)
    results = []
    for i, exp in enumerate(suite.expectations):
        counted = counts.get(i)
        if isinstance(counted, Exception):
            errors[i] = str(counted)
        report = FailedExpectation(
            expectation=exp.type,
            column=column_of(exp.kwargs),
            kwargs=jsonable(exp.kwargs),
            unexpected_count=None,
            unexpected_percent=None,
            examples=[],
            observed_value=None,
            error=errors.get(i),
        )
        if i in errors:
            results.append(ExpectationResult(False, report))
        elif exp.spec.judge is None:  # the row count
            success = _row_count_success(rows, exp.kwargs)
            results.append(ExpectationResult(success, replace(report, observed_value=rows)))
        else:
            unexpected, judged = counted
            found = []
            if unexpected:
                first = data.filter(judgements[i].unexpected).head(
                    partial_unexpected_count(max_examples)
                )
                found = [_as_gx_shows(v) for v in exp.spec.example(first, exp.kwargs)]
            report = replace(
                report,
                unexpected_count=unexpected,
                # as GX: of the judged rows (all rows for the null checks); none when empty
                unexpected_percent=unexpected / judged * 100 if rows and judged else None,
                examples=examples(found, max_examples),
            )
            success = _judged_success(judged, unexpected, exp.kwargs.get("mostly", 1))
            results.append(ExpectationResult(success, report))
    return results, rows


def validate_frame(
    suite_name: str,
    frame: Any,
    *,
    expectations_dir: Path | None = None,
    max_examples: int = 5,
) -> SuiteOutcome:
    """Validate a Polars (or pandas) frame against ``expectations/<suite_name>.json``."""
    return validate_suite(
        load_suite(suite_name, expectations_dir), frame, max_examples=max_examples
    )


def validate_suite(suite: Suite, frame: Any, *, max_examples: int = 5) -> SuiteOutcome:
    """``validate_frame`` with the suite already loaded (e.g. once for many partitions)."""
    results, rows = evaluate(suite, frame, max_examples=max_examples)
    return suite_outcome(suite.name, results, rows)
