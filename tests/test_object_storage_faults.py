"""Faults with the lake on object storage: a run killed at random moments, and the S3 server
stopped in the middle of a run. Readers never see a torn table or a half-published warehouse,
and a rerun completes."""

import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from pipelines.object_lake import ObjectLake
from pipelines.published import NotPublished, Publication, _sha256
from tests.conftest import PROJECT_ROOT, SAMPLE_SOURCES, run_cli, write_config
from tests.s3server import BUCKET, start_s3_server

pytestmark = pytest.mark.slow
DAYS = ("--from", "2023-12-30", "--to", "2024-01-05")


def launch(config: Path, env: dict[str, str]) -> subprocess.Popen:
    """``observatory run --force`` in its own process (everything rebuilt: there is always work
    to interrupt)."""
    command = ["run", "--config", str(config), "--force", *DAYS]
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *command],
        cwd=PROJECT_ROOT,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_consistent(lake: ObjectLake, tmp: Path) -> None:
    """Every table reads whole (a manifest names only parts that exist) and LATEST, if any,
    names a complete version whose bytes match its checksum."""
    for layer in ("raw", "intermediate"):
        base = lake.location.key(layer)
        tables = {i.path[len(base) + 1 :].split("/", 1)[0] for i in lake._objects(base)}
        for table in sorted(tables):
            if lake.files(layer, table):
                lake.read(layer, table)
    publication = Publication(lake)
    try:
        latest = publication.latest()
    except NotPublished:
        return
    copy = publication.pull(tmp / f"pulled-{uuid.uuid4().hex}")
    assert _sha256(copy) == latest.sha256


def test_a_run_killed_at_random_moments_leaves_nothing_torn(
    s3_url: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    url, env = s3_url, s3_env
    config = write_config(tmp_path, SAMPLE_SOURCES, storage={"lake": url})
    lake = ObjectLake.open(url)
    first = run_cli("run", "--config", str(config), *DAYS, env=env)  # a published warehouse
    assert first.returncode == 0, first.stderr[-3000:]
    chance = random.Random(13)
    for _ in range(4):
        process = launch(config, env)
        time.sleep(chance.uniform(3.0, 14.0))
        process.kill()
        process.communicate()
        assert_consistent(lake, tmp_path)
    final = run_cli("run", "--config", str(config), *DAYS, env=env)
    assert final.returncode == 0, final.stderr[-3000:]
    assert_consistent(lake, tmp_path)
    answer = run_cli("sql", "SELECT count(*) FROM blocks", "--config", str(config), env=env)
    assert answer.returncode == 0 and answer.stdout.split()[-1] != "0", answer.stderr


def test_the_s3_server_stopped_mid_run_fails_clearly_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="observatory-s3-"))
    server = start_s3_server(folder)
    try:
        url = f"s3://{BUCKET}/{uuid.uuid4().hex}"
        config = write_config(tmp_path, SAMPLE_SOURCES, storage={"lake": url})
        env = server.env()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        lake = ObjectLake.open(url)
        process = launch(config, env)
        deadline = time.monotonic() + 120
        while not lake.files("raw", "blocks"):  # the run is writing the lake
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        server.stop()
        _, stderr = process.communicate(timeout=300)
        assert process.returncode != 0
        assert server.endpoint in stderr
        assert env["AWS_SECRET_ACCESS_KEY"] not in stderr
        assert not (tmp_path / "warehouse" / "observatory.duckdb").exists()
        server = start_s3_server(folder, server.ports)  # back: nothing was published
        with pytest.raises(NotPublished):
            Publication(ObjectLake.open(url)).latest()
    finally:
        server.stop()
