"""The Parquet lake: ``<data_home>/lake/<layer>/<table>/[<key>=<value>/]data.parquet``.

Each partition is one file. It is written to a hidden temporary file in the partition folder and
renamed over ``data.parquet``, so a reader (or a crash) only ever sees the old file or the new one,
and re-writing a partition replaces it exactly. Partition columns are kept inside the files too
(a monthly partition's rows carry their date), so readers never depend on folder names.

An unpartitioned table too big to build in memory is written in parts (``PartsWriter``):
``<table>/part-00000.parquet``, ... are written into a hidden sibling folder, which then replaces
the table folder (the old folder is first renamed aside, then removed; a crash between the two
renames is repaired on the next access, so readers see the old table or the new one).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from pipelines.atomic import replace_with

LAYERS = ("raw", "intermediate")
DATA_FILE = "data.parquet"
TMP_PREFIX = ".data.parquet.tmp-"
PART_GLOB = "part-*.parquet"
MONTH_KEY = "month"  # the partition key of day-stamped tables (``Lake.replace_days``)


def digest(parts: Iterable[Any]) -> str:
    """A short hash of JSON-able ``parts`` (versions and fingerprints)."""
    return hashlib.sha256(json.dumps(list(parts), default=str).encode()).hexdigest()[:32]


def path_stamp(path: str | Path) -> list[Any]:
    """What says a local file or folder changed: each file's path, size and modification time."""
    path = Path(path)
    if path.is_file():
        stat = path.stat()
        return [[str(path), stat.st_size, stat.st_mtime_ns]]
    if path.is_dir():
        return [s for p in sorted(path.rglob("*")) if p.is_file() for s in path_stamp(p)]
    return [[str(path), "missing"]]


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


