"""A real Redis server for the tests (``pipelines.devservers``), the Celery broker of the
distributed-execution tests: started once per test process that asks for it, stopped at its end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.devservers import RedisServer, start_redis_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()
