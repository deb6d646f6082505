"""Tests for the dbt-like SQL model discovery layer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pytest

from pipelines.sql_models import SQL_ROOT, SqlModelError, SqlProject, load_sql_project

SOURCES = {("raw", "t"), ("raw", "pools"), ("intermediate", "blocks")}
# Column descriptions of the lake tables' contracts (raw.pools has none).
CONTRACT_COLUMNS = {
    "raw.t": {"id": "row id", "name": "row name"},
    "intermediate.blocks": {"height": "block height", "pool": "attributed pool"},
}
ONE_X = "-- column x: the number one\nselect 1 as x"  # a model with one documented column
ONE_ID = "-- column id: the number one\nselect 1 as id"


def load(
    root: Path,
    files: dict[str, str],
    sources: set[tuple[str, str]] = SOURCES,
    contract_columns: Mapping[str, Mapping[str, str]] = CONTRACT_COLUMNS,
) -> SqlProject:
    """Write ``files`` (relative path -> text) under ``root`` and load the project."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return load_sql_project(root, sources, contract_columns)


def error(root: Path, files: dict[str, str]) -> str:
    with pytest.raises(SqlModelError) as info:
        load(root, files)
    return str(info.value)


def test_sql_root_is_next_to_pipelines_package() -> None:
    assert SQL_ROOT.name == "dbt_like_sql"
    assert (SQL_ROOT.parent / "pipelines" / "sql_models.py").is_file()


def test_discovers_layers_schemas_and_defaults(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        {
            "staging/stg_t.sql": "select * from raw.t",
            "marts/dim_t.sql": "select * from staging.stg_t",
        },
    )
    stg, dim = project.model("stg_t"), project.model("dim_t")
    assert (stg.layer, stg.schema, stg.relation, stg.materialized) == (
        "staging",
        "staging",
        "staging.stg_t",
        "view",
    )
    assert (dim.layer, dim.schema, dim.relation, dim.materialized) == (
        "marts",
        "main",
        "main.dim_t",
        "table",
    )
    assert stg.path == tmp_path / "staging" / "stg_t.sql"
    assert stg.source_deps == (("raw", "t"),)
    assert dim.model_deps == ("stg_t",)
    assert project.tests == ()
    with pytest.raises(KeyError):
        project.model("missing")


def test_header_configures_model(tmp_path: Path) -> None:
    sql = """-- Pools seen in blocks,
-- one row per pool.
--
-- materialized: VIEW
-- column pool_id: Stable pool identifier.
-- Column share : Share of blocks: 0..1.
-- Note: grain is the pool.

select pool_id, 1.0 as share  -- not part of the header
-- neither is this
from raw.pools;
-- trailing comment
"""
    model = load(tmp_path, {"marts/dim_pool.sql": sql}).model("dim_pool")
    assert model.materialized == "view"
    assert (
        model.description == "Pools seen in blocks, one row per pool.\n\nNote: grain is the pool."
    )
    assert model.column_descriptions == {
        "pool_id": "Stable pool identifier.",
        "share": "Share of blocks: 0..1.",
    }
    assert model.sql.startswith("select pool_id")
    assert model.sql.endswith("from raw.pools")


def test_columns_selected_unchanged_inherit_their_contract_description(tmp_path: Path) -> None:
    model = load(
        tmp_path,
        {
            "marts/dim_t.sql": """-- column label: upper-case name
-- column key: the id again
select t.name, t.id as id, upper(t.name) as label, t.id as key, b.height
from raw.t as t
join intermediate.blocks as b on b.height = t.id
""",
        },
    ).model("dim_t")
    assert model.inherited == {"name": "raw.t", "id": "raw.t", "height": "intermediate.blocks"}
    assert model.column_descriptions == {
        "name": "row name",
        "id": "row id",
        "label": "upper-case name",
        "key": "the id again",
        "height": "block height",
    }


