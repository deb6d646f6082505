"""Plan and execute the Dagster runs of ``observatory run``, in the persistent instance."""

from __future__ import annotations

import functools
import multiprocessing
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dagster._core.execution.execution_result import ExecutionResult

from pipelines.config import PROJECT_ROOT, ObservatoryConfig
from pipelines.execution import configured_execution
from pipelines.freshness import Planner, Rebuild, is_ingest
from pipelines.lake import months
from pipelines.lease import lake_lease
from pipelines.partitions import FROM_DAY, GENESIS, TO_DAY, run_tags, yesterday
from pipelines.serving import KEY as SERVING_KEY

PHASE = "observatory/phase"  # "ingest" (raw tables) or "build" (everything downstream)


class RunPlanError(ValueError):
    """The requested selection or date range cannot be run."""


@dataclass
class RunOutcome:
    """What an ``observatory run`` did: its Dagster runs (none when nothing changed), what they
    materialized, what failed, and what was rebuilt why."""

    run_ids: list[str] = field(default_factory=list)
    success: bool = True
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[tuple[str, str]] = field(default_factory=list)
    failed_checks: list[tuple[str, str]] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    rebuilt: list[Rebuild] = field(default_factory=list)
    unchanged: int = 0

    def add(self, result: ExecutionResult | RecordedRun, keys: list[str]) -> set[str]:
        """Fold in one run of ``keys``; returns the keys not to trust: not materialized, or
        materialized with a failed check."""
        self.run_ids.append(result.run_id)
        materialized = [
            e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
        ]
        self.materialized += materialized
        self.failed_steps += [
            (e.step_key, e.step_failure_data.error.message.strip().splitlines()[-1])
            for e in result.get_step_failure_events()
            if e.step_failure_data.error is not None
        ]
        checks = [ev for ev in result.get_asset_check_evaluations() if not ev.passed]
        self.failed_checks += [
            (
                f"{ev.asset_key.to_user_string()}:{ev.check_name}",
                str(ev.metadata.get("summary").value if "summary" in ev.metadata else "failed"),
            )
            for ev in checks
        ]
        done = set(materialized)
        self.not_run += [k for k in keys if k not in done]
        self.success = self.success and result.success and not checks
        return {k for k in keys if k not in done} | {ev.asset_key.to_user_string() for ev in checks}

    def summary(self) -> str:
        if not self.run_ids:
            return f"up to date: none of the {self.unchanged} selected assets changed inputs"
        lines = [
            f"run {', '.join(self.run_ids)}: {'succeeded' if self.success else 'FAILED'} — "
            f"{len(self.materialized)} materializations; "
            f"{len(self.rebuilt)} assets out of date, {self.unchanged} unchanged"
        ]
        reasons: dict[str, list[str]] = {}
        for rebuild in self.rebuilt:
            reasons.setdefault(rebuild.reason, []).append(rebuild.key)
        for reason, keys in reasons.items():
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            lines.append(f"  {reason}: {', '.join(keys[:3])}{more}")
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
    force: bool = False,
    progress: Callable[..., Callable[[], None]] | None = None,
) -> RunOutcome:
    """Rebuild what is out of date among the selected assets (everything with ``force``): an
    ingest run for the raw tables (with distributed execution, one per chunk of a long range),
    then a build run for what their changes reach, each recorded in ``$DAGSTER_HOME``'s
    instance and executed by the configured executor; no run at all when nothing changed."""
    from pipelines.config import load_config
    from pipelines.definitions import defs

    keys, tags = plan(defs, selection, start, end)
    config = load_config()
    with lake_lease(config, waiting=_tell_waiting):
        return _execute(defs, config, keys, tags, force, progress)


def _tell_waiting(holder: str) -> None:
    print(f"waiting: the lake is being written by {holder}", file=sys.stderr, flush=True)


