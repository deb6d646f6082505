"""Two writers of one lake on different machines: the PostgreSQL lease lets one run at a time."""

import subprocess
import sys
import textwrap
from pathlib import Path

from pipelines.config import load_config
from pipelines.lease import lake_lease, lease_key
from tests.conftest import PROJECT_ROOT, SAMPLE_SOURCES, run_cli, write_config

SELECTION = 'key:"raw/pool_registry"'
HOLD = textwrap.dedent(
    """
    import sys, time
    from pipelines.config import load_config
    from pipelines.lease import lake_lease
    with lake_lease(load_config(sys.argv[1])):
        print("holding", flush=True)
        sys.stdin.readline()      # until the test lets go
    """
)


def config_for(folder: Path, lake: Path, timeout: float) -> Path:
    """A machine's config (its own data home) writing the shared ``lake``."""
    folder.mkdir(parents=True, exist_ok=True)
    dagster = {"storage": "postgres", "lease_timeout_seconds": timeout}
    return write_config(folder, SAMPLE_SOURCES, dagster=dagster, storage={"lake": str(lake)})


def hold(config: Path) -> subprocess.Popen:
    """Another machine's run holding the lease of ``config``'s lake until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(config)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_lease_keys_are_stable_and_distinct() -> None:
    assert lease_key("s3://a/lake") == lease_key("s3://a/lake") != lease_key("s3://b/lake")
    assert -(2**63) <= lease_key("s3://a/lake") < 2**63


def test_a_second_writer_waits_then_fails_naming_the_holder(tmp_path: Path, pg_env) -> None:
    second_config = config_for(tmp_path / "b", tmp_path / "lake", 2)
    holder = hold(config_for(tmp_path / "a", tmp_path / "lake", 0))
    try:
        second = run_cli("run", "--config", str(second_config), "--select", SELECTION)
        assert second.returncode != 0
        assert "waiting: the lake is being written by observatory run on" in second.stderr
        assert "lease_timeout_seconds" in second.stderr
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    # released: the next run takes the lease at once
    again = run_cli("run", "--config", str(second_config), "--select", SELECTION)
    assert again.returncode == 0, again.stderr[-2000:]


def test_a_killed_holder_releases_the_lease(tmp_path: Path, pg_env) -> None:
    config = config_for(tmp_path, tmp_path / "lake", 5)
    holder = hold(config)
    holder.kill()
    holder.wait()
    with lake_lease(load_config(config)):  # the server ended the dead session's lock
        pass
