"""Benchmark of the node tables on a synthetic snapshot history: lake → batched node tables.

``uv run --frozen python -m pipelines.benchmarks.nodes [--snapshots 5000] [--nodes 20000]
[--workdir DIR] [--keep] [--max-seconds 600]``

A synthetic history of one snapshot a day (N snapshots × M nodes) is written as daily
``raw/node_snapshots`` partitions. Nodes are drawn each day from a fixed population of 1.5 × M
nodes: ~50% onion (plus some i2p/cjdns), Zipf-like countries, cities (3,000 points), ASNs and
operators (Hetzner, Amazon, OVH, ... then a long tail), user agents mostly /Satoshi:2x.0.0/ and
about 1% of IP nodes without an AS (so the offline database is asked). Then
``pipelines.defs.node_dispersion.build_node_tables`` (what the ``node_tables`` asset runs, with
the repo's operator seeds) builds the three tables in a fresh process, whose wall time and peak
RSS are reported. The same is done at a tenth of the snapshots, to show time linear in history
and memory flat. When the tenth's time says the full size would take more than
``--max-seconds``, the largest size that fits is run instead and the full one extrapolated. A
one-batch profile splits the time into its steps.
Results go to ``<workdir>/results.json``; generated data is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipelines.benchmarks import run_child
from pipelines.lake import Lake
from pipelines.node_tables import BATCH_ROWS, build_node_tables, enrich, partition_batches
from pipelines.nodes.dispersion import node_dispersion, node_distribution, spatial_spread
from pipelines.schemas.nodes import conform_nodes
from pipelines.sources.ip_databases import default_databases
from pipelines.sources.seeds import read_hosting_providers, read_node_organizations

SEED = 20_090_103
FIRST_DAY = date(2012, 1, 1)
SOURCE = "bitnodes_export"
CITIES = 3_000
# (country, latitude, longitude) in rough order of Bitcoin nodes; weights are Zipf-like.
COUNTRIES = [
    ("US", 39.0, -98.0), ("DE", 51.0, 10.0), ("FR", 46.5, 2.5), ("NL", 52.2, 5.3),
    ("CA", 56.0, -106.0), ("GB", 53.0, -1.5), ("FI", 62.0, 25.0), ("SG", 1.35, 103.8),
    ("RU", 56.0, 38.0), ("CH", 46.8, 8.2), ("JP", 36.0, 138.0), ("AU", -25.0, 134.0),
    ("SE", 60.0, 15.0), ("IT", 42.8, 12.5), ("ES", 40.0, -3.7), ("CZ", 49.8, 15.5),
    ("BR", -14.0, -51.0), ("AT", 47.5, 14.5), ("PL", 52.0, 19.0), ("UA", 49.0, 32.0),
    ("HK", 22.3, 114.2), ("KR", 36.5, 127.9), ("CN", 35.0, 103.0), ("IN", 21.0, 78.0),
    ("ZA", -29.0, 24.0), ("AR", -34.0, -64.0), ("NO", 61.0, 8.0), ("DK", 56.0, 9.5),
    ("BE", 50.6, 4.6), ("IE", 53.2, -8.0), ("PT", 39.5, -8.0), ("RO", 45.9, 24.9),
    ("NZ", -41.0, 174.0), ("MX", 23.6, -102.5), ("TR", 39.0, 35.0), ("IL", 31.0, 35.0),
]  # fmt: skip
# (AS number, organisation as a source names it): the big hosters first, then ISPs.
OPERATORS = [
    (24940, "Hetzner Online GmbH"), (16509, "Amazon.com, Inc."), (16276, "OVH SAS"),
    (14061, "DigitalOcean, LLC"), (7922, "Comcast Cable Communications, LLC"),
    (51167, "Contabo GmbH"), (15169, "Google LLC"), (3320, "Deutsche Telekom AG"),
    (63949, "Akamai Connected Cloud"), (20473, "The Constant Company, LLC"),
    (8075, "Microsoft Corporation"), (701, "Verizon Business"), (20115, "Charter"),
    (213230, "Hetzner Online GmbH"), (45102, "Alibaba (US) Technology Co., Ltd."),
    (6830, "Liberty Global B.V."), (3215, "Orange S.A."), (12876, "SCALEWAY S.A.S."),
]  # fmt: skip
TAIL_OPERATORS = 4_000
AGENTS = [
    ("/Satoshi:27.0.0/", 30), ("/Satoshi:26.0.0/", 20), ("/Satoshi:25.0.0/", 12),
    ("/Satoshi:28.0.0/", 10), ("/Satoshi:24.0.1/", 6), ("/Satoshi:22.0.0/", 5),
    ("/Satoshi:23.0.0/", 4), ("/Satoshi:0.21.1/", 3), ("/Satoshi:27.1.0/Knots:20240801/", 5),
    ("/Satoshi:0.20.1/", 2), ("/btcd:0.24.0/", 1), ("/Satoshi:25.1.0/Knots:20230807/", 2),
]  # fmt: skip
NETWORKS = [("onion", 0.50), ("ipv4", 0.40), ("ipv6", 0.08), ("i2p", 0.01), ("cjdns", 0.01)]
NO_AS = 0.01  # IP nodes whose source has no AS: enrich asks the offline database


def _zipf(n: int, s: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return weights / weights.sum()


def population(size: int, seed: int = SEED) -> pl.DataFrame:
    """A fixed population of nodes (their per-node fields) to draw each day's snapshot from."""
    rng = np.random.default_rng(seed)
    names, shares = zip(*NETWORKS, strict=True)
    network = np.array(names)[rng.choice(len(names), size, p=np.array(shares))]
    # cities: country by Zipf weight, scattered around its centre; nodes pick cities by Zipf
    country_index = rng.choice(len(COUNTRIES), CITIES, p=_zipf(len(COUNTRIES), 1.2))
    centres = np.array([(lat, lon) for _, lat, lon in COUNTRIES])[country_index]
    lat = np.clip(centres[:, 0] + rng.normal(0, 3, CITIES), -80, 80).round(4)
    lon = ((centres[:, 1] + rng.normal(0, 5, CITIES) + 180) % 360 - 180).round(4)
    city = rng.choice(CITIES, size, p=_zipf(CITIES, 1.0))
    asns = [a for a, _ in OPERATORS] + list(range(100_000, 100_000 + TAIL_OPERATORS))
    orgs = [o for _, o in OPERATORS] + [f"Regional ISP {i}" for i in range(TAIL_OPERATORS)]
    operator = rng.choice(len(asns), size, p=_zipf(len(asns), 1.1))
    agent_names, agent_weights = zip(*AGENTS, strict=True)
    weights = np.array(agent_weights, dtype=float)
    agent = rng.choice(len(AGENTS), size, p=weights / weights.sum())
    ip = (network == "ipv4") | (network == "ipv6")
    raw = rng.integers(0, 256, (size, 16), dtype=np.uint8)
    addresses = []
    for i in range(size):  # once per population: a plain loop is fast enough
        b = raw[i]
        if network[i] == "ipv4":
            addresses.append(f"{b[0] % 200 + 11}.{b[1]}.{b[2]}.{b[3] % 254 + 1}")
        elif network[i] == "ipv6":
            words = [int(b[2 * k]) << 8 | int(b[2 * k + 1]) for k in range(1, 8)]
            addresses.append("2a01:" + ":".join(f"{w:x}" for w in words))
        elif network[i] == "onion":
            text = base64.b32encode(b.tobytes() * 3)[:56].decode().lower()
            addresses.append(f"{text}.onion")
        elif network[i] == "i2p":
            addresses.append(base64.b32encode(b.tobytes() * 2)[:52].decode().lower() + ".b32.i2p")
        else:
            addresses.append("fc" + ":".join(f"{int(b[k]):02x}{int(b[k + 1]):02x}" for k in (0, 2)))
    no_as = ip & (rng.random(size) < NO_AS)
    return pl.DataFrame(
        {
            "address": addresses,
            "port": np.where(network == "onion", 8333, 8333).astype(np.int64),
            "network": network,
            "user_agent": np.array(agent_names)[agent],
            "city": np.where(ip, np.char.add("city-", city.astype(str)), None).tolist(),
            "country_code": np.where(
                ip, np.array([c for c, _, _ in COUNTRIES])[country_index[city]], None
            ).tolist(),
            "latitude": np.where(ip, lat[city], np.nan),
            "longitude": np.where(ip, lon[city], np.nan),
            "asn": np.where(ip & ~no_as, np.array(asns)[operator], -1),
            "organization": np.where(ip & ~no_as, np.array(orgs)[operator], None).tolist(),
        },
    ).with_columns(
        pl.col("latitude", "longitude").fill_nan(None),
        pl.when(pl.col("asn") >= 0).then(pl.col("asn")).alias("asn"),
    )