@dataclass(frozen=True)
class Lake:
    root: Path
    # DuckDB can read the files where they lie (views over pinned links to them)
    readable_in_place = True

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
        if partition is None and self._parts(self.table_dir(layer, table)):
            with self.parts_writer(layer, table) as writer:  # replaces the parts atomically
                writer.append(frame)
            return writer.paths[0]
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
        """Replace the days ``start``..``end`` of a table kept in monthly partitions
        (``month=YYYY-MM``, keyed by the date ``column``) with ``frame``'s rows of those days.

        Each month the range touches is rewritten once: its rows of other days are kept, those
        of the range replaced (a day without rows in ``frame`` loses its rows; a month left
        empty loses its file), so re-running a range reproduces it exactly. Returns (months
        written, months emptied); ``progress(done, total, written)`` is called per year of
        months.
        """
        in_range = pl.col(column).is_between(start, end)
        month = pl.col(column).dt.strftime("%Y-%m")
        by_month = {
            key[0]: part
            for key, part in frame.with_columns(month.alias("_month"))
            .partition_by("_month", as_dict=True, include_key=False)
            .items()
        }
        keys = months(start, end)

        def replace_month(key: str) -> str:
            partition = (MONTH_KEY, key)
            stored = self.stored(layer, table, partition)
            kept = stored.filter(~in_range) if stored is not None else None
            parts = [p for p in (kept, by_month.get(key)) if p is not None and p.height]
            if parts:
                rows = pl.concat(parts, how="vertical_relaxed") if len(parts) > 1 else parts[0]
                self.write(rows.sort(sort_by, maintain_order=True), layer, table, partition)
                return "written"
            return "removed" if self.delete_partition(layer, table, partition) else ""

        done = {"written": 0, "removed": 0, "": 0}
        # months are independent files: written a few at a time, so one's fsync overlaps the
        # others' encoding (Polars and fsync release the GIL)
        with ThreadPoolExecutor(max_workers=4) as pool:
            for i, outcome in enumerate(pool.map(replace_month, keys)):
                done[outcome] += 1
                if progress and ((i + 1) % 12 == 0 or i + 1 == len(keys)):
                    progress(i + 1, len(keys), done["written"])
        return done["written"], done["removed"]

    def stored(
        self,
        layer: str,
        table: str,
        partition: tuple[str, str] | None,
        columns: list[str] | None = None,
    ) -> pl.DataFrame | None:
        """The rows of one partition (only ``columns`` if given), or None when it has no file."""
        path = self.partition_dir(layer, table, partition) / DATA_FILE
        return pl.read_parquet(path, columns=columns) if path.exists() else None

    def delete_partition(self, layer: str, table: str, partition: tuple[str, str] | None) -> bool:
        """Remove one partition's data file (None: the unpartitioned file at the table's root);
        returns whether there was one."""
        path = self.partition_dir(layer, table, partition) / DATA_FILE
        if not path.exists():
            return False
        path.unlink()
        return True

    def keep_partitions(self, layer: str, table: str, key: str, keep: list[str]) -> list[str]:
        """Delete the partitions ``key=value`` whose value is not in ``keep`` (e.g. feeds no
        longer configured); returns the values removed, sorted."""
        removed = sorted(set(self.partitions(layer, table)) - set(keep))
        for value in removed:
            self.delete_partition(layer, table, (key, value))
        return removed

    def parts_writer(self, layer: str, table: str) -> PartsWriter:
        """A writer replacing the unpartitioned table with the frames appended to it, as parts."""
        return PartsWriter(self.table_dir(layer, table))

    @staticmethod
    def _parts(base: Path) -> list[Path]:
        return sorted(base.glob(PART_GLOB)) if base.exists() else []

    def files(self, layer: str, table: str) -> list[Path]:
        """The table's data files, sorted by path (partition order, then part order)."""
        base = self.table_dir(layer, table)
        _recover(base)
        return sorted(base.rglob(DATA_FILE)) + self._parts(base) if base.exists() else []

    def partitions(self, layer: str, table: str) -> list[str]:
        """Partition values present, e.g. ``['2024-01-01', ...]`` (empty for unpartitioned)."""
        base = self.table_dir(layer, table)
        return [
            p.parent.name.split("=", 1)[1] for p in self.files(layer, table) if p.parent != base
        ]

    def read_files(self, files: list[Path], columns: list[str] | None = None) -> pl.DataFrame:
        """The rows of some of the table's ``files``, stacked (only ``columns`` if given)."""
        return pl.read_parquet(files, columns=columns, hive_partitioning=False)

    def version(self, layer: str, table: str, file_hash: Callable[[Path], str]) -> str | None:
        """A hash of the table's files (``file_hash`` of each, hidden temporary files aside);
        None when the table has no folder."""
        folder = self.table_dir(layer, table)
        if not folder.is_dir():
            return None
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
        return digest([p.relative_to(folder).as_posix(), file_hash(p)] for p in files)

    def file_rows(self, file: Path) -> int:
        """A data file's row count, from its Parquet footer."""
        return pq.read_metadata(file).num_rows

    def read_partitions(
        self, layer: str, table: str, key: str, values: list[str], batch: int = 12
    ) -> Iterator[tuple[str, pl.DataFrame]]:
        """``(value, rows)`` of the partitions ``key=value`` for each of ``values``, in order; a
        batch of files is read at a time, in parallel (each file alone, with its own schema)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            for first in range(0, len(values), batch):
                chunk = values[first : first + batch]
                partitions = [(key, value) for value in chunk]
                yield from zip(
                    chunk, pool.map(lambda p: self.read(layer, table, p), partitions), strict=True
                )

    def read(
        self,
        layer: str,
        table: str,
        partition: tuple[str, str] | None = None,
        columns: list[str] | None = None,
    ) -> pl.DataFrame:
        """Read one partition, or the whole table when ``partition`` is None; only ``columns``
        if given."""
        if partition is not None:
            rows = self.stored(layer, table, partition, columns)
            if rows is None:
                raise FileNotFoundError(f"lake table {layer}/{table} has no partition {partition}")
            return rows
        files = self.files(layer, table)
        if not files:
            raise FileNotFoundError(f"lake table {layer}/{table} has no data under {self.root}")
        return self.read_files(files, columns)


def _recover(base: Path) -> None:
    """Put back a table folder renamed aside by a ``PartsWriter`` that crashed before the swap."""
    if base.exists() or not base.parent.exists():
        return
    aside = sorted(base.parent.glob(f".{base.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if aside:
        os.replace(aside[-1], base)


class PartsWriter:
    """Write an unpartitioned table as ``part-NNNNN.parquet`` files, swapped in on success.

    Use as a context manager: ``append`` writes each frame as the next part into a hidden folder
    beside the table; leaving the block without an exception replaces the table folder with it,
    an exception discards it and keeps the previous table.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.staging = base.parent / f".{base.name}.tmp-{uuid.uuid4().hex}"
        self.paths: list[Path] = []  # final paths of the parts written
        self.rows = 0

    def __enter__(self) -> PartsWriter:
        self.base.parent.mkdir(parents=True, exist_ok=True)
        _recover(self.base)
        for pattern in (".{}.tmp-*", ".{}.old-*"):  # left behind by crashed writers
            for stale in self.base.parent.glob(pattern.format(self.base.name)):
                shutil.rmtree(stale, ignore_errors=True)
        self.staging.mkdir()
        return self

    def append(self, frame: pl.DataFrame) -> Path:
        """Write ``frame`` as the next part (empty frames too, so the schema is kept)."""
        name = _part_name(len(self.paths))
        frame.write_parquet(self.staging / name, compression="zstd", statistics=True)
        self.paths.append(self.base / name)
        self.rows += frame.height
        return self.paths[-1]

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if kind is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        for part in self.staging.iterdir():  # durable before they become visible
            fd = os.open(part, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        aside = self.base.parent / f".{self.base.name}.old-{uuid.uuid4().hex}"
        if self.base.exists():
            os.replace(self.base, aside)
        os.replace(self.staging, self.base)
        shutil.rmtree(aside, ignore_errors=True)


def months(start: date, end: date) -> list[str]:
    """``YYYY-MM`` of every month from ``start``'s to ``end``'s."""
    keys, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys
