"""DuckDB serving: one private build database, published atomically as the serving file.

* ``<data_home>/build/observatory.duckdb`` is the build database. Only runs open it, one writer at a
  time, serialised by an exclusive ``flock`` on ``build/writer.lock`` (a second run waits).
* ``<data_home>/observatory.duckdb`` is the serving file. Nobody ever writes to it: publishing
  checkpoints the build database, copies it to a hidden temporary file beside the serving file and
  renames it into place. Readers open it read-only; one holding the old file keeps reading the old
  snapshot (POSIX rename leaves open files intact) and the next open sees the new one whole.
* ``<data_home>/pinned/<relation>/<version>/`` holds hard links to the lake files a view of the
  warehouse reads (``pin_files``): the lake replaces a file by renaming a new one over it, so the
  link keeps the loaded version and a view shows what its checks passed until the next publish.
  Publishing removes the pins neither the new nor the previous serving file reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.atomic import replace_with
from pipelines.lake import Lake, digest, path_stamp
from pipelines.schemas import Contract

SERVING_FILE = "observatory.duckdb"
BUILD_DIR = "build"
PINNED_DIR = "pinned"
LOCK_FILE = "writer.lock"
# Schemas of the warehouse: lake tables under their layer, SQL staging models, marts in main, and
# the warehouse's own bookkeeping (which lake version each lake table was loaded from).
SCHEMAS = ("raw", "intermediate", "staging", "main", "meta")
LAKE_LOADS = "meta.lake_loads"
LAKE_LOADS_DESCRIPTION = (
    "Which version of the lake each raw and intermediate relation was loaded from, and when: "
    "a relation is reloaded only when its lake files changed."
)
LAKE_LOADS_COLUMNS = {
    "relation": "The loaded relation, <layer>.<table>.",
    "lake_version": "A hash of the lake table's files (path, size and time) when it was loaded.",
    "loaded_at": "When it was loaded (UTC).",
    "how": "copy (a table in the warehouse) or view (reading pinned lake files where they lie).",
    "pinned": "The folder of hard links to the lake files the view reads (null for a copy).",
}


class WarehouseNotBuilt(FileNotFoundError):
    """No serving database has been published yet."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Warehouse:
    home: Path
    lock_timeout_seconds: float = 3600.0

    @property
    def build_path(self) -> Path:
        return self.home / BUILD_DIR / SERVING_FILE

    @property
    def serving_path(self) -> Path:
        return self.home / SERVING_FILE

    @property
    def pinned_path(self) -> Path:
        """Absolute: views name their pinned files by this path, whatever the reader's folder."""
        return (self.home / PINNED_DIR).resolve()

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        lock_path = self.home / BUILD_DIR / LOCK_FILE
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+") as handle:
            deadline = time.monotonic() + self.lock_timeout_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "unknown"
                        raise TimeoutError(
                            f"the build database {self.build_path} is held by another run "
                            f"(pid {holder}) for over {self.lock_timeout_seconds:.0f} s"
                        ) from None
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The build database, opened read-write while holding the writer lock."""
        with self._writer_lock():
            con = duckdb.connect(str(self.build_path))
            try:
                for schema in SCHEMAS:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
                yield con
            finally:
                con.close()

    def publish(self) -> dict[str, object]:
        """Atomically replace the serving file with a consistent copy of the build database."""
        with self._writer_lock():
            if not self.build_path.exists():
                raise WarehouseNotBuilt(f"nothing to publish: {self.build_path} does not exist")
            con = duckdb.connect(str(self.build_path))
            try:
                con.execute("CHECKPOINT")
                in_use = pins_read(con) | self._pins_served()
                tables = con.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
                ).fetchall()[0][0]
                views = con.execute(
                    "SELECT count(*) FROM duckdb_views() "
                    "WHERE database_name = current_database() AND NOT internal"
                ).fetchall()[0][0]
            finally:
                con.close()
            tmp = self.home / f".{SERVING_FILE}.tmp-{uuid.uuid4().hex}"
            try:
                shutil.copyfile(self.build_path, tmp)
                replace_with(tmp, self.serving_path)
            finally:
                tmp.unlink(missing_ok=True)
            unpin_except(self.pinned_path, in_use)
        return {
            "path": str(self.serving_path),
            "bytes": self.serving_path.stat().st_size,
            "tables": tables,
            "views": views,
        }

    def _pins_served(self) -> set[Path]:
        """The pinned folders the current serving file reads (before it is replaced)."""
        if not self.serving_path.exists():
            return set()
        with duckdb.connect(str(self.serving_path), read_only=True) as con:
            return pins_read(con)

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the serving file (the caller closes it)."""
        if not self.serving_path.exists():
            raise WarehouseNotBuilt(
                f"no serving database at {self.serving_path} yet: run `observatory run` first"
            )
        return duckdb.connect(str(self.serving_path), read_only=True)


