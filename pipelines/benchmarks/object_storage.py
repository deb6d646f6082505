"""The shared-data warehouse built with the lake on local disk and on a local S3 server.

``uv run --frozen python -m pipelines.benchmarks.object_storage [--workdir DIR] [--keep]``

Two ``observatory run --config configs/shared-data.toml`` processes from empty data homes: one
with the lake in the data home, one with ``$OBSERVATORY_LAKE`` on a SeaweedFS S3 server started
on 127.0.0.1 for the occasion (``pipelines.devservers``; its data in the workdir). Prints both
wall times, their ratio and peak memory, compares every relation both published (row count and
content hash, ``differing_relations``; exit code 1 if one differs), and writes
``<workdir>/results.json`` (the data homes and the S3 data are removed unless ``--keep``). The
S3 server shares the machine's cores and disk, so the ratio measures the protocol and the Arrow
load path, not a network. Skips, saying so, when ``../shared/data`` is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.benchmarks.cli_runs import run_observatory
from pipelines.benchmarks.shared_data_runs import CONFIG, SHARED_DATA
from pipelines.devservers import BUCKET, start_s3_server
from pipelines.warehouse import content_digests


def differing_relations(first: Path, second: Path) -> list[str]:
    """The relations whose row count or content hash (``content_digests``) differs between two
    warehouses, or that only one holds; the build is deterministic, so none should."""
    a, b = content_digests(first), content_digests(second)
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the data homes and S3 data")
    args = parser.parse_args(argv)
    if not SHARED_DATA.is_dir():
        print(f"skipped: no shared data at {SHARED_DATA}")
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="object-storage-"))
    workdir.mkdir(parents=True, exist_ok=True)
    s3_folder = Path(tempfile.mkdtemp(prefix="s3-", dir=workdir))
    server = start_s3_server(s3_folder)
    lake = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    runs: dict[str, dict[str, Any]] = {}
    try:
        for name, env in (("local", {}), ("s3", {**server.env(), "OBSERVATORY_LAKE": lake})):
            home = workdir / f"home-{name}"
            shutil.rmtree(home, ignore_errors=True)
            print(f"== lake {'on ' + lake if name == 's3' else 'on local disk'}", flush=True)
            runs[name] = run_observatory(["run", "--config", str(CONFIG)], data_home=home, env=env)
    finally:
        server.stop()
    different = differing_relations(*(workdir / f"home-{k}" / "observatory.duckdb" for k in runs))
    ratio = runs["s3"]["seconds"] / runs["local"]["seconds"]
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "seconds": {k: r["seconds"] for k, r in runs.items()},
        "peak_rss_mb": {k: r["peak_rss_mb"] for k, r in runs.items()},
        "ratio_s3_over_local": ratio,
        "relations_that_differ": different,
    }
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'lake':<10}{'wall s':>10}{'peak MB':>10}")
    for name, run in runs.items():
        print(f"{name:<10}{run['seconds']:>10.1f}{run['peak_rss_mb']:>10,.0f}")
    print(f"S3 / local: {ratio:.2f}x; relations that differ: {different or 'none'}")
    print(f"results: {workdir / 'results.json'}")
    if not args.keep:
        for scratch in (s3_folder, *(workdir / f"home-{name}" for name in runs)):
            shutil.rmtree(scratch, ignore_errors=True)
    return 0 if not different else 1


if __name__ == "__main__":
    sys.exit(main())
