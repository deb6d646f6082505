"""Dagster assets for the dbt-like SQL models, built the way dagster-dbt builds a dbt project.

The models of one stage are one subsettable multi-asset (an ``AssetSpec`` per model) and each
model's tests are blocking ``AssetCheckSpec``s on it: one step builds the selected models in
dependency order and runs each model's tests right after it, where a step per model and per test
cost ~0.1–0.2 s of Dagster bookkeeping each for milliseconds of SQL. A failed test stops the models
downstream of its model in that step; the others are still built, and the step fails naming it.

A model's stage is the number of hand-offs from SQL models to non-SQL assets on the longest path
to it, so a Python asset that reads one model and is read by another puts the two in different
steps and no step waits for itself. Each model is (re)built inside the build database in one
transaction; lineage comes from the dependencies ``pipelines.sql_models`` parses out of the SQL,
never from hand-written lists.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

import dagster as dg
import duckdb

from pipelines.execution import warehouse_tags
from pipelines.metadata import frame_metadata, markdown_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas import Contract, contracts
from pipelines.sql_models import SqlModel, SqlModelError, SqlProject, SqlTest
from pipelines.warehouse import Warehouse, comment_relation, quote_ident

MAX_FAILING_ROWS_SHOWN = 10
STAGE_PREFIX = "sql_models_stage_"


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


def _reads(
    project: SqlProject, models: Iterable[str], sources: Iterable[tuple[str, str]]
) -> list[dg.AssetKey]:
    """Asset keys of the models (by name) and lake tables (``(layer, table)``) a query reads."""
    keys = [model_key(project.model(name)) for name in models]
    return keys + [dg.AssetKey([layer, table]) for layer, table in sources]


def _test_reads(project: SqlProject, test: SqlTest) -> list[dg.AssetKey]:
    """What a test reads besides the model it tests."""
    others = [name for name in test.model_deps if name != test.model]
    return _reads(project, others, test.source_deps)


def _check_key(project: SqlProject, test: SqlTest) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(model_key(project.model(test.model)), test.name)


def _tests_by_model(project: SqlProject) -> dict[str, list[SqlTest]]:
    tests: dict[str, list[SqlTest]] = defaultdict(list)
    for test in project.tests:
        tests[test.model].append(test)
    return tests


def step_inputs(definitions: dg.Definitions) -> dict[dg.AssetKey, set[dg.AssetKey]]:
    """What the step materializing each asset of ``definitions`` waits for: the asset's deps
    (those of every asset of its op, unless the op runs subsets) and its blocking checks' deps."""
    inputs: dict[dg.AssetKey, set[dg.AssetKey]] = defaultdict(set)
    ops = [*(definitions.assets or []), *(definitions.asset_checks or [])]
    for op in ops:
        if not isinstance(op, dg.AssetsDefinition):
            continue  # a bare AssetSpec: nothing runs it
        together = set().union(*op.asset_deps.values()) - op.keys
        for key in op.keys:
            inputs[key] |= op.asset_deps[key] if op.can_subset else together
        for spec in op.check_specs:
            if spec.blocking:
                inputs[spec.asset_key] |= {dep.asset_key for dep in spec.additional_deps}
    return dict(inputs)