def test_a_line_retyping_a_contract_column_is_an_error(tmp_path: Path) -> None:
    message = error(
        tmp_path, {"marts/dim_t.sql": "-- column id: my own words\nselect id, name from raw.t"}
    )
    assert message == (
        "marts/dim_t.sql: column id is documented by contract raw.t; remove the line"
    )


@pytest.mark.parametrize(
    ("sql", "undocumented"),
    [
        ("select id, name as label from raw.t", "label"),  # renamed
        ("select id, name || '' as name from raw.t", "name"),  # computed
        ("select height, name from intermediate.blocks, raw.t", "height, name"),  # two sources
        ("with c as (select id from raw.t) select id from c", "id"),  # through a CTE
        ("select id from raw.t union all select id from raw.t", "id"),  # a set operation
        ("select id, 1 as x from raw.pools", "id, x"),  # a table without contract columns
    ],
)
def test_other_columns_need_their_own_line(tmp_path: Path, sql: str, undocumented: str) -> None:
    message = error(tmp_path, {"marts/dim_t.sql": sql})
    assert message == (
        f"marts/dim_t.sql: undocumented column {undocumented}: "
        "add a '-- column <name>: <description>' line for each"
    )


def test_every_line_names_a_column_and_every_column_a_name(tmp_path: Path) -> None:
    stale = error(
        tmp_path / "a", {"marts/dim_t.sql": "-- column gone: old\n" + "select id from raw.t"}
    )
    assert stale == "marts/dim_t.sql: -- column gone: the query has no column gone"
    unnamed = error(tmp_path / "b", {"marts/dim_t.sql": "select count(*) from raw.t"})
    assert unnamed == "marts/dim_t.sql: column COUNT(*) needs a name (AS ...)"
    empty = error(tmp_path / "c", {"marts/dim_t.sql": "-- column x:\nselect 1 as x"})
    assert empty == "marts/dim_t.sql: -- column x: the description is empty"


def test_a_star_hides_the_columns_from_the_checks(tmp_path: Path) -> None:
    model = load(
        tmp_path, {"marts/dim_t.sql": "-- column extra: not checked\nselect *, 1 as x from raw.t"}
    ).model("dim_t")
    assert model.column_descriptions == {"extra": "not checked"}
    assert model.inherited == {}


def test_invalid_materialization(tmp_path: Path) -> None:
    message = error(tmp_path, {"staging/stg_t.sql": "-- materialized: incremental\nselect 1"})
    assert message.startswith("staging/stg_t.sql: ")
    assert "'incremental'" in message
    assert "view, table" in message


def test_dependencies_through_ctes_subqueries_joins_and_unions(tmp_path: Path) -> None:
    sql = """
with dim_a as (                       -- shadows the dim_a mart: not a dependency
    select * from raw.t
), nested as (
    with inner_cte as (select * from staging.stg_b)
    select * from inner_cte
)
select *
from dim_a
join nested using (id)
join (select id from intermediate.blocks) as sub using (id)
cross join read_parquet('lake/*.parquet') as files
cross join range(3) as r(n)
cross join unnest([1, 2]) as u(x)
where id in (select id from main.dim_c)
  and exists (select 1 from staging.stg_b)
union all
select * from dim_d
"""
    project = load(
        tmp_path,
        {
            "staging/stg_b.sql": ONE_ID,
            "marts/dim_a.sql": ONE_ID,
            "marts/dim_c.sql": ONE_ID,
            "marts/dim_d.sql": ONE_ID,
            "marts/fct_x.sql": sql,
        },
    )
    model = project.model("fct_x")
    assert model.model_deps == ("dim_c", "dim_d", "stg_b")
    assert model.source_deps == (("intermediate", "blocks"), ("raw", "t"))


