"""Dagster assets for the dbt-like SQL models: one asset per model, one blocking check per test.
Each model is (re)built inside the build database in one transaction; lineage comes from the
dependencies ``pipelines.sql_models`` parses out of the SQL, never from hand-written lists.
"""

import hashlib

import dagster as dg
import duckdb

from pipelines.metadata import frame_metadata, markdown_table
from pipelines.resources import ObservatoryResource
from pipelines.sql_models import SqlModel, SqlProject, SqlTest
from pipelines.warehouse import comment_relation, quote_ident

MAX_FAILING_ROWS_SHOWN = 10


def model_key(model: SqlModel) -> dg.AssetKey:
    return dg.AssetKey([model.layer, model.name])


def _target(model: SqlModel) -> str:
    return f"{quote_ident(model.schema)}.{quote_ident(model.name)}"


def _existing_kind(con: duckdb.DuckDBPyConnection, model: SqlModel) -> str | None:
    row = con.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
        [model.schema, model.name, model.schema, model.name],
    ).fetchall()
    return row[0][0] if row else None


def build_model(con: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    """Create or replace the model's view or table, with its descriptions, atomically."""
    kind = model.materialized.upper()
    con.execute("BEGIN TRANSACTION")
    try:
        existing = _existing_kind(con, model)
        if existing and existing != kind:
            con.execute(f"DROP {existing} {_target(model)}")
        con.execute(f"CREATE OR REPLACE {kind} {_target(model)} AS\n{model.sql}")
        comment_relation(con, kind, _target(model), model.description, model.column_descriptions)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _model_asset(project: SqlProject, model: SqlModel) -> dg.AssetsDefinition:
    deps = [model_key(project.model(name)) for name in model.model_deps]
    deps += [dg.AssetKey([schema, table]) for schema, table in model.source_deps]

    @dg.asset(
        key=model_key(model),
        deps=deps,
        description=model.description,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata={
            "sql_file": str(model.path),
            "relation": model.relation,
            "materialized": model.materialized,
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql.strip()}\n```"),
        },
    )
    def _build(observatory: ObservatoryResource) -> dg.MaterializeResult:
        with observatory.warehouse().writer() as con:
            build_model(con, model)
            rows = con.execute(f"SELECT count(*) FROM {_target(model)}").fetchall()[0][0]
            preview = con.sql(f"SELECT * FROM {_target(model)} LIMIT 10").pl()
        metadata = frame_metadata(preview, descriptions=model.column_descriptions)
        metadata["dagster/row_count"] = dg.MetadataValue.int(rows)
        if rows > preview.height:
            metadata["preview"] = dg.MetadataValue.md(
                markdown_table(preview) + f"\n\n_10 of {rows:,} rows_"
            )
        return dg.MaterializeResult(metadata={**metadata, "relation": model.relation})

    return _build


def _test_check(project: SqlProject, test: SqlTest) -> dg.AssetChecksDefinition:
    model = project.model(test.model)
    extra = [model_key(project.model(n)) for n in test.model_deps if n != test.model]
    extra += [dg.AssetKey([schema, table]) for schema, table in test.source_deps]

    @dg.asset_check(
        asset=model_key(model),
        name=test.name,
        blocking=True,
        description=test.description or f"rows returned by {test.path.name} are failures",
        additional_deps=extra or None,
    )
    def _check(observatory: ObservatoryResource) -> dg.AssetCheckResult:
        with observatory.warehouse().writer() as con:
            failing = con.execute(f"SELECT count(*) FROM (\n{test.sql}\n)").fetchall()[0][0]
            sample = con.sql(f"SELECT * FROM (\n{test.sql}\n) LIMIT {MAX_FAILING_ROWS_SHOWN}").pl()
        metadata = {"failing_rows": dg.MetadataValue.int(failing), "sql_file": str(test.path)}
        if failing:
            metadata["failing_sample"] = dg.MetadataValue.md(markdown_table(sample))
            first = ", ".join(f"{k}={v}" for k, v in sample.row(0, named=True).items())
            metadata["summary"] = f"{failing} failing rows ({test.path.name}); first: {first}"
        return dg.AssetCheckResult(
            passed=failing == 0, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata
        )

    return _check


def build_sql_definitions(project: SqlProject) -> dg.Definitions:
    """All model assets and test checks of the SQL project."""
    return dg.Definitions(
        assets=[_model_asset(project, m) for m in project.models],
        asset_checks=[_test_check(project, t) for t in project.tests],
    )
