"""The observatory's Dagster definitions.

Source and mart modules live in ``pipelines/defs/`` and are loaded from that folder. Two parts are
derived from the whole graph and added here: the dbt-like SQL models (whose lake dependencies must
be known assets) and the serving database, which depends on every table it publishes.
"""

import dagster as dg

from pipelines.config import PROJECT_ROOT
from pipelines.lake import LAYERS
from pipelines.serving import serving_asset
from pipelines.sql_assets import build_sql_definitions, model_key
from pipelines.sql_models import SQL_ROOT, load_sql_project


def build_definitions() -> dg.Definitions:
    folder = dg.load_from_defs_folder(project_root=PROJECT_ROOT)
    lake_keys = [k for k in folder.resolve_all_asset_keys() if k.path[0] in LAYERS]
    project = load_sql_project(SQL_ROOT, {(k.path[0], k.path[1]) for k in lake_keys})
    sql = build_sql_definitions(project)
    table_keys = lake_keys + [model_key(m) for m in project.models]
    return dg.Definitions.merge(
        folder,
        sql,
        # One process per run: assets share the warehouse writer anyway, and Polars and DuckDB
        # use every core inside a step; a process per step would cost seconds each.
        dg.Definitions(assets=[serving_asset(table_keys)], executor=dg.in_process_executor),
    )


defs = build_definitions()