def test_references_are_case_insensitive(tmp_path: Path) -> None:
    project = load(tmp_path, {"staging/stg_t.sql": "select * from RAW.T join Raw.Pools using (x)"})
    assert project.model("stg_t").source_deps == (("raw", "pools"), ("raw", "t"))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("stg_t", "unknown table stg_t (did you mean staging.stg_t?)"),
        ("staging.dim_t", "unknown table staging.dim_t (did you mean dim_t?)"),
        ("t", "unknown table t (did you mean raw.t?)"),
        ("intermediate.t", "unknown table intermediate.t (did you mean raw.t?)"),
        ("memory.main.dim_t", "unknown table memory.main.dim_t (did you mean dim_t?)"),
        ("other.nothing", "unknown table other.nothing"),
    ],
)
def test_unknown_table_names_file_and_hints(tmp_path: Path, ref: str, expected: str) -> None:
    message = error(
        tmp_path,
        {
            "staging/stg_t.sql": ONE_X,
            "marts/dim_t.sql": ONE_X,
            "marts/fct_y.sql": f"select * from {ref}",
        },
    )
    assert message == f"marts/fct_y.sql: {expected}"


def test_unknown_raw_source(tmp_path: Path) -> None:
    message = error(tmp_path, {"staging/stg_t.sql": "select * from raw.not_landed"})
    assert message == "staging/stg_t.sql: unknown table raw.not_landed"


def test_dependency_cycle_names_files(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        {
            "staging/stg_t.sql": "select * from raw.t",
            "marts/a.sql": "select * from b",
            "marts/b.sql": "select * from a join staging.stg_t using (x)",
        },
    )
    assert message == "marts/a.sql: dependency cycle marts/a.sql -> marts/b.sql -> marts/a.sql"


def test_self_reference_is_a_cycle(tmp_path: Path) -> None:
    # The CTE body reads the real dim_a: DuckDB CTEs do not see themselves unless recursive.
    message = error(
        tmp_path, {"marts/dim_a.sql": "with dim_a as (select * from dim_a) select * from dim_a"}
    )
    assert message == "marts/dim_a.sql: dependency cycle marts/dim_a.sql -> marts/dim_a.sql"


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("select 1; select 2;", "expected exactly one statement, found 2"),
        ("create table x as select 1", "expected a query (SELECT), found CREATE"),
        ("insert into raw.t select 1", "expected a query (SELECT), found INSERT"),
        ("-- only a comment\n;\n", "file holds no SQL statement"),
        ("", "file holds no SQL statement"),
        ("select * from", "cannot parse SQL"),
    ],
)
def test_invalid_statements(tmp_path: Path, sql: str, fragment: str) -> None:
    message = error(tmp_path, {"staging/stg_t.sql": sql})
    assert message.startswith("staging/stg_t.sql: ")
    assert fragment in message


def test_single_statement_with_semicolons_is_accepted(tmp_path: Path) -> None:
    project = load(tmp_path, {"staging/stg_t.sql": ONE_X + ";;\n"})
    assert project.model("stg_t").sql == "select 1 as x"


def test_duplicate_model_name_across_layers(tmp_path: Path) -> None:
    message = error(tmp_path, {"staging/dup.sql": ONE_X, "marts/dup.sql": ONE_X})
    assert message == "staging/dup.sql: duplicate model name 'dup' (also marts/dup.sql)"


@pytest.mark.parametrize(
    ("rel", "fragment"),
    [
        ("mart/dim_t.sql", "SQL files must live directly in staging/, marts/ or tests/"),
        ("marts/sub/dim_t.sql", "SQL files must live directly in staging/, marts/ or tests/"),
        ("stray.sql", "SQL files must live directly in staging/, marts/ or tests/"),
        ("marts/Dim-T.sql", "'Dim-T' is not a valid lowercase SQL identifier"),
    ],
)
def test_misplaced_or_misnamed_files(tmp_path: Path, rel: str, fragment: str) -> None:
    assert error(tmp_path, {rel: "select 1"}) == f"{rel}: {fragment}"


