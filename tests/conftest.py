"""Shared pytest setup: the fake HTTP server, config files in tmp folders, shared-data skips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakeserver", "tests.s3server", "tests.pgserver", "tests.redisserver"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared data not present at {SHARED_DATA}"
)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def write_config(folder: Path, sources: dict[str, dict[str, str]], **top: object) -> Path:
    """A config file in ``folder`` with the given sources and a data home beside it; keyword
    arguments add top-level keys, or tables when given a dict (``http={...}``)."""
    lines = [f'data_home = "{top.pop("data_home", "warehouse")}"']
    for key, value in top.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {value!r}")
    for key, value in top.items():  # tables ([http], ...) after the top-level keys
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in value.items()]
    for name, table in sources.items():
        lines.append(f"\n[sources.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = folder / "observatory.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# The sample registry holds every pool the curated seeds name, so the seed checks pass on it.
SAMPLE_POOLS = len(json.loads((FIXTURES / "pools-v2-sample.json").read_text()))
# dim_pool's rows: the sample's records less the 3 duplicates that aliases and loose name matching
# make one pool (CANOE/CanoePool, DCEX/DCExploration, Bitcoin India/BitcoinIndia)
SAMPLE_POOL_ENTITIES = SAMPLE_POOLS - 3
SAMPLE_SOURCES = {
    "pool_registry.mempool": {
        "kind": "mempool_pools_v2",
        "location": str(FIXTURES / "pools-v2-sample.json"),
    },
    "blocks.sample": {
        "kind": "labelled_blocks",
        "location": str(FIXTURES / "blocks" / "labelled-sample.csv"),
        "height_column": "height",
        "label_column": "pool",
        "label_scheme": "name",
        "time_column": "time",
    },
    "nodes.export": {
        "kind": "bitnodes_export",
        "location": str(FIXTURES / "nodes" / "bitnodes-export-1700000000.json"),
    },
    "nodes.published": {"kind": "edi_distributions", "location": str(FIXTURES / "nodes" / "edi")},
    "market.coinmetrics": {
        "kind": "coinmetrics_csv",
        "location": str(FIXTURES / "market" / "coinmetrics-sample.csv"),
    },
    "market.charts": {
        "kind": "blockchain_com",
        "location": str(FIXTURES / "market" / "charts-2024-01"),
    },
    "ai_models.notable": {
        "kind": "epoch_models_csv",
        "location": str(FIXTURES / "ai" / "notable_models.csv"),
        "dataset": "notable",
    },
    "ai_models.large_scale": {
        "kind": "epoch_models_csv",
        "location": str(FIXTURES / "ai" / "large_scale_models.csv"),
        "dataset": "large_scale",
    },
    "ai_chip_owners": {
        "kind": "epoch_chip_owners",
        "location": str(FIXTURES / "ai" / "chip-owners"),
    },
    "hashrate_geography": {
        "kind": "cbeci_csv",
        "location": str(FIXTURES / "market" / "cbeci-countries-sample.csv"),
    },
}


@pytest.fixture
def registry_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config reading the sample registry and blocks, data home and Dagster home in tmp."""
    return use_config(write_config(tmp_path, SAMPLE_SOURCES), monkeypatch)


def use_config(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``path`` the config of runs in this test, with a Dagster home beside it."""
    monkeypatch.setenv("OBSERVATORY_CONFIG", str(path))
    monkeypatch.delenv("OBSERVATORY_DATA_HOME", raising=False)
    (path.parent / "dagster_home").mkdir()
    (path.parent / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(path.parent / "dagster_home"))
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``observatory`` in a fresh process (as a user would), capturing its output."""
    full_env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=PROJECT_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
