"""One writer of a lake at a time, across machines: a PostgreSQL advisory lock.

On one machine the build database's ``flock`` serialises runs. With the Dagster instance in
PostgreSQL (``[dagster] storage = "postgres"``), runs on several machines may write the same
lake and publish the same warehouse, so a run first takes a session advisory lock keyed by the
lake's location, in the instance's database. The lock is released when the run ends, or by the
server when its process dies (the session closes): a killed run never leaves a stale lease.
A second run waits up to ``[dagster] lease_timeout_seconds``, naming the holder, then fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator

from pipelines.config import ObservatoryConfig

POLL_SECONDS = 1.0


class LeaseTimeout(TimeoutError):
    """Another run held the lake's lease for longer than the timeout."""


def lease_key(location: str) -> int:
    """The advisory lock key of a lake: a signed 64-bit number from its location."""
    return int.from_bytes(hashlib.sha256(location.encode()).digest()[:8], "big", signed=True)


def pg_connection():
    """A connection to the instance's database, from the same variables Dagster reads."""
    import psycopg2

    url = os.environ.get("DAGSTER_PG_URL")
    name = f"observatory run on {socket.gethostname()} pid {os.getpid()}"
    if url:
        return psycopg2.connect(url.replace("+psycopg2", "", 1), application_name=name)
    return psycopg2.connect(
        host=os.environ["DAGSTER_PG_HOST"],
        port=os.environ["DAGSTER_PG_PORT"],
        user=os.environ["DAGSTER_PG_USERNAME"],
        password=os.environ["DAGSTER_PG_PASSWORD"],
        dbname=os.environ["DAGSTER_PG_DB"],
        application_name=name,
    )


@contextlib.contextmanager
def lake_lease(
    config: ObservatoryConfig, waiting: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the lease of the config's lake for the block (nothing to hold without PostgreSQL);
    ``waiting(holder)`` is called once if another run holds it."""
    if config.dagster_storage != "postgres":
        yield
        return
    location = str(config.lake_location)
    key = lease_key(location)
    con = pg_connection()
    con.autocommit = True
    try:
        deadline = time.monotonic() + config.lease_timeout_seconds
        told = False
        with con.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                if cursor.fetchone()[0]:
                    break
                holder = _holder(cursor, key)
                if time.monotonic() > deadline:
                    raise LeaseTimeout(
                        f"the lake {location} is being written by {holder}; gave up after "
                        f"{config.lease_timeout_seconds:g} s ([dagster] lease_timeout_seconds)"
                    )
                if waiting is not None and not told:
                    waiting(holder)
                    told = True
                time.sleep(POLL_SECONDS)
        yield
    finally:
        con.close()  # ends the session: the server releases the lock


def _holder(cursor, key: int) -> str:
    """Who holds the advisory lock ``key`` (its session's application name)."""
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    cursor.execute(
        "SELECT a.application_name, a.client_addr FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
        "AND l.objid::bigint = %s",
        (high, low),
    )
    row = cursor.fetchone()
    return (row[0] or f"a session from {row[1]}") if row else "another run"