def load_lake_tables(
    con: duckdb.DuckDBPyConnection, lake: Lake, contracts: Iterable[Contract], pinned: Path
) -> list[str]:
    """Bring the build database's relations of these lake tables up to date with the lake: each
    table whose files changed since it was last loaded (``meta.lake_loads``) is loaded again, with
    its contract's descriptions; a table never written is skipped. Returns the relations loaded.

    On local disk a table becomes a view over hard links to its files, made under ``pinned``
    (``pin_files``), so its data is stored once and later lake writes do not show through before
    they are loaded again; where links cannot be made (another file system) it is copied. Object
    storage is copied through Arrow. Python steps write only the lake; the steps that build the
    warehouse call this, so they alone need the build database (one machine, or one volume).
    """
    _ensure_lake_loads(con)
    rows = con.execute(f"SELECT relation, lake_version, pinned FROM {LAKE_LOADS}").fetchall()
    # a relation is up to date when its version is loaded and, for a view, its pins are there
    current = {
        relation: version for relation, version, pins in rows if pins is None or Path(pins).is_dir()
    }
    existing = {f"{schema}.{name}" for schema, name, _, _ in user_relations(con)}
    done = []
    for contract in contracts:
        layer, table, relation = contract.layer, contract.table, contract.relation
        version = lake.version(layer, table, lambda path: digest(path_stamp(path)))
        if version is None or (current.get(relation) == version and relation in existing):
            continue
        files = lake.files(layer, table)
        described = {
            "description": contract.description,
            "column_descriptions": contract.descriptions,
        }
        pins = None
        if files and not lake.readable_in_place:  # object storage: through Arrow
            load_arrow_table(con, relation, lake.arrow_dataset(layer, table), **described)
        elif files and (
            pins := pin_files(files, lake.table_dir(layer, table), pinned / relation / version)
        ):
            load_parquet_view(con, relation, str(pins / "**" / "*.parquet"), **described)
        else:
            load_parquet_table(con, relation, files, empty_schema=contract.schema, **described)
        con.execute(
            f"INSERT OR REPLACE INTO {LAKE_LOADS} VALUES (?, ?, now()::timestamp, ?, ?)",
            [relation, version, "view" if pins else "copy", str(pins) if pins else None],
        )
        done.append(relation)
    return done


def pin_files(files: list[Path], root: Path, folder: Path) -> Path | None:
    """Hard links to ``files`` (under ``root``) in ``folder``, with their paths below ``root``;
    returns ``folder``, or None when the file system cannot link them (nothing is left behind).

    Links are made in a hidden sibling folder renamed into place, so a pinned folder is whole;
    one that exists already (the same version, pinned before) is kept.
    """
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex}"
    try:
        for file in files:
            link = staging / file.relative_to(root)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(file, link)
        os.replace(staging, folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if folder.is_dir():  # another loader pinned the same version meanwhile
            return folder
        return None
    return folder


def pins_read(con: duckdb.DuckDBPyConnection) -> set[Path]:
    """The pinned folders the views of a warehouse read (from its ``meta.lake_loads``)."""
    columns = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'meta' AND table_name = 'lake_loads'"
    ).fetchall()
    if ("pinned",) not in columns:
        return set()
    rows = con.execute(f"SELECT pinned FROM {LAKE_LOADS} WHERE pinned IS NOT NULL").fetchall()
    return {Path(row[0]) for row in rows}


def unpin_except(pinned: Path, in_use: set[Path]) -> None:
    """Remove the pinned folders (``pinned/<relation>/<version>``) not in ``in_use``, and those a
    crashed ``pin_files`` left half made."""
    for folder in pinned.glob("*/*") if pinned.is_dir() else []:
        if folder not in in_use:
            shutil.rmtree(folder, ignore_errors=True)


