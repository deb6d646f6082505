"""A real PostgreSQL server for the tests (``pipelines.devservers``): a fresh cluster on 127.0.0.1
and a free port, started once per test process that asks for it and stopped at its end.

``pg_server`` gives the connection settings as the ``DAGSTER_PG_*`` environment variables the
observatory reads; ``pg_env`` sets them, with a fresh database, for one test.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.devservers import PgServer, start_pg_server

__all__ = ["PgServer", "start_pg_server"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    # outside pytest's temporary folders, which only root may enter
    folder = Path(tempfile.mkdtemp(prefix="observatory-pg-"))
    folder.chmod(0o755)
    server = start_pg_server(folder)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_env(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = pg_server.env(pg_server.create_database())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
