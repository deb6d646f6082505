"""Distributed execution with Celery: two ``observatory worker`` processes share a run's steps.

A real cluster on 127.0.0.1: the lake on the S3 server, the Dagster instance on PostgreSQL, Redis
as the broker. Each worker and the launching CLI have a data home of their own, as machines
would: worker ``a`` serves both queues (it alone holds the build database), worker ``b`` only
the compute queue. The selection is the sample config: pools, one block feed over nine months
(three concurrent ingest runs of three months), the node export, market, AI, every mart and the
report. The result must equal a single-process run with a local lake.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.devservers import start_worker
from pipelines.object_lake import ObjectLake
from pipelines.partitions import FROM_DAY, TO_DAY
from pipelines.published import Publication
from pipelines.runner import PHASE
from pipelines.warehouse import content_digests
from tests.conftest import SAMPLE_SOURCES, run_cli, write_config
from tests.s3server import BUCKET

DAYS = ("--from", "2023-11-01", "--to", "2024-07-31")
WAREHOUSE_STEPS = {"serving__observatory_duckdb", "report__decentralization_report"}
VISIBILITY_SECONDS = 8  # a lost worker's step is redelivered after this (the test's setting)
REDIS_DATABASES = itertools.count(0, 2)  # Redis has 16 numbered databases


@dataclass
class Cluster:
    env: dict[str, str]
    config: Path
    folder: Path

    def worker(self, name: str, *queues: str) -> subprocess.Popen:
        """Start ``observatory worker`` with a data home of its own (as a machine would)."""
        home = self.folder / f"home-{name}"
        return start_worker(name, list(queues), self.config, home, self.env)

    def run(self, *args: str, home: str = "cli") -> subprocess.CompletedProcess:
        data_home = {"OBSERVATORY_DATA_HOME": str(self.folder / f"home-{home}")}
        return run_cli(*args, "--config", str(self.config), env={**self.env, **data_home})

    def instance(self, home: str = "cli") -> dg.DagsterInstance:
        """The shared instance (PostgreSQL), as the CLI's data home configures it."""
        os.environ.update(self.env)
        return dg.DagsterInstance.from_config(str(self.folder / f"home-{home}" / "dagster"))

    def published(self) -> Publication:
        os.environ.update(self.env)
        return Publication(ObjectLake.open(self.lake))

    @property
    def lake(self) -> str:
        return f"s3://{BUCKET}/{self.folder.name}"


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=60)


def make_cluster(folder: Path, s3_server, pg_server, redis_server) -> Cluster:
    """A cluster of its own: a lake prefix, a PostgreSQL database and two Redis databases (the
    broker's queues are per database: workers of another cluster must not take its steps)."""
    database = pg_server.create_database()
    broker = next(REDIS_DATABASES)
    env = {
        **s3_server.env(),
        **pg_server.env(database),
        "CELERY_BROKER_URL": redis_server.url(broker),
        "CELERY_RESULT_BACKEND": redis_server.url(broker + 1),
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_SECONDS),
    }
    config = write_config(
        folder,
        SAMPLE_SOURCES,
        storage={"lake": f"s3://{BUCKET}/{folder.name}"},
        dagster={"storage": "postgres"},
        execution={"executor": "celery", "chunk_months": 3},
    )
    return Cluster(env, config, folder)


def latest_digests(cluster: Cluster, tmp_path: Path) -> dict[str, tuple[int, str]]:
    """The warehouse LATEST names, pulled by a reader with an empty data home."""
    pulled = cluster.run("pull", home=f"reader-{uuid.uuid4().hex[:6]}")
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    (serving,) = (cluster.folder).glob("home-reader-*/published/*.duckdb")
    digest = content_digests(serving)
    serving.unlink()
    return digest


def steps_by_worker(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, set[str]]:
    """Which worker executed which steps: the engine event each Celery task records first."""
    done: dict[str, set[str]] = {}
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            metadata = record.dagster_event.engine_event_data.metadata
            if "Celery worker" in metadata:
                worker = metadata["Celery worker"].value.split("@")[0]
                done.setdefault(worker, set()).add(metadata["step_keys"].value)
    return done


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """The same selection in one process, with a local lake and SQLite: the default."""
    folder = tmp_path_factory.mktemp("single")
    config = write_config(folder, SAMPLE_SOURCES)
    result = run_cli("run", "--config", str(config), *DAYS)
    assert result.returncode == 0, result.stderr[-3000:]
    return content_digests(folder / "warehouse" / "observatory.duckdb")


