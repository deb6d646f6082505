"""The SQL models as Dagster runs them: subsettable multi-assets per stage, tests as blocking checks
of the same step, on a small project and a temporary warehouse."""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import _progress_poller
from pipelines.resources import ObservatoryResource
from pipelines.runner import RunOutcome
from pipelines.sql_assets import (
    STAGE_PREFIX,
    build_sql_definitions,
    model_stages,
    step_inputs,
)
from pipelines.sql_models import SqlModelError, SqlProject, load_sql_project
from pipelines.warehouse import Warehouse
from tests.conftest import write_config

SOURCES = {("raw", "t"), ("intermediate", "p")}
# raw.t -> staging.stg_t (view) -> a (table, tested) -> b; c reads raw.t alone.
MODELS = {
    "staging/stg_t.sql": "-- Staged t.\n-- column id: id\nselect id from raw.t",
    "marts/a.sql": "-- A.\n-- column id: id\nselect id from staging.stg_t",
    "marts/b.sql": "-- B, downstream of a.\n-- column n: rows of a\nselect count(*) as n from a",
    "marts/c.sql": "-- C, beside a.\n-- column id: id\nselect id from raw.t",
    "tests/a__ids_below_ten.sql": "select * from a where id >= 10",
    "tests/b__some_rows.sql": "select * from b where n = 0",
    "tests/c__ids_positive.sql": "select * from c where id <= 0",
}
STG, A, B, C = (
    dg.AssetKey(key.split("/")) for key in ("staging/stg_t", "marts/a", "marts/b", "marts/c")
)


def load(root: Path, files: dict[str, str]) -> SqlProject:
    for rel, text in files.items():
        path = root / "sql" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return load_sql_project(root / "sql", SOURCES, {})


@dg.asset(key=["raw", "t"])
def raw_t() -> None:
    """Stands in for a lake table (``run`` writes ``raw.t`` into the warehouse)."""


@dg.asset(key=["intermediate", "p"], deps=[A])
def python_p(observatory: ObservatoryResource) -> None:
    """A Python asset between two models: reads mart a, is read by mart d."""
    with observatory.warehouse().writer() as con:
        con.execute("CREATE OR REPLACE TABLE intermediate.p AS SELECT id * 2 AS id FROM a")


