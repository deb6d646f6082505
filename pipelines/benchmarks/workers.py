"""The shared-data pipeline on Celery with one worker and with two, in one go.

``uv run --frozen python -m pipelines.benchmarks.workers [--chunk-months 48] [--workdir DIR]
[--keep]``

Starts, on 127.0.0.1 (``pipelines.devservers``), an S3 server for the lake, PostgreSQL for the
Dagster instance and Redis as the broker, then times ``observatory run --config
configs/shared-data.toml`` from empty (a fresh lake prefix and database each) with the executor
set to ``celery``: once with one ``observatory worker`` serving both
queues, once with two (the second on the compute queue only, each with a data home of its own).
Prints both wall times, their ratio, and how many steps each worker ran; writes
``<workdir>/results.json``. Skips, saying so, when ``../shared/data`` is absent.

Every process here shares the machine's cores: with two cores a second worker can only overlap
one step's waiting (reads, uploads, a single-threaded stretch) with another's computing, so the
ratio is a floor of what two machines give. On real workers each has its own cores and memory,
and steps that do not depend on each other (the feeds' raw tables, the chunks of a long range,
the domains' aggregations) run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.benchmarks.cli_runs import run_observatory
from pipelines.benchmarks.shared_data_runs import CONFIG, SHARED_DATA
from pipelines.config import LAKE_ENV_VAR, Execution
from pipelines.devservers import (
    BUCKET,
    start_pg_server,
    start_redis_server,
    start_s3_server,
    start_worker,
)


def timed_run(workdir: Path, workers: int, servers: dict[str, Any], chunk_months: int) -> dict:
    """``observatory run`` with ``workers`` workers, from an empty lake prefix and database."""
    folder = workdir / f"workers-{workers}"
    folder.mkdir()
    instance = servers["pg"].env(servers["pg"].create_database())
    os.environ.update(instance)  # this process reads the runs back from the instance
    env = {
        **os.environ,
        **servers["s3"].env(),
        "CELERY_BROKER_URL": servers["redis"].url(0),
        "CELERY_RESULT_BACKEND": servers["redis"].url(1),
        LAKE_ENV_VAR: f"s3://{BUCKET}/{uuid.uuid4().hex}",
        "GX_ANALYTICS_ENABLED": "False",
    }
    config = folder / "observatory.toml"  # the shared-data config, its paths made absolute
    absolute = CONFIG.read_text().replace('= "../', f'= "{CONFIG.parent}/../')
    config.write_text(
        absolute
        + '\n[dagster]\nstorage = "postgres"\n'
        + f'\n[execution]\nexecutor = "celery"\nchunk_months = {chunk_months}\n'
    )
    queues = [["dagster", "warehouse"], ["dagster"]][:workers]
    processes = [
        start_worker(f"w{i + 1}", q, config, folder / f"home-w{i + 1}", env)
        for i, q in enumerate(queues)
    ]
    try:
        figures = run_observatory(
            ["run", "--config", str(config)], data_home=folder / "home-cli", env=env
        )
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    steps = {
        f"w{i + 1}": (folder / f"worker-w{i + 1}.log").read_text().count("succeeded in")
        for i in range(workers)
    }
    return {"workers": workers, "seconds": figures["seconds"], "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunk-months", type=int, default=Execution.chunk_months)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not SHARED_DATA.is_dir():
        print(f"skipped: {SHARED_DATA} is absent")
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="observatory-workers-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pg_folder = Path(tempfile.mkdtemp(prefix="observatory-pg-"))  # the postgres user enters it
    pg_folder.chmod(0o755)
    for name in ("s3", "redis"):
        (workdir / name).mkdir(exist_ok=True)
    servers = {
        "s3": start_s3_server(workdir / "s3"),
        "pg": start_pg_server(pg_folder),
        "redis": start_redis_server(workdir / "redis"),
    }
    try:
        print(f"workdir {workdir}; {os.cpu_count()} CPUs; chunks of {args.chunk_months} months")
        results = [timed_run(workdir, n, servers, args.chunk_months) for n in (1, 2)]
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(pg_folder, ignore_errors=True)
    one, two = (r["seconds"] for r in results)
    print(f"\n{'workers':>8} {'wall s':>8}  steps per worker")
    for r in results:
        print(f"{r['workers']:>8} {r['seconds']:>8.1f}  {r['steps']}")
    print(f"1 worker / 2 workers: {one / two:.2f}x")
    summary = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "chunk_months": args.chunk_months,
        "runs": results,
        "speedup": one / two,
    }
    (workdir / "results.json").write_text(json.dumps(summary, indent=1))
    if not args.keep:
        for entry in workdir.iterdir():
            if entry.name != "results.json":
                shutil.rmtree(entry, ignore_errors=True)
    print(f"results: {workdir / 'results.json'}")


if __name__ == "__main__":
    main()
