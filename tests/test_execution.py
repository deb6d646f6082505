"""The executor ``[execution]`` chooses, the warehouse steps' queue and the chunks of a long
ingest range (the distributed runs themselves: ``test_distributed_execution.py``)."""

import os
import subprocess
import sys
from datetime import date

import pytest

from pipelines.config import (
    CONFIG_ENV_VAR,
    EXECUTOR_ENV_VAR,
    PROJECT_ROOT,
    WAREHOUSE_QUEUE,
    Execution,
)
from pipelines.definitions import defs
from pipelines.execution import (
    CELERY_QUEUE_TAG,
    backfill_policy,
    configured_execution,
    executor_definition,
)
from pipelines.partitions import FROM_DAY, TO_DAY
from pipelines.runner import ingest_runs
from pipelines.serving import KEY as SERVING

DATED = {"raw/blocks", "raw/node_snapshots"}
KEYS = ["raw/pool_registry", "raw/blocks", "raw/node_snapshots"]


def days(runs: list[tuple[list[str], dict[str, str]]]) -> list[tuple[str, str]]:
    return [(tags[FROM_DAY], tags[TO_DAY]) for _, tags in runs]


def test_one_run_over_the_range_without_chunks() -> None:
    runs = ingest_runs(KEYS, DATED, (date(2024, 1, 15), date(2024, 9, 3)), None)
    assert [keys for keys, _ in runs] == [KEYS]
    assert days(runs) == [("2024-01-15", "2024-09-03")]


def test_chunks_are_whole_months_and_the_undated_tables_ride_with_the_first() -> None:
    runs = ingest_runs(KEYS, DATED, (date(2024, 1, 15), date(2024, 9, 3)), 3)
    assert days(runs) == [
        ("2024-01-15", "2024-03-31"),  # January (from the 15th) to March
        ("2024-04-01", "2024-06-30"),
        ("2024-07-01", "2024-09-03"),  # July to September (to the 3rd)
    ]
    dated = ["raw/blocks", "raw/node_snapshots"]
    assert [keys for keys, _ in runs] == [KEYS, dated, dated]


def test_no_chunks_without_a_range_or_a_dated_table() -> None:
    assert ingest_runs(KEYS, DATED, None, 3) == [(KEYS, {})]
    undated = ingest_runs(["raw/pool_registry"], DATED, (date(2024, 1, 1), date(2024, 12, 31)), 1)
    assert len(undated) == 1


@pytest.mark.parametrize(
    ("executor", "name"),
    [
        ("in_process", "in_process"),
        ("multiprocess", "multiprocess"),
        ("celery", "celery"),
        ("k8s", "k8s"),
    ],
)
def test_each_executor_is_dagsters_own(executor: str, name: str) -> None:
    assert executor_definition(Execution(executor=executor)).name == name


def test_the_warehouse_steps_and_only_they_go_to_the_warehouse_queue() -> None:
    graph = defs.resolve_asset_graph()
    queued = {
        key.to_user_string()
        for key in graph.materializable_asset_keys
        if defs.resolve_assets_def(key).node_def.tags.get(CELERY_QUEUE_TAG) == WAREHOUSE_QUEUE
    }
    sql_models = {
        k.to_user_string() for k in graph.get_all_asset_keys() if k.path[0] in ("staging", "marts")
    }
    assert queued == sql_models | {
        SERVING.to_user_string(),
        "intermediate/decentralization_trends",
        "report/decentralization_report",
    }


@pytest.mark.parametrize("executor", ["in_process", "multiprocess", "celery", "k8s", "threads"])
def test_the_code_location_loads_with_each_executor(executor: str) -> None:
    """``dagster definitions validate`` on the image's config with each executor (an unknown one
    must fail, naming it)."""
    env = {
        **os.environ,
        CONFIG_ENV_VAR: str(PROJECT_ROOT / "deploy" / "observatory.toml"),
        EXECUTOR_ENV_VAR: executor,
    }
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    if executor == "threads":
        assert done.returncode != 0 and "'threads' is not a valid choice" in output
    else:
        assert done.returncode == 0, output[-3000:]
        assert "Validation successful for code location observatory" in output


def test_a_backfill_is_one_run_on_one_machine_and_a_run_per_year_when_distributed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        for executor, per_run in (("in_process", None), ("celery", 1)):
            monkeypatch.setenv(EXECUTOR_ENV_VAR, executor)
            configured_execution.cache_clear()
            assert backfill_policy().max_partitions_per_run == per_run
    finally:
        monkeypatch.undo()
        configured_execution.cache_clear()
