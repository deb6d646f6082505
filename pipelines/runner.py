"""Plan and execute one Dagster run of the observatory's assets, in the persistent instance."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import dagster as dg

from pipelines.partitions import GENESIS, run_tags, yesterday
from pipelines.serving import KEY as SERVING_KEY


class RunPlanError(ValueError):
    """The requested selection or date range cannot be run."""


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[tuple[str, str]] = field(default_factory=list)
    failed_checks: list[tuple[str, str]] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"run {self.run_id}: {'succeeded' if self.success else 'FAILED'} — "
            f"{len(self.materialized)} materializations"
        ]
        for step, message in self.failed_steps:
            lines.append(f"  failed step {step}: {message}")
        for check, detail in self.failed_checks:
            lines.append(f"  failed check {check}: {detail}")
        if self.not_run:
            lines.append(f"  not run (upstream failed): {', '.join(self.not_run)}")
        return "\n".join(lines)


def plan(
    defs: dg.Definitions, selection: str | None, start: date | None, end: date | None
) -> tuple[list[dg.AssetKey], dict[str, str]]:
    """Asset keys to run (always ending with the serving database) and the run's tags."""
    graph = defs.resolve_asset_graph()
    if selection:
        try:
            chosen = dg.AssetSelection.from_string(selection).required_multi_asset_neighbors()
            keys = set(chosen.resolve(graph))
        except Exception as exc:  # Dagster raises several types for a bad selection string
            raise RunPlanError(f"--select {selection!r}: {exc}") from exc
        keys &= graph.materializable_asset_keys
        if not keys:
            raise RunPlanError(f"--select {selection!r} matched no asset")
        keys.add(SERVING_KEY)
    else:
        keys = set(graph.materializable_asset_keys)
    ordered = [k for k in graph.toposorted_asset_keys if k in keys]
    partitions = {graph.get(k).partitions_def for k in ordered} - {None}
    if not partitions:
        if start or end:
            raise RunPlanError("--from/--to apply to the day-stamped raw tables; none are selected")
        return ordered, {}
    if len(partitions) > 1:
        raise RunPlanError("the selection mixes assets with different partitions; split it")
    first = max(start or GENESIS, GENESIS)
    last = min(end or yesterday(), yesterday())
    if first > last:
        raise RunPlanError(f"--from {first} is after --to {last} (the last complete day)")
    return ordered, run_tags(first, last)


def execute(
    *,
    selection: str | None = None,
    start: date | None = None,
    end: date | None = None,
    progress: Callable[..., Callable[[], None]] | None = None,
) -> RunOutcome:
    """Run the selected assets in one in-process run recorded in ``$DAGSTER_HOME``."""
    from dagster._core.utils import make_new_run_id

    from pipelines.definitions import defs

    keys, tags = plan(defs, selection, start, end)
    instance = dg.DagsterInstance.get()
    run_id = make_new_run_id()
    stop = threading.Event()
    poller = None
    if progress is not None:
        poller = threading.Thread(target=progress(instance, run_id, stop), daemon=True)
        poller.start()
    try:
        job = defs.resolve_implicit_job_def_def_for_assets(keys)
        result = job.execute_in_process(
            instance=instance,
            asset_selection=keys,
            run_id=run_id,
            # The CLI shows its own progress; Dagster's console logger only reports warnings.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={"observatory/launched_by": "cli", **tags},
            raise_on_error=False,
        )
    finally:
        stop.set()
        if poller is not None:
            poller.join()
    return outcome_of(result, keys)


def outcome_of(result: dg.ExecuteInProcessResult, keys: list[dg.AssetKey]) -> RunOutcome:
    materialized = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    failed_steps = [
        (e.step_key, e.step_failure_data.error.message.strip().splitlines()[-1])
        for e in result.get_step_failure_events()
        if e.step_failure_data.error is not None
    ]
    failed_checks = [
        (
            f"{ev.asset_key.to_user_string()}:{ev.check_name}",
            str(ev.metadata.get("summary").value if "summary" in ev.metadata else "failed"),
        )
        for ev in result.get_asset_check_evaluations()
        if not ev.passed
    ]
    done = set(materialized)
    not_run = [k.to_user_string() for k in keys if k.to_user_string() not in done]
    return RunOutcome(
        run_id=result.run_id,
        success=result.success and not failed_checks,
        materialized=materialized,
        failed_steps=failed_steps,
        failed_checks=failed_checks,
        not_run=not_run,
    )
