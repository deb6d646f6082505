"""A real PostgreSQL server for the tests (Debian's ``postgresql`` package, installed by
``make test``): a fresh cluster on 127.0.0.1 and a free port, started once per test process that
asks for it and stopped at its end.

``pg_server`` gives the connection settings as the ``DAGSTER_PG_*`` environment variables the
observatory reads; ``pg_env`` sets them, with a fresh database, for one test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER, PASSWORD = "observatory", "observatory-test-password"


def pg_bin(name: str) -> str:
    """A PostgreSQL program: on PATH, else in Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"no PostgreSQL `{name}`: install Debian's postgresql (make test)")


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PgServer:
    port: int
    data: Path

    def env(self, database: str = "postgres") -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": USER,
            "DAGSTER_PG_PASSWORD": PASSWORD,
            "DAGSTER_PG_DB": database,
        }

    def create_database(self) -> str:
        import psycopg2

        name = f"test_{uuid.uuid4().hex[:12]}"
        con = psycopg2.connect(**self._connect("postgres"))
        con.autocommit = True
        with con.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        con.close()
        return name

    def _connect(self, database: str) -> dict[str, object]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "password": PASSWORD,
            "dbname": database,
        }

    def stop(self) -> None:
        subprocess.run(
            [*_as_postgres_user(), pg_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", "fast"],
            capture_output=True,
            check=False,
        )


def start_pg_server(folder: Path) -> PgServer:
    """initdb a cluster in ``folder`` (owned by the postgres user when run as root), start it on
    127.0.0.1 and a free port, password authentication for the test user."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(password_file, "postgres")
    run = [*_as_postgres_user()]
    subprocess.run(
        [
            *run,
            pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder}"
    subprocess.run(
        [
            *run,
            pg_bin("pg_ctl"),
            "start",
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-l",
            str(folder / "postgres.log"),
            "-o",
            options + " -c fsync=off",
        ],
        check=True,
        capture_output=True,
    )
    return PgServer(port, data)


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
