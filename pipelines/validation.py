"""Run Great Expectations (1.x) suites stored as JSON against a frame.

Suites live in ``expectations/<suite>.json`` (the GX 1.x serialized ExpectationSuite shape) and
are run from Dagster blocking asset checks through :func:`gx_check_result`.

Great Expectations is imported lazily (it takes seconds) and silenced: analytics off, no tqdm
progress bars, no INFO logging. One ephemeral Data Context with a pandas data source, a
dataframe asset and a whole-dataframe batch definition is built per process and reused.

Typical use::

    @dg.asset_check(asset=pool_registry, blocking=True)
    def pool_registry_suite(pool_registry: pl.DataFrame) -> dg.AssetCheckResult:
        return gx_check_result("pool_registry", pool_registry)
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import math
import os
import re
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import dagster as dg
    import great_expectations as gx
    import pandas as pd
    import polars as pl

__all__ = [
    "EXPECTATIONS_DIR",
    "FailedExpectation",
    "SuiteDefinitionError",
    "SuiteOutcome",
    "build_suite",
    "gx_check_result",
    "load_suite_json",
    "validate_frame",
]

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"

_SUITE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Keys GX 1.x accepts on a serialized expectation (ExpectationConfiguration's arguments).
_EXPECTATION_KEYS = frozenset(
    {"type", "kwargs", "meta", "notes", "description", "severity", "id", "rendered_content"}
)
_SUITE_KEYS = frozenset({"name", "expectations", "meta", "suite_parameters", "notes", "id"})
# kwargs that name columns; their values are kept when the frame is pruned to referenced columns.
_COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list", "column_set")
_MAX_EXAMPLE_CHARS = 200

_lock = threading.RLock()


class SuiteDefinitionError(ValueError):
    """A suite file is missing pieces, malformed, or names an unknown expectation."""


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation of a suite that did not pass."""

    expectation: str
    column: str | None
    kwargs: dict
    unexpected_count: int | None
    unexpected_percent: float | None
    examples: list
    observed_value: Any
    error: str | None = None  # set when GX raised while evaluating (e.g. a missing column)

    def label(self) -> str:
        """``expectation(column)`` or just the expectation type."""
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass(frozen=True)
class SuiteOutcome:
    """The result of validating one frame against one suite."""

    suite: str
    success: bool
    evaluated: int
    failed: list[FailedExpectation]
    rows: int

    def summary(self) -> str:
        """One line naming the failing expectations and their columns."""
        head = f"suite {self.suite!r} on {self.rows} rows"
        if self.success:
            return f"{head}: passed ({self.evaluated} expectations)"
        parts = []
        for f in self.failed:
            detail = []
            if f.error:
                detail.append(f"error: {f.error.splitlines()[0][:120]}")
            if f.unexpected_count is not None:
                detail.append(f"{f.unexpected_count} unexpected")
            elif f.observed_value is not None:
                detail.append(f"observed {_shown(f.observed_value, 60)}")
            if f.examples:
                detail.append("e.g. " + ", ".join(_shown(x) for x in f.examples[:3]))
            parts.append(f.label() + (f" [{'; '.join(detail)}]" if detail else ""))
        return f"{head}: FAILED {len(self.failed)}/{self.evaluated} expectations: " + "; ".join(
            parts
        )


# --------------------------------------------------------------------------- suite files


def _suite_path(suite_name: str, expectations_dir: Path | None) -> Path:
    if not _SUITE_NAME_RE.match(suite_name):
        raise SuiteDefinitionError(f"invalid suite name {suite_name!r}")
    return Path(expectations_dir or EXPECTATIONS_DIR) / f"{suite_name}.json"


