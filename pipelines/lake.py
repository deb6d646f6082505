"""The Parquet lake: ``<data_home>/lake/<layer>/<table>/[<key>=<value>/]data.parquet``.

Each partition is one file. It is written to a hidden temporary file in the partition folder and
renamed over ``data.parquet``, so a reader (or a crash) only ever sees the old file or the new one,
and re-writing a partition replaces it exactly. Partition columns are kept inside the files too,
so readers never depend on inferring types from folder names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from pipelines.atomic import replace_with

LAYERS = ("raw", "intermediate")
DATA_FILE = "data.parquet"
TMP_PREFIX = ".data.parquet.tmp-"


@dataclass(frozen=True)
class Lake:
    root: Path

    def table_dir(self, layer: str, table: str) -> Path:
        if layer not in LAYERS:
            raise ValueError(f"unknown lake layer {layer!r}; valid layers: {', '.join(LAYERS)}")
        return self.root / layer / table

    def partition_dir(self, layer: str, table: str, partition: tuple[str, str] | None) -> Path:
        base = self.table_dir(layer, table)
        if partition is None:
            return base
        key, value = partition
        return base / f"{key}={value}"

    def write(
        self, frame: pl.DataFrame, layer: str, table: str, partition: tuple[str, str] | None = None
    ) -> Path:
        """Atomically replace one partition (or the whole unpartitioned table) with ``frame``."""
        target_dir = self.partition_dir(layer, table, partition)
        target_dir.mkdir(parents=True, exist_ok=True)
        for stale in target_dir.glob(f"{TMP_PREFIX}*"):  # left behind by a crashed writer
            stale.unlink(missing_ok=True)
        tmp = target_dir / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            frame.write_parquet(tmp, compression="zstd", statistics=True)
            final = target_dir / DATA_FILE
            replace_with(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def replace_days(
        self,
        frame: pl.DataFrame,
        layer: str,
        table: str,
        *,
        column: str,
        start: date,
        end: date,
        sort_by: list[str],
        progress: Callable[[int, int, int], None] | None = None,
    ) -> tuple[int, int]:
        """Rewrite every daily partition ``start``..``end`` from ``frame`` (keyed by ``column``).

        Days without rows lose their partition, so re-running a range reproduces it exactly.
        Returns (days written, days emptied); ``progress(done, total, written)`` is called yearly.
        """
        by_day = {key[0]: part for key, part in frame.partition_by(column, as_dict=True).items()}
        total = (end - start).days + 1
        written = removed = 0
        for i in range(total):
            day = start + timedelta(days=i)
            partition = (column, day.isoformat())
            if day in by_day:
                self.write(by_day[day].sort(sort_by), layer, table, partition)
                written += 1
            elif self.delete_partition(layer, table, partition):
                removed += 1
            if progress and ((i + 1) % 365 == 0 or i + 1 == total):
                progress(i + 1, total, written)
        return written, removed

    def delete_partition(self, layer: str, table: str, partition: tuple[str, str]) -> bool:
        """Remove one partition's data file; returns whether there was one."""
        path = self.partition_dir(layer, table, partition) / DATA_FILE
        if not path.exists():
            return False
        path.unlink()
        return True

    def files(self, layer: str, table: str) -> list[Path]:
        """The table's data files, sorted by path (partition order)."""
        base = self.table_dir(layer, table)
        return sorted(base.rglob(DATA_FILE)) if base.exists() else []

    def partitions(self, layer: str, table: str) -> list[str]:
        """Partition values present, e.g. ``['2024-01-01', ...]`` (empty for unpartitioned)."""
        base = self.table_dir(layer, table)
        return [
            p.parent.name.split("=", 1)[1] for p in self.files(layer, table) if p.parent != base
        ]

    def glob(self, layer: str, table: str) -> str:
        """A glob matching every data file of the table, for DuckDB's ``read_parquet``."""
        return str(self.table_dir(layer, table) / "**" / DATA_FILE)

    def read(
        self, layer: str, table: str, partition: tuple[str, str] | None = None
    ) -> pl.DataFrame:
        """Read one partition, or the whole table when ``partition`` is None."""
        if partition is not None:
            path = self.partition_dir(layer, table, partition) / DATA_FILE
            if not path.exists():
                raise FileNotFoundError(f"lake table {layer}/{table} has no partition {partition}")
            return pl.read_parquet(path)
        files = self.files(layer, table)
        if not files:
            raise FileNotFoundError(f"lake table {layer}/{table} has no data under {self.root}")
        return pl.read_parquet(files, hive_partitioning=False)
