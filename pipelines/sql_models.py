"""Discovery and parsing of the dbt-like SQL models in ``dbt_like_sql/``.

Conventions:

- ``<root>/<layer>/<model>.sql`` with layer ``staging`` (DuckDB schema ``staging``) or ``marts``
  (schema ``main``, so marts are queried unqualified). The file name is the model name: a
  lowercase SQL identifier, unique across layers. Each file holds exactly one query
  (SELECT, WITH ... SELECT, set operations); trailing semicolons are allowed.
- A header of leading ``--`` lines (blank lines allowed) configures the model:
  ``-- materialized: view|table`` (default: view for staging, table for marts),
  ``-- column <name>: <description>`` documents a column, any other line is description text
  (consecutive lines are joined with spaces, a blank line starts a new paragraph).
- Column documentation: a column the query selects unchanged (a bare column reference, aliased
  to its own name at most) from a lake table whose contract documents it inherits the contract's
  description; a ``-- column`` line for such a column is an error (contract docs are never
  retyped). Every other column needs its ``-- column`` line, a line must name a column of the
  query, and every column needs a name. Only a ``*`` in the outermost SELECT list hides the
  columns from these checks.
- Dependencies are the tables the query reads (CTE names and table functions such as
  ``read_parquet`` excluded), parsed with sqlglot's DuckDB dialect and resolved as:
  ``raw.x`` / ``intermediate.x`` -> lake table (must be a known source), ``staging.x`` -> staging
  model, ``x`` / ``main.x`` -> mart model; anything else is an error. Cycles are errors.
- Singular data tests: ``<root>/tests/<model>__<check>.sql``, one query returning the offending
  rows (zero rows = pass); its leading comment lines are the description.
- Every problem raises ``SqlModelError`` whose message starts with the file path relative to
  the root.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import build_scope, traverse_scope
from sqlglot.tokens import TokenType

SQL_ROOT = Path(__file__).resolve().parent.parent / "dbt_like_sql"

LAYER_SCHEMAS = {"staging": "staging", "marts": "main"}
DEFAULT_MATERIALIZATION = {"staging": "view", "marts": "table"}
MATERIALIZATIONS = ("view", "table")
LAKE_SCHEMAS = frozenset({"raw", "intermediate"})
TESTS_DIR = "tests"

_SCHEMA_LAYERS = {schema: layer for layer, schema in LAYER_SCHEMAS.items()}
_DUCKDB = Dialect.get_or_raise("duckdb")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class SqlModelError(ValueError):
    """Invalid SQL project; the message starts with the offending file (relative to the root)."""


@dataclass(frozen=True)
class SqlModel:
    """One model: a query materialized as a DuckDB view or table."""

    name: str
    layer: str
    schema: str
    path: Path
    sql: str
    materialized: str
    description: str
    # Every documented column, in query order: its ``-- column`` line or its contract's text.
    column_descriptions: dict[str, str] = field(hash=False)
    # Columns documented by a contract: column -> the lake relation (``raw.x``) it comes from.
    inherited: dict[str, str] = field(hash=False)
    model_deps: tuple[str, ...]
    source_deps: tuple[tuple[str, str], ...]

    @property
    def relation(self) -> str:
        """Schema-qualified DuckDB name, e.g. ``staging.stg_pools``."""
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class SqlTest:
    """A singular data test: a query returning the rows that violate the check."""

    name: str
    model: str
    path: Path
    sql: str
    description: str
    model_deps: tuple[str, ...]
    source_deps: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SqlProject:
    """All models (dependencies first) and data tests of a SQL root."""

    models: tuple[SqlModel, ...]
    tests: tuple[SqlTest, ...]

    def model(self, name: str) -> SqlModel:
        """The model called ``name`` (KeyError if absent)."""
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)


@dataclass(frozen=True)
class _Query:
    """A parsed SQL file: statement text, header comment lines and the tables it reads."""

    sql: str
    header: list[str]
    tables: list[exp.Table]
    ast: exp.Query


def load_sql_project(
    root: Path,
    known_sources: set[tuple[str, str]],
    contract_columns: Mapping[str, Mapping[str, str]],
) -> SqlProject:
    """Discover, parse and validate every model and test under ``root``.

    ``known_sources`` are the lake tables models may read, as ``(layer, table)``;
    ``contract_columns`` the column descriptions of each lake table's contract, by relation
    (``raw.x``), which columns selected unchanged inherit.
    """
    if not root.is_dir():
        raise SqlModelError(f"{root}: SQL root directory does not exist")
    model_files: dict[str, tuple[str, Path]] = {}
    test_files: list[Path] = []
    for path in sorted(root.rglob("*.sql")):
        rel = _rel(path, root)
        parts = path.relative_to(root).parts
        if len(parts) != 2 or parts[0] not in (*LAYER_SCHEMAS, TESTS_DIR):
            raise SqlModelError(
                f"{rel}: SQL files must live directly in staging/, marts/ or tests/"
            )
        if not _IDENTIFIER.fullmatch(path.stem):
            raise SqlModelError(f"{rel}: {path.stem!r} is not a valid lowercase SQL identifier")
        if parts[0] == TESTS_DIR:
            test_files.append(path)
        elif path.stem in model_files:
            other = _rel(model_files[path.stem][1], root)
            raise SqlModelError(f"{rel}: duplicate model name {path.stem!r} (also {other})")
        else:
            model_files[path.stem] = (parts[0], path)

    layers = {name: layer for name, (layer, _) in model_files.items()}
    models = {
        name: _load_model(name, layer, path, root, layers, known_sources, contract_columns)
        for name, (layer, path) in model_files.items()
    }
    tests = sorted(
        (_load_test(path, root, layers, known_sources) for path in test_files),
        key=lambda test: (test.model, test.name),
    )
    return SqlProject(models=_toposort(models, root), tests=tuple(tests))


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _load_model(
    name: str,
    layer: str,
    path: Path,
    root: Path,
    layers: dict[str, str],
    known_sources: set[tuple[str, str]],
    contract_columns: Mapping[str, Mapping[str, str]],
) -> SqlModel:
    rel = _rel(path, root)
    query = _parse_file(path, rel)
    materialized = DEFAULT_MATERIALIZATION[layer]
    own: dict[str, str] = {}
    description: list[str] = []
    for line in query.header:
        key, sep, value = line.partition(":")
        words = key.split()
        if sep and [w.lower() for w in words] == ["materialized"]:
            materialized = value.strip().lower()
            if materialized not in MATERIALIZATIONS:
                raise SqlModelError(
                    f"{rel}: invalid materialized {value.strip()!r}, "
                    f"expected one of {', '.join(MATERIALIZATIONS)}"
                )
        elif sep and len(words) == 2 and words[0].lower() == "column":
            if not value.strip():
                raise SqlModelError(f"{rel}: -- column {words[1]}: the description is empty")
            own[words[1]] = value.strip()
        else:
            description.append(line)
    model_deps, source_deps = _resolve(query.tables, rel, layers, known_sources)
    inherited = _inherited(query.ast, contract_columns)
    columns = _document_columns(query.ast, own, inherited, contract_columns, rel)
    return SqlModel(
        name=name,
        layer=layer,
        schema=LAYER_SCHEMAS[layer],
        path=path,
        sql=query.sql,
        materialized=materialized,
        description=_join_description(description),
        column_descriptions=columns,
        inherited=inherited,
        model_deps=model_deps,
        source_deps=source_deps,
    )


def _load_test(
    path: Path, root: Path, layers: dict[str, str], known_sources: set[tuple[str, str]]
) -> SqlTest:
    rel = _rel(path, root)
    parts = path.stem.split("__")
    # The longest "__"-separated prefix naming a model wins, so model names may contain "__".
    splits = [("__".join(parts[:i]), "__".join(parts[i:])) for i in range(len(parts) - 1, 0, -1)]
    model, check = next(((m, c) for m, c in splits if m in layers and c), ("", ""))
    if not model:
        if len(parts) < 2 or not parts[-1]:
            raise SqlModelError(f"{rel}: test files must be named <model>__<check>.sql")
        raise SqlModelError(f"{rel}: test targets unknown model {parts[0]!r}")
    query = _parse_file(path, rel)
    model_deps, source_deps = _resolve(query.tables, rel, layers, known_sources)
    return SqlTest(
        name=check,
        model=model,
        path=path,
        sql=query.sql,
        description=_join_description(query.header),
        model_deps=model_deps,
        source_deps=source_deps,
    )


def _parse_file(path: Path, rel: str) -> _Query:
    """Parse a file holding exactly one query; ``sql`` is that statement without ``;``."""
    text = path.read_text(encoding="utf-8")
    try:
        tokens = _DUCKDB.tokenize(text)
        parsed = _DUCKDB.parser().parse(tokens, text)
    except SqlglotError as err:
        raise SqlModelError(f"{rel}: cannot parse SQL: {err}") from err
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise SqlModelError(f"{rel}: file holds no SQL statement")
    if len(statements) > 1:
        raise SqlModelError(f"{rel}: expected exactly one statement, found {len(statements)}")
    (ast,) = statements
    if not isinstance(ast, exp.Query):
        raise SqlModelError(f"{rel}: expected a query (SELECT), found {ast.key.upper()}")
    try:
        tables = {
            id(source): source
            for scope in traverse_scope(ast)
            for source in scope.sources.values()
            # CTE references resolve to scopes; table functions have a non-identifier ``this``.
            if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier)
        }
    except SqlglotError as err:
        raise SqlModelError(f"{rel}: cannot analyse SQL: {err}") from err
    body = [token for token in tokens if token.token_type != TokenType.SEMICOLON]
    return _Query(
        sql=text[body[0].start : body[-1].end + 1],
        header=_header_lines(text),
        tables=list(tables.values()),
        ast=ast,
    )


def _inherited(ast: exp.Query, contract_columns: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Output columns selected unchanged from a lake table whose contract documents them:
    column -> that table's relation. Only a plain SELECT's own FROM/JOIN sources count; an
    unqualified column only when there is one source."""
    if not isinstance(ast, exp.Select):
        return {}
    sources = build_scope(ast).selected_sources
    inherited = {}
    for projection in ast.selects:
        column = projection.unalias()
        if not isinstance(column, exp.Column) or column.name != projection.output_name:
            continue
        if column.table:
            source = sources.get(column.table, (None, None))[1]
        else:
            source = next(iter(sources.values()))[1] if len(sources) == 1 else None
        if not isinstance(source, exp.Table) or source.catalog:
            continue
        relation = f"{source.db}.{source.name}".lower()
        if column.name in contract_columns.get(relation, {}):
            inherited[column.name] = relation
    return inherited


