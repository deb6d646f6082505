"""Snapshot and invariants of the Dagster asset graph in ``pipelines.definitions``.

The snapshot (``tests/snapshots/asset_graph.json``) records every asset, check, job, schedule and
sensor. It is meant to change deliberately: after changing the graph on purpose, regenerate it with

    UPDATE_SNAPSHOTS=1 uv run --frozen pytest tests/test_asset_graph.py

and review the diff of the JSON file with the code change.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.lake import LAYERS
from pipelines.schemas import contracts
from pipelines.serving import KEY as SERVING_KEY
from pipelines.sql_assets import model_key
from pipelines.sql_models import SQL_ROOT, load_sql_project

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
UPDATE_ENV = "UPDATE_SNAPSHOTS"
UPDATE_COMMAND = f"{UPDATE_ENV}=1 uv run --frozen pytest tests/test_asset_graph.py"
# Metadata key that ``pipelines.sql_assets`` puts on every dbt-like SQL model asset.
SQL_MODEL_MARKER = "sql_file"


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _partitions(pdef: dg.PartitionsDefinition | None) -> dict[str, Any] | None:
    """Type and the defining parameters of a partitions definition (None when unpartitioned)."""
    if pdef is None:
        return None
    out: dict[str, Any] = {"type": type(pdef).__name__}
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        out["start"] = pdef.start.isoformat()
        out["end"] = pdef.end.isoformat() if pdef.end else None
        out["timezone"] = pdef.timezone
        out["cron_schedule"] = pdef.cron_schedule
        out["end_offset"] = pdef.end_offset
    elif isinstance(pdef, dg.StaticPartitionsDefinition):
        out["keys"] = list(pdef.get_partition_keys())
    elif isinstance(pdef, dg.DynamicPartitionsDefinition):
        out["name"] = pdef.name
    elif isinstance(pdef, dg.MultiPartitionsDefinition):
        out["dimensions"] = {d.name: _partitions(d.partitions_def) for d in pdef.partitions_defs}
    return out


def graph_model(definitions: dg.Definitions) -> dict[str, Any]:
    """A JSON-ready, deterministically ordered description of the definitions' graph."""
    graph = definitions.resolve_asset_graph()
    repo = definitions.get_repository_def()
    assets = []
    for spec in sorted(definitions.resolve_all_asset_specs(), key=lambda s: _key(s.key)):
        assets.append(
            {
                "key": _key(spec.key),
                "group": spec.group_name,
                "kinds": sorted(spec.kinds),
                "deps": sorted(_key(k) for k in graph.get(spec.key).parent_keys),
                "partitions": _partitions(spec.partitions_def),
                "sql_model": SQL_MODEL_MARKER in spec.metadata,
            }
        )
    checks = []
    for check_key in sorted(graph.asset_check_keys, key=lambda c: (_key(c.asset_key), c.name)):
        check_spec = graph.get_check_spec(check_key)
        checks.append(
            {
                "asset": _key(check_key.asset_key),
                "name": check_key.name,
                "blocking": check_spec.blocking,
                "additional_deps": sorted(_key(d.asset_key) for d in check_spec.additional_deps),
            }
        )
    # Dagster's implicit jobs (``__ASSET_JOB``...) are internal and not part of the snapshot.
    jobs = [
        {"name": job.name, "partitions": _partitions(job.partitions_def)}
        for job in sorted(definitions.resolve_all_job_defs(), key=lambda j: j.name)
        if not job.name.startswith("__")
    ]
    schedules = [
        {
            "name": s.name,
            "job": s.job_name,
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": s.default_status.value,
        }
        for s in sorted(repo.schedule_defs, key=lambda s: s.name)
    ]
    sensors = [
        {"name": s.name, "jobs": sorted(j.name for j in s.jobs) if s.has_jobs else []}
        for s in sorted(repo.sensor_defs, key=lambda s: s.name)
    ]
    return {
        "assets": assets,
        "asset_checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
    }


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_asset_graph_matches_snapshot() -> None:
    """The graph equals the committed snapshot (or rewrites it when UPDATE_SNAPSHOTS=1)."""
    actual = render(graph_model(defs))
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(actual, encoding="utf-8")
        print(f"\nNOTE: rewrote {SNAPSHOT}; review and commit it with the change to the graph.")
        return
    if not SNAPSHOT.is_file():
        pytest.fail(f"{SNAPSHOT} is missing; create it with: {UPDATE_COMMAND}", pytrace=False)
    expected = SNAPSHOT.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile="tests/snapshots/asset_graph.json (committed)",
                tofile="pipelines.definitions (current)",
            )
        )
        pytest.fail(
            "The asset graph differs from its snapshot. If the change is intended, update the "
            f"snapshot with:\n    {UPDATE_COMMAND}\nand commit it.\n\n{diff}",
            pytrace=False,
        )