def model_stages(
    project: SqlProject, inputs: Mapping[dg.AssetKey, Iterable[dg.AssetKey]]
) -> dict[str, int]:
    """Each model's stage: 0, or one more than the highest stage of a model whose non-SQL
    descendant the model or one of its tests reads (``inputs``: what each non-SQL asset's step
    waits for). A model is never in an earlier stage than a model it or its tests read.

    A cycle through tests or non-SQL assets is an error naming the models' files.
    """
    models = {model_key(model): model for model in project.models}
    tests = _tests_by_model(project)
    stages: dict[str, int] = {}
    readable_from: dict[dg.AssetKey, int] = {}  # non-SQL asset -> lowest stage that may read it
    walking: list[str] = []

    def stage(model: SqlModel) -> int:
        if model.name in walking:
            cycle = [project.model(name).path for name in walking[walking.index(model.name) :]]
            files = [f"{path.parent.name}/{path.name}" for path in cycle]
            raise SqlModelError(
                f"{files[0]}: dependency cycle through tests or non-SQL assets: "
                + " -> ".join([*files, files[0]])
            )
        if model.name not in stages:
            walking.append(model.name)
            reads = _reads(project, model.model_deps, model.source_deps)
            reads += [key for test in tests[model.name] for key in _test_reads(project, test)]
            stages[model.name] = max([0, *map(lowest_reader, reads)])
            walking.pop()
        return stages[model.name]

    def lowest_reader(key: dg.AssetKey) -> int:
        """The lowest stage a model that reads ``key`` may have."""
        if key in models:
            return stage(models[key])
        if key not in readable_from:
            upstream = [
                stage(models[k]) + 1 if k in models else lowest_reader(k)
                for k in inputs.get(key, ())
            ]
            readable_from[key] = max([0, *upstream])
        return readable_from[key]

    for model in project.models:
        stage(model)
    return stages


def _build_order(project: SqlProject, names: set[str]) -> list[SqlModel]:
    """The models called ``names``, each after the models it and its tests read (among them)."""
    tests = _tests_by_model(project)
    ordered: dict[str, SqlModel] = {}

    def visit(model: SqlModel) -> None:
        if model.name in ordered:
            return
        reads = [*model.model_deps, *(n for test in tests[model.name] for n in test.model_deps)]
        for name in reads:
            if name in names and name != model.name:
                visit(project.model(name))
        ordered[model.name] = model

    for model in project.models:
        if model.name in names:
            visit(model)
    return list(ordered.values())