def test_tests_are_discovered_and_attached(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        {
            "staging/stg_t.sql": "select * from raw.t",
            "marts/dim_t.sql": "select * from staging.stg_t",
            "tests/dim_t__unique_id.sql": (
                "-- description: ids are unique\n"
                "select id, count(*) from dim_t group by id having count(*) > 1\n"
            ),
            "tests/stg_t__matches_raw.sql": (
                "-- Every raw row\n-- is staged.\n"
                "select * from raw.t except select * from staging.stg_t"
            ),
        },
    )
    unique, matches = project.tests
    assert (unique.model, unique.name, unique.description) == (
        "dim_t",
        "unique_id",
        "description: ids are unique",
    )
    assert unique.model_deps == ("dim_t",)
    assert unique.source_deps == ()
    assert unique.path == tmp_path / "tests" / "dim_t__unique_id.sql"
    assert (matches.model, matches.name, matches.description) == (
        "stg_t",
        "matches_raw",
        "Every raw row is staged.",
    )
    assert matches.model_deps == ("stg_t",)
    assert matches.source_deps == (("raw", "t"),)


def test_test_on_model_whose_name_contains_double_underscore(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        {"marts/fct__daily.sql": ONE_X, "tests/fct__daily__not_empty.sql": "select 1"},
    )
    (test,) = project.tests
    assert (test.model, test.name) == ("fct__daily", "not_empty")


@pytest.mark.parametrize(
    ("rel", "fragment"),
    [
        ("tests/dim_missing__unique_id.sql", "test targets unknown model 'dim_missing'"),
        ("tests/dim_t.sql", "test files must be named <model>__<check>.sql"),
    ],
)
def test_invalid_test_files(tmp_path: Path, rel: str, fragment: str) -> None:
    message = error(tmp_path, {"marts/dim_t.sql": ONE_ID, rel: "select 1"})
    assert message == f"{rel}: {fragment}"


def test_test_references_are_resolved(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        {"marts/dim_t.sql": ONE_ID, "tests/dim_t__fk.sql": "select * from stg_gone"},
    )
    assert message == "tests/dim_t__fk.sql: unknown table stg_gone"


def test_models_are_topologically_sorted_with_name_ties(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        {
            "staging/stg_z.sql": "select * from raw.t",
            "staging/stg_a.sql": "select * from staging.stg_z",
            "marts/b.sql": "select * from staging.stg_a join c using (x)",
            "marts/c.sql": "select * from staging.stg_z",
            "marts/a.sql": ONE_X,
        },
    )
    assert [m.name for m in project.models] == ["a", "stg_z", "c", "stg_a", "b"]


def test_models_and_tests_run_in_duckdb(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        {
            "staging/stg_t.sql": (
                "-- Staged t.\n-- column name: upper-case name\n"
                "select id, upper(name) as name from raw.t where id is not null;\n"
            ),
            "marts/dim_t.sql": (
                "-- materialized: table\n"
                "-- column id: key\n-- column name: name\n-- column n: copy\n"
                "with named as (select * from staging.stg_t)\n"
                "select id, name, n from named cross join range(2) as r(n) -- fan out\n"
            ),
            "marts/fct_t.sql": (
                "-- column id: key\n-- column rows: rows of dim_t\n"
                "select id, count(*) as rows from dim_t group by id\n"
                "union all\n"
                "select -1, 0;  -- sentinel row\n"
            ),
            "tests/fct_t__two_rows_per_id.sql": "select * from fct_t where rows not in (0, 2)",
        },
    )
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.t as from (values (1, 'a'), (2, 'b'), (null, 'c')) v(id, name)")
    for model in project.models:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {model.schema}")
        con.execute(
            f"CREATE OR REPLACE {model.materialized.upper()} {model.relation} AS {model.sql}"
        )
    assert con.sql("select * from fct_t order by id").fetchall() == [(-1, 0), (1, 2), (2, 2)]
    types = con.sql("select table_name, table_type from information_schema.tables").fetchall()
    assert sorted(types) == [
        ("dim_t", "BASE TABLE"),
        ("fct_t", "BASE TABLE"),
        ("stg_t", "VIEW"),
        ("t", "BASE TABLE"),
    ]
    (test,) = project.tests
    assert con.sql(test.sql).fetchall() == []