def _document_columns(
    ast: exp.Query,
    own: dict[str, str],
    inherited: dict[str, str],
    contract_columns: Mapping[str, Mapping[str, str]],
    rel: str,
) -> dict[str, str]:
    """Each column's description, in query order: inherited from its contract or its own line.

    Errors: a line retyping a contract's column, a line naming no column of the query, a column
    without a name or without a description. A ``*`` leaves the columns unknown: own lines only.
    """
    for column, relation in inherited.items():
        if column in own:
            raise SqlModelError(
                f"{rel}: column {column} is documented by contract {relation}; remove the line"
            )
    if ast.is_star:
        return dict(own)
    names = []
    for projection in ast.selects:
        if not projection.output_name:
            raise SqlModelError(f"{rel}: column {projection.sql('duckdb')} needs a name (AS ...)")
        names.append(projection.output_name)
    for column in own:
        if column not in names:
            raise SqlModelError(f"{rel}: -- column {column}: the query has no column {column}")
    undocumented = [name for name in names if name not in own and name not in inherited]
    if undocumented:
        raise SqlModelError(
            f"{rel}: undocumented column {', '.join(undocumented)}: add a "
            "'-- column <name>: <description>' line for each"
        )
    return {
        name: contract_columns[inherited[name]][name] if name in inherited else own[name]
        for name in names
    }


