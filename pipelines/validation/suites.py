"""Suite files and the results both engines report: expectation by expectation, and per suite.

Suites live in ``expectations/<suite>.json`` (the GX 1.x serialized ExpectationSuite shape);
:func:`load_suite_json` checks a file's structure without importing either engine.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "expectations"

_SUITE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Keys GX 1.x accepts on a serialized expectation (ExpectationConfiguration's arguments).
_EXPECTATION_KEYS = frozenset(
    {"type", "kwargs", "meta", "notes", "description", "severity", "id", "rendered_content"}
)
_SUITE_KEYS = frozenset({"name", "expectations", "meta", "suite_parameters", "notes", "id"})
_MAX_EXAMPLE_CHARS = 200


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
    error: str | None = None  # set when the engine raised while evaluating (e.g. a missing column)

    def label(self) -> str:
        """``expectation(column)`` or just the expectation type."""
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation evaluated on one frame, as an engine returns it: whether it passed, and
    its counts, examples and error in the shape a failure is reported with."""

    success: bool
    report: FailedExpectation


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
                detail.append(f"observed {shown(f.observed_value, 60)}")
            if f.examples:
                detail.append("e.g. " + ", ".join(shown(x) for x in f.examples[:3]))
            parts.append(f.label() + (f" [{'; '.join(detail)}]" if detail else ""))
        return f"{head}: FAILED {len(self.failed)}/{self.evaluated} expectations: " + "; ".join(
            parts
        )


def suite_outcome(suite: str, results: list[ExpectationResult], rows: int) -> SuiteOutcome:
    """A suite's outcome from its expectations' results (in suite order)."""
    return SuiteOutcome(
        suite=suite,
        success=all(r.success for r in results),
        evaluated=len(results),
        failed=[r.report for r in results if not r.success],
        rows=rows,
    )


# --------------------------------------------------------------------------- suite files


def suite_path(suite_name: str, expectations_dir: Path | None) -> Path:
    if not _SUITE_NAME_RE.match(suite_name):
        raise SuiteDefinitionError(f"invalid suite name {suite_name!r}")
    return Path(expectations_dir or EXPECTATIONS_DIR) / f"{suite_name}.json"


def load_suite_json(suite_name: str, expectations_dir: Path | None = None) -> dict:
    """Read and structurally check ``<expectations_dir>/<suite_name>.json`` (no engine import)."""
    path = suite_path(suite_name, expectations_dir)
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


# --------------------------------------------------------------------------- result values


def jsonable(value: Any) -> Any:
    """Make a result value JSON-serialisable (numpy scalars, NA/NaN, nested containers)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist())
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def short(value: Any, limit: int = _MAX_EXAMPLE_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: Any, limit: int = 40) -> str:
    """Display form of an example: JSON-quoted so empty and blank strings stay visible."""
    return short(json.dumps(value, default=str, ensure_ascii=False), limit)


def partial_unexpected_count(max_examples: int) -> int:
    """Unexpected values to collect for ``max_examples`` distinct examples: more than kept, as
    duplicates (e.g. for uniqueness) are folded by :func:`examples`."""
    return max(4 * max_examples, 20)


def examples(values: Iterable[Any], max_examples: int) -> list:
    """Distinct, JSON-safe, length-capped unexpected values in first-seen order."""
    seen: list = []
    if max_examples <= 0:
        return seen
    for v in values:
        v = jsonable(v)
        if isinstance(v, str) and len(v) > _MAX_EXAMPLE_CHARS:
            v = short(v)
        if v not in seen:
            seen.append(v)
        if len(seen) >= max_examples:
            break
    return seen


def column_of(kwargs: Mapping[str, Any]) -> str | None:
    """The column(s) an expectation names, as shown in labels (``a,b`` for several)."""
    if isinstance(kwargs.get("column"), str):
        return kwargs["column"]
    if "column_A" in kwargs and "column_B" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if isinstance(kwargs.get("column_list"), list):
        return ",".join(map(str, kwargs["column_list"]))
    return None
