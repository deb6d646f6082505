"""The table contracts (``pipelines/schemas``) are the one copy of every lake table's docs: the
GX suites check only their columns and the SQL models inherit their column descriptions."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.definitions import defs
from pipelines.defs import blocks, hashrate_geography, node_snapshots
from pipelines.lake import LAYERS
from pipelines.schemas import contract, contracts, table
from pipelines.sql_assets import build_model
from pipelines.sql_models import SQL_ROOT, SqlModelError, SqlProject, load_sql_project
from pipelines.validation import EXPECTATIONS_DIR
from pipelines.warehouse import load_parquet_table

CONTRACTS = contracts()
CONTRACT_COLUMNS = {relation: c.descriptions for relation, c in CONTRACTS.items()}
LAKE_TABLES = {(c.layer, c.table) for c in CONTRACTS.values()}
SUITES = {path.stem: json.loads(path.read_text()) for path in EXPECTATIONS_DIR.glob("*.json")}

# Columns a suite checks that its table does not hold: the asset check adds them to the frame it
# validates (the ``_validation_frame`` of the asset's module) to test a row-level rule with GX.
DERIVED_COLUMNS = {
    "blocks": {
        "evidence_missing": "a block with neither coinbase nor label",
        "date_mismatch": "a header time or a date outside the block's partition day",
    },
    "node_snapshots": {
        "overlay_located": "an overlay-network node (Tor, I2P, CJDNS) with coordinates",
        "date_mismatch": "a snapshot date outside the row's partition day",
    },
    "hashrate_geography": {"month_day": "the day of month, which must be 1"},
}
VALIDATION_FRAMES = {
    "blocks": lambda frame: blocks._validation_frame(frame, "2024-01-01"),
    "node_snapshots": lambda frame: node_snapshots._validation_frame(frame, "2024-01-01"),
    "hashrate_geography": hashrate_geography._validation_frame,
}
# Expectations on the whole table's column set: their columns must be the contract's.
COLUMN_SET_EXPECTATIONS = {
    "expect_table_columns_to_match_set": "column_set",
    "expect_table_columns_to_match_ordered_list": "column_list",
}


def _project() -> SqlProject:
    return load_sql_project(SQL_ROOT, LAKE_TABLES, CONTRACT_COLUMNS)


def test_every_contract_column_has_a_type_and_a_description() -> None:
    # Column.dtype may be None for a table typed by the SQL or Polars that builds it; no lake
    # table is, since the raw-table writer and store_table conform frames to the contract.
    problems = [
        f"{relation}.{column.name}"
        for relation, c in CONTRACTS.items()
        for column in c.columns
        if column.dtype is None or not column.description.strip()
    ]
    assert not problems, f"columns without a type or description: {problems}"
    assert all(c.description.strip() and c.layer in LAYERS for c in CONTRACTS.values())


def test_a_relation_is_declared_once_and_every_lake_asset_has_a_contract() -> None:
    with pytest.raises(ValueError, match=r"contract raw\.blocks declared twice"):
        table("raw.blocks", "again", ("height", pl.Int64(), "block height"))
    assets = {
        ".".join(spec.key.path)
        for spec in defs.resolve_all_asset_specs()
        if spec.key.path[0] in LAYERS
    }
    assert assets - set(CONTRACTS) == set()


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_suites_check_only_the_columns_of_their_table(suite: str) -> None:
    """Each suite validates ``raw.<suite>``: its columns, plus the derived ones listed above."""
    table_contract = contract(f"raw.{suite}")
    validated = VALIDATION_FRAMES.get(suite, lambda frame: frame)(table_contract.empty())
    stored = len(table_contract.names)
    assert validated.columns[:stored] == table_contract.names
    assert set(validated.columns[stored:]) == set(DERIVED_COLUMNS.get(suite, {}))
    named = set()
    for expectation in SUITES[suite]["expectations"]:
        kwargs = expectation["kwargs"]
        named |= {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
        named |= set(kwargs.get("column_list", [])) | set(kwargs.get("column_set", []))
        whole_table = COLUMN_SET_EXPECTATIONS.get(expectation["type"])
        if whole_table:
            assert sorted(kwargs[whole_table]) == sorted(table_contract.names), expectation
    unknown = named - set(validated.columns)
    assert not unknown, f"suite {suite} checks columns raw.{suite} lacks: {sorted(unknown)}"


def test_marts_passing_a_lake_table_through_are_views() -> None:
    """A mart reading one lake table whose columns all inherit is stored once: as a view."""
    for model in _project().models:
        one_table = len(model.source_deps) == 1 and not model.model_deps
        all_inherited = set(model.inherited) == set(model.column_descriptions)
        if model.layer == "marts" and one_table and all_inherited:
            assert model.materialized == "view", model.name


def test_built_models_carry_the_contracts_descriptions(tmp_path: Path) -> None:
    """Every model built in DuckDB over empty lake tables: its columns are the ones the loader
    documented, with those descriptions as comments (views too); inherited ones the contract's."""
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    for schema in ("raw", "intermediate", "staging"):
        con.execute(f"create schema {schema}")
    for relation, c in CONTRACTS.items():
        load_parquet_table(
            con,
            relation,
            [],
            description=c.description,
            column_descriptions=c.descriptions,
            empty_schema=c.schema,
        )
    project = _project()
    for model in project.models:
        build_model(con, model)
    comments = {}
    for schema, name, column, comment in con.sql(
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where database_name = current_database() and schema_name in ('main', 'staging') "
        "order by column_index"
    ).fetchall():
        comments.setdefault(f"{schema}.{name}", {})[column] = comment
    for model in project.models:
        assert comments[model.relation] == model.column_descriptions, model.name
        for column, relation in model.inherited.items():
            assert comments[model.relation][column] == CONTRACTS[relation].descriptions[column]
    views = {
        row[0]
        for row in con.sql(
            "select view_name from duckdb_views() "
            "where database_name = current_database() and schema_name = 'main'"
        ).fetchall()
    }
    assert views == {
        m.name for m in project.models if m.layer == "marts" and m.materialized == "view"
    }
    # Once written twice and told apart: the mart now says what the Polars contract says.
    assert comments["main.mining_concentration"]["blocks"] == (
        "blocks behind the metrics (identified blocks only when unknown_policy='excluded')"
    )


def test_a_column_line_retyping_a_contract_is_refused(tmp_path: Path) -> None:
    mart = tmp_path / "marts" / "concentration.sql"
    mart.parent.mkdir()
    mart.write_text(
        "-- column blocks: blocks behind the metrics\n"
        "select grouping, blocks from intermediate.mining_concentration\n"
    )
    with pytest.raises(SqlModelError) as raised:
        load_sql_project(tmp_path, LAKE_TABLES, CONTRACT_COLUMNS)
    assert str(raised.value) == (
        "marts/concentration.sql: column blocks is documented by contract "
        "intermediate.mining_concentration; remove the line"
    )
