"""What the report reads from the serving database: small queries that tolerate missing tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

import duckdb

from pipelines.warehouse import quote_ident


def split_name(name: str) -> tuple[str, str]:
    """``'raw.blocks'`` → ``('raw', 'blocks')``; a bare name is in schema main."""
    schema, _, table = name.rpartition(".")
    return (schema or "main", table)


def has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table or view of that (optionally schema-qualified) name exists."""
    schema, table = split_name(name)
    found = con.execute(
        "SELECT count(*) FROM ("
        "SELECT schema_name, table_name AS name FROM duckdb_tables() "
        "WHERE database_name = current_database() "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal"
        ") WHERE schema_name = ? AND name = ?",
        [schema, table],
    ).fetchall()[0][0]
    return found > 0


def columns_of(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    schema, table = split_name(name)
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def rows(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The query's result as a list of dicts (column name → value)."""
    result = con.execute(query, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def qualified(name: str) -> str:
    schema, table = split_name(name)
    return f"{quote_ident(schema)}.{quote_ident(table)}"


# --- freshness ----------------------------------------------------------------------------------


class Freshness(NamedTuple):
    """The latest date present in the data of one source (feed)."""

    source: str
    table: str
    latest_date: date | None


# (source, table, date column, column naming the feed or None). The date is the latest day the
# data describes: a block's day, an observation's day, a snapshot's day, a Cambridge month (its
# first day), a model's publication date, the end of a chip-stock quarter.
FRESHNESS_SPECS: tuple[tuple[str, str, str, str | None], ...] = (
    ("blocks", "raw.blocks", "date", "feed"),
    ("market", "raw.market_observations", "date", "feed"),
    ("nodes", "raw.node_snapshots", "snapshot_date", "source"),
    ("nodes (published distributions)", "raw.node_distributions", "snapshot_date", "source"),
    ("hashrate_geography (month)", "raw.hashrate_geography", "month", "source"),
    ("hashrate_point_estimates", "raw.hashrate_point_estimates", "as_of", None),
    ("ai_models", "raw.ai_models", "publication_date", "feed"),
    ("ai_chip_owners (quarter end)", "raw.ai_chip_owners", "quarter_end", "feed"),
)


def source_freshness(con: duckdb.DuckDBPyConnection) -> list[Freshness]:
    """Per source and feed, the latest date present in its raw table.

    Tables or columns that are absent are skipped, so a partial warehouse still answers.
    """
    found: list[Freshness] = []
    for source, table, date_column, feed_column in FRESHNESS_SPECS:
        if not has_relation(con, table):
            continue
        present = columns_of(con, table)
        if date_column not in present:
            continue
        target, when = qualified(table), quote_ident(date_column)
        if feed_column and feed_column in present:
            feed = quote_ident(feed_column)
            query = (
                f"SELECT {feed}, max({when}) FROM {target} "
                f"GROUP BY {feed} ORDER BY {feed} NULLS LAST"
            )
            for name, latest in con.execute(query).fetchall():
                label = f"{source}: {name}" if name is not None else source
                found.append(Freshness(label, table, _as_date(latest)))
        else:
            latest = con.execute(f"SELECT max({when}) FROM {target}").fetchall()[0][0]
            found.append(Freshness(source, table, _as_date(latest)))
    return found


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None
