"""Benchmark of the mining path on a synthetic chain: NDJSON export → attribution → metrics.

``uv run --frozen python -m pipelines.benchmarks.mining [--blocks 950000] [--workdir DIR] [--keep]``

A synthetic chain (pools from the real registry, skewed and drifting shares, a few percent
unknown blocks, real tags and payout addresses in realistic coinbases) is written as a BigQuery
``crypto_bitcoin`` NDJSON export and, through the pipeline's own reader, into a lake of monthly
``raw/blocks`` partitions. Each stage then runs in a fresh subprocess, so its peak RSS is its own:

1. ``ndjson``: NDJSON file → every concentration table (read, merge, attribute, windows, metrics);
2. ``attribution``: ``raw/blocks`` from the lake → merge_feeds → attribute;
3. ``metrics``: attributed table → shares and metrics for every window and grouping.

The whole is repeated at a quarter of the blocks to check that time is linear in blocks. Results
go to ``<workdir>/results.json``; the generated chains are removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from pipelines.benchmarks import run_child
from pipelines.config import PROJECT_ROOT

REGISTRY = PROJECT_ROOT.parent / "shared" / "data" / "pools" / "mempool-pools-v2.json"
FEED = "bigquery"
SEED = 20_080_103
GENESIS = datetime(2008, 1, 3, 18, 15, 5, tzinfo=UTC)  # the real genesis time, a year early
BLOCK_SECONDS = 600  # ~144 blocks a day
HEADER_JITTER_SECONDS = 900  # header time = mining time ± up to 15 minutes
N_POOLS = 40
SEGMENT_BLOCKS = 2016  # pool shares drift once per difficulty period
# Concentration cycles and mean-reverting drift: the chain is statistically the same throughout,
# so a chain of N/4 blocks is a fair quarter of one of N blocks (for the linearity check).
CONCENTRATION_CYCLES = 3
UNKNOWN_CYCLES = 5
DRIFT_PERSISTENCE = 0.97  # AR(1) coefficient of each pool's log-weight per segment
DRIFT_STEP = 0.15
# Big pools placed first so they start with the largest Zipf weights (and owners matter).
FAVOURITES = ("Foundry USA", "AntPool", "F2Pool", "ViaBTC", "BTC.com", "Braiins Pool", "Poolin")
PAYOUT_TO_REGISTRY = 0.9  # share of a pool's blocks paying one of its registry addresses
SECOND_PAYOUT = 0.25  # blocks with a second payout output (random address)
WITNESS_COMMITMENT = 0.7  # blocks with an OP_RETURN output (value 0, "nonstandard…" address)
ACCURACY_TARGET = 0.99
MIN_BLOCKS = 4_000  # the quarter chain then still spans a week
STAGES = ("ndjson", "attribution", "metrics")
STAGE_TITLES = {
    "ndjson": "(1) NDJSON → all concentration tables",
    "attribution": "(2) lake raw/blocks → merge → attribute",
    "metrics": "(3) attributed → all windows and groupings",
}
BASE58 = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


# --- vectorised string building --------------------------------------------------------------


def _strings(data: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """A String Series from UTF-8 bytes and row offsets (no Python loop per row)."""
    array = pa.LargeStringArray.from_buffers(
        len(offsets) - 1,
        pa.py_buffer(np.ascontiguousarray(offsets, np.int64)),
        pa.py_buffer(np.ascontiguousarray(data, np.uint8)),
    )
    return pl.Series(array)


def _fixed_strings(chars: np.ndarray) -> pl.Series:
    """One string per row of a (rows, width) uint8 matrix of ASCII characters."""
    rows, width = chars.shape
    return _strings(chars.ravel(), np.arange(rows + 1, dtype=np.int64) * width)


def _random_hex(rng: np.random.Generator, rows: int, n_bytes: int) -> pl.Series:
    return _fixed_strings(HEX[rng.integers(0, 16, (rows, 2 * n_bytes))])


def _random_addresses(rng: np.random.Generator, rows: int) -> pl.Series:
    """P2PKH-looking addresses ('1' + 33 base58 characters) that no registry pool uses."""
    chars = np.empty((rows, 34), np.uint8)
    chars[:, 0] = ord("1")
    chars[:, 1:] = BASE58[rng.integers(0, len(BASE58), (rows, 33))]
    return _fixed_strings(chars)


def _hex_of(data: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """Lower-case hex of each row of a byte buffer."""
    chars = np.empty((len(data), 2), np.uint8)
    chars[:, 0], chars[:, 1] = HEX[data >> 4], HEX[data & 15]
    return _strings(chars.ravel(), offsets * 2)


def _ragged_gather(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows of ``lengths``: the row of each element and its position from ``starts``."""
    row = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return row, np.repeat(starts, lengths) + within


