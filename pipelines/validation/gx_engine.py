"""The reference engine: expectation suites run by Great Expectations (1.x) on pandas.

Great Expectations is imported lazily (it takes seconds) and silenced: analytics off, no tqdm
progress bars, no INFO logging. One ephemeral Data Context with a pandas data source, a
dataframe asset and a whole-dataframe batch definition is built per process and reused.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

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

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd
    import polars as pl

# kwargs that name columns; their values are kept when the frame is pruned to referenced columns.
_COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list", "column_set")

_lock = threading.RLock()


def build_suite(suite_name: str, expectations_dir: Path | None = None) -> gx.ExpectationSuite:
    """Load a suite file into a real ``gx.ExpectationSuite``; unknown types raise clearly."""
    data = load_suite_json(suite_name, expectations_dir)
    return _build_suite(data, suite_path(suite_name, expectations_dir))


def _build_suite(data: dict, path: Path) -> gx.ExpectationSuite:
    gx = _runtime().gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.registry import (
        list_registered_expectation_implementations,
    )

    known = set(list_registered_expectation_implementations())
    expectations = []
    for i, exp in enumerate(data["expectations"]):
        where = f"{path}: expectation #{i} ({exp['type']})"
        if exp["type"] not in known:
            close = difflib.get_close_matches(exp["type"], known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SuiteDefinitionError(f"{where}: unknown expectation type {exp['type']!r}{hint}")
        try:
            config = ExpectationConfiguration(**{**exp, "kwargs": dict(exp.get("kwargs", {}))})
            expectations.append(config.to_domain_obj())
        except Exception as e:  # pydantic / GX configuration errors
            message = getattr(e, "message", None) or str(e)
            raise SuiteDefinitionError(f"{where}: invalid configuration: {message}") from e
    return gx.ExpectationSuite(
        name=data["name"],
        expectations=expectations,
        meta=dict(data.get("meta") or {}),
        suite_parameters=dict(data.get("suite_parameters") or {}),
        notes=data.get("notes"),
    )


# --------------------------------------------------------------------------- GX runtime


class _Runtime(NamedTuple):
    gx: Any  # the great_expectations module
    context: Any  # EphemeralDataContext
    batch_definition: Any  # whole-dataframe BatchDefinition of the pandas dataframe asset


_runtime_cache: _Runtime | None = None


def _import_gx_quietly() -> Any:
    """Import great_expectations with analytics off and its import-time side effects undone."""
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:  # respect an explicit level set by the caller
        gx_logger.setLevel(logging.WARNING)
    showwarning_before = warnings.showwarning
    import great_expectations as gx

    # GX calls logging.captureWarnings(True) at import; undo that process-wide side effect.
    if warnings.showwarning is not showwarning_before:
        logging.captureWarnings(False)
    return gx


def _runtime() -> _Runtime:
    """Build (once per process) the ephemeral context and its whole-dataframe batch definition."""
    global _runtime_cache
    if _runtime_cache is not None:
        return _runtime_cache
    with _lock:
        if _runtime_cache is not None:
            return _runtime_cache
        gx = _import_gx_quietly()
        from great_expectations.data_context.data_context.context_factory import (
            project_manager,
        )
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.exceptions import DataContextRequiredError

        try:
            previous = project_manager.get_current_project()
        except DataContextRequiredError:
            previous = None
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        if previous is not None:  # get_context made ours "current"; give the caller theirs back
            project_manager.set_project(previous)
        asset = context.data_sources.add_pandas("observatory_validation").add_dataframe_asset(
            "frame"
        )
        batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
        _runtime_cache = _Runtime(gx, context, batch_definition)
        return _runtime_cache


# --------------------------------------------------------------------------- frames


def _referenced_columns(suite_json: dict) -> list[str] | None:
    """Columns the suite names, or None when every column is needed."""
    cols: list[str] = []
    for exp in suite_json["expectations"]:
        kwargs = exp.get("kwargs", {})
        if exp["type"].startswith("expect_table_column") or "row_condition" in kwargs:
            return None  # column-set/count checks and row conditions see the whole table
        for key in _COLUMN_KWARGS:
            value = kwargs.get(key)
            values = [value] if isinstance(value, str) else value or []
            cols.extend(c for c in values if isinstance(c, str) and c not in cols)
    return cols


def _json_text(value: Any) -> str | None:
    """Nested value -> JSON text (None stays None)."""
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    return json.dumps(value, default=str, ensure_ascii=False)


def _is_nested(value: Any) -> bool:
    return isinstance(value, (list, tuple, dict)) or type(value).__name__ == "ndarray"


def _to_pandas(frame: Any, columns: list[str] | None) -> pd.DataFrame:
    """Polars/pandas frame -> pandas, pruned to ``columns``; nested values become JSON text."""
    import pandas as pd
    import polars as pl

    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if isinstance(frame, pl.DataFrame):
        if columns is not None:  # missing columns are left for GX to report
            keep = [c for c in columns if c in frame.columns]
            if not keep:  # table-only suite: keep the row count, not the data
                return pd.DataFrame(index=pd.RangeIndex(frame.height))
            frame = frame.select(keep)
        nested = [n for n, t in frame.schema.items() if t.is_nested() or t == pl.Object]
        ints_with_nulls = [
            n for n, t in frame.schema.items() if t.is_integer() and frame[n].null_count()
        ]
        out = frame.drop(nested).to_pandas()
        for name in ints_with_nulls:  # keep ints as ints (not float64) when nulls are present
            # polars names (Int64, UInt32, ...) are pandas' nullable dtype names; on a miss
            # (e.g. Int128) pandas' float conversion stays
            with contextlib.suppress(TypeError, ValueError):
                out[name] = pd.array(frame[name].to_list(), dtype=str(frame[name].dtype))
        for name in nested:
            out[name] = pd.Series([_json_text(v) for v in frame[name].to_list()], dtype=object)
        return out[frame.columns]
    if isinstance(frame, pd.DataFrame):
        if columns is not None:
            frame = frame[[c for c in columns if c in frame.columns]]
        frame = frame.copy(deep=False)
        for name in frame.columns:
            s = frame[name]
            if s.dtype == object and s.map(_is_nested).any():
                frame[name] = s.map(_json_text)
        return frame
    raise TypeError(f"expected a polars or pandas DataFrame, got {type(frame).__name__}")


# --------------------------------------------------------------------------- results


def _error_message(exception_info: Any) -> str | None:
    """The message(s) of exceptions GX caught; its info is flat or keyed by metric id."""
    if not isinstance(exception_info, Mapping):
        return None
    infos = [exception_info] if "raised_exception" in exception_info else exception_info.values()
    messages: list[str] = []
    for info in infos:
        if isinstance(info, Mapping) and info.get("raised_exception"):
            message = str(info.get("exception_message") or "exception raised")
            if message not in messages:
                messages.append(message)
    return "; ".join(messages) or None


def _result(result: Any, max_examples: int) -> ExpectationResult:
    config = result.expectation_config
    kwargs = {
        k: jsonable(v) for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")
    }
    res = result.result or {}
    error = _error_message(result.exception_info)
    count = res.get("unexpected_count")
    percent = res.get("unexpected_percent")
    report = FailedExpectation(
        expectation=config.type,
        column=column_of(kwargs),
        kwargs=kwargs,
        unexpected_count=None if count is None else int(count),
        unexpected_percent=None if percent is None else jsonable(float(percent)),
        examples=examples(res.get("partial_unexpected_list") or [], max_examples),
        observed_value=jsonable(res.get("observed_value")),
        error=error,
    )
    return ExpectationResult(bool(result.success), report)


def evaluate(
    suite_name: str,
    frame: pl.DataFrame | pd.DataFrame,
    *,
    expectations_dir: Path | None = None,
    max_examples: int = 5,
) -> tuple[list[ExpectationResult], int]:
    """Every expectation of ``expectations/<suite_name>.json`` on a polars or pandas frame, in
    suite order, and the frame's row count."""
    suite_json = load_suite_json(suite_name, expectations_dir)
    suite = _build_suite(suite_json, suite_path(suite_name, expectations_dir))
    runtime = _runtime()
    pdf = _to_pandas(frame, _referenced_columns(suite_json))
    result_format = {
        "result_format": "BASIC",
        # ask for more than we keep: duplicates (e.g. for uniqueness) are folded in examples()
        "partial_unexpected_count": partial_unexpected_count(max_examples),
    }
    with _lock:  # the shared execution engine holds one active batch at a time
        batch = runtime.batch_definition.get_batch(batch_parameters={"dataframe": pdf})
        try:
            result = batch.validate(suite, result_format=result_format)
        finally:
            _release_batch(batch)
    order = {
        (c.type, column_of(c.kwargs)): i
        for i, c in reversed(list(enumerate(suite.expectation_configurations)))
    }
    results = sorted(
        (_result(r, max_examples) for r in result.results),
        key=lambda r: order.get((r.report.expectation, r.report.column), len(order)),
    )
    return results, len(pdf)


def validate_frame(
    suite_name: str,
    frame: pl.DataFrame | pd.DataFrame,
    *,
    expectations_dir: Path | None = None,
    max_examples: int = 5,
) -> SuiteOutcome:
    """Validate a polars or pandas frame against ``expectations/<suite_name>.json``."""
    results, rows = evaluate(
        suite_name, frame, expectations_dir=expectations_dir, max_examples=max_examples
    )
    return suite_outcome(suite_name, results, rows)


def _release_batch(batch: Any) -> None:
    """Drop the frame GX keeps in its (process-lived) execution engine cache."""
    try:
        manager = batch.data.execution_engine.batch_manager
        manager.batch_data_cache.pop(batch.id, None)
        manager.reset_batch_cache()
    except Exception:  # best effort: only memory is at stake
        logging.getLogger(__name__).debug("could not release GX batch", exc_info=True)
