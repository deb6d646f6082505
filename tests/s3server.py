"""The S3 server for the tests (``pipelines.devservers``), started once per test process that
asks for it and stopped at its end.

``s3_server`` gives the endpoint and credentials; ``s3_env`` sets them as the standard AWS
variables for one test; ``s3_url`` is a fresh ``s3://`` location (its own prefix) per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pipelines.devservers import BUCKET, S3Server, start_s3_server

__all__ = ["BUCKET", "S3Server", "start_s3_server"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3_server(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3_url(s3_env: dict[str, str]) -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"