def load_suite_json(suite_name: str, expectations_dir: Path | None = None) -> dict:
    """Read and structurally check ``<expectations_dir>/<suite_name>.json`` (no GX import)."""
    path = _suite_path(suite_name, expectations_dir)
    if not path.is_file():
        raise FileNotFoundError(f"expectation suite {suite_name!r} not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SuiteDefinitionError(f"{path}: invalid JSON: {e}") from e
    if not isinstance(data, dict):
        raise SuiteDefinitionError(f"{path}: top level must be a JSON object")
    unknown = sorted(set(data) - _SUITE_KEYS)
    if unknown:
        raise SuiteDefinitionError(f"{path}: unknown suite keys {unknown}")
    if data.get("name") != suite_name:
        raise SuiteDefinitionError(
            f"{path}: suite name {data.get('name')!r} does not match file name {suite_name!r}"
        )
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteDefinitionError(f"{path}: 'expectations' must be a non-empty list")
    for i, exp in enumerate(expectations):
        where = f"{path}: expectation #{i}"
        if not isinstance(exp, dict):
            raise SuiteDefinitionError(f"{where} must be a JSON object")
        if "expectation_type" in exp:
            raise SuiteDefinitionError(
                f"{where} uses the GX 0.x key 'expectation_type'; GX 1.x uses 'type'"
            )
        if not isinstance(exp.get("type"), str) or not exp["type"]:
            raise SuiteDefinitionError(f"{where} needs a string 'type'")
        where = f"{where} ({exp['type']})"
        unknown = sorted(set(exp) - _EXPECTATION_KEYS)
        if unknown:
            raise SuiteDefinitionError(f"{where}: unknown keys {unknown}")
        if not isinstance(exp.get("kwargs", {}), dict):
            raise SuiteDefinitionError(f"{where}: 'kwargs' must be a JSON object")
        if not isinstance(exp.get("meta", {}), dict):
            raise SuiteDefinitionError(f"{where}: 'meta' must be a JSON object")
    if not isinstance(data.get("meta", {}), dict):
        raise SuiteDefinitionError(f"{path}: 'meta' must be a JSON object")
    return data


def build_suite(suite_name: str, expectations_dir: Path | None = None) -> gx.ExpectationSuite:
    """Load a suite file into a real ``gx.ExpectationSuite``; unknown types raise clearly."""
    data = load_suite_json(suite_name, expectations_dir)
    return _build_suite(data, _suite_path(suite_name, expectations_dir))


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


def _jsonable(value: Any) -> Any:
    """Make a GX result value JSON-serialisable (numpy scalars, NA/NaN, nested containers)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _short(value: Any, limit: int = _MAX_EXAMPLE_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: Any, limit: int = 40) -> str:
    """Display form of an example: JSON-quoted so empty and blank strings stay visible."""
    return _short(json.dumps(value, default=str, ensure_ascii=False), limit)


def _examples(values: Iterable[Any], max_examples: int) -> list:
    """Distinct, JSON-safe, length-capped unexpected values in first-seen order."""
    seen: list = []
    if max_examples <= 0:
        return seen
    for v in values:
        v = _jsonable(v)
        if isinstance(v, str) and len(v) > _MAX_EXAMPLE_CHARS:
            v = _short(v)
        if v not in seen:
            seen.append(v)
        if len(seen) >= max_examples:
            break
    return seen


def _column_of(kwargs: Mapping[str, Any]) -> str | None:
    if isinstance(kwargs.get("column"), str):
        return kwargs["column"]
    if "column_A" in kwargs and "column_B" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if isinstance(kwargs.get("column_list"), list):
        return ",".join(map(str, kwargs["column_list"]))
    return None


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


def _failure(result: Any, max_examples: int) -> FailedExpectation:
    config = result.expectation_config
    kwargs = {
        k: _jsonable(v) for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")
    }
    res = result.result or {}
    error = _error_message(result.exception_info)
    count = res.get("unexpected_count")
    percent = res.get("unexpected_percent")
    return FailedExpectation(
        expectation=config.type,
        column=_column_of(kwargs),
        kwargs=kwargs,
        unexpected_count=None if count is None else int(count),
        unexpected_percent=None if percent is None else _jsonable(float(percent)),
        examples=_examples(res.get("partial_unexpected_list") or [], max_examples),
        observed_value=_jsonable(res.get("observed_value")),
        error=error,
    )


def validate_frame(
    suite_name: str,
    frame: pl.DataFrame | pd.DataFrame,
    *,
    expectations_dir: Path | None = None,
    max_examples: int = 5,
) -> SuiteOutcome:
    """Validate a polars or pandas frame against ``expectations/<suite_name>.json``."""
    suite_json = load_suite_json(suite_name, expectations_dir)
    suite = _build_suite(suite_json, _suite_path(suite_name, expectations_dir))
    runtime = _runtime()
    pdf = _to_pandas(frame, _referenced_columns(suite_json))
    rows = len(pdf)
    result_format = {
        "result_format": "BASIC",
        # ask for more than we keep: duplicates (e.g. for uniqueness) are folded in _examples
        "partial_unexpected_count": max(4 * max_examples, 20),
    }
    with _lock:  # the shared execution engine holds one active batch at a time
        batch = runtime.batch_definition.get_batch(batch_parameters={"dataframe": pdf})
        try:
            result = batch.validate(suite, result_format=result_format)
        finally:
            _release_batch(batch)
    order = {
        (c.type, _column_of(c.kwargs)): i
        for i, c in reversed(list(enumerate(suite.expectation_configurations)))
    }
    failed = sorted(
        (_failure(r, max_examples) for r in result.results if not r.success),
        key=lambda f: order.get((f.expectation, f.column), len(order)),
    )
    return SuiteOutcome(
        suite=suite_name,
        success=bool(result.success),
        evaluated=int(result.statistics.get("evaluated_expectations", len(result.results))),
        failed=failed,
        rows=rows,
    )


def _release_batch(batch: Any) -> None:
    """Drop the frame GX keeps in its (process-lived) execution engine cache."""
    try:
        manager = batch.data.execution_engine.batch_manager
        manager.batch_data_cache.pop(batch.id, None)
        manager.reset_batch_cache()
    except Exception:  # best effort: only memory is at stake
        logging.getLogger(__name__).debug("could not release GX batch", exc_info=True)


# --------------------------------------------------------------------------- dagster


def _md_cell(value: Any) -> str:
    text = "" if value is None else _short(value, 80)
    return text.replace("|", "\\|").replace("\n", " ")


def _failures_markdown(outcome: SuiteOutcome) -> str:
    if not outcome.failed:
        return f"All {outcome.evaluated} expectations of `{outcome.suite}` passed."
    lines = [
        "| expectation | column | unexpected | % | examples / observed |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for f in outcome.failed:
        if f.error:
            shown = f"error: {f.error.splitlines()[0]}"
        elif f.examples:
            shown = ", ".join(_shown(x) for x in f.examples)
        else:
            shown = f.observed_value
        pct = "" if f.unexpected_percent is None else f"{f.unexpected_percent:.2f}"
        lines.append(
            f"| {_md_cell(f.expectation)} | {_md_cell(f.column)} | "
            f"{_md_cell(f.unexpected_count)} | {pct} | {_md_cell(shown)} |"
        )
    return "\n".join(lines)


def gx_check_result(
    suite_name: str,
    frame: pl.DataFrame | pd.DataFrame,
    *,
    partition: str | None = None,
    expectations_dir: Path | None = None,
    asset_key: Any = None,
    check_name: str | None = None,
) -> dg.AssetCheckResult:
    """Validate ``frame`` and wrap the outcome as an ERROR-severity ``AssetCheckResult``."""
    import dagster as dg

    outcome = validate_frame(suite_name, frame, expectations_dir=expectations_dir)
    metadata: dict[str, Any] = {
        "suite": suite_name,
        "rows": outcome.rows,
        "expectations evaluated": outcome.evaluated,
        "failed count": len(outcome.failed),
        "summary": outcome.summary(),
        "failures": dg.MetadataValue.md(_failures_markdown(outcome)),
        "failures json": dg.MetadataValue.json([asdict(f) for f in outcome.failed]),
    }
    if partition is not None:
        metadata["partition"] = partition
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=outcome.summary(),
        asset_key=asset_key,
        check_name=check_name,
    )


def validate_partitions(
    suite_name: str,
    partitions: Iterable[tuple[str, pl.DataFrame]],
    *,
    chunk_rows: int = 50_000,
    expectations_dir: Path | None = None,
) -> tuple[int, int, list[tuple[str, SuiteOutcome]]]:
    """Validate partitions in chunks of whole partitions; name each failing partition.

    GX costs ~30 ms a call whatever the size, so partitions are validated together in chunks of
    at most ``chunk_rows`` rows (memory stays bounded); a failing chunk is validated again
    partition by partition so the report names the bad partitions. Returns (partitions checked,
    rows checked, failures).
    """
    import polars as pl

    checked = rows = 0
    failures: list[tuple[str, SuiteOutcome]] = []
    chunk: list[tuple[str, pl.DataFrame]] = []

    def flush() -> None:
        if not chunk:
            return
        outcome = validate_frame(
            suite_name, pl.concat([f for _, f in chunk]), expectations_dir=expectations_dir
        )
        if not outcome.success:
            for key, frame in chunk:
                single = validate_frame(suite_name, frame, expectations_dir=expectations_dir)
                if not single.success:
                    failures.append((key, single))
        chunk.clear()

    for key, frame in partitions:
        checked += 1
        rows += frame.height
        if chunk and sum(f.height for _, f in chunk) + frame.height > chunk_rows:
            flush()
        chunk.append((key, frame))
    flush()
    return checked, rows, failures


def gx_partitions_check_result(
    suite_name: str,
    partitions: Iterable[tuple[str, pl.DataFrame]],
    *,
    expectations_dir: Path | None = None,
) -> dg.AssetCheckResult:
    """``validate_partitions`` as an ERROR-severity check result naming the failing partitions."""
    import dagster as dg

    checked, rows, failures = validate_partitions(
        suite_name, partitions, expectations_dir=expectations_dir
    )
    lines = [f"- {key}: {outcome.summary()}" for key, outcome in failures[:50]]
    summary = f"suite {suite_name!r}: {checked} partitions, {rows} rows, " + (
        f"{len(failures)} failing: {', '.join(k for k, _ in failures[:10])}"
        if failures
        else "all passed"
    )
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        description=summary,
        metadata={
            "suite": suite_name,
            "partitions checked": checked,
            "rows": rows,
            "failing partitions": len(failures),
            "summary": summary,
            "failures": dg.MetadataValue.md("\n".join(lines) or "none"),
        },
    )
