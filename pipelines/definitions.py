"""The observatory's Dagster definitions.

Source and mart modules live in ``pipelines/defs/`` and are loaded from that folder. Two parts are
derived from the whole graph and added here: the dbt-like SQL models (whose lake dependencies must
be known assets, and whose stages follow from what the other assets read) and the serving
database, which depends on every table it publishes. Every asset's group is the first part of its
key, its kinds those of that layer (unless the asset names its own) and a lake table's description
that of its contract (``pipelines/schemas``): set here, once, not per asset.
"""

import dagster as dg

from pipelines.config import PROJECT_ROOT
from pipelines.execution import configured_execution, executor_definition
from pipelines.lake import LAYERS
from pipelines.schemas import contracts
from pipelines.serving import serving_asset
from pipelines.sql_assets import build_sql_definitions, model_key, step_inputs
from pipelines.sql_models import SQL_ROOT, load_sql_project

# Kinds shown in the UI for each layer; an asset that names its own kinds keeps them.
LAYER_KINDS: dict[str, set[str]] = {
    "raw": {"parquet", "duckdb"},
    "intermediate": {"parquet", "polars"},
    "staging": {"duckdb", "sql"},
    "marts": {"duckdb", "sql"},
    "serving": {"duckdb"},
    "report": {"html"},
}


def by_key_prefix(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Group from the key's first part, the layer's kinds, and the contract's description."""
    layer = spec.key.path[0]
    contract = contracts().get(".".join(spec.key.path))
    return spec.replace_attributes(
        group_name=layer,
        kinds=spec.kinds or LAYER_KINDS.get(layer, set()),
        description=contract.description if contract else spec.description,
    )


def build_definitions() -> dg.Definitions:
    folder = dg.load_from_defs_folder(project_root=PROJECT_ROOT)
    lake_keys = [k for k in folder.resolve_all_asset_keys() if k.path[0] in LAYERS]
    lake_tables = {(k.path[0], k.path[1]) for k in lake_keys}
    contract_columns = {relation: c.descriptions for relation, c in contracts().items()}
    project = load_sql_project(SQL_ROOT, lake_tables, contract_columns)
    sql = build_sql_definitions(project, step_inputs(folder))
    table_keys = lake_keys + [model_key(m) for m in project.models]
    merged = dg.Definitions.merge(
        folder,
        sql,
        # By default one process per run: Polars and DuckDB use every core inside a step, and a
        # process per step would cost seconds each; [execution] chooses another executor.
        dg.Definitions(
            assets=[serving_asset(table_keys)],
            executor=executor_definition(configured_execution()),
        ),
    )
    return dg.Definitions(
        assets=dg.map_asset_specs(by_key_prefix, merged.assets or []),
        asset_checks=merged.asset_checks,
        schedules=merged.schedules,
        sensors=merged.sensors,
        jobs=merged.jobs,
        resources=merged.resources,
        executor=merged.executor,
        loggers=merged.loggers,
    )


defs = build_definitions()