# --- the synthetic chain ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pools:
    """The generated pools: registry name, expected attribution, usable tags and addresses."""

    names: list[str]
    truth: list[str]  # the registry pool the pipeline should report (aliases applied)
    tags: list[list[bytes]]  # tags no other pool has (UTF-8)
    addresses: list[list[str]]


def load_registry() -> pl.DataFrame:
    """The real mempool registry; exits with a message when the shared data is absent."""
    from pipelines.sources.pool_registry import parse_pools_v2

    if not REGISTRY.exists():
        sys.exit(
            f"pool registry not found: {REGISTRY}\n"
            "The benchmark draws its pools from ../shared/data/pools/mempool-pools-v2.json "
            "(relative to the project root); put the shared data there and run it again."
        )
    return parse_pools_v2(REGISTRY.read_bytes(), origin=str(REGISTRY))


def choose_pools(registry: pl.DataFrame, rng: np.random.Generator) -> Pools:
    """~40 registry pools with a tag of their own, the favourites first."""
    from pipelines.mining.attribution import is_literal_tag
    from pipelines.sources.seeds import read_pool_label_aliases
    from pipelines.text import normalise_key

    rows = registry.sort("id").to_dicts()
    holders: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        for tag in row["tags"]:
            holders[tag.lower()].add(row["id"])
    eligible = []
    for row in rows:
        own = [t for t in row["tags"] if holders[t.lower()] == {row["id"]} and is_literal_tag(t)]
        if own:
            eligible.append((row["name"], own, row["addresses"]))
    favourites = sorted(
        (p for p in eligible if p[0] in FAVOURITES), key=lambda p: FAVOURITES.index(p[0])
    )
    others = [p for p in eligible if p[0] not in FAVOURITES]
    picked = [others[i] for i in rng.permutation(len(others))[: N_POOLS - len(favourites)]]
    chosen = favourites + picked
    names = [name for name, _, _ in chosen]
    aliases = read_pool_label_aliases().select(
        pl.col("alias_key").alias("key"), pl.col("pool").alias("canonical")
    )
    truth = (
        pl.DataFrame({"name": names})
        .with_columns(normalise_key(pl.col("name")).alias("key"))
        .join(aliases, on="key", how="left", maintain_order="left")
        .select(pl.coalesce("canonical", "name"))
        .to_series()
        .to_list()
    )
    return Pools(
        names=names,
        truth=truth,
        tags=[[t.encode() for t in tags] for _, tags, _ in chosen],
        addresses=[list(addresses) for _, _, addresses in chosen],
    )


