"""The single-machine Dagster instance's SQLite event log, with one engine per process.

Dagster's ``ConsolidatedSqliteEventLogStorage`` (one SQLite file for every run's events) builds a
new SQLAlchemy engine and connection, and re-reads the schema to see whether optional tables
exist, for every event it stores: 4.8 ms an event on its own here, and 2–3 s of a 925,000-block
run's ~170 events. ``SqliteEventLog`` keeps one pooled engine per process (made again in a forked
child) and remembers the tables it has found (1.2 ms an event); what it stores, and where, is
unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS


class SqliteEventLog(ConsolidatedSqliteEventLogStorage):
    """``ConsolidatedSqliteEventLogStorage`` over one pooled engine per process."""

    _engine: db.Engine | None = None
    _engine_pid: int | None = None

    def _pooled_engine(self) -> db.Engine:
        if self._engine is None or self._engine_pid != os.getpid():
            if self._engine is not None:  # inherited through fork: leave the parent's connections
                self._engine.dispose(close=False)
            self._engine = db.create_engine(
                self._conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            self._engine_pid = os.getpid()
            self._tables: set[str] = set()
        return self._engine

    @contextmanager
    def _connect(self) -> Iterator[db.Connection]:
        with self._pooled_engine().connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the table exists; a table found is remembered (tables are never dropped)."""
        engine = self._pooled_engine()
        if table_name not in self._tables:
            with engine.connect() as conn:
                if engine.dialect.has_table(conn, table_name):
                    self._tables.add(table_name)
        return table_name in self._tables

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        super().dispose()
