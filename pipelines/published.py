"""The serving database published to object storage, for readers on other machines.

Below the lake (``<lake>/serving/``):

- ``<version>.duckdb``: a published copy of the serving database; a version is
  ``<UTC time>-<run id>``, so versions sort by time;
- ``<version>.json``: its size and SHA-256, written after the copy;
- ``LATEST``: the version readers use (its ``.json`` content plus the version), written last.

A publish uploads the copy and its ``.json``, then replaces ``LATEST`` with one PUT: a reader
sees the previous complete version or the new one, never half of one. Only the newest
``keep_versions`` versions are kept (the one ``LATEST`` names always is); ``rollback`` points
``LATEST`` at an older one. Readers download the version ``LATEST`` names into a local cache
once (``pull``), check its SHA-256 and open it read-only; a publish never blocks them.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.fs as pafs

from pipelines.object_lake import ObjectLake
from pipelines.storage import StorageError, redact

FOLDER = "serving"
LATEST = "LATEST"
CHUNK = 8 << 20


class NotPublished(FileNotFoundError):
    """Nothing has been published below the lake yet, or the version asked for is not there."""


@dataclass(frozen=True)
class Version:
    name: str
    sha256: str
    bytes: int
    published_at: str

    def as_json(self) -> bytes:
        return json.dumps(self.__dict__).encode()


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class Publication:
    """The published versions of one lake's serving database."""

    lake: ObjectLake

    def _key(self, name: str) -> str:
        return self.lake.location.key(FOLDER, name)

    def _fail(self, doing: str, error: OSError) -> StorageError:
        return StorageError(redact(f"{doing} at {self.lake.location.where}: {error}"))

    def _read_json(self, name: str) -> dict | None:
        key = self._key(name)
        if self.lake.fs.get_file_info(key).type != pafs.FileType.File:
            return None
        with self.lake.fs.open_input_stream(key) as source:
            return json.loads(source.read())

    def _put(self, name: str, data: bytes) -> None:
        with self.lake.fs.open_output_stream(self._key(name)) as out:
            out.write(data)

    def publish(self, database: Path, run_id: str, keep_versions: int) -> Version:
        """Upload ``database`` as a new version, point ``LATEST`` at it, prune old versions."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        version = Version(
            name=f"{stamp}-{run_id}",
            sha256=_sha256(database),
            bytes=database.stat().st_size,
            published_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        try:
            with (
                open(database, "rb") as source,
                self.lake.fs.open_output_stream(self._key(f"{version.name}.duckdb")) as out,
            ):
                while chunk := source.read(CHUNK):
                    out.write(chunk)
            self._put(f"{version.name}.json", version.as_json())
            self._put(LATEST, version.as_json())  # last: readers switch here
            self.prune(keep_versions)
        except OSError as error:
            raise self._fail(f"publishing {database.name}", error) from None
        return version

    def latest(self) -> Version:
        try:
            pointer = self._read_json(LATEST)
        except OSError as error:
            raise self._fail("reading serving/LATEST", error) from None
        if pointer is None:
            raise NotPublished(
                f"nothing published at {self.lake.root}/{FOLDER}: run `observatory run` with "
                "this [storage] lake first"
            )
        return Version(**pointer)

    def versions(self) -> list[Version]:
        """The versions kept, oldest first."""
        try:
            infos = self.lake.fs.get_file_info(
                pafs.FileSelector(self._key(""), allow_not_found=True)
            )
            names = sorted(
                i.base_name.removesuffix(".json")
                for i in infos
                if i.base_name.endswith(".json") and i.type == pafs.FileType.File
            )
            return [Version(**self._read_json(f"{name}.json")) for name in names]
        except OSError as error:
            raise self._fail("listing serving/", error) from None

    def prune(self, keep_versions: int) -> list[str]:
        """Delete all but the newest ``keep_versions`` versions (never the one LATEST names)."""
        latest = self.latest().name
        names = [v.name for v in self.versions()]
        removed = [n for n in names[: max(0, len(names) - keep_versions)] if n != latest]
        for name in removed:
            for suffix in (".json", ".duckdb"):  # the .json first: no listing names a lost copy
                self.lake.fs.delete_file(self._key(name + suffix))
        return removed

    def rollback(self, name: str) -> Version:
        """Point LATEST at the kept version ``name``."""
        kept = {v.name: v for v in self.versions()}
        if name not in kept:
            raise NotPublished(
                f"no version {name!r} at {self.lake.root}/{FOLDER}; kept: {', '.join(kept)}"
            )
        try:
            self._put(LATEST, kept[name].as_json())
        except OSError as error:
            raise self._fail("writing serving/LATEST", error) from None
        return kept[name]

    def pull(self, cache: Path) -> Path:
        """The local copy of the version LATEST names: downloaded into ``cache`` once, its
        SHA-256 checked; older copies in ``cache`` are removed."""
        version = self.latest()
        target = cache / f"{version.name}.duckdb"
        if target.exists():
            return target
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{version.name}.tmp-{uuid.uuid4().hex}"
        try:
            key = self._key(f"{version.name}.duckdb")
            with self.lake.fs.open_input_stream(key) as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            found = _sha256(tmp)
            if found != version.sha256:
                raise StorageError(
                    f"{self.lake.root}/{FOLDER}/{version.name}.duckdb: SHA-256 {found} does not "
                    f"match the published {version.sha256}; not used"
                )
            os.replace(tmp, target)
        except OSError as error:
            if isinstance(error, StorageError):
                raise
            raise self._fail(f"downloading {version.name}", error) from None
        finally:
            tmp.unlink(missing_ok=True)
        for old in cache.glob("*.duckdb"):
            if old != target:
                old.unlink(missing_ok=True)
        return target