def _draw_pools(rng: np.random.Generator, heights: np.ndarray, n_pools: int) -> np.ndarray:
    """Pool index per block (``n_pools`` = unknown): Zipf-like, drifting per segment."""
    n_segments = math.ceil(len(heights) / SEGMENT_BLOCKS)
    phase = (np.arange(n_segments) + 0.5) / n_segments
    exponent = 1.1 + 0.35 * np.sin(2 * np.pi * CONCENTRATION_CYCLES * phase)
    unknown = 0.03 + 0.02 * np.sin(2 * np.pi * UNKNOWN_CYCLES * phase + 1.0)  # 1-5 % unknown
    drift = np.empty((n_segments, n_pools))
    spread = DRIFT_STEP / math.sqrt(1 - DRIFT_PERSISTENCE**2)  # the stationary spread
    drift[0] = rng.normal(0.0, spread, n_pools)
    for segment in range(1, n_segments):
        step = rng.normal(0.0, DRIFT_STEP, n_pools)
        drift[segment] = DRIFT_PERSISTENCE * drift[segment - 1] + step
    log_weight = -exponent[:, None] * np.log(np.arange(1, n_pools + 1))[None, :] + drift
    weight = np.exp(log_weight - log_weight.max(axis=1, keepdims=True))
    probability = weight / weight.sum(axis=1, keepdims=True) * (1 - unknown)[:, None]
    probability = np.column_stack([probability, unknown])
    pool = np.empty(len(heights), np.int64)
    for segment in range(n_segments):
        lo, hi = segment * SEGMENT_BLOCKS, min(len(heights), (segment + 1) * SEGMENT_BLOCKS)
        pool[lo:hi] = rng.choice(n_pools + 1, hi - lo, p=probability[segment])
    return pool


def _coinbase_hex(
    rng: np.random.Generator, heights: np.ndarray, pool: np.ndarray, pools: Pools
) -> pl.Series:
    """scriptSig hex: BIP34 height push, random bytes, the pool's tag (none if unknown), random."""
    n, n_pools = len(heights), len(pools.names)
    tags = [tag for tags in pools.tags for tag in tags]
    tag_count = np.array([len(t) for t in pools.tags] + [0])
    tag_first = np.concatenate([[0], np.cumsum(tag_count)[:-1]])
    tag_id = tag_first[pool] + (rng.random(n) * tag_count[pool]).astype(np.int64)
    tag_id = np.where(pool < n_pools, tag_id, 0)
    tag_bytes = np.array([len(t) for t in tags])
    tag_length = np.where(pool < n_pools, tag_bytes[tag_id], 0)
    tag_buffer = np.frombuffer(b"".join(tags), np.uint8)
    tag_offset = np.concatenate([[0], np.cumsum(tag_bytes)[:-1]])

    prefix, suffix = rng.integers(4, 13, n), rng.integers(8, 41, n)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(4 + prefix + tag_length + suffix, out=offsets[1:])
    data = rng.integers(0, 256, int(offsets[-1]), dtype=np.uint8)
    start = offsets[:-1]
    data[start] = 3  # push of 3 bytes: the height, little-endian (BIP34)
    for i in range(3):
        data[start + 1 + i] = (heights >> (8 * i)) & 0xFF
    _, target = _ragged_gather(start + 4 + prefix, tag_length)
    _, source = _ragged_gather(tag_offset[tag_id], tag_length)
    data[target] = tag_buffer[source]
    return _hex_of(data, offsets)


def _payout_addresses(rng: np.random.Generator, pool: np.ndarray, pools: Pools) -> pl.Series:
    """Output 0: one of the pool's registry addresses (mostly), else a random address."""
    n, n_pools = len(pool), len(pools.names)
    flat = [a for addresses in pools.addresses for a in addresses] or [""]
    count = np.array([len(a) for a in pools.addresses] + [0])
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    use = (pool < n_pools) & (count[pool] > 0) & (rng.random(n) < PAYOUT_TO_REGISTRY)
    address_id = np.where(use, first[pool] + (rng.random(n) * count[pool]).astype(np.int64), 0)
    registry = pl.Series(flat, dtype=pl.String).gather(address_id)
    return pl.select(
        pl.when(pl.Series(use)).then(registry).otherwise(_random_addresses(rng, n))
    ).to_series()


