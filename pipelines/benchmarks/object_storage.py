"""The shared-data warehouse built with the lake on local disk and on a local S3 server.

``uv run --frozen python -m pipelines.benchmarks.object_storage [--workdir DIR] [--keep]``

Two ``observatory run --config configs/shared-data.toml`` processes from empty data homes: one
with the lake in the data home, one with ``$OBSERVATORY_LAKE`` on a SeaweedFS S3 server started
on 127.0.0.1 for the occasion (``pipelines.devservers``; its data in the workdir). Prints both
wall times, their ratio and peak memory, compares the marts both published
(``differing_marts``: row by row, floats to 1e-9 relative; exit code 1 if one differs), and writes
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


def differing_marts(first: Path, second: Path, tolerance: float = 1e-9) -> dict[str, str]:
    """The relations of ``main`` that differ between two serving databases, and how: row
    counts, other columns, or floats further apart than ``tolerance`` (relative). Rows are
    matched after sorting by every non-float column; Polars sums carry ~1e-13 relative noise
    run to run, which is not a difference."""
    import duckdb
    import numpy as np
    import polars as pl

    found = {}
    with (
        duckdb.connect(str(first), read_only=True) as a,
        duckdb.connect(str(second), read_only=True) as b,
    ):
        names = [n for (n,) in a.sql(RELATIONS).fetchall()]
        for name in sorted(set(names) | {n for (n,) in b.sql(RELATIONS).fetchall()}):
            if name not in names:
                found[name] = "only in the second"
                continue
            x, y = (con.sql(f'SELECT * FROM main."{name}"').pl() for con in (a, b))
            if x.shape != y.shape or x.columns != y.columns:
                found[name] = f"shape {x.shape} vs {y.shape}"
                continue
            floats = [c for c, t in x.schema.items() if t in (pl.Float32, pl.Float64)]
            keys = [c for c in x.columns if c not in floats]
            x, y = (f.sort(keys, nulls_last=True, maintain_order=True) for f in (x, y))
            if not x.select(keys).equals(y.select(keys)):
                found[name] = "non-float columns differ"
                continue
            for column in floats:
                u, v = x[column].to_numpy(), y[column].to_numpy()
                scale = np.maximum(np.maximum(np.abs(u), np.abs(v)), 1e-300)
                gaps = np.where(np.isnan(u) & np.isnan(v), 0.0, np.abs(u - v) / scale)
                worst = float(np.nanmax(gaps)) if len(gaps) else 0.0
                if np.isnan(gaps).any() or worst > tolerance:
                    found[name] = f"{column}: relative difference {worst:.1e}"
                    break
    return found


RELATIONS = (
    "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' UNION ALL "
    "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal"
)


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
    different = differing_marts(*(workdir / f"home-{k}" / "observatory.duckdb" for k in runs))
    ratio = runs["s3"]["seconds"] / runs["local"]["seconds"]
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "seconds": {k: r["seconds"] for k, r in runs.items()},
        "peak_rss_mb": {k: r["peak_rss_mb"] for k, r in runs.items()},
        "ratio_s3_over_local": ratio,
        "marts_that_differ": different,
    }
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'lake':<10}{'wall s':>10}{'peak MB':>10}")
    for name, run in runs.items():
        print(f"{name:<10}{run['seconds']:>10.1f}{run['peak_rss_mb']:>10,.0f}")
    print(f"S3 / local: {ratio:.2f}x; marts that differ: {different or 'none'}")
    print(f"results: {workdir / 'results.json'}")
    if not args.keep:
        for scratch in (s3_folder, *(workdir / f"home-{name}" for name in runs)):
            shutil.rmtree(scratch, ignore_errors=True)
    return 0 if not different else 1


if __name__ == "__main__":
    sys.exit(main())
