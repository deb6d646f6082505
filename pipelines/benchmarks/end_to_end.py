"""End-to-end benchmark: one chain through the pure path, ``observatory run`` and DuckDB.

``uv run --frozen python -m pipelines.benchmarks.end_to_end [--blocks 925000] [--workdir DIR]
[--keep] [--repeat 3] [--repeat-orchestrated 1]``

The chain of ``pipelines.benchmarks.mining`` (dated from the real genesis, 2009-01-03, so that
every block falls in a partition of the raw tables) is written as a BigQuery ``crypto_bitcoin``
NDJSON export, then timed three ways, each in fresh processes:

- pure: stage (1) of the mining benchmark (``read_bigquery_coinbase_ndjson`` → ``merge_feeds`` →
  ``attribute`` → windows → ``mining_concentration``; reference tables loaded before the clock);
- orchestrated: ``observatory run`` as a user runs it, from a fresh data home, with a config whose
  only block feed is that file: the reference assets (pool registry and seeds), ``raw/blocks``
  over the chain's days (``--from/--to``) and the mining assets downstream of the blocks, in one
  process (an ingest run, then a build run), split by its Dagster events;
- floor: one DuckDB scan of the file counting blocks per 30-day window and coinbase tag (the
  first registry tag in the coinbase, else the first payout address).

``--repeat-orchestrated 0`` times only the pure path and the floor. Attribution is checked
against the generated pools, for the pure functions on the same file and for the table the
orchestrated runs published (≥ 99%, exit code 1 otherwise), and both paths must produce tables of
the same size. Results go to ``<workdir>/results.json``; the chain and the data
home are removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipelines.benchmarks import run_child
from pipelines.benchmarks.cli_runs import describe_run, run_observatory

MODULE = "pipelines.benchmarks.end_to_end"
GENESIS = datetime(2009, 1, 3, 18, 15, 5, tzinfo=UTC)  # the genesis block's header time
ACCURACY_TARGET = 0.99
MIN_BLOCKS = 1_000
REFERENCE_SELECTION = " or ".join(
    f'key:"raw/{name}"'
    for name in ("pool_registry", "pool_owners", "pool_template_builders", "pool_label_aliases")
)
# The blocks and what they reach, less the marts that also need the market, node and AI tables.
MINING_SELECTION = (
    '(key:"raw/blocks"+ and not key:"marts/mining_economics" '
    'and not key:"marts/decentralization_scoreboard"+)'
)
PATHS = ("pure", "orchestrated", "floor")
PATH_TITLES = {
    "pure": "pure functions: NDJSON → mining_concentration",
    "orchestrated": "observatory run: reference, raw/blocks and mining",
    "floor": "DuckDB floor: one scan, 30-day window × tag",
}
# Blocks per tumbling 30-day window (from the windows' anchor) and label: the first registry
# tag in the coinbase (its bytes cast to text, the tags matched as written), else the first
# output's first address.
FLOOR_QUERY = """
select floor((epoch(time) - epoch($anchor::date)) / (30 * 86400))::bigint as window_index,
       coalesce(nullif(regexp_extract(unhex(identifiers)::varchar, $tags, 1), ''), first_address)
           as label,
       count(*) as blocks