def _outputs(rng: np.random.Generator, heights: np.ndarray, addresses: pl.Series) -> pl.Series:
    """The ``outputs`` list of each block, in BigQuery's shape (1-3 outputs, values in sats)."""
    n = len(heights)
    subsidy = np.int64(5_000_000_000) >> (heights // 210_000)
    fees = rng.lognormal(np.log(2e7), 1.0, n).astype(np.int64)
    second = rng.random(n) < SECOND_PAYOUT
    commitment = rng.random(n) < WITNESS_COMMITMENT
    second_value = np.where(second, rng.integers(1_000_000, 50_000_000, n), 0)
    block = np.arange(n)
    i_second, i_commit = block[second], block[commitment]
    long = pl.concat(
        [
            pl.DataFrame(
                {"block": block, "index": 0, "address": addresses, "value": subsidy + fees}
            ).with_columns(pl.col("value") - pl.Series(second_value)),
            pl.DataFrame(
                {
                    "block": i_second,
                    "index": 1,
                    "address": _random_addresses(rng, len(i_second)),
                    "value": second_value[second],
                }
            ),
            pl.DataFrame(
                {
                    "block": i_commit,
                    "index": 1 + second[commitment],
                    "address": _random_hex(rng, len(i_commit), 20),
                    "value": 0,
                }
            ).with_columns(pl.concat_str(pl.lit("nonstandard"), "address").alias("address")),
        ],
        how="vertical_relaxed",
    )
    long = long.with_columns(
        hash20=_random_hex(rng, long.height, 20), hash32=_random_hex(rng, long.height, 32)
    )
    address = pl.col("address")
    kind = (
        pl.when(address.str.starts_with("nonstandard"))
        .then(pl.lit("nonstandard"))
        .when(address.str.starts_with("3"))
        .then(pl.lit("scripthash"))
        .when(address.str.starts_with("bc1q"))
        .then(pl.lit("witness_v0_keyhash"))
        .when(address.str.starts_with("bc1p"))
        .then(pl.lit("witness_v1_taproot"))
        .otherwise(pl.lit("pubkeyhash"))
    )
    long = long.with_columns(kind.alias("type"))

    def is_(kind: str) -> pl.Expr:
        return pl.col("type") == kind

    h20, h32 = pl.col("hash20"), pl.col("hash32")
    script_asm = (
        pl.when(is_("nonstandard"))
        .then(pl.format("OP_RETURN aa21a9ed{}", h32))
        .when(is_("scripthash"))
        .then(pl.format("OP_HASH160 {} OP_EQUAL", h20))
        .when(is_("witness_v0_keyhash"))
        .then(pl.format("0 {}", h20))
        .when(is_("witness_v1_taproot"))
        .then(pl.format("1 {}", h32))
        .otherwise(pl.format("OP_DUP OP_HASH160 {} OP_EQUALVERIFY OP_CHECKSIG", h20))
    )
    script_hex = (
        pl.when(is_("nonstandard"))
        .then(pl.format("6a24aa21a9ed{}", h32))
        .when(is_("scripthash"))
        .then(pl.format("a914{}87", h20))
        .when(is_("witness_v0_keyhash"))
        .then(pl.format("0014{}", h20))
        .when(is_("witness_v1_taproot"))
        .then(pl.format("5120{}", h32))
        .otherwise(pl.format("76a914{}88ac", h20))
    )
    output = pl.struct(
        pl.col("index").cast(pl.String).alias("index"),
        script_asm.alias("script_asm"),
        script_hex.alias("script_hex"),
        pl.when(~is_("nonstandard")).then(pl.lit("1")).alias("required_signatures"),
        pl.col("type"),
        pl.concat_list(address).alias("addresses"),
        pl.col("value").cast(pl.Int64),
    )
    return (
        long.sort("block", "index")
        .group_by("block", maintain_order=True)
        .agg(output.alias("outputs"))
        .get_column("outputs")
    )


def generate_chain(
    n_blocks: int, seed: int = SEED, genesis: datetime = GENESIS
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """BigQuery-shaped records (shuffled, as exports are) and the truth (height, pool)."""
    rng = np.random.default_rng(seed)
    pools = choose_pools(load_registry(), rng)
    heights = np.arange(n_blocks, dtype=np.int64)
    pool = _draw_pools(rng, heights, len(pools.names))
    mined = np.cumsum(rng.exponential(BLOCK_SECONDS, n_blocks))
    mined -= mined[0]
    jitter = rng.integers(-HEADER_JITTER_SECONDS, HEADER_JITTER_SECONDS + 1, n_blocks)
    seconds = int(genesis.timestamp()) + mined.astype(np.int64) + jitter
    seconds[0] = int(genesis.timestamp())
    records = pl.DataFrame(
        {
            "number": pl.Series(heights).cast(pl.String),
            "timestamp": pl.from_epoch(pl.Series(seconds), time_unit="s").dt.strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            ),
            "identifiers": _coinbase_hex(rng, heights, pool, pools),
            "outputs": _outputs(rng, heights, _payout_addresses(rng, pool, pools)),
        }
    ).sample(fraction=1.0, shuffle=True, seed=seed)
    names = pl.Series([*pools.truth, "unknown"])
    truth = pl.DataFrame({"height": heights, "true_pool": names.gather(pool)})
    return records, truth


# --- set-up and stages (each run in a child process) -----------------------------------------


def chain_paths(data: Path) -> dict[str, Path]:
    """Where a chain's NDJSON export, generated truth and lake are written under ``data``."""
    return {
        "ndjson": data / "bigquery-coinbase.ndjson",
        "truth": data / "truth.parquet",
        "lake": data / "lake",
    }


def reference_tables() -> tuple[Any, pl.DataFrame, pl.DataFrame]:
    """The lookup (registry + aliases), the owner and the template-builder tables."""
    from pipelines.mining.attribution import build_lookup
    from pipelines.sources.pool_registry import combine_registries
    from pipelines.sources.seeds import (
        read_pool_label_aliases,
        read_pool_owners,
        read_pool_template_builders,
    )

    registry = combine_registries([("mempool", "mempool_pools_v2", "regex_like", load_registry())])
    return (
        build_lookup(registry, read_pool_label_aliases()),
        read_pool_owners(),
        read_pool_template_builders(),
    )


def attribute_blocks(
    merged: pl.DataFrame, reference: tuple[Any, pl.DataFrame, pl.DataFrame]
) -> pl.DataFrame:
    """``attribute`` then the template builders, as the ``block_attribution`` asset does."""
    from pipelines.mining.attribution import attribute
    from pipelines.mining.templates import with_template_builders

    lookup, owners, builders = reference
    return with_template_builders(attribute(merged, lookup, owners), builders)


def setup(data: Path, n_blocks: int) -> dict[str, Any]:
    """Generate the chain, write the NDJSON export, the lake and the attributed table (untimed)."""
    from pipelines.lake import Lake
    from pipelines.mining.attribution import merge_feeds
    from pipelines.sources.block_files import read_bigquery_coinbase_ndjson

    paths = chain_paths(data)
    data.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    records, truth = generate_chain(n_blocks)
    generated = time.perf_counter() - clock
    records.write_ndjson(paths["ndjson"])
    truth.write_parquet(paths["truth"])
    written = time.perf_counter() - clock - generated
    del records

    blocks, rejects = read_bigquery_coinbase_ndjson(paths["ndjson"], FEED)
    if rejects.height or blocks.height != n_blocks:
        raise RuntimeError(f"reader: {blocks.height} blocks, {rejects.height} rejects: {rejects}")
    lake = Lake(paths["lake"])
    clock = time.perf_counter()
    lake.replace_days(
        blocks,
        "raw",
        "blocks",
        column="date",
        start=blocks["date"].min(),
        end=blocks["date"].max(),
        sort_by=["feed", "height"],
    )
    lake_seconds = time.perf_counter() - clock
    merged, _ = merge_feeds(lake.read("raw", "blocks"), [FEED])
    attributed = attribute_blocks(merged, reference_tables())
    lake.write(attributed, "intermediate", "block_attribution")

    return {
        "blocks": n_blocks,
        "days": blocks["date"].n_unique(),
        "first_day": str(blocks["date"].min()),
        "last_day": str(blocks["date"].max()),
        "ndjson_mb": paths["ndjson"].stat().st_size / 1e6,
        "lake_partitions": len(lake.files("raw", "blocks")),
        "lake_mb": sum(p.stat().st_size for p in lake.files("raw", "blocks")) / 1e6,
        "generate_seconds": generated,
        "write_ndjson_seconds": written,
        "write_lake_seconds": lake_seconds,
        **attribution_accuracy(attributed, truth),
    }


def attribution_accuracy(attributed: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """Share of generated blocks attributed to their true pool, methods and the worst misses."""
    checked = attributed.join(truth, on="height", how="full", coalesce=True)
    right = checked.filter(pl.col("pool") == pl.col("true_pool")).height
    mismatches = (
        checked.filter(pl.col("pool").ne_missing(pl.col("true_pool")))
        .group_by("true_pool", "pool", "method")
        .len()
        .sort("len", descending=True)
        .head(10)
    )
    return {
        "accuracy": right / truth.height,
        "methods": dict(attributed.group_by("method").len().sort("method").iter_rows()),
        "unknown_share": float((attributed["pool"] == "unknown").mean()),
        "top_mismatches": mismatches.to_dicts(),
    }


def _steps() -> tuple[dict[str, float], dict[str, float], Callable[[str], None]]:
    """Step durations, the process's peak RSS (MB) at each step's end, and the function
    recording both for the step since the previous one."""
    steps: dict[str, float] = {}
    peaks: dict[str, float] = {}
    last = [time.perf_counter()]

    def mark(name: str) -> None:
        now = time.perf_counter()
        steps[name] = now - last[0]
        peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        last[0] = time.perf_counter()

    return steps, peaks, mark


def _metrics(attributed: pl.DataFrame, mark: Callable[[str], None]) -> dict[str, int]:
    """Every window table for every grouping (as ``mining_windows`` computes them)."""
    from pipelines.metrics.windows import ANCHOR
    from pipelines.mining.concentration import (
        daily_counts,
        days_covered,
        mining_concentration,
        pool_shares,
        window_counts,
    )

    counts = window_counts(daily_counts(attributed), ANCHOR)
    mark("window_counts")
    counted = {"window_count_rows": counts.height}
    shares = pool_shares(counts)
    mark("pool_shares")
    days = days_covered(attributed, ANCHOR)
    mark("days_covered")
    concentration = mining_concentration(counts, days)
    mark("mining_concentration")
    return {**counted, "share_rows": shares.height, "concentration_rows": concentration.height}


def run_stage(stage: str, data: Path) -> dict[str, Any]:
    """One timed stage; reference data is loaded first and timed apart.

    A frame is dropped once the next step has consumed it, as in the Dagster assets (where the
    lake read is a temporary), so peak memory is what the chain of calls needs.
    """
    from pipelines.lake import Lake
    from pipelines.mining.attribution import merge_feeds
    from pipelines.sources.block_files import read_bigquery_coinbase_ndjson

    paths = chain_paths(data)
    lake = Lake(paths["lake"])
    base_rss_mb = _current_rss_mb()
    clock = time.perf_counter()
    reference = reference_tables()
    reference_seconds = time.perf_counter() - clock

    steps, step_peaks, mark = _steps()
    start = time.perf_counter()
    cpu = time.process_time()
    if stage == "ndjson":
        blocks, _ = read_bigquery_coinbase_ndjson(paths["ndjson"], FEED)
        mark("read_ndjson")
        merged, _ = merge_feeds(blocks, [FEED])
        del blocks
        mark("merge_feeds")
        attributed = attribute_blocks(merged, reference)
        del merged
        mark("attribute")
        rows = {"blocks": attributed.height, **_metrics(attributed, mark)}
    elif stage == "attribution":
        blocks = lake.read("raw", "blocks")
        mark("read_lake")
        merged, _ = merge_feeds(blocks, [FEED])
        del blocks
        mark("merge_feeds")
        attributed = attribute_blocks(merged, reference)
        mark("attribute")
        rows = {"blocks": attributed.height}
    elif stage == "metrics":
        attributed = lake.read("intermediate", "block_attribution")
        mark("read_attributed")
        rows = {"blocks": attributed.height, **_metrics(attributed, mark)}
    else:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    wall = time.perf_counter() - start
    return {
        "seconds": wall,
        "cpu_seconds": time.process_time() - cpu,
        "steps": steps,
        "step_peak_rss_mb": step_peaks,
        "reference_seconds": reference_seconds,
        "base_rss_mb": base_rss_mb,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": rows,
    }


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- the driver ------------------------------------------------------------------------------


def _child(*args: str) -> dict[str, Any]:
    return run_child("pipelines.benchmarks.mining", *args)


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [r["seconds"] for r in runs]
    steps = {k: statistics.median(r["steps"][k] for r in runs) for k in runs[0]["steps"]}
    return {
        "best_seconds": min(seconds),
        "median_seconds": statistics.median(seconds),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "base_rss_mb": statistics.median(r["base_rss_mb"] for r in runs),
        "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
        "median_steps": steps,
        "rows": runs[0]["rows"],
        "runs": runs,
    }


def benchmark(workdir: Path, n_blocks: int, repeat: int) -> dict[str, Any]:
    """Set-up and stages for one chain size."""
    data = workdir / f"chain-{n_blocks}"
    print(f"\n== {n_blocks:,} blocks: generating the chain, NDJSON export and lake (untimed) ...")
    prepared = _child("--child", "setup", "--data", str(data), "--blocks", str(n_blocks))
    print(
        f"   {prepared['days']:,} days {prepared['first_day']} .. {prepared['last_day']}; "
        f"NDJSON {prepared['ndjson_mb']:,.0f} MB; lake {prepared['lake_partitions']:,} "
        f"partitions, {prepared['lake_mb']:,.0f} MB; generated in "
        f"{prepared['generate_seconds']:.1f} s"
    )
    print(
        f"   attribution accuracy vs generated truth: {prepared['accuracy']:.4%} "
        f"(methods {prepared['methods']})"
    )
    runs: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES}
    for attempt in range(1, repeat + 1):
        for stage in STAGES:
            load = os.getloadavg()[0]  # the machine is shared: note how busy it was
            result = {**_child("--child", stage, "--data", str(data)), "load_before": load}
            runs[stage].append(result)
            print(
                f"   run {attempt}/{repeat} {stage:<12} {result['seconds']:6.2f} s  "
                f"peak {result['peak_rss_mb']:6.0f} MB  (load average before: {load:.1f})"
            )
    stages = {stage: _summary(runs[stage]) for stage in STAGES}
    if stages["attribution"]["rows"]["blocks"] != n_blocks:
        raise RuntimeError("stage (2) lost blocks")
    if stages["ndjson"]["rows"] != stages["metrics"]["rows"]:
        raise RuntimeError("stages (1) and (3) disagree on the table sizes")
    best = {k: v["best_seconds"] for k, v in stages.items()}
    return {
        "setup": prepared,
        "stages": stages,
        "attribution_blocks_per_second": n_blocks / best["attribution"],
        "attribution_plus_metrics_best_seconds": best["attribution"] + best["metrics"],
    }


def _table(results: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    lines = [
        f"{'blocks':>9}  {'stage':<46} {'best s':>7} {'median s':>8} {'peak MB':>8} {'base MB':>8}",
        "-" * 93,
    ]
    for size in results["sizes"].values():
        n = size["setup"]["blocks"]
        for stage, summary in size["stages"].items():
            lines.append(
                f"{n:>9,}  {STAGE_TITLES[stage]:<46} {summary['best_seconds']:7.2f} "
                f"{summary['median_seconds']:8.2f} {summary['peak_rss_mb']:8.0f} "
                f"{summary['base_rss_mb']:8.0f}"
            )
            steps = ", ".join(f"{k} {v:.2f}" for k, v in summary["median_steps"].items())
            lines.append(f"{'':>11}{'median steps: ' + steps}")
        lines.append(
            f"{'':>11}(2) {size['attribution_blocks_per_second']:,.0f} blocks/s; "
            f"(2)+(3) best {size['attribution_plus_metrics_best_seconds']:.2f} s; "
            f"accuracy {size['setup']['accuracy']:.4%}"
        )
    if "linearity" in results:
        lines.append("time ratio full/quarter (4 = linear in blocks; 16 = blocks × windows):")
        for stage, ratio in results["linearity"].items():
            steps = ", ".join(f"{k} {v:.1f}" for k, v in ratio["median_steps"].items())
            rows = ", ".join(f"{k} {v:.1f}" for k, v in ratio["rows"].items())
            name = STAGE_TITLES[stage][:3]
            lines.append(f"  {name} best {ratio['best']:.2f}, median {ratio['median']:.2f}")
            lines.append(f"      steps: {steps}")
            lines.append(f"      rows: {rows}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=950_000, help="blocks in the full chain")
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage")
    parser.add_argument("--no-quarter", action="store_true", help="skip the N/4 linearity run")
    parser.add_argument("--child", choices=("setup", *STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "setup":
        print(json.dumps(setup(args.data, args.blocks), default=str))
        return 0
    if args.child:
        print(json.dumps(run_stage(args.child, args.data)))
        return 0

    if args.blocks < MIN_BLOCKS or args.repeat < 1:
        parser.error(f"--blocks must be at least {MIN_BLOCKS:,} and --repeat at least 1")
    load_registry()  # fail early, with the message, when the shared data is absent
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mining-benchmark-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"workdir {workdir}; polars {pl.__version__}, {pl.thread_pool_size()} threads, "
        f"{os.cpu_count()} CPUs; each stage in a fresh process, {args.repeat} runs"
    )
    sizes = [args.blocks] if args.no_quarter else [args.blocks, args.blocks // 4]
    results: dict[str, Any] = {
        "command": " ".join(["python -m pipelines.benchmarks.mining", *(argv or sys.argv[1:])]),
        "polars": pl.__version__,
        "threads": pl.thread_pool_size(),
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "sizes": {},
    }
    try:
        for n_blocks in sizes:
            results["sizes"][str(n_blocks)] = benchmark(workdir, n_blocks, args.repeat)
        if len(sizes) == 2:
            full, quarter = (results["sizes"][str(n)]["stages"] for n in sizes)
            results["linearity"] = {
                stage: {
                    "best": full[stage]["best_seconds"] / quarter[stage]["best_seconds"],
                    "median": full[stage]["median_seconds"] / quarter[stage]["median_seconds"],
                    "median_steps": {
                        step: seconds / max(quarter[stage]["median_steps"][step], 1e-9)
                        for step, seconds in full[stage]["median_steps"].items()
                    },
                    "rows": {
                        name: count / max(quarter[stage]["rows"][name], 1)
                        for name, count in full[stage]["rows"].items()
                    },
                }
                for stage in STAGES
            }
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print()
        print(_table(results))
        print(f"\nresults: {workdir / 'results.json'}")
    finally:
        if not args.keep:  # remove what was generated; results.json stays
            for n_blocks in sizes:
                shutil.rmtree(workdir / f"chain-{n_blocks}", ignore_errors=True)
            print(f"removed the generated chains from {workdir} (--keep keeps them)")
    accuracy = min(size["setup"]["accuracy"] for size in results["sizes"].values())
    if accuracy < ACCURACY_TARGET:
        print(f"FAILED: attribution accuracy {accuracy:.4%} < {ACCURACY_TARGET:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
