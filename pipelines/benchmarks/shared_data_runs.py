"""``make run CONFIG=configs/shared-data.toml`` timed: from empty, again, and one nightly day.

``uv run --frozen python -m pipelines.benchmarks.shared_data_runs [--workdir DIR] [--keep]``

``observatory run --config configs/shared-data.toml`` processes (what ``make run`` starts),
against a fresh data home in the workdir (``$OBSERVATORY_DATA_HOME``; the config's own data home is
left alone): every asset from an empty data home; the same again with nothing new; then the
nightly run of one new day D, the last day of the shared blocks (the schedule's yesterday has no
shared data): the data home is emptied and filled up to D - 1 (``--to``, also timed), then
``--from D --to D`` reads D, new to it. For each: wall time, peak RSS, and where the time went
(start-up, steps, the runs outside their steps; the 5 slowest steps) from the runs' Dagster
event logs. Skips, saying so, when ``../shared/data`` is absent. Results go to
``<workdir>/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.benchmarks.cli_runs import describe_run, run_observatory
from pipelines.config import PROJECT_ROOT

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
CONFIG = PROJECT_ROOT / "configs" / "shared-data.toml"


def last_block_day(data_home: Path) -> str:
    """The last day with blocks in the serving database of ``data_home``."""
    from pipelines.warehouse import Warehouse

    con = Warehouse(data_home).reader()
    try:
        (day,) = con.sql("select max(date) from raw.blocks").fetchall()[0]
    finally:
        con.close()
    if day is None:
        raise RuntimeError(f"no blocks in {data_home}")
    return day.isoformat()


def summary_lines(runs: dict[str, dict[str, Any]]) -> list[str]:
    """One line per run (wall time, peak RSS), then where each run's time went."""
    lines = [f"{'run':<24} {'wall s':>8} {'peak MB':>8} {'load before':>12}", "-" * 55]
    for name, run in runs.items():
        seconds, peak, load = run["seconds"], run["peak_rss_mb"], run["load_before"]
        lines.append(f"{name:<24} {seconds:8.1f} {peak:8,.0f} {load:12.1f}")
    for name, run in runs.items():
        lines += ["", *describe_run(name, run)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data home")
    args = parser.parse_args(argv)
    if not SHARED_DATA.is_dir():
        print(
            f"skipped: the shared data is not at {SHARED_DATA}; this benchmark runs "
            f"{CONFIG.relative_to(PROJECT_ROOT)}, which reads it (put it there and run it again)"
        )
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shared-data-runs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    run = ["run", "--config", str(CONFIG)]
    print(f"workdir {workdir}; {os.cpu_count()} CPUs; data home {home}", flush=True)
    runs: dict[str, dict[str, Any]] = {}
    try:
        for name in ("from empty", "nothing new"):
            print(f"== {name}: observatory {' '.join(run)}", flush=True)
            runs[name] = run_observatory(run, data_home=home)
        # The nightly run reads one new day: a second data home holds every day before it.
        day = last_block_day(home)
        before = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
        shutil.rmtree(home, ignore_errors=True)
        setup = [*run, "--to", before]
        print(f"== from empty to {before}: observatory {' '.join(setup)}", flush=True)
        runs[f"from empty to {before}"] = run_observatory(setup, data_home=home)
        nightly = [*run, "--from", day, "--to", day]
        print(f"== nightly {day}: observatory {' '.join(nightly)}", flush=True)
        runs[f"nightly {day}"] = run_observatory(nightly, data_home=home)
        results = {
            "command": " ".join(
                ["python -m pipelines.benchmarks.shared_data_runs", *(argv or sys.argv[1:])]
            ),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "runs": runs,
        }
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print()
        print("\n".join(summary_lines(runs)))
        print(f"\nresults: {workdir / 'results.json'}")
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
            print(f"removed the data home from {workdir} (--keep keeps it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