def _header_lines(text: str) -> list[str]:
    """Bodies of the leading ``--`` comment lines; blank lines become ``""``."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        lines.append(stripped.removeprefix("--").strip())
    return lines


def _join_description(lines: list[str]) -> str:
    """Join lines with spaces; empty lines separate paragraphs."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(paragraph) for paragraph in paragraphs if paragraph)


def _resolve(
    tables: list[exp.Table],
    rel: str,
    layers: dict[str, str],
    known_sources: set[tuple[str, str]],
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Split table references into model and lake-source dependencies."""
    models: set[str] = set()
    sources: set[tuple[str, str]] = set()
    for table in tables:
        catalog, schema, name = (part.lower() for part in (table.catalog, table.db, table.name))
        layer = None if catalog else _SCHEMA_LAYERS.get(schema or "main")
        if not catalog and schema in LAKE_SCHEMAS and (schema, name) in known_sources:
            sources.add((schema, name))
        elif layer is not None and layers.get(name) == layer:
            models.add(name)
        else:
            ref = ".".join(part for part in (table.catalog, table.db, table.name) if part)
            hint = _did_you_mean(name, layers, known_sources)
            raise SqlModelError(f"{rel}: unknown table {ref}{hint}")
    return tuple(sorted(models)), tuple(sorted(sources))


def _did_you_mean(name: str, layers: dict[str, str], known_sources: set[tuple[str, str]]) -> str:
    """Hint listing the resolvable references to a table called ``name``, if any."""
    candidates = [f"{s}.{n}" for s, n in sorted(known_sources) if n == name and s in LAKE_SCHEMAS]
    if name in layers:
        candidates.insert(0, name if layers[name] == "marts" else f"staging.{name}")
    return f" (did you mean {' or '.join(candidates)}?)" if candidates else ""


def _toposort(models: dict[str, SqlModel], root: Path) -> tuple[SqlModel, ...]:
    """Dependencies first, ties broken by name; a cycle is an error naming its files."""
    pending = {name: set(model.model_deps) for name, model in models.items()}
    dependents: dict[str, list[str]] = defaultdict(list)
    for name, deps in pending.items():
        for dep in deps:
            dependents[dep].append(name)
    ready = sorted(name for name, deps in pending.items() if not deps)
    ordered: list[SqlModel] = []
    while ready:
        name = heapq.heappop(ready)
        ordered.append(models[name])
        for child in dependents[name]:
            pending[child].discard(name)
            if not pending[child]:
                heapq.heappush(ready, child)
    if len(ordered) == len(models):
        return tuple(ordered)
    # Every model left has an unresolved dependency that is also left: walk until a repeat.
    path = [min(name for name, deps in pending.items() if deps)]
    while path[-1] not in path[:-1]:
        path.append(min(pending[path[-1]]))
    cycle = [_rel(models[name].path, root) for name in path[path.index(path[-1]) :]]
    raise SqlModelError(f"{cycle[0]}: dependency cycle {' -> '.join(cycle)}")
