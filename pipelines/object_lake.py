"""The Parquet lake on S3-compatible object storage: ``<s3 url>/<layer>/<table>/[<k>=<v>/]...``.

Same tables and the same guarantees as the local ``Lake``, with objects instead of files:

- a partition (or an unpartitioned table) is one object, ``data.parquet``, written with one PUT:
  readers see the old object or the new one, and a crashed upload leaves no object at all;
- a table written in parts is a set of ``parts-<writer>/part-NNNNN.parquet`` objects committed
  by ``_manifest.json``, written last: readers follow the manifest, so they see the old parts or
  the new ones, never a mix; parts no manifest names (a crashed writer's, or replaced ones) are
  deleted by the next commit.

DuckDB cannot read ``s3://`` without its httpfs extension, so callers load these tables through
Arrow (``readable_in_place`` is False).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.lake import DATA_FILE, LAYERS, Lake, digest
from pipelines.storage import S3Location, StorageError, redact

MANIFEST = "_manifest.json"
PARTS_PREFIX = "parts-"
READ_THREADS = 8  # objects are fetched over the network: several at a time


def _named(method: Callable) -> Callable:
    """Turn storage errors into a ``StorageError`` naming the location and endpoint, with
    credentials redacted."""

    @wraps(method)
    def call(self: ObjectLake, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (FileNotFoundError, ValueError, StorageError):  # not storage, or already named
            raise
        except OSError as error:
            raise StorageError(redact(f"object storage {self.location.where}: {error}")) from None

    return call


@dataclass(frozen=True)
class ObjectLake(Lake):
    """The lake below ``location`` (``root`` is its ``s3://`` URL, for messages and metadata)."""

    root: str  # type: ignore[assignment]
    location: S3Location = field(compare=False)
    fs: pafs.FileSystem = field(compare=False, repr=False)
    readable_in_place = False

    @classmethod
    def open(cls, url: str) -> ObjectLake:
        location = S3Location.from_url(url)
        return cls(location.url, location, location.filesystem())

    def _key(self, layer: str, table: str, *parts: str) -> str:
        if layer not in LAYERS:
            raise ValueError(f"unknown lake layer {layer!r}; valid layers: {', '.join(LAYERS)}")
        return self.location.key(layer, table, *parts)

    def _partition_key(self, layer: str, table: str, partition: tuple[str, str] | None) -> str:
        folder = () if partition is None else (f"{partition[0]}={partition[1]}",)
        return self._key(layer, table, *folder, DATA_FILE)

    def table_dir(self, layer: str, table: str) -> str:  # type: ignore[override]
        return "s3://" + self._key(layer, table)

    def partition_dir(self, layer: str, table: str, partition: tuple[str, str] | None) -> str:  # type: ignore[override]
        return "s3://" + self._partition_key(layer, table, partition).rsplit("/", 1)[0]

    # --- objects ---------------------------------------------------------------------------

    def _put(self, frame: pl.DataFrame, key: str) -> str:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        with self.fs.open_output_stream(key) as out:  # one PUT (or multipart upload): atomic
            out.write(buffer.getvalue())
        return key

    def _get(self, key: str, columns: list[str] | None = None) -> pl.DataFrame:
        with self.fs.open_input_file(key) as source:
            return pl.read_parquet(source, columns=columns)

    def _objects(self, prefix: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(prefix, recursive=True, allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        return sorted((i for i in infos if i.type == pafs.FileType.File), key=lambda i: i.path)

    def _exists(self, key: str) -> bool:
        return self.fs.get_file_info(key).type == pafs.FileType.File

    def _manifest(self, layer: str, table: str) -> dict | None:
        key = self._key(layer, table, MANIFEST)
        if not self._exists(key):
            return None
        with self.fs.open_input_stream(key) as source:
            return json.loads(source.read())

    # --- the Lake interface ----------------------------------------------------------------

    @_named
    def write(
        self, frame: pl.DataFrame, layer: str, table: str, partition: tuple[str, str] | None = None
    ) -> str:  # type: ignore[override]
        """Replace one partition (or the whole unpartitioned table) with ``frame``."""
        if partition is None and self._manifest(layer, table) is not None:
            with self.parts_writer(layer, table) as writer:
                writer.append(frame)
            return writer.paths[0]
        return "s3://" + self._put(frame, self._partition_key(layer, table, partition))

    @_named
    def stored(
        self,
        layer: str,
        table: str,
        partition: tuple[str, str] | None,
        columns: list[str] | None = None,
    ) -> pl.DataFrame | None:
        key = self._partition_key(layer, table, partition)
        return self._get(key, columns) if self._exists(key) else None

    @_named
    def delete_partition(self, layer: str, table: str, partition: tuple[str, str] | None) -> bool:
        key = self._partition_key(layer, table, partition)
        if not self._exists(key):
            return False
        self.fs.delete_file(key)
        return True

    def parts_writer(self, layer: str, table: str) -> ObjectPartsWriter:  # type: ignore[override]
        return ObjectPartsWriter(self, layer, table)

    @_named
    def files(self, layer: str, table: str) -> list[str]:  # type: ignore[override]
        """The table's data objects (``bucket/prefix/...`` paths): its manifest's parts, else
        its ``data.parquet`` objects sorted by path."""
        manifest = self._manifest(layer, table)
        if manifest is not None:
            return [self._key(layer, table, part) for part in manifest["parts"]]
        base = self._key(layer, table)
        return [
            i.path
            for i in self._objects(base)
            if i.base_name == DATA_FILE and not i.path[len(base) + 1 :].startswith(PARTS_PREFIX)
        ]

    def partitions(self, layer: str, table: str) -> list[str]:
        base = self._key(layer, table)
        folders = [path.rsplit("/", 1)[0] for path in self.files(layer, table)]
        return [folder.rsplit("/", 1)[1].split("=", 1)[1] for folder in folders if folder != base]

    @_named
    def read_files(  # type: ignore[override]
        self, files: list[str], columns: list[str] | None = None
    ) -> pl.DataFrame:
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            frames = list(pool.map(lambda key: self._get(key, columns), files))
        return pl.concat(frames) if len(frames) > 1 else frames[0]

    @_named
    def file_rows(self, file: str) -> int:  # type: ignore[override]
        with self.fs.open_input_file(file) as source:
            return pq.read_metadata(source).num_rows

    @_named
    def version(  # type: ignore[override]
        self, layer: str, table: str, file_hash: Callable[[Path], str]
    ) -> str | None:
        """A hash of the table's objects (path, size, time), manifest included; None when it has
        none. S3 listings carry no content hash, so ``file_hash`` is not used and a rewrite with
        the same bytes counts as a change."""
        base = self._key(layer, table)
        listing = [[i.path[len(base) :], i.size, i.mtime_ns] for i in self._objects(base)]
        return digest(listing) if listing else None

    def arrow_dataset(self, layer: str, table: str) -> Any:
        """The table as a pyarrow dataset over its objects, for DuckDB to scan."""
        import pyarrow.dataset as ds

        return ds.dataset(self.files(layer, table), filesystem=self.fs, format="parquet")


class ObjectPartsWriter:
    """Write an unpartitioned table as parts committed by a manifest (see the module docstring).

    Use as a context manager: ``append`` uploads each frame as the next part; leaving the block
    without an exception writes the manifest, then deletes every other object of the table;
    an exception deletes the parts uploaded and keeps the previous table.
    """

    def __init__(self, lake: ObjectLake, layer: str, table: str) -> None:
        self.lake, self.layer, self.table = lake, layer, table
        self.folder = f"{PARTS_PREFIX}{uuid.uuid4().hex}"
        self.parts: list[str] = []  # below the table: parts-<id>/part-NNNNN.parquet
        self.paths: list[str] = []  # their s3:// URLs
        self.rows = 0

    def __enter__(self) -> ObjectPartsWriter:
        return self

    def append(self, frame: pl.DataFrame) -> str:
        """Upload ``frame`` as the next part (empty frames too, so the schema is kept)."""
        part = f"{self.folder}/part-{len(self.parts):05d}.parquet"
        key = self.lake._key(self.layer, self.table, part)
        try:
            self.lake._put(frame, key)
        except OSError as error:
            raise StorageError(
                redact(f"object storage {self.lake.location.where}: {error}")
            ) from None
        self.parts.append(part)
        self.paths.append("s3://" + key)
        self.rows += frame.height
        return self.paths[-1]

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        lake, base = self.lake, self.lake._key(self.layer, self.table)
        if kind is not None:
            for part in self.parts:
                lake.fs.delete_file(lake._key(self.layer, self.table, part))
            return
        manifest = {"parts": self.parts, "rows": self.rows}
        with lake.fs.open_output_stream(f"{base}/{MANIFEST}") as out:
            out.write(json.dumps(manifest).encode())
        keep = {f"{base}/{part}" for part in self.parts} | {f"{base}/{MANIFEST}"}
        for info in lake._objects(base):  # replaced parts, a crashed writer's, a single file
            if info.path not in keep:
                lake.fs.delete_file(info.path)


def open_lake(location: str | Path) -> Lake:
    """The lake at ``location``: an ``s3://`` URL (object storage) or a local folder."""
    return ObjectLake.open(location) if isinstance(location, str) else Lake(location)