def test_graph_model_serialises_partitions() -> None:
    """Partitioned assets and jobs are described by type, start and timezone."""
    daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

    @dg.asset(key=["raw", "daily"], partitions_def=daily, group_name="raw")
    def daily_asset() -> None: ...

    job = dg.define_asset_job("daily_job", selection=[daily_asset.key])
    model = graph_model(dg.Definitions(assets=[daily_asset], jobs=[job]))
    expected = {
        "type": "DailyPartitionsDefinition",
        "start": "2024-01-01T00:00:00+00:00",
        "end": None,
        "timezone": "UTC",
        "cron_schedule": "0 0 * * *",
        "end_offset": 0,
    }
    assert model["assets"][0]["partitions"] == expected
    assert model["jobs"] == [{"name": "daily_job", "partitions": expected}]
    assert json.loads(render(model)) == model


def test_definitions_load_and_resolve() -> None:
    """``defs`` resolves its asset graph and an implicit job covering every asset and check."""
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = set(defs.resolve_all_asset_keys())
    assert keys, "no assets defined"
    external = keys - graph.materializable_asset_keys
    assert all(k.path[0] == "source" for k in external), "only source files are external"
    job = defs.resolve_implicit_global_asset_job_def()
    assert set(job.asset_layer.executable_asset_keys) == keys - external
    assert set(job.asset_layer.asset_graph.asset_check_keys) == set(graph.asset_check_keys)
    for key in keys:
        missing = graph.get(key).parent_keys - keys
        assert not missing, f"{_key(key)} depends on undefined assets {sorted(map(_key, missing))}"


def test_every_asset_is_described_and_every_check_blocks() -> None:
    """Assets carry a description; checks block downstream materialisation when they fail."""
    graph = defs.resolve_asset_graph()
    undescribed = [
        _key(s.key) for s in defs.resolve_all_asset_specs() if not (s.description or "").strip()
    ]
    assert not undescribed, f"assets without a description: {undescribed}"
    assert graph.asset_check_keys, "no asset checks defined"
    not_blocking = [
        f"{_key(c.asset_key)}:{c.name}"
        for c in graph.asset_check_keys
        if not graph.get_check_spec(c).blocking
    ]
    assert not not_blocking, f"non-blocking checks: {sorted(not_blocking)}"


def test_sql_models_and_serving_dependencies() -> None:
    """SQL-model flags match the SQL project; serving depends on every lake table and model."""
    specs = defs.resolve_all_asset_specs()
    lake = [s.key for s in specs if s.key.path[0] in LAYERS]
    contract_columns = {relation: c.descriptions for relation, c in contracts().items()}
    project = load_sql_project(SQL_ROOT, {(k.path[0], k.path[1]) for k in lake}, contract_columns)
    models = {model_key(m) for m in project.models}
    assert {s.key for s in specs if SQL_MODEL_MARKER in s.metadata} == models
    parents = defs.resolve_asset_graph().get(SERVING_KEY).parent_keys
    assert parents == set(lake) | models, (
        f"serving deps {sorted(map(_key, parents))} != lake tables and SQL models"
    )