def _execute(
    defs: dg.Definitions,
    config: ObservatoryConfig,
    keys: list[dg.AssetKey],
    tags: dict[str, str],
    force: bool,
    progress: Callable[..., Callable[[], None]] | None,
) -> RunOutcome:
    """``execute`` once the lake's lease is held."""
    graph = defs.resolve_asset_graph()
    planner = Planner(
        config=config,
        parents={
            k.to_user_string(): [p.to_user_string() for p in graph.get(k).parent_keys]
            for k in graph.get_all_asset_keys()
        },
        partitioned={k.to_user_string() for k in keys if graph.get(k).partitions_def},
        force=force,
    )
    instance = functools.cache(dg.DagsterInstance.get)  # only opened when something runs
    wanted = [k.to_user_string() for k in keys]
    days = (date.fromisoformat(tags[FROM_DAY]), date.fromisoformat(tags[TO_DAY])) if tags else None
    outcome = RunOutcome()

    ingest, span = planner.ingest([k for k in wanted if is_ingest(k)], days)
    outcome.rebuilt += ingest
    failed: set[str] = set()
    if ingest:
        chunk_months = config.execution.chunk_months if config.execution.distributed else None
        runs = [
            (run_keys, {PHASE: "ingest", **days_tags})
            for run_keys, days_tags in ingest_runs(
                [r.key for r in ingest], planner.partitioned, span, chunk_months
            )
        ]
        results = _run_all(defs, instance(), runs, progress)
        for (run_keys, _), result in zip(runs, results, strict=True):
            failed |= outcome.add(result, run_keys)
        planner.record([r.key for r in ingest if r.key not in failed], span, failed)

    build, blocked = planner.build([k for k in wanted if not is_ingest(k)], failed)
    outcome.rebuilt += build
    outcome.not_run += blocked
    if build:
        # a multi-asset whose outputs cannot be built apart brings its siblings along
        chosen = dg.AssetSelection.assets(*(dg.AssetKey.from_user_string(r.key) for r in build))
        neighbours = chosen.required_multi_asset_neighbors().resolve(graph)
        needed = {k.to_user_string() for k in neighbours}
        order = [k for k in wanted if k in needed]
        result = _run(defs, instance(), order, {PHASE: "build"}, progress)
        built_failed = outcome.add(result, order)
        planner.record([k for k in order if k not in built_failed], None, built_failed)
    ran = {r.key for r in ingest} | (set(order) if build else set())
    outcome.unchanged = len([k for k in wanted if k not in ran and k not in blocked])
    return outcome


def ingest_runs(
    keys: list[str], partitioned: set[str], span: tuple[date, date] | None, chunk_months: int | None
) -> list[tuple[list[str], dict[str, str]]]:
    """The ingest runs of ``keys`` and their tags: one run over ``span``, or, with
    ``chunk_months`` (distributed execution), one run per ``chunk_months`` whole months of it, so
    that the workers share a long range; the unpartitioned keys ride with the first. Chunks never
    share a month: each month's file is rewritten by one run."""
    if span is None or not chunk_months or not partitioned.intersection(keys):
        return [(keys, run_tags(*span) if span else {})]
    starts = months(*span)[::chunk_months]
    firsts = [max(span[0], date.fromisoformat(f"{m}-01")) for m in starts]
    lasts = [next_first - timedelta(days=1) for next_first in firsts[1:]] + [span[1]]
    dated = [k for k in keys if k in partitioned]
    return [
        (keys if index == 0 else dated, run_tags(first, last))
        for index, (first, last) in enumerate(zip(firsts, lasts, strict=True))
    ]


