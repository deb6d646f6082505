"""The shared-data pipeline with the lake on the S3 server and the Dagster instance in
PostgreSQL; a second process with an empty data home queries the published warehouse and gets
what the local-disk run published."""

import re
from pathlib import Path

import pytest

from pipelines.warehouse import content_digests
from tests.conftest import PROJECT_ROOT, needs_shared_data, run_cli

pytestmark = [pytest.mark.slow, needs_shared_data]
SHARED_CONFIG = PROJECT_ROOT / "configs" / "shared-data.toml"


def config_copy(folder: Path, extra: str) -> Path:
    """configs/shared-data.toml in ``folder`` (its relative paths made absolute) plus ``extra``
    tables; a data home beside it."""
    text = re.sub(
        r'"(\.\./[^"]+)"',
        lambda m: f'"{(SHARED_CONFIG.parent / m.group(1)).resolve()}"',
        SHARED_CONFIG.read_text(),
    )
    text = text.replace(f'data_home = "{(PROJECT_ROOT / "warehouse").resolve()}"', "")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "observatory.toml"
    path.write_text(f'data_home = "{folder / "warehouse"}"\n' + text + "\n" + extra)
    return path


def test_s3_and_postgres_publish_what_local_disk_publishes(
    tmp_path: Path, s3_url: str, s3_env: dict, pg_env: dict
) -> None:
    env = {**s3_env, **pg_env}
    local = config_copy(tmp_path / "local", "")
    remote_extra = f'[storage]\nlake = "{s3_url}"\n\n[dagster]\nstorage = "postgres"\n'
    remote = config_copy(tmp_path / "remote", remote_extra)
    for config in (local, remote):
        result = run_cli("run", "--config", str(config), env=env, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
    # another machine: nothing but the lake's location
    reader = tmp_path / "reader"
    reader.mkdir()
    (reader / "observatory.toml").write_text(
        f'data_home = "{reader / "warehouse"}"\n\n[storage]\nlake = "{s3_url}"\n'
    )
    pulled = run_cli("pull", "--config", str(reader / "observatory.toml"), env=env)
    assert pulled.returncode == 0, pulled.stderr
    copy = Path(pulled.stdout.strip())
    assert copy.is_relative_to(reader / "warehouse" / "published")
    served = tmp_path / "local" / "warehouse" / "observatory.duckdb"
    local_digests = content_digests(served)  # every table and view: rows and content hash
    assert len(local_digests) > 60
    assert content_digests(copy) == local_digests
    query = "SELECT verdict, count(*) AS n FROM decentralization_trends GROUP BY 1 ORDER BY 1"
    answers = [
        run_cli("sql", query, "--format", "csv", "--config", str(c), env=env).stdout
        for c in (local, reader / "observatory.toml")
    ]
    assert answers[0] == answers[1] and answers[0].strip()
