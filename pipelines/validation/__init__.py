"""Expectation suites (``expectations/<suite>.json``, GX 1.x's serialized shape) run against frames
by blocking asset checks, with either engine:

- ``polars`` (the default): ``polars_engine`` evaluates each expectation type as Polars
  expressions with GX 1.x's semantics; Great Expectations is never imported;
- ``great_expectations``: the reference, ``gx_engine`` runs the suite through GX on pandas.

The engine comes from the config (``[validation] engine``): checks call the observatory
resource's ``check_suite``/``check_suite_by_partition``, which pass it here. The differential
tests (``tests/test_validation_engines.py``) keep the two engines in agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.config import DEFAULT_VALIDATION_ENGINE, VALIDATION_ENGINES
from pipelines.validation import gx_engine, polars_engine
from pipelines.validation.suites import (
    EXPECTATIONS_DIR,
    FailedExpectation,
    SuiteDefinitionError,
    SuiteOutcome,
    load_suite_json,
    short,
    shown,
)

if TYPE_CHECKING:
    import dagster as dg
    import pandas as pd
    import polars as pl

__all__ = [
    "EXPECTATIONS_DIR",
    "FailedExpectation",
    "SuiteDefinitionError",
    "SuiteOutcome",
    "load_suite_json",
    "suite_check_result",
    "suite_partitions_check_result",
    "validate_frame",
    "validate_partitions",
]


def _checked(engine: str) -> str:
    if engine not in VALIDATION_ENGINES:
        raise ValueError(
            f"unknown validation engine {engine!r}; valid engines: {', '.join(VALIDATION_ENGINES)}"
        )
    return engine


def validate_frame(
    suite_name: str,
    frame: pl.DataFrame | pd.DataFrame,
    *,
    engine: str = DEFAULT_VALIDATION_ENGINE,
    expectations_dir: Path | None = None,
    max_examples: int = 5,
) -> SuiteOutcome:
    """Validate a polars or pandas frame against ``expectations/<suite_name>.json``."""
    chosen = gx_engine if _checked(engine) == "great_expectations" else polars_engine
    return chosen.validate_frame(
        suite_name, frame, expectations_dir=expectations_dir, max_examples=max_examples
    )


def validate_partitions(
    suite_name: str,
    partitions: Iterable[tuple[str, pl.DataFrame]],
    *,
    engine: str = DEFAULT_VALIDATION_ENGINE,
    expectations_dir: Path | None = None,
) -> tuple[int, int, list[tuple[str, SuiteOutcome]]]:
    """Validate partitions and name each failing partition; returns (partitions checked, rows
    checked, failures).

    A call costs more than its rows (~4 ms with Polars, ~30 ms with GX), so when the suite
    allows it (``polars_engine.stackable``) partitions are validated stacked, in chunks of at
    most ``CHUNK_ROWS[engine]`` rows (memory stays bounded), and a failing chunk again partition
    by partition; otherwise each partition alone.
    """
    if _checked(engine) == "polars":
        suite = polars_engine.load_suite(suite_name, expectations_dir)

        def validate(frame: pl.DataFrame) -> SuiteOutcome:
            return polars_engine.validate_suite(suite, frame)
    else:

        def validate(frame: pl.DataFrame) -> SuiteOutcome:
            return gx_engine.validate_frame(suite_name, frame, expectations_dir=expectations_dir)

    stackable = polars_engine.stackable(load_suite_json(suite_name, expectations_dir))
    return _chunked(validate, partitions, CHUNK_ROWS[engine] if stackable else 0)


CHUNK_ROWS = {"polars": 500_000, "great_expectations": 50_000}


def _chunked(
    validate: Callable[[pl.DataFrame], SuiteOutcome],
    partitions: Iterable[tuple[str, pl.DataFrame]],
    chunk_rows: int,
) -> tuple[int, int, list[tuple[str, SuiteOutcome]]]:
    """``validate_partitions`` with ``validate``, stacking partitions up to ``chunk_rows`` rows
    (0: each alone)."""
    import polars as pl

    checked = rows = 0
    failures: list[tuple[str, SuiteOutcome]] = []
    chunk: list[tuple[str, pl.DataFrame]] = []

    def flush() -> None:
        if len(chunk) == 1:
            key, frame = chunk[0]
            outcome = validate(frame)
            if not outcome.success:
                failures.append((key, outcome))
        elif chunk and not validate(pl.concat([f for _, f in chunk])).success:
            for key, frame in chunk:
                single = validate(frame)
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


# --------------------------------------------------------------------------- dagster


def _md_cell(value: Any) -> str:
    text = "" if value is None else short(value, 80)
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
            cell = f"error: {f.error.splitlines()[0]}"
        elif f.examples:
            cell = ", ".join(shown(x) for x in f.examples)
        else:
            cell = f.observed_value
        pct = "" if f.unexpected_percent is None else f"{f.unexpected_percent:.2f}"
        lines.append(
            f"| {_md_cell(f.expectation)} | {_md_cell(f.column)} | "
            f"{_md_cell(f.unexpected_count)} | {pct} | {_md_cell(cell)} |"
        )
    return "\n".join(lines)


def suite_check_result(
    suite_name: str,
    frame: pl.DataFrame | pd.DataFrame,
    *,
    engine: str,
    partition: str | None = None,
    expectations_dir: Path | None = None,
    asset_key: Any = None,
    check_name: str | None = None,
) -> dg.AssetCheckResult:
    """Validate ``frame`` and wrap the outcome as an ERROR-severity ``AssetCheckResult``."""
    import dagster as dg

    outcome = validate_frame(suite_name, frame, engine=engine, expectations_dir=expectations_dir)
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


def suite_partitions_check_result(
    suite_name: str,
    partitions: Iterable[tuple[str, pl.DataFrame]],
    *,
    engine: str,
    expectations_dir: Path | None = None,
) -> dg.AssetCheckResult:
    """``validate_partitions`` as an ERROR-severity check result naming the failing partitions."""
    import dagster as dg

    checked, rows, failures = validate_partitions(
        suite_name, partitions, engine=engine, expectations_dir=expectations_dir
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