def _ensure_lake_loads(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {LAKE_LOADS} (relation VARCHAR PRIMARY KEY, "
        "lake_version VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL, how VARCHAR NOT NULL, "
        "pinned VARCHAR)"
    )
    # warehouses built before views read pinned files
    con.execute(f"ALTER TABLE {LAKE_LOADS} ADD COLUMN IF NOT EXISTS pinned VARCHAR")
    comment_relation(con, "TABLE", LAKE_LOADS, LAKE_LOADS_DESCRIPTION, LAKE_LOADS_COLUMNS)


def load_parquet_table(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    files: list[Path],
    *,
    description: str = "",
    column_descriptions: Mapping[str, str] | None = None,
    empty_schema: Mapping[str, pl.DataType] | None = None,
) -> int:
    """Replace ``relation`` (schema.table) in the build database with the given Parquet files.

    With no files the table is empty, with the columns of ``empty_schema``.
    """
    if not files:  # nothing in the lake yet: an empty table with the right columns
        empty = pl.DataFrame(schema=empty_schema or {}).to_arrow()
        return load_arrow_table(
            con,
            relation,
            empty,
            description=description,
            column_descriptions=column_descriptions,
        )
    target = _replaceable(con, relation, "TABLE")
    file_list = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
    con.execute(
        f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM "
        f"read_parquet({file_list}, union_by_name = true, hive_partitioning = false)"
    )
    return _described(con, "TABLE", target, description, column_descriptions)


def load_arrow_table(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    data: object,
    *,
    description: str = "",
    column_descriptions: Mapping[str, str] | None = None,
) -> int:
    """Replace ``relation`` (schema.table) with the rows of an Arrow table or dataset (a lake on
    object storage, which DuckDB cannot read without its httpfs extension); returns its rows."""
    target = _replaceable(con, relation, "TABLE")
    con.register("_arrow_lake_table", data)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM _arrow_lake_table")
    finally:
        con.unregister("_arrow_lake_table")
    return _described(con, "TABLE", target, description, column_descriptions)


def load_parquet_view(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    pattern: str,
    *,
    description: str = "",
    column_descriptions: Mapping[str, str] | None = None,
) -> int:
    """Replace ``relation`` (schema.table) in the build database with a view reading the Parquet
    files matching ``pattern`` where they lie, so they are not copied; returns its row count."""
    target = _replaceable(con, relation, "VIEW")
    con.execute(
        f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM "
        f"read_parquet({quote_literal(pattern)}, union_by_name = true, hive_partitioning = false)"
    )
    return _described(con, "VIEW", target, description, column_descriptions)


def _described(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    target: str,
    description: str,
    column_descriptions: Mapping[str, str] | None,
) -> int:
    """Comment the new relation (``comment_relation``) and return its row count."""
    comment_relation(con, kind, target, description, column_descriptions)
    return con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]


def _replaceable(con: duckdb.DuckDBPyConnection, relation: str, kind: str) -> str:
    """``relation`` quoted, after dropping it if it exists as the other kind (a table where a view
    is to be created, or a view where a table is)."""
    schema, table = relation.split(".", 1)
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    other = "VIEW" if kind == "TABLE" else "TABLE"
    catalog = "duckdb_views()" if other == "VIEW" else "duckdb_tables()"
    name = "view_name" if other == "VIEW" else "table_name"
    exists = con.execute(
        f"SELECT count(*) FROM {catalog} WHERE database_name = current_database() "
        f"AND schema_name = ? AND {name} = ?",
        [schema, table],
    ).fetchall()[0][0]
    if exists:
        con.execute(f"DROP {other} {target}")
    return target


def comment_relation(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    target: str,
    description: str,
    column_descriptions: Mapping[str, str] | None,
) -> None:
    """Store table and column descriptions as DuckDB comments (shown by ``observatory tables``)."""
    if description:
        con.execute(f"COMMENT ON {kind} {target} IS {quote_literal(description)}")
    columns = {row[0] for row in con.sql(f"SELECT column_name FROM (DESCRIBE {target})").fetchall()}
    for column, text in (column_descriptions or {}).items():
        if column in columns:
            con.execute(
                f"COMMENT ON COLUMN {target}.{quote_ident(column)} IS {quote_literal(text)}"
            )


def user_relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str | None]]:
    """Every user table and view of the open database: schema, name, kind (table or view) and
    comment; ``main`` first, then by schema and name."""
    return con.sql(
        "SELECT schema_name, table_name, 'table' AS kind, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() "
        "UNION ALL SELECT schema_name, view_name, 'view', comment FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal "
        "ORDER BY schema_name = 'main' DESC, schema_name, 2"
    ).fetchall()


def describe_relations(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Every user table and view: name, kind, description, row count and columns."""
    described = []
    for schema, name, kind, comment in user_relations(con):
        target = f"{quote_ident(schema)}.{quote_ident(name)}"
        columns = con.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema, name],
        ).fetchall()
        described.append(
            {
                "name": name if schema == "main" else f"{schema}.{name}",
                "kind": kind,
                "description": comment or "",
                "rows": con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0],
                "columns": [{"name": c, "type": t, "description": d or ""} for c, t, d in columns],
            }
        )
    return described


def content_digests(database: Path) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent hash of the rows of every table and view of a DuckDB
    file, bookkeeping (``meta``) aside: two warehouses with equal digests hold the same data."""
    digests = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for schema, name, _, _ in user_relations(con):
            if schema == "meta":
                continue
            target = f"{quote_ident(schema)}.{quote_ident(name)}"
            digests[f"{schema}.{name}"] = con.sql(
                f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
                f"FROM (SELECT md5(CAST(t AS VARCHAR)) AS h FROM {target} t)"
            ).fetchall()[0]
    return digests