def _model_spec(project: SqlProject, model: SqlModel) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=model_key(model),
        deps=_reads(project, model.model_deps, model.source_deps),
        description=model.description,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata={
            "sql_file": str(model.path),
            "relation": model.relation,
            "materialized": model.materialized,
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql.strip()}\n```"),
        },
    )


def _test_spec(project: SqlProject, test: SqlTest) -> dg.AssetCheckSpec:
    extra = _test_reads(project, test)
    return dg.AssetCheckSpec(
        name=test.name,
        asset=model_key(project.model(test.model)),
        blocking=True,
        description=test.description or f"rows returned by {test.path.name} are failures",
        additional_deps=extra or None,
    )


def _materialize(con: duckdb.DuckDBPyConnection, model: SqlModel) -> dg.MaterializeResult:
    """Build the model; its row count, schema, preview and relation."""
    build_model(con, model)
    rows = con.execute(f"SELECT count(*) FROM {_target(model)}").fetchall()[0][0]
    preview = con.sql(f"SELECT * FROM {_target(model)} LIMIT 10").pl()
    metadata = frame_metadata(preview, descriptions=model.column_descriptions)
    metadata["dagster/row_count"] = dg.MetadataValue.int(rows)
    if rows > preview.height:
        metadata["preview"] = dg.MetadataValue.md(
            markdown_table(preview) + f"\n\n_10 of {rows:,} rows_"
        )
    return dg.MaterializeResult(
        asset_key=model_key(model), metadata={**metadata, "relation": model.relation}
    )


def _evaluate(
    con: duckdb.DuckDBPyConnection, key: dg.AssetCheckKey, test: SqlTest
) -> dg.AssetCheckResult:
    """Run the test: it passes when its query returns no rows; a sample of those that fail."""
    failing = con.execute(f"SELECT count(*) FROM (\n{test.sql}\n)").fetchall()[0][0]
    metadata = {"failing_rows": dg.MetadataValue.int(failing), "sql_file": str(test.path)}
    if failing:  # the query again, for a sample (a passing test runs once)
        sample = con.sql(f"SELECT * FROM (\n{test.sql}\n) LIMIT {MAX_FAILING_ROWS_SHOWN}").pl()
        metadata["failing_sample"] = dg.MetadataValue.md(markdown_table(sample))
        first = ", ".join(f"{k}={v}" for k, v in sample.row(0, named=True).items())
        metadata["summary"] = f"{failing} failing rows ({test.path.name}); first: {first}"
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=failing == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def _error_line(what: str, exc: duckdb.Error) -> str:
    """``what`` and the error's first line, for the one-line failure the run summary shows."""
    first_line = str(exc).strip().partition("\n")[0]
    return f"{what}: {first_line}"


def run_stage(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    project: SqlProject,
    models: list[SqlModel],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Build the selected models in order, each followed by its selected tests.

    A model whose test fails or that fails to build stops the models downstream of it (in this
    step): they are not built and their tests not run, which is logged. A failed test then fails
    the step through Dagster's blocking check; a SQL error fails it with a ``dg.Failure`` naming
    each model or test that failed (with its error's first line; the whole error is logged).
    """
    tests = _tests_by_model(project)
    failed: set[str] = set()
    errors: list[str] = []
    not_built: list[str] = []
    not_run: list[str] = []
    with warehouse.writer() as con:
        for model in models:
            key = model_key(model)
            if key in context.selected_asset_keys:
                if failed.intersection(model.model_deps):
                    failed.add(model.name)
                    not_built.append(key.to_user_string())
                    continue
                try:
                    yield _materialize(con, model)
                except duckdb.Error as exc:
                    failed.add(model.name)
                    errors.append(_error_line(f"{key.to_user_string()} failed to build", exc))
                    context.log.error(f"{key.to_user_string()} failed to build: {exc}")
                    continue
            for test in tests[model.name]:
                check = _check_key(project, test)
                if check not in context.selected_asset_check_keys:
                    continue
                if failed.intersection(test.model_deps) - {model.name}:
                    not_run.append(check.to_user_string())
                    continue
                try:
                    result = _evaluate(con, check, test)
                except duckdb.Error as exc:
                    failed.add(model.name)
                    errors.append(_error_line(f"{check.to_user_string()} failed to run", exc))
                    context.log.error(f"{check.to_user_string()} failed to run: {exc}")
                    continue
                yield result
                if not result.passed:
                    failed.add(model.name)
    if not_built:
        context.log.warning(f"not built, downstream of a failed model: {', '.join(not_built)}")
    if not_run:
        context.log.warning(f"tests not run, they read a failed model: {', '.join(not_run)}")
    if errors:
        raise dg.Failure(description="; ".join(errors))


def _stage_asset(project: SqlProject, stage: int, models: list[SqlModel]) -> dg.AssetsDefinition:
    tests = _tests_by_model(project)

    @dg.multi_asset(
        name=f"{STAGE_PREFIX}{stage}",
        specs=[_model_spec(project, model) for model in models],
        check_specs=[_test_spec(project, t) for model in models for t in tests[model.name]],
        can_subset=True,
        description=f"SQL models of stage {stage} and their tests, in dependency order",
        op_tags=warehouse_tags(),
    )
    def _build(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
        loaded = observatory.load_lake_tables(_lake_sources(models, tests))
        if loaded:
            context.log.info(f"loaded from the lake: {', '.join(loaded)}")
        yield from run_stage(context, observatory.warehouse(), project, models)

    return _build


def _lake_sources(models: list[SqlModel], tests: Mapping[str, list[SqlTest]]) -> list[Contract]:
    """The contracts of the lake tables the models and their tests read (a source without a
    contract is not the lake's to load, e.g. a test's stand-in table)."""
    queries = [*models, *(t for m in models for t in tests[m.name])]
    relations = sorted({f"{layer}.{table}" for q in queries for layer, table in q.source_deps})
    known = contracts()
    return [known[relation] for relation in relations if relation in known]


def build_sql_definitions(
    project: SqlProject, inputs: Mapping[dg.AssetKey, Iterable[dg.AssetKey]]
) -> dg.Definitions:
    """One multi-asset per stage holding its models and their tests (``inputs``: what each
    non-SQL asset's step waits for, see ``step_inputs``)."""
    stages = model_stages(project, inputs)
    return dg.Definitions(
        assets=[
            _stage_asset(
                project, stage, _build_order(project, {n for n, s in stages.items() if s == stage})
            )
            for stage in sorted(set(stages.values()))
        ]
    )
