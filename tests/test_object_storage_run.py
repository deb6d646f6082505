"""``observatory run`` with the lake on the S3 server gives the warehouse a local lake gives."""

import json
import uuid
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.lake import Lake
from pipelines.object_lake import ObjectLake
from pipelines.warehouse import content_digests
from tests.conftest import SAMPLE_SOURCES, run_cli, write_config
from tests.s3server import BUCKET, S3Server

DAYS = ("--from", "2023-12-30", "--to", "2024-01-05")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> dict[str, Path]:
    homes = {}
    for kind in ("local", "s3"):
        folder = tmp_path_factory.mktemp(kind)
        top = {"storage": {"lake": f"s3://{BUCKET}/{uuid.uuid4().hex}"}} if kind == "s3" else {}
        config = write_config(folder, SAMPLE_SOURCES, **top)
        result = run_cli("run", "--config", str(config), *DAYS, env=s3_server.env())
        assert result.returncode == 0, result.stderr[-3000:]
        homes[kind] = config
    return homes


def test_the_same_warehouse_from_either_lake(both: dict[str, Path]) -> None:
    local, s3 = (content_digests(both[k].parent / "warehouse" / "observatory.duckdb") for k in both)
    assert local.keys() == s3.keys()
    assert {n: v for n, v in s3.items() if local[n] != v} == {}
    assert local["main.blocks"][0] > 0


def test_nothing_of_the_lake_is_on_local_disk(both: dict[str, Path], s3_env) -> None:
    home = both["s3"].parent / "warehouse"
    assert not (home / "lake" / "raw").exists()
    assert not (home / "lake" / "intermediate").exists()
    lake = ObjectLake.open(load_config(both["s3"]).lake_location)
    local = Lake(both["local"].parent / "warehouse" / "lake")
    assert lake.partitions("raw", "blocks") == local.partitions("raw", "blocks") == ["2024-01"]
    assert lake.read("raw", "blocks").equals(local.read("raw", "blocks"))


def test_a_second_run_with_nothing_new_runs_nothing(both: dict[str, Path], s3_server) -> None:
    again = run_cli("run", "--config", str(both["s3"]), *DAYS, env=s3_server.env())
    assert again.returncode == 0, again.stderr[-3000:]
    assert "up to date" in again.stderr


def test_a_reader_elsewhere_queries_the_published_warehouse(
    both: dict[str, Path], s3_server: S3Server, tmp_path: Path
) -> None:
    """A machine with an empty data home and only [storage] lake gets the same answers."""
    url = load_config(both["s3"]).lake_location
    reader = write_config(tmp_path, {}, storage={"lake": url})
    query = "SELECT count(*) AS n, sum(height) AS s FROM blocks"
    answers = [
        run_cli("sql", query, "--format", "json", "--config", str(config), env=s3_server.env())
        for config in (both["local"], reader)
    ]
    assert all(a.returncode == 0 for a in answers), answers[1].stderr
    assert answers[0].stdout == answers[1].stdout
    assert [p.suffix for p in (tmp_path / "warehouse" / "published").iterdir()] == [".duckdb"]
    tables = run_cli("tables", "--format", "json", "--config", str(reader), env=s3_server.env())
    assert tables.returncode == 0, tables.stderr
    assert {"blocks", "pool_shares"} <= {t["name"] for t in json.loads(tables.stdout)}
    listed = run_cli("rollback", "--config", str(reader), env=s3_server.env())
    assert listed.returncode == 0 and listed.stdout.count("LATEST") == 1, listed.stderr


def test_no_credentials_in_the_run_output(both: dict[str, Path], s3_server: S3Server) -> None:
    secret = s3_server.env()["AWS_SECRET_ACCESS_KEY"]
    again = run_cli("run", "--config", str(both["s3"]), "--force", *DAYS, env=s3_server.env())
    assert again.returncode == 0, again.stderr[-3000:]
    assert secret not in again.stdout + again.stderr
