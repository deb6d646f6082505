"""With ``[dagster] storage = "postgres"`` runs and their events live in PostgreSQL (a real
server, ``tests/pgserver.py``), where a process on another machine sees them."""

from pathlib import Path

import dagster as dg
import psycopg2

from pipelines.cli import dagster_yaml
from pipelines.config import load_config
from tests.conftest import SAMPLE_SOURCES, run_cli, write_config

SELECTION = 'key:"raw/pool_registry"'


def test_runs_are_recorded_in_postgres(tmp_path: Path, pg_env: dict[str, str]) -> None:
    config = write_config(tmp_path, SAMPLE_SOURCES, dagster={"storage": "postgres"})
    result = run_cli("run", "--config", str(config), "--select", SELECTION, env=pg_env)
    assert result.returncode == 0, result.stderr[-3000:]
    yaml = (tmp_path / "warehouse" / "dagster" / "dagster.yaml").read_text()
    assert "DAGSTER_PG_PASSWORD" in yaml and pg_env["DAGSTER_PG_PASSWORD"] not in yaml
    assert not (tmp_path / "warehouse" / "dagster" / "history").exists()  # no SQLite
    connection = {
        "host": pg_env["DAGSTER_PG_HOST"],
        "port": pg_env["DAGSTER_PG_PORT"],
        "user": pg_env["DAGSTER_PG_USERNAME"],
        "password": pg_env["DAGSTER_PG_PASSWORD"],
        "dbname": pg_env["DAGSTER_PG_DB"],
    }
    with psycopg2.connect(**connection) as con, con.cursor() as cursor:
        cursor.execute("SELECT status FROM runs")
        statuses = [status for (status,) in cursor.fetchall()]
    assert statuses and set(statuses) == {"SUCCESS"}
    # another machine: its own DAGSTER_HOME, the same database
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "dagster.yaml").write_text(yaml)
    with dg.DagsterInstance.from_config(str(elsewhere)) as instance:
        runs = instance.get_runs()
        assert len(runs) == len(statuses)
        assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
        assert instance.get_latest_materialization_event(dg.AssetKey(["raw", "pool_registry"]))


def test_missing_connection_settings_are_named(tmp_path: Path, monkeypatch) -> None:
    for name in ("DAGSTER_PG_URL", "DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    config = write_config(tmp_path, SAMPLE_SOURCES, dagster={"storage": "postgres"})
    result = run_cli("run", "--config", str(config), "--select", SELECTION)
    assert result.returncode != 0
    assert "missing: DAGSTER_PG_HOST" in result.stderr
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://u:p@127.0.0.1:1/db")
    assert "DAGSTER_PG_URL" in dagster_yaml(load_config(config), tmp_path)