def generate(
    lake: Lake, snapshots: int, nodes: int, seed: int = SEED, every_days: int = 1
) -> dict[str, Any]:
    """Write ``snapshots`` snapshots of ``nodes`` nodes each, ``every_days`` apart, to ``lake``
    (in its monthly partitions, as ``raw/node_snapshots`` stores them)."""
    start = time.perf_counter()
    people = population(max(nodes * 3 // 2, 1), seed)
    rng = np.random.default_rng(seed + 1)
    month: list[pl.DataFrame] = []

    def flush() -> None:
        if month:
            key = month[0]["snapshot_date"][0].strftime("%Y-%m")
            lake.write(pl.concat(month), "raw", "node_snapshots", ("month", key))
            month.clear()

    for day_no in range(snapshots):
        day = FIRST_DAY + timedelta(days=day_no * every_days)
        picked = people[np.sort(rng.choice(people.height, nodes, replace=False))]
        when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        frame = picked.with_columns(
            pl.lit(day).alias("snapshot_date"),
            pl.lit(when).alias("snapshot_time"),
            pl.lit("crawled").alias("reachability"),
            pl.lit(70016).alias("protocol_version"),
            pl.lit(1033).alias("services"),
            pl.lit(150_000 + 144 * day_no).alias("height"),
        )
        if month and month[0]["snapshot_date"][0].month != day.month:
            flush()
        month.append(conform_nodes(frame, SOURCE))
    flush()
    files = lake.files("raw", "node_snapshots")
    return {
        "snapshots": snapshots,
        "nodes": nodes,
        "rows": snapshots * nodes,
        "lake_mb": sum(p.stat().st_size for p in files) / 1e6,
        "generate_seconds": time.perf_counter() - start,
    }


# --- children (fresh processes) ----------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_build(lake: Lake, batch_rows: int) -> dict[str, Any]:
    """Build the node tables as the asset does; wall time and peak RSS of this process."""
    base = _peak_rss_mb()
    start = time.perf_counter()
    built = build_node_tables(
        lake,
        default_databases(),
        read_node_organizations(),
        read_hosting_providers(),
        batch_rows=batch_rows,
    )
    seconds = time.perf_counter() - start
    out_mb = sum(p.stat().st_size for t in built.rows for p in lake.files("intermediate", t))
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time(),
        "base_rss_mb": base,
        "peak_rss_mb": _peak_rss_mb(),
        "batches": built.batches,
        "days": built.days,
        "rows": built.rows,
        "output_mb": out_mb / 1e6,
    }


def run_profile(lake: Lake, batch_rows: int) -> dict[str, Any]:
    """Time each step on the first batch."""
    files = partition_batches(lake, lake.files("raw", "node_snapshots"), batch_rows)[0]
    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps[name] = now - clock
        clock = now

    raw = pl.read_parquet(files, hive_partitioning=False)
    organizations, hosting = read_node_organizations(), read_hosting_providers()
    mark("read")
    nodes = enrich(raw, default_databases())
    mark("enrich")
    node_distribution(nodes, organizations, hosting)
    mark("distribution")
    node_dispersion(nodes, organizations, hosting)
    mark("dispersion (incl. spatial)")
    spatial_spread(nodes)
    mark("spatial_spread alone")
    return {"days": len(files), "rows": raw.height, "steps": steps}


def _child(*args: str) -> dict[str, Any]:
    return run_child("pipelines.benchmarks.nodes", *args)


def measure(workdir: Path, snapshots: int, nodes: int, batch_rows: int) -> dict[str, Any]:
    """Generate one history (untimed), then build its node tables in a fresh process."""
    data = workdir / f"history-{snapshots}x{nodes}"
    shutil.rmtree(data, ignore_errors=True)
    size = ["--data", str(data), "--snapshots", str(snapshots), "--nodes", str(nodes)]
    batch = ["--batch-rows", str(batch_rows)]
    print(f"\n== {snapshots:,} snapshots × {nodes:,} nodes = {snapshots * nodes:,} rows")
    setup = _child("--child", "setup", *size)
    print(f"   generated {setup['lake_mb']:,.0f} MB in {setup['generate_seconds']:.0f} s")
    build = _child("--child", "build", *size, *batch)
    rate = setup["rows"] / build["seconds"]
    print(
        f"   built in {build['seconds']:.1f} s ({rate:,.0f} rows/s), {build['batches']} batches, "
        f"peak RSS {build['peak_rss_mb']:,.0f} MB"
    )
    return {"setup": setup, "build": build, "rows_per_second": rate, "data": str(data)}


def _table(results: dict[str, Any]) -> str:
    lines = [
        f"{'snapshots':>9} {'nodes':>7} {'rows':>13} {'batches':>7} {'seconds':>8} "
        f"{'rows/s':>10} {'peak MB':>8}",
        "-" * 70,
    ]
    for run in results["runs"]:
        s, b = run["setup"], run["build"]
        lines.append(
            f"{s['snapshots']:>9,} {s['nodes']:>7,} {s['rows']:>13,} {b['batches']:>7} "
            f"{b['seconds']:>8.1f} {run['rows_per_second']:>10,.0f} {b['peak_rss_mb']:>8,.0f}"
        )
    if "extrapolated_full_seconds" in results:
        lines.append(
            f"full {results['full_rows']:,} rows extrapolated: "
            f"{results['extrapolated_full_seconds'] / 60:.1f} min (not run: over --max-seconds)"
        )
    lines.append(
        f"time ratio larger/smaller run: {results['time_ratio']:.2f} "
        f"for a rows ratio of {results['rows_ratio']:.2f}"
    )
    profile = results["profile"]
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in profile["steps"].items())
    lines.append(f"one batch ({profile['days']} days, {profile['rows']:,} rows): {steps}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=5_000, help="days of history")
    parser.add_argument("--nodes", type=int, default=20_000, help="nodes per snapshot")
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help="rows per batch")
    parser.add_argument(
        "--max-seconds", type=float, default=600, help="longest build to run; beyond, extrapolate"
    )
    parser.add_argument("--child", choices=("setup", "build", "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        lake = Lake(args.data / "lake")
        if args.child == "setup":
            result = generate(lake, args.snapshots, args.nodes)
        elif args.child == "build":
            result = run_build(lake, args.batch_rows)
        else:
            result = run_profile(lake, args.batch_rows)
        print(json.dumps(result))
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nodes-benchmark-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; polars {pl.__version__}, {os.cpu_count()} CPUs")
    full_rows = args.snapshots * args.nodes
    results: dict[str, Any] = {
        "command": " ".join(["python -m pipelines.benchmarks.nodes", *(argv or sys.argv[1:])]),
        "polars": pl.__version__,
        "cpus": os.cpu_count(),
        "batch_rows": args.batch_rows,
        "full_rows": full_rows,
        "runs": [],
    }
    try:
        tenth = max(args.snapshots // 10, 1)
        small = measure(workdir, tenth, args.nodes, args.batch_rows)
        results["runs"].append(small)
        results["profile"] = _child(
            "--child", "profile", "--data", small["data"], "--batch-rows", str(args.batch_rows)
        )
        estimate = small["build"]["seconds"] * args.snapshots / tenth
        snapshots = args.snapshots
        if estimate > args.max_seconds:
            snapshots = max(tenth + 1, int(tenth * args.max_seconds / small["build"]["seconds"]))
            print(f"   full size estimated at {estimate / 60:.1f} min: running {snapshots:,}")
        if not args.keep:
            shutil.rmtree(small["data"], ignore_errors=True)
        large = measure(workdir, snapshots, args.nodes, args.batch_rows)
        results["runs"].append(large)
        if not args.keep:
            shutil.rmtree(large["data"], ignore_errors=True)
        results["rows_ratio"] = large["setup"]["rows"] / small["setup"]["rows"]
        results["time_ratio"] = large["build"]["seconds"] / small["build"]["seconds"]
        if snapshots != args.snapshots:
            results["extrapolated_full_seconds"] = full_rows / large["rows_per_second"]
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print()
        print(_table(results))
        print(f"\nresults: {workdir / 'results.json'}")
    finally:
        if not args.keep:
            for path in workdir.glob("history-*"):
                shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
