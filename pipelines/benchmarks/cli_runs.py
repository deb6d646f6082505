"""``observatory run`` timed as a user runs it: wall time, peak RSS and where the time goes.

Each run is a fresh ``python -m pipelines.cli run ...`` process (what the ``observatory`` script
and ``make run`` start); its progress lines are echoed as they come. Afterwards the Dagster event
log of the run(s) it recorded in the data home's instance splits its wall time into: start-up
(interpreter, imports, definitions, planning: until the run's first event), the events recorded
before the run starts (one ``ASSET_MATERIALIZATION_PLANNED`` per asset partition), each step,
the time inside the run but outside any step, and the exit after the run's last event.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.config import PROJECT_ROOT

RUN_EVENTS = (
    "ASSET_MATERIALIZATION_PLANNED",
    "ASSET_CHECK_EVALUATION_PLANNED",
    "RUN_START",
    "RUN_SUCCESS",
    "RUN_FAILURE",
    "STEP_START",
    "STEP_SUCCESS",
    "STEP_FAILURE",
    "STEP_SKIPPED",
    "ASSET_MATERIALIZATION",
)
STEP_ENDS = ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")
TAIL_LINES = 30  # of a failed run's output, shown with the error


@dataclass(frozen=True)
class Event:
    """One event of a run's log: when, its ``DagsterEventType`` name, its step (if any)."""

    timestamp: float
    kind: str
    step: str | None


def dagster_home(data_home: Path) -> Path:
    """The instance ``observatory run`` records into (``cli.prepare_environment``)."""
    return data_home / "dagster"


def run_observatory(
    args: list[str], *, data_home: Path, env: dict[str, str] | None = None, echo: str = "    | "
) -> dict[str, Any]:
    """Run ``observatory <args>`` in a fresh process against ``data_home``; its figures.

    Raises when the command fails or a run it recorded did not succeed.
    """
    command = [sys.executable, "-m", "pipelines.cli", *args]
    child_env = {**os.environ, **(env or {}), "OBSERVATORY_DATA_HOME": str(data_home)}
    child_env.setdefault("GX_ANALYTICS_ENABLED", "False")  # as `make run` sets it
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    load = os.getloadavg()[0]  # the machine may be shared: note how busy it was
    launched = time.time()
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        tail.append(line)
        print(f"{echo}{line}", end="", flush=True)
    _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage: its peak RSS
    exited = time.time()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit code {process.returncode}; its last lines:\n"
            + "".join(tail)
        )
    runs, events = recorded_runs(dagster_home(data_home), since=launched)
    failed = {run_id: run_status for run_id, run_status in runs.items() if run_status != "SUCCESS"}
    if failed:  # no run at all is fine: nothing was out of date
        raise RuntimeError(f"{' '.join(command)}: runs recorded {runs}")
    return {
        "args": args,
        "seconds": exited - launched,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "load_before": load,
        "run_ids": list(runs),
        **breakdown(events, launched, exited),
    }


def recorded_runs(home: Path, since: float) -> tuple[dict[str, str], list[Event]]:
    """Runs created in the instance at ``home`` since ``since`` (epoch s): status and events."""
    import dagster as dg

    wanted = {dg.DagsterEventType[name] for name in RUN_EVENTS}
    created_after = datetime.fromtimestamp(since - 1, UTC)
    runs: dict[str, str] = {}
    events: list[Event] = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs(filters=dg.RunsFilter(created_after=created_after)):
            runs[run.run_id] = run.status.name
            events += [
                Event(entry.timestamp, entry.dagster_event.event_type.name, entry.step_key)
                for entry in instance.all_logs(run.run_id, of_type=wanted)
                if entry.dagster_event is not None
            ]
    return runs, sorted(events, key=lambda e: e.timestamp)


def breakdown(events: list[Event], launched: float, exited: float) -> dict[str, Any]:
    """Where a process's wall time went, from its runs' events (sorted by time).

    ``phases`` sum to the wall time (exited − launched); ``steps`` holds each step's duration,
    its materializations and the time from its first materialization to its end (recording
    per-partition events after the work is done).
    """
    if not events:
        return {"phases": {"startup": exited - launched}, "steps": {}}
    starts = [e.timestamp for e in events if e.kind == "RUN_START"]
    ends = [e.timestamp for e in events if e.kind in ("RUN_SUCCESS", "RUN_FAILURE")]
    first, run_start = events[0].timestamp, min(starts, default=events[0].timestamp)
    run_end = max(ends, default=events[-1].timestamp)
    steps: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.step is None:
            continue
        step = steps.setdefault(event.step, {"start": None, "end": None, "materializations": []})
        if event.kind == "STEP_START":
            step["start"] = event.timestamp
        elif event.kind in STEP_ENDS:
            step["end"] = event.timestamp
        elif event.kind == "ASSET_MATERIALIZATION":
            step["materializations"].append(event.timestamp)
    timed = {}
    for key, step in steps.items():
        if step["start"] is None or step["end"] is None:
            continue
        materialized = step["materializations"]
        timed[key] = {
            "seconds": step["end"] - step["start"],
            "materializations": len(materialized),
            "after_first_materialization": step["end"] - materialized[0] if materialized else 0.0,
            "start": step["start"],
        }
    in_steps = _union_length([(s["start"], s["start"] + s["seconds"]) for s in timed.values()])
    planned = sum(e.kind.endswith("_PLANNED") for e in events)
    return {
        "phases": {
            "startup": first - launched,
            "before_run_start": run_start - first,
            "in_steps": in_steps,
            "outside_steps": run_end - run_start - in_steps,
            "exit": exited - run_end,
        },
        "planned_events": planned,
        "steps": {
            key: {k: v for k, v in step.items() if k != "start"}
            for key, step in sorted(timed.items(), key=lambda item: item[1]["start"])
        },
    }


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by the intervals (steps of a multi-process run may overlap)."""
    total, reached = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reached:
            total += end - max(start, reached)
            reached = end
    return total


PHASE_TITLES = {
    "startup": "start-up: interpreter, imports, definitions, plan",
    "before_run_start": "events recorded before the run starts",
    "in_steps": "in steps",
    "outside_steps": "in the runs outside steps, and between them",
    "exit": "after the last run's last event (or the whole process: no run)",
}


def slowest_steps(run: dict[str, Any], count: int = 5) -> list[tuple[str, dict[str, Any]]]:
    """The ``count`` longest steps of a run, longest first."""
    return sorted(run["steps"].items(), key=lambda item: -item[1]["seconds"])[:count]


def describe_run(name: str, run: dict[str, Any], steps: int = 5) -> list[str]:
    """Lines telling where a run's wall time went: phases, then its slowest steps."""
    lines = [f"{name}: {run['seconds']:.1f} s wall, peak {run['peak_rss_mb']:,.0f} MB"]
    for phase, seconds in run["phases"].items():
        note = ""
        if phase == "before_run_start":
            note = f" ({run['planned_events']:,} planned events)"
        elif phase == "in_steps":
            note = f" ({len(run['steps']):,} steps)"
        lines.append(f"  {seconds:7.1f} s  {PHASE_TITLES[phase]}{note}")
    for key, step in slowest_steps(run, steps):
        note = ""
        if step["materializations"] > 1:
            note = (
                f" ({step['materializations']:,} materializations; "
                f"{step['after_first_materialization']:.1f} s from the first to the step's end)"
            )
        lines.append(f"  {step['seconds']:7.1f} s  step {key}{note}")
    return lines