@pytest.fixture(scope="module")
def distributed(
    tmp_path_factory: pytest.TempPathFactory, s3_server, pg_server, redis_server
) -> Iterator[tuple[Cluster, subprocess.CompletedProcess]]:
    cluster = make_cluster(tmp_path_factory.mktemp("celery"), s3_server, pg_server, redis_server)
    workers = [cluster.worker("a", "dagster", "warehouse"), cluster.worker("b", "dagster")]
    try:
        yield cluster, cluster.run("run", *DAYS)
    finally:
        for worker in workers:
            stop(worker)


def test_the_run_succeeds_in_concurrent_ingest_runs_and_one_build_run(distributed) -> None:
    cluster, result = distributed
    assert result.returncode == 0, result.stderr[-3000:]
    with cluster.instance() as instance:
        runs = instance.get_runs()
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        phases = sorted(r.tags[PHASE] for r in runs)
        ranges = sorted(
            (r.tags[FROM_DAY], r.tags[TO_DAY]) for r in runs if r.tags[PHASE] == "ingest"
        )
    assert phases == ["build", "ingest", "ingest", "ingest"]
    assert ranges == [
        ("2023-11-01", "2024-01-31"),
        ("2024-02-01", "2024-04-30"),
        ("2024-05-01", "2024-07-31"),
    ]


def test_both_workers_ran_steps_and_only_one_built_the_warehouse(distributed) -> None:
    cluster, result = distributed
    assert result.returncode == 0, result.stderr[-3000:]
    with cluster.instance() as instance:
        done = steps_by_worker(instance, [r.run_id for r in instance.get_runs()])
    assert set(done) == {"a", "b"} and all(done.values()), done
    assert done["a"] >= WAREHOUSE_STEPS
    assert not {s for s in done["b"] if s.startswith("sql_models_stage_")} | (
        WAREHOUSE_STEPS & done["b"]
    )
    # the compute-only worker never opened a build database: it has no warehouse at all
    assert not (cluster.folder / "home-b" / "build").exists()
    assert (cluster.folder / "home-a" / "build" / "observatory.duckdb").exists()


def test_every_table_equals_the_single_process_result(distributed, reference, tmp_path) -> None:
    cluster, result = distributed
    assert result.returncode == 0, result.stderr[-3000:]
    published = latest_digests(cluster, tmp_path)
    assert published.keys() == reference.keys()
    assert {name: d for name, d in published.items() if reference[name] != d} == {}
    assert published["main.blocks"][0] > 0 and published["main.node_dispersion"][0] > 0


def test_the_serving_warehouse_is_published_once(distributed) -> None:
    cluster, result = distributed
    assert result.returncode == 0, result.stderr[-3000:]
    versions = cluster.published().versions()
    assert len(versions) == 1


@pytest.mark.slow
def test_a_worker_killed_mid_step_leaves_its_step_to_the_other(
    tmp_path_factory: pytest.TempPathFactory,
    s3_server,
    pg_server,
    redis_server,
    reference,
    tmp_path,
) -> None:
    """Worker ``a`` is killed (with its pool, as a machine going down) while it runs its first
    step. The step's task was not acknowledged, so the broker hands it to ``b`` once the
    visibility timeout has passed; the run completes, with every table whole and one publish."""
    cluster = make_cluster(tmp_path_factory.mktemp("killed"), s3_server, pg_server, redis_server)
    victim = cluster.worker("a", "dagster")
    survivor = cluster.worker("b", "dagster", "warehouse")
    log = cluster.folder / "worker-a.log"
    data_home = {"OBSERVATORY_DATA_HOME": str(cluster.folder / "home-cli")}
    run = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--config", str(cluster.config), *DAYS],
        cwd=PROJECT_ROOT,
        env={**os.environ, **cluster.env, **data_home, "GX_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while b"Task execute_plan[" not in log.read_bytes():  # received: its step has begun
            assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        stop(victim, signal.SIGKILL)
        output, _ = run.communicate(timeout=300)
    finally:
        stop(survivor)
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output[-3000:]
    assert b"succeeded in" not in log.read_bytes()  # a finished nothing
    with cluster.instance() as instance:
        runs = instance.get_runs()
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        done = steps_by_worker(instance, [r.run_id for r in runs])
    assert done["b"] >= WAREHOUSE_STEPS | {"raw__blocks"}, done
    published = latest_digests(cluster, tmp_path)  # its checksum is verified by the pull
    assert {name: d for name, d in published.items() if reference.get(name) != d} == {}
    assert published.keys() == reference.keys()
    assert len(cluster.published().versions()) == 1
    again = cluster.run("run", *DAYS)
    assert again.returncode == 0 and "up to date" in again.stderr, again.stderr[-3000:]
