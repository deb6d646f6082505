"""End-to-end check of the Dagster UI: the webserver loads the definitions and its GraphQL API
shows the lineage and the checks. Starts ``dagster-webserver`` (and its code server) on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from pipelines.config import CONFIG_ENV_VAR, PROJECT_ROOT

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
CHAIN = [
    "source/pool_registry",
    "raw/pool_registry",
    "staging/stg_pools",
    "marts/dim_pool",
    "serving/observatory_duckdb",
]
EXPECTED_CHECKS = {
    "raw/pool_registry": {"pool_registry_expectations"},
    "marts/dim_pool": {"unique_pool_id", "unique_pool_name", "identifiable"},
}

QUERY = """
query ObservatoryGraph {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    groupName
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking assetKey { path } } }
      ... on Error { message }
    }
  }
}
"""


@dataclass(frozen=True)
class Webserver:
    """A running webserver: its base URL and where its output goes."""

    url: str
    stderr: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, chars: int = 6000) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return text[-chars:] or "(empty)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (webserver + code server), SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT)
    # SIGKILL whatever is left in the group, e.g. a gRPC code server outliving the webserver.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT)


def _wait_until_up(proc: subprocess.Popen[bytes], server: Webserver) -> None:
    """Poll ``/server_info`` until it answers; fail with the server's stderr otherwise."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"dagster-webserver exited with {proc.returncode}; stderr:\n{_tail(server.stderr)}"
            )
        try:
            if requests.get(f"{server.url}/server_info", timeout=2).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.25)
    pytest.fail(
        f"dagster-webserver not up after {STARTUP_TIMEOUT:.0f}s; stderr:\n{_tail(server.stderr)}"
    )


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    """``dagster-webserver -w workspace.yaml`` (as `observatory ui` runs it), throwaway instance."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_WEBSERVER_")}
    env.update(
        DAGSTER_HOME=str(home),
        **{CONFIG_ENV_VAR: str(PROJECT_ROOT / "configs" / "shared-data.toml")},
    )
    port = _free_port()
    server = Webserver(url=f"http://{HOST}:{port}", stderr=home / "webserver.stderr")
    cmd = [sys.executable, "-m", "dagster_webserver", "-w", str(PROJECT_ROOT / "workspace.yaml")]
    cmd += ["-h", HOST, "-p", str(port)]
    with open(home / "webserver.stdout", "wb") as out, open(server.stderr, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # own process group, so teardown reaches the code server too
        )
    try:
        _wait_until_up(proc, server)
        yield server
    finally:
        _stop(proc)


def _graphql(server: Webserver, query: str) -> dict[str, Any]:
    response = requests.post(f"{server.url}/graphql", json={"query": query}, timeout=30)
    assert response.ok, f"GraphQL HTTP {response.status_code}: {response.text[:2000]}"
    body = response.json()
    assert not body.get("errors"), f"GraphQL errors: {body['errors']}"
    return body["data"]


def _path(key: dict[str, list[str]]) -> str:
    return "/".join(key["path"])


def test_ui_shows_lineage_and_checks(webserver: Webserver) -> None:
    """The code location loads; assets, lineage edges and blocking checks are in the UI's API."""
    data = _graphql(webserver, QUERY)

    workspace = data["workspaceOrError"]
    assert workspace["__typename"] == "Workspace", workspace
    for entry in workspace["locationEntries"]:
        loaded = entry["locationOrLoadError"] or {}
        assert loaded.get("__typename") == "RepositoryLocation", (
            f"code location {entry['name']} ({entry['loadStatus']}) failed to load:\n"
            f"{loaded.get('message')}{loaded.get('stack') and ''.join(loaded['stack'])}"
        )
    assert [e["name"] for e in workspace["locationEntries"]] == ["observatory"]

    nodes = {_path(n["assetKey"]): n for n in data["assetNodes"]}
    assert set(CHAIN) <= set(nodes), f"assets missing from the UI: {set(CHAIN) - set(nodes)}"
    deps = {key: {_path(d) for d in node["dependencyKeys"]} for key, node in nodes.items()}
    for parent, child in itertools.pairwise(CHAIN):
        assert parent in deps[child], f"no lineage edge {parent} -> {child}: {deps[child]}"
    assert set(CHAIN[1:-1]) <= deps[CHAIN[-1]], "serving must depend on every table it publishes"
    assert [nodes[k]["groupName"] for k in CHAIN] == [
        "source",
        "raw",
        "staging",
        "marts",
        "serving",
    ]

    for key, names in EXPECTED_CHECKS.items():
        result = nodes[key]["assetChecksOrError"]
        assert result["__typename"] == "AssetChecks", f"{key}: {result}"
        checks = {c["name"]: c for c in result["checks"]}
        assert names <= set(checks), f"{key}: checks {sorted(checks)} lack {names - set(checks)}"
        for name in names:
            assert _path(checks[name]["assetKey"]) == key
            assert checks[name]["blocking"] is True, f"{key}:{name} is not blocking in the UI"