@dataclass
class RecordedRun:
    """A run's outcome as its instance recorded it (for a run another process executed)."""

    run_id: str
    success: bool
    events: list[dg.DagsterEvent]

    @classmethod
    def read(cls, instance: dg.DagsterInstance, run_id: str) -> RecordedRun:
        run = instance.get_run_by_id(run_id)
        events = [r.dagster_event for r in instance.all_logs(run_id) if r.dagster_event]
        success = run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        return cls(run_id, success, events)

    def _of_type(self, kind: dg.DagsterEventType) -> list[dg.DagsterEvent]:
        return [e for e in self.events if e.event_type == kind]

    def get_asset_materialization_events(self) -> list[dg.DagsterEvent]:
        return self._of_type(dg.DagsterEventType.ASSET_MATERIALIZATION)

    def get_step_failure_events(self) -> list[dg.DagsterEvent]:
        return self._of_type(dg.DagsterEventType.STEP_FAILURE)

    def get_asset_check_evaluations(self) -> list[Any]:
        evaluations = self._of_type(dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        return [e.asset_check_evaluation_data for e in evaluations]


def _run_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    runs: list[tuple[list[str], dict[str, str]]],
    progress: Callable[..., Callable[[], None]] | None,
) -> list[ExecutionResult | RecordedRun]:
    """The runs (keys, tags), at once. Several runs go to processes of their own: Dagster
    configures logging as each run starts, which deadlocks runs sharing a process."""
    if len(runs) == 1:
        return [_run(defs, instance, *runs[0], progress)]
    from dagster._core.utils import make_new_run_id

    run_ids = [make_new_run_id() for _ in runs]
    stop = threading.Event()
    pollers = [
        threading.Thread(target=progress(instance, run_id, stop), daemon=True)
        for run_id in (run_ids if progress is not None else [])
    ]
    for poller in pollers:
        poller.start()
    try:
        with ProcessPoolExecutor(
            len(runs), mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            list(pool.map(_run_recorded, *zip(*runs, strict=True), run_ids))
    finally:
        stop.set()
        for poller in pollers:
            poller.join()
    return [RecordedRun.read(instance, run_id) for run_id in run_ids]


def _run_recorded(keys: list[str], tags: dict[str, str], run_id: str) -> None:
    """``_run`` in a process of its own, recorded in the instance of ``$DAGSTER_HOME``."""
    from pipelines.definitions import defs

    with dg.DagsterInstance.get() as instance:
        _run(defs, instance, keys, tags, None, run_id)


def _run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: list[str],
    tags: dict[str, str],
    progress: Callable[..., Callable[[], None]] | None,
    run_id: str | None = None,
) -> ExecutionResult:
    """One Dagster run of ``keys`` (and their checks): in this process with the in-process
    executor, else through the definitions' executor (processes, Celery workers or pods), which
    load the code from ``pipelines.definitions``."""
    from dagster._core.utils import make_new_run_id

    asset_keys = [dg.AssetKey.from_user_string(k) for k in keys]
    run_id = run_id or make_new_run_id()
    stop = threading.Event()
    poller = None
    if progress is not None:
        poller = threading.Thread(target=progress(instance, run_id, stop), daemon=True)
        poller.start()
    # The CLI shows its own progress; Dagster's console logger only reports warnings.
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    tags = {"observatory/launched_by": "cli", **tags}
    try:
        job = defs.resolve_implicit_job_def_def_for_assets(asset_keys)
        if configured_execution().executor == "in_process":
            return job.execute_in_process(
                instance=instance,
                asset_selection=asset_keys,
                run_id=run_id,
                run_config=run_config,
                tags=tags,
                raise_on_error=False,
            )
        from dagster._core.definitions.reconstruct import ReconstructableRepository
        from dagster._core.execution.api import execute_run

        recon = (
            ReconstructableRepository.for_module(
                "pipelines.definitions", "defs", working_directory=str(PROJECT_ROOT)
            )
            .get_reconstructable_job(job.name)
            .get_subset(asset_selection=set(asset_keys))
        )
        dagster_run = instance.create_run_for_job(
            job_def=recon.get_definition(),
            run_id=run_id,
            run_config=run_config,
            tags=tags,
            job_code_origin=recon.get_python_origin(),
            asset_selection=frozenset(asset_keys),
        )
        return execute_run(recon, dagster_run, instance, raise_on_error=False)
    finally:
        stop.set()
        if poller is not None:
            poller.join()