def run(
    tmp_path: Path,
    files: dict[str, str],
    ids: list[int],
    selection: list[dg.AssetKey] | None = None,
    python: tuple[dg.AssetsDefinition, ...] = (),
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize the project (and ``python`` assets) over ``raw.t`` holding ``ids`` in a
    warehouse under ``tmp_path``: every asset but ``raw/t``, or ``selection``."""
    project = load(tmp_path, files)
    config = write_config(tmp_path, {})
    with Warehouse(tmp_path / "warehouse").writer() as con:
        con.execute("CREATE OR REPLACE TABLE raw.t AS SELECT unnest(?::INTEGER[]) AS id", [ids])
    others = dg.Definitions(assets=[raw_t, *python])
    sql = build_sql_definitions(project, step_inputs(others))
    return dg.materialize(
        [*sql.assets, *others.assets],
        selection=selection or [key for a in [*sql.assets, *python] for key in a.keys],
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        instance=instance,
        raise_on_error=False,
    )


def materialized(result: dg.ExecuteInProcessResult) -> list[dg.AssetKey]:
    return [e.asset_key for e in result.get_asset_materialization_events()]


def test_one_step_builds_the_models_in_order_each_followed_by_its_tests(tmp_path: Path) -> None:
    result = run(tmp_path, MODELS, [1, 2, 3])
    assert result.success
    (step,) = {e.step_key for e in result.all_events if e.step_key}
    assert step == f"{STAGE_PREFIX}0"
    sequence = [
        e.asset_key.to_user_string()
        if e.is_step_materialization
        else f"{e.asset_check_evaluation_data.asset_check_key.to_user_string()} check"
        for e in result.all_events
        if e.is_step_materialization or e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert sequence == [  # the project's order: dependencies first, ties by name
        "marts/c",
        "marts/c:ids_positive check",
        "staging/stg_t",
        "marts/a",
        "marts/a:ids_below_ten check",
        "marts/b",
        "marts/b:some_rows check",
    ]
    b = result.get_asset_materialization_events()[-1].materialization.metadata
    assert b["dagster/row_count"].value == 1 and b["relation"].value == "main.b"
    assert "dagster/column_schema" in b and "preview" in b
    with Warehouse(tmp_path / "warehouse").writer() as con:
        kinds = con.sql(
            "select table_schema, table_name, table_type from information_schema.tables "
            "order by all"
        ).fetchall()
    assert ("staging", "stg_t", "VIEW") in kinds and ("main", "b", "BASE TABLE") in kinds


def test_the_cli_progress_shows_each_model_and_test_of_the_step(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with dg.instance_for_test() as instance:
        result = run(tmp_path, MODELS, [1, 2, 3], instance=instance)
        capsys.readouterr()  # Dagster's own log lines
        stopped = threading.Event()
        stopped.set()
        _progress_poller(instance, result.run_id, stopped)()  # prints the whole run, then returns
    lines = [line.split(maxsplit=1)[1] for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        f"start   {STAGE_PREFIX}0",
        "wrote   marts/c (3 rows)",
        "check   marts/c:ids_positive passed",
        "wrote   staging/stg_t (3 rows)",
        "wrote   marts/a (3 rows)",
        "check   marts/a:ids_below_ten passed",
        "wrote   marts/b (1 rows)",
        "check   marts/b:some_rows passed",
        f"done    {STAGE_PREFIX}0",
    ]


def test_a_failing_test_stops_its_downstream_models_in_the_step(tmp_path: Path) -> None:
    result = run(tmp_path, MODELS, [1, 2, 30])
    assert not result.success
    # a's test fails: b (downstream of a) is not built; c (beside it) is, with its test run
    assert materialized(result) == [C, STG, A]
    checks = {e.asset_check_key: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        dg.AssetCheckKey(A, "ids_below_ten"): False,
        dg.AssetCheckKey(C, "ids_positive"): True,
    }
    outcome = RunOutcome()
    outcome.add(result, [k.to_user_string() for k in (STG, A, B, C)])
    assert outcome.failed_steps == [(f"{STAGE_PREFIX}0", "marts/a: ids_below_ten")]
    ((check, summary),) = outcome.failed_checks
    assert check == "marts/a:ids_below_ten" and "1 failing rows" in summary
    assert outcome.not_run == ["marts/b"]


def test_a_model_that_fails_to_build_stops_only_its_downstream(tmp_path: Path) -> None:
    cast = "-- A.\n-- column id: id\nselect cast('x' || id as int) as id from staging.stg_t"
    files = {**MODELS, "marts/a.sql": cast}
    result = run(tmp_path, files, [1])
    assert not result.success
    assert materialized(result) == [C, STG]
    outcome = RunOutcome()
    outcome.add(result, [k.to_user_string() for k in (STG, A, B, C)])
    ((step, message),) = outcome.failed_steps
    assert step == f"{STAGE_PREFIX}0"
    assert message.startswith("dagster._core.definitions.events.Failure: marts/a failed to build")
    assert "Conversion Error" in message


def test_a_subset_builds_only_the_selected_models_and_their_tests(tmp_path: Path) -> None:
    result = run(tmp_path, MODELS, [1, 2, 3], selection=[C])
    assert result.success
    assert materialized(result) == [C]
    checks = [e.asset_check_key for e in result.get_asset_check_evaluations()]
    assert checks == [dg.AssetCheckKey(C, "ids_positive")]
    result = run(tmp_path, MODELS, [1, 2, 3], selection=[STG, A])
    assert materialized(result) == [STG, A]
    checks = [e.asset_check_key for e in result.get_asset_check_evaluations()]
    assert checks == [dg.AssetCheckKey(A, "ids_below_ten")]


def test_a_python_asset_between_models_splits_them_into_two_stages(tmp_path: Path) -> None:
    files = {
        **MODELS,
        "marts/d.sql": "-- D, after p.\n-- column id: id\nselect id from intermediate.p",
    }
    project = load(tmp_path, files)
    inputs = step_inputs(dg.Definitions(assets=[raw_t, python_p]))
    assert model_stages(project, inputs) == {"stg_t": 0, "a": 0, "b": 0, "c": 0, "d": 1}
    result = run(tmp_path, files, [1, 2], python=(python_p,))
    assert result.success
    steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert steps == [f"{STAGE_PREFIX}0", "intermediate__p", f"{STAGE_PREFIX}1"]
    with Warehouse(tmp_path / "warehouse").writer() as con:
        assert con.sql("select id from d order by id").fetchall() == [(2,), (4,)]


def test_a_test_reading_a_python_asset_puts_its_model_after_it(tmp_path: Path) -> None:
    files = {
        **MODELS,
        "tests/c__in_p.sql": "select * from c where id not in (select id from intermediate.p)",
    }
    project = load(tmp_path, files)
    inputs = step_inputs(dg.Definitions(assets=[raw_t, python_p]))
    assert model_stages(project, inputs)["c"] == 1


def test_a_cycle_through_a_python_asset_is_an_error(tmp_path: Path) -> None:
    files = {
        **MODELS,
        "tests/a__in_p.sql": "select * from a where id not in (select id from intermediate.p)",
    }
    project = load(tmp_path, files)
    with pytest.raises(SqlModelError, match=r"marts/a.sql: dependency cycle .* -> marts/a.sql"):
        model_stages(project, step_inputs(dg.Definitions(assets=[python_p])))


def test_step_inputs_of_an_op_that_cannot_subset_are_those_of_all_its_assets() -> None:
    @dg.multi_asset(specs=[dg.AssetSpec("x", deps=["m"]), dg.AssetSpec("y", deps=["x", "n"])])
    def together(): ...

    @dg.multi_asset(
        specs=[dg.AssetSpec("v", deps=["m"]), dg.AssetSpec("w", deps=["n"])], can_subset=True
    )
    def apart(): ...

    @dg.asset_check(asset="v", blocking=True, additional_deps=["k"])
    def v_check() -> dg.AssetCheckResult: ...

    inputs = step_inputs(dg.Definitions(assets=[together, apart], asset_checks=[v_check]))
    key = dg.AssetKey
    assert inputs == {
        key("x"): {key("m"), key("n")},
        key("y"): {key("m"), key("n")},
        key("v"): {key("m"), key("k")},
        key("w"): {key("n")},
    }
