"""``observatory run --config configs/shared-data.toml`` on the real published data."""

import json
from pathlib import Path

from tests.conftest import PROJECT_ROOT, needs_shared_data, run_cli

SHARED_CONFIG = str(PROJECT_ROOT / "configs" / "shared-data.toml")


@needs_shared_data
def test_shared_data_run_builds_dim_pool(tmp_path: Path) -> None:
    env = {"OBSERVATORY_DATA_HOME": str(tmp_path / "warehouse")}
    result = run_cli("run", "--config", SHARED_CONFIG, env=env)
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stderr
    answer = run_cli(
        "sql",
        "select count(*) as pools, count(distinct pool_name) as names from dim_pool",
        "--format",
        "json",
        "--config",
        SHARED_CONFIG,
        env=env,
    )
    assert json.loads(answer.stdout) == [{"pools": 168, "names": 168}]
    assert (tmp_path / "warehouse" / "observatory.duckdb").is_file()
    assert (tmp_path / "warehouse" / "lake" / "raw" / "pool_registry" / "data.parquet").is_file()
