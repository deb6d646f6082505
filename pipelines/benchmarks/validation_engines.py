"""Benchmark of the two validation engines on the blocks suite: Polars and Great Expectations.

``uv run --frozen python -m pipelines.benchmarks.validation_engines [--data-home DIR]
[--blocks 925000] [--workdir DIR] [--repeat 3] [--keep]``

Each measurement runs in a fresh process (its own imports and peak RSS), for each engine:

- ``first call``: validate a one-block month, as the first check of a run does (for GX: its
  import and its ephemeral context), the definitions being imported already;
- ``month``: the biggest month of ``raw/blocks`` in ``--data-home`` (a data home built from the
  shared data, e.g. by ``observatory run --config configs/shared-data.toml``), read as
  ``blocks_expectations`` reads it, then validated;
- ``chain by month``: the synthetic chain of ``pipelines.benchmarks.mining`` (``--blocks``,
  dated from the real genesis), validated month by month as the check does (GX in chunks);
- ``chain whole``: the same blocks validated as one frame.

The engine is warmed on a one-block frame first (except for ``first call``), so the times are
the validation's own; both engines must report the same failing expectations. Results go to
``<workdir>/results.json``; the generated chain is removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.benchmarks import run_child

MODULE = "pipelines.benchmarks.validation_engines"
ENGINES = ("polars", "great_expectations")
MODES = ("first call", "month", "chain by month", "chain whole")
GENESIS = datetime(2009, 1, 3, 18, 15, 5, tzinfo=UTC)


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's peak over exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _months(lake_root: Path, months: list[str]) -> list[tuple[str, pl.DataFrame]]:
    """Months of ``raw/blocks`` with the columns ``blocks_expectations`` derives, as they are
    on valid blocks: null (benchmarks may not import ``pipelines.defs``)."""
    from pipelines.lake import Lake

    lake = Lake(lake_root)
    derived = [pl.lit(None, pl.String).alias(c) for c in ("evidence_missing", "date_mismatch")]
    return [(m, lake.read("raw", "blocks", ("month", m)).with_columns(derived)) for m in months]


def child(mode: str, engine: str, lake_root: str, months: str) -> dict[str, Any]:
    """One measurement (in this fresh process, with the definitions imported as in a run)."""
    from pipelines.validation import validate_frame, validate_partitions

    frames = _months(Path(lake_root), months.split(","))
    if mode == "first call":
        frames = [(frames[0][0], frames[0][1].head(1))]
    else:  # warm the engine up: for GX its import and context
        validate_frame("blocks", frames[0][1].head(1), engine=engine)
    whole = pl.concat([f for _, f in frames]) if mode == "chain whole" else None
    before_mb = _peak_mb()
    clock, cpu = time.perf_counter(), time.process_time()
    if whole is not None:
        outcome = validate_frame("blocks", whole, engine=engine)
        failing = sorted(f.label() for f in outcome.failed)
    else:
        _, _, failures = validate_partitions("blocks", frames, engine=engine)
        failing = sorted({f.label() for _, o in failures for f in o.failed})
    return {
        "seconds": time.perf_counter() - clock,
        "cpu_seconds": time.process_time() - cpu,
        "rows": sum(f.height for _, f in frames),
        "months": len(frames),
        "peak_mb": _peak_mb(),
        "peak_before_validation_mb": before_mb,
        "failing": failing,
        "great_expectations_imported": "great_expectations" in sys.modules,
    }


def biggest_month(data_home: Path) -> tuple[Path, str]:
    """The lake of ``data_home`` and its ``raw/blocks`` month with the most rows."""
    from pipelines.lake import Lake

    lake = Lake(data_home / "lake")
    months = lake.partitions("raw", "blocks")
    if not months:
        sys.exit(f"no raw/blocks partitions under {lake.root}; build them first (see --help)")

    def rows(month: str) -> int:
        folder = lake.partition_dir("raw", "blocks", ("month", month))
        return pl.scan_parquet(folder / "*.parquet").select(pl.len()).collect().item()

    return lake.root, max(months, key=rows)


def write_chain(workdir: Path, n_blocks: int) -> tuple[Path, list[str]]:
    """The synthetic chain as raw/blocks rows (the pipeline's own reader) in a lake of month
    partitions, sorted as the raw-table writer sorts them; its lake and months."""
    from pipelines.benchmarks.mining import FEED, generate_chain
    from pipelines.lake import Lake
    from pipelines.sources.block_files import read_bigquery_coinbase_ndjson

    records, _ = generate_chain(n_blocks, genesis=GENESIS)
    ndjson = workdir / "chain.ndjson"
    records.write_ndjson(ndjson)
    del records
    blocks, rejects = read_bigquery_coinbase_ndjson(ndjson, FEED)
    ndjson.unlink()
    if rejects.height or blocks.height != n_blocks:
        raise RuntimeError(f"reader: {blocks.height} blocks, {rejects.height} rejects")
    lake = Lake(workdir / "lake")
    keyed = blocks.sort("feed", "height").with_columns(month=pl.col("date").dt.strftime("%Y-%m"))
    for (month,), part in keyed.partition_by("month", as_dict=True, include_key=False).items():
        lake.write(part, "raw", "blocks", ("month", month))
    return lake.root, sorted(lake.partitions("raw", "blocks"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", type=Path, help="data home holding raw/blocks")
    parser.add_argument("--blocks", type=int, default=925_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "ENGINE", "LAKE", "MONTHS"))
    parser.add_argument("--setup", nargs=2, metavar=("WORKDIR", "BLOCKS"))
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.setup:  # in its own process, so the parent's memory stays small
        lake, months = write_chain(Path(args.setup[0]), int(args.setup[1]))
        print(json.dumps([str(lake), months]))
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="validation-engines-"))
    workdir.mkdir(parents=True, exist_ok=True)
    chain_lake, chain_months = run_child(MODULE, "--setup", str(workdir), str(args.blocks))
    sources = {
        "first call": (chain_lake, chain_months[:1]),
        "chain by month": (chain_lake, chain_months),
        "chain whole": (chain_lake, chain_months),
    }
    if args.data_home:
        lake, month = biggest_month(args.data_home.resolve())
        sources["month"] = (str(lake), [month])
    results: dict[str, Any] = {"blocks": args.blocks, "month": sources.get("month")}
    for mode in (m for m in MODES if m in sources):
        lake_root, months = sources[mode]
        for engine in ENGINES:
            runs = [
                run_child(MODULE, "--child", mode, engine, lake_root, ",".join(months))
                for _ in range(args.repeat)
            ]
            best = min(runs, key=lambda r: r["seconds"])
            median = statistics.median(r["seconds"] for r in runs)
            results[f"{mode} / {engine}"] = {**best, "median_seconds": median}
            print(
                f"{mode:15} {engine:19} {best['rows']:>9,} rows {best['months']:>4} months  "
                f"best {best['seconds']:6.2f} s (cpu {best['cpu_seconds']:6.2f} s)  "
                f"median {median:6.2f} s  peak {best['peak_mb']:5.0f} MB "
                f"(before validating {best['peak_before_validation_mb']:.0f} MB)  "
                f"GX imported: {best['great_expectations_imported']}",
                flush=True,
            )
        polars_failing = results[f"{mode} / polars"]["failing"]
        if polars_failing != results[f"{mode} / great_expectations"]["failing"]:
            print(f"{mode}: the engines disagree on the failing expectations", file=sys.stderr)
            return 1
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"results: {workdir / 'results.json'}")
    if not args.keep:
        shutil.rmtree(chain_lake)
    return 0


if __name__ == "__main__":
    sys.exit(main())