from (
    select strptime(timestamp, '%Y-%m-%d %H:%M:%S UTC') as time, identifiers,
           outputs[1].addresses[1] as first_address
    from read_ndjson($path, columns = {
        timestamp: 'VARCHAR', identifiers: 'VARCHAR', outputs: 'STRUCT(addresses VARCHAR[])[]'
    })
)
group by all
"""


# --- pure helpers ----------------------------------------------------------------------------


def write_config(path: Path, ndjson: Path, registry: Path, data_home: Path) -> Path:
    """An observatory config whose only sources are the registry and the NDJSON block feed."""
    from pipelines.benchmarks.mining import FEED

    text = "\n".join(
        [
            f"# Written by {MODULE}: the synthetic chain as the only block feed.",
            f"data_home = {json.dumps(str(data_home))}",
            "",
            "[sources.pool_registry.mempool]",
            'kind = "mempool_pools_v2"',
            f"location = {json.dumps(str(registry))}",
            "",
            f"[sources.blocks.{FEED}]",
            'kind = "bigquery_coinbase_ndjson"',
            f"location = {json.dumps(str(ndjson))}",
        ]
    )
    path.write_text(text + "\n")
    return path


def orchestrated_runs(config: Path, first_day: str, last_day: str) -> dict[str, list[str]]:
    """The ``observatory`` command a user runs to build the mining tables from a new feed: the
    reference tables, the blocks of the chain's days and the mining tables, in one process
    (its ingest run, then its build run)."""
    run = ["run", "--config", str(config)]
    selection = f"{REFERENCE_SELECTION} or {MINING_SELECTION}"
    return {"mining": [*run, "--select", selection, "--from", first_day, "--to", last_day]}


def blob_text(data: bytes) -> str:
    """``data`` as DuckDB casts a BLOB to text: printable ASCII as is, except quotes and
    backslash, and every other byte as ``\\xAB``."""
    kept = set(range(0x20, 0x7F)) - {0x22, 0x27, 0x5C}
    return "".join(chr(b) if b in kept else f"\\x{b:02X}" for b in data)


def tag_pattern(tags: list[str]) -> str:
    """A regular expression capturing the first of ``tags`` in a coinbase cast to text."""
    texts = {re.escape(blob_text(tag.encode())) for tag in tags if tag}
    return "(" + "|".join(sorted(texts, key=len, reverse=True)) + ")"


def floor_counts(con: Any, ndjson: Path, tags_pattern: str, anchor: date) -> Any:
    """The floor query's result (window_index, label, blocks) as a Polars frame."""
    params = {"anchor": anchor.isoformat(), "tags": tags_pattern, "path": str(ndjson)}
    return con.sql(FLOOR_QUERY, params=params).pl()


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best and median of the runs' timed seconds and process seconds; the highest peak RSS."""
    seconds = [r["seconds"] for r in runs]
    return {
        "best_seconds": min(seconds),
        "median_seconds": statistics.median(seconds),
        "median_process_seconds": statistics.median(r["process_seconds"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "runs": runs,
    }


def ratios(summaries: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """orchestrated/pure and pure/floor, of the best and of the median times (of the paths
    timed)."""
    pairs = {"orchestrated/pure": ("orchestrated", "pure"), "pure/floor": ("pure", "floor")}
    return {
        name: {
            stat: summaries[top][f"{stat}_seconds"] / summaries[bottom][f"{stat}_seconds"]
            for stat in ("best", "median")
        }
        for name, (top, bottom) in pairs.items()
        if top in summaries and bottom in summaries
    }


# --- children --------------------------------------------------------------------------------


def setup(data: Path, n_blocks: int) -> dict[str, Any]:
    """Generate the chain, write its NDJSON export and truth; attribute it once (untimed)."""
    from pipelines.benchmarks.mining import (
        FEED,
        attribute_blocks,
        attribution_accuracy,
        chain_paths,
        generate_chain,
        reference_tables,
    )
    from pipelines.mining.attribution import merge_feeds
    from pipelines.sources.block_files import read_bigquery_coinbase_ndjson

    paths = chain_paths(data)
    data.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    records, truth = generate_chain(n_blocks, genesis=GENESIS)
    records.write_ndjson(paths["ndjson"])
    truth.write_parquet(paths["truth"])
    del records
    generated = time.perf_counter() - clock
    blocks, rejects = read_bigquery_coinbase_ndjson(paths["ndjson"], FEED)
    if rejects.height or blocks.height != n_blocks:
        raise RuntimeError(f"reader: {blocks.height} blocks, {rejects.height} rejects: {rejects}")
    merged, _ = merge_feeds(blocks, [FEED])
    attributed = attribute_blocks(merged, reference_tables())
    return {
        "blocks": n_blocks,
        "days": blocks["date"].n_unique(),
        "first_day": str(blocks["date"].min()),
        "last_day": str(blocks["date"].max()),
        "ndjson_mb": paths["ndjson"].stat().st_size / 1e6,
        "generate_seconds": generated,
        **attribution_accuracy(attributed, truth),
    }


def floor(data: Path) -> dict[str, Any]:
    """The floor query, timed; the tag pattern is built before the clock starts."""
    import duckdb

    from pipelines.benchmarks.mining import chain_paths, load_registry
    from pipelines.metrics.windows import ANCHOR

    pattern = tag_pattern([tag for tags in load_registry()["tags"].to_list() for tag in tags])
    con = duckdb.connect()
    clock = time.perf_counter()
    counts = floor_counts(con, chain_paths(data)["ndjson"], pattern, ANCHOR)
    seconds = time.perf_counter() - clock
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": {"blocks": int(counts["blocks"].sum()), "groups": counts.height},
    }


# --- the driver ------------------------------------------------------------------------------


def _timed_child(module: str, *args: str) -> dict[str, Any]:
    """``run_child`` plus the process's wall time and the load average before it."""
    load = os.getloadavg()[0]
    clock = time.perf_counter()
    result = run_child(module, *args)
    return {**result, "process_seconds": time.perf_counter() - clock, "load_before": load}


def run_orchestrated(workdir: Path, config: Path, home: Path, prepared: dict) -> dict[str, Any]:
    """The user's runs from a fresh data home, and the tables they published."""
    shutil.rmtree(home, ignore_errors=True)
    os.sync()
    runs = {}
    commands = orchestrated_runs(config, prepared["first_day"], prepared["last_day"])
    for name, args in commands.items():
        print(f"   orchestrated, {name}: observatory {' '.join(args[3:]) or 'run'}", flush=True)
        runs[name] = run_observatory(args, data_home=home)
        print(f"   orchestrated, {name}: {runs[name]['seconds']:.1f} s", flush=True)
    seconds = sum(run["seconds"] for run in runs.values())
    return {
        "seconds": seconds,
        "process_seconds": seconds,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs.values()),
        "load_before": next(iter(runs.values()))["load_before"],
        "runs": runs,
        "published": published_tables(home, workdir),
    }


def published_tables(home: Path, workdir: Path) -> dict[str, Any]:
    """Row counts of the published mining tables and the attribution's accuracy."""
    import polars as pl

    from pipelines.benchmarks.mining import attribution_accuracy, chain_paths
    from pipelines.warehouse import Warehouse

    con = Warehouse(home).reader()
    try:
        attributed = con.sql("select height, pool, method from intermediate.block_attribution").pl()
        counts = {
            name: con.sql(f"select count(*) from intermediate.{table}").fetchall()[0][0]
            for name, table in (
                ("share_rows", "pool_shares"),
                ("concentration_rows", "mining_concentration"),
            )
        }
    finally:
        con.close()
    truth = pl.read_parquet(chain_paths(_chain(workdir))["truth"])
    return {
        "rows": {"blocks": attributed.height, **counts},
        **attribution_accuracy(attributed, truth),
    }


def _chain(workdir: Path) -> Path:
    return workdir / "chain"


def problems_of(prepared: dict, summaries: dict[str, dict[str, Any]]) -> list[str]:
    """What makes the figures untrustworthy: inaccurate attribution, tables of other sizes."""
    found = []
    n_blocks = prepared["blocks"]
    if prepared["accuracy"] < ACCURACY_TARGET:
        found.append(f"pure attribution accuracy {prepared['accuracy']:.4%}")
    for run in summaries.get("orchestrated", {"runs": []})["runs"]:
        published = run["published"]
        if published["accuracy"] < ACCURACY_TARGET:
            found.append(f"orchestrated attribution accuracy {published['accuracy']:.4%}")
        for pure in summaries["pure"]["runs"]:
            for name, count in published["rows"].items():
                if pure["rows"][name] != count:
                    found.append(f"{name}: pure {pure['rows'][name]:,}, orchestrated {count:,}")
    for run in summaries["floor"]["runs"]:
        if run["rows"]["blocks"] != n_blocks:
            found.append(f"the floor counted {run['rows']['blocks']:,} of {n_blocks:,} blocks")
    return sorted(set(found))


def step_lines(runs: list[dict[str, Any]]) -> list[str]:
    """The pure path's steps: median seconds and the highest peak RSS reached by each step's end."""
    return [
        f"  {step:<24} {statistics.median(run['steps'][step] for run in runs):6.2f} s  "
        f"peak {max(run['step_peak_rss_mb'][step] for run in runs):6,.0f} MB"
        for step in runs[0]["steps"]
    ]


def table(results: dict[str, Any]) -> str:
    """The summary table, the ratios and where the orchestrated runs' time went."""
    summaries = results["paths"]
    lines = [
        f"{'path':<48} {'best s':>8} {'median s':>9} {'process s':>10} {'peak MB':>8} {'runs':>5}",
        "-" * 93,
    ]
    for path in summaries:
        summary = summaries[path]
        lines.append(
            f"{PATH_TITLES[path]:<48} {summary['best_seconds']:8.2f} "
            f"{summary['median_seconds']:9.2f} {summary['median_process_seconds']:10.2f} "
            f"{summary['peak_rss_mb']:8,.0f} {len(summary['runs']):5}"
        )
    lines.append(
        "(pure and floor: the timed computation, 'process s' their whole process; "
        "orchestrated: the observatory process)"
    )
    for name, ratio in results["ratios"].items():
        lines.append(f"{name}: {ratio['best']:.1f}× (best), {ratio['median']:.1f}× (median)")
    lines.append("\npure path by step (median s; peak RSS so far):")
    lines += step_lines(summaries["pure"]["runs"])
    if "orchestrated" not in summaries:
        return "\n".join(lines)
    fastest = min(summaries["orchestrated"]["runs"], key=lambda run: run["seconds"])
    lines.append("\nwhere the orchestrated time went (fastest attempt):")
    for name, run in fastest["runs"].items():
        lines += ["  " + line for line in describe_run(name, run)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from pipelines.benchmarks.mining import REGISTRY, chain_paths, load_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=925_000, help="blocks in the chain")
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the chain and the data home")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the pure path and floor")
    parser.add_argument(
        "--repeat-orchestrated",
        type=int,
        default=1,
        help="attempts of the orchestrated path (0: time only the pure path and the floor)",
    )
    parser.add_argument("--child", choices=("setup", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "setup":
        print(json.dumps(setup(args.data, args.blocks), default=str))
        return 0
    if args.child == "floor":
        print(json.dumps(floor(args.data)))
        return 0
    if args.blocks < MIN_BLOCKS or args.repeat < 1 or args.repeat_orchestrated < 0:
        parser.error(
            f"--blocks must be at least {MIN_BLOCKS:,}, --repeat at least 1 and "
            "--repeat-orchestrated at least 0"
        )

    load_registry()  # fail early, with the message, when the shared data is absent
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="end-to-end-benchmark-"))
    workdir.mkdir(parents=True, exist_ok=True)
    chain, home = _chain(workdir), workdir / "home"
    print(f"workdir {workdir}; {os.cpu_count()} CPUs; each path in fresh processes", flush=True)
    try:
        print(f"== generating {args.blocks:,} blocks and their NDJSON export (untimed) ...")
        prepared = run_child(
            MODULE, "--child", "setup", "--data", str(chain), "--blocks", str(args.blocks)
        )
        print(
            f"   {prepared['days']:,} days {prepared['first_day']} .. {prepared['last_day']}; "
            f"NDJSON {prepared['ndjson_mb']:,.0f} MB; pure attribution accuracy "
            f"{prepared['accuracy']:.4%}",
            flush=True,
        )
        if prepared["last_day"] >= datetime.now(UTC).date().isoformat():
            sys.exit(f"the chain ends on {prepared['last_day']}: use fewer --blocks")
        config = write_config(
            workdir / "observatory.toml", chain_paths(chain)["ndjson"], REGISTRY, home
        )
        children: dict[str, Callable[[], dict[str, Any]]] = {
            "floor": lambda: _timed_child(MODULE, "--child", "floor", "--data", str(chain)),
            "pure": lambda: _timed_child(
                "pipelines.benchmarks.mining", "--child", "ndjson", "--data", str(chain)
            ),
            "orchestrated": lambda: run_orchestrated(workdir, config, home, prepared),
        }
        attempts = {"floor": args.repeat, "pure": args.repeat}
        attempts["orchestrated"] = args.repeat_orchestrated
        runs: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS}
        for attempt in range(max(attempts.values())):  # interleaved: the machine may be shared
            for path in ("floor", "pure", "orchestrated"):
                if attempt >= attempts[path]:
                    continue
                print(f"== {path}, run {attempt + 1}/{attempts[path]} ...", flush=True)
                os.sync()  # the previous path's writes are flushed before, not during, this one
                result = children[path]()
                runs[path].append(result)
                print(
                    f"   {path}: {result['seconds']:.2f} s, peak {result['peak_rss_mb']:,.0f} MB "
                    f"(load average before: {result['load_before']:.1f})",
                    flush=True,
                )
        summaries = {path: summarise(runs[path]) for path in PATHS if runs[path]}
        results = {
            "command": " ".join([f"python -m {MODULE}", *(argv or sys.argv[1:])]),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "setup": prepared,
            "paths": summaries,
            "ratios": ratios(summaries),
            "problems": problems_of(prepared, summaries),
        }
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print()
        print(table(results))
        print(f"\nresults: {workdir / 'results.json'}")
    finally:
        if not args.keep:
            shutil.rmtree(chain, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
            print(f"removed the chain and the data home from {workdir} (--keep keeps them)")
    for problem in results["problems"]:
        print(f"FAILED: {problem}")
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
