"""Which assets a run must rebuild: those whose inputs changed since they were last built.

Like ``make``, a run rebuilds only what is out of date, in two phases:

1. ingest: a raw asset is rebuilt when the code or config changed, when one of its source files
   changed (path, size, modification time), when its source is live (an http(s) URL: only the
   source can say what is new), or, for the day-partitioned tables, for the requested days not
   yet read with the same inputs (their ``days`` in the ledger);
2. build: every other asset is rebuilt when the code or config changed or when the version of
   an upstream asset moved. A lake table's version is the hash of its files' bytes (so a raw
   table re-read from a live source with nothing new leaves its downstream alone); an asset
   outside the lake (a mart, the serving file, the report) has the fingerprint of the inputs it
   was built from as its version.

The ledger (``<data_home>/build/asset_versions.json``, beside the build database, so that
removing the build folder rebuilds everything) keeps, per asset, the inputs it was last built
from. With distributed execution the build database is the warehouse worker's, on another
machine: the launcher's ledger stands alone, and a lost build database needs ``--force``.
The runner records an asset only when it materialized and every check of it in that run
passed: an asset that failed, or whose blocking check failed, is rebuilt next time, and nothing
downstream of it is built from its data meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipelines.atomic import replace_with
from pipelines.config import PROJECT_ROOT, ObservatoryConfig
from pipelines.http import is_url
from pipelines.lake import LAYERS, digest, path_stamp
from pipelines.object_lake import open_lake
from pipelines.published import NotPublished, Publication
from pipelines.sources.registry import Feed, kind_of
from pipelines.warehouse import BUILD_DIR, Warehouse

LEDGER_FILE = "asset_versions.json"
LEDGER_FORMAT = 1
# What the code fingerprint covers: the package, the SQL models and seeds, the suites and the
# locked library versions (a new Polars can change a float); not the benchmarks, nor the modules
# that only decide what runs and show it.
CODE_DIRS = ("pipelines", "dbt_like_sql", "expectations")
ORCHESTRATION = {"pipelines/cli.py", "pipelines/runner.py", "pipelines/freshness.py"}
CODE_FILES = ("pyproject.toml", "uv.lock")
CODE_SUFFIXES = (".py", ".sql", ".json", ".csv", ".yml", ".yaml", ".toml")


def code_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """A hash of every file of the code: change one and every asset is out of date."""
    h = hashlib.sha256()
    files = [root / name for name in CODE_FILES]
    for folder in CODE_DIRS:
        files += sorted(
            p
            for p in (root / folder).rglob("*")
            if p.suffix in CODE_SUFFIXES
            and not {"__pycache__", "benchmarks"} & set(p.parts)
            and p.relative_to(root).as_posix() not in ORCHESTRATION
            and p.is_file()
        )
    for path in files:
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:32]


def _local_paths(value: Any) -> list[str]:
    """The absolute local paths among a config value (strings, lists, dicts)."""
    if isinstance(value, str):
        return [value] if os.path.isabs(value) and os.path.exists(value) else []
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in _local_paths(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _local_paths(v)]
    return []


def config_fingerprint(config: ObservatoryConfig, code: str) -> str:
    """The code, the config file's text and the local files its settings name outside the
    sources (the ASN map, an IP database): what every asset depends on."""
    settings = [config.mining, config.nodes, config.market_tolerances, config.trends]
    stamps = [path_stamp(p) for p in _local_paths(settings)]
    return digest([code, config.path.read_text(encoding="utf-8"), stamps])


def feed_stamp(feed: Feed) -> tuple[list[Any], bool]:
    """A feed's files (location and file options) stamped, and whether it is live (a URL)."""
    locations = [feed.location]
    for name, option in kind_of(feed).option_fields().items():
        value = getattr(feed.options, name)
        if (option.metadata.get("path") or option.metadata.get("location")) and value:
            locations += value if isinstance(value, list) else [value]
    live = any(is_url(str(loc)) for loc in locations)
    stamps = [feed.key, feed.kind] + [
        [loc] if is_url(str(loc)) else path_stamp(loc) for loc in locations
    ]
    return stamps, live


def _merge(intervals: list[list[str]], start: date, end: date) -> list[list[str]]:
    """Day intervals (ISO strings) with ``start``..``end`` added, merged and sorted."""
    spans = sorted([(date.fromisoformat(a), date.fromisoformat(b)) for a, b in intervals])
    spans = sorted([*spans, (start, end)])
    merged: list[tuple[date, date]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return [[a.isoformat(), b.isoformat()] for a, b in merged]


def uncovered(intervals: list[list[str]], start: date, end: date) -> tuple[date, date] | None:
    """The first and last day of ``start``..``end`` outside ``intervals``, or None."""
    covered = [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in intervals]

    def inside(day: date) -> bool:
        return any(a <= day <= b for a, b in covered)

    first = start
    while first <= end and inside(first):
        first = next((b for a, b in covered if a <= first <= b), first) + timedelta(days=1)
    if first > end:
        return None
    last = end
    while inside(last):
        last = next(a for a, b in covered if a <= last <= b) - timedelta(days=1)
    return first, last


@dataclass
class Ledger:
    """Per asset, the inputs it was last built from (and, for day-partitioned raw tables, the
    days read with those inputs); a cache of lake files' hashes by size and modification time."""

    path: Path
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, warehouse: Warehouse, *, build_here: bool = True) -> Ledger:
        """The data home's ledger; empty when the build database is missing (all out of date).
        ``build_here`` False: the build database is another machine's (distributed execution),
        so its absence here says nothing."""
        path = warehouse.home / BUILD_DIR / LEDGER_FILE
        if (build_here and not warehouse.build_path.exists()) or not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path)  # unreadable: rebuild everything rather than trust it
        if data.get("format") != LEDGER_FORMAT:
            return cls(path)
        return cls(path, data.get("assets", {}), data.get("files", {}))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        payload = {"format": LEDGER_FORMAT, "assets": self.assets, "files": self.files}
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
        replace_with(tmp, self.path)

    def file_hash(self, path: Path) -> str:
        stat = path.stat()
        cached = self.files.get(str(path))
        if cached and cached[:2] == [stat.st_size, stat.st_mtime_ns]:
            return cached[2]
        with open(path, "rb") as handle:
            content = hashlib.file_digest(handle, "sha256").hexdigest()[:32]
        self.files[str(path)] = [stat.st_size, stat.st_mtime_ns, content]
        return content

    def prune_files(self) -> None:
        """Forget the hashes of files that no longer exist."""
        self.files = {p: v for p, v in self.files.items() if os.path.exists(p)}


def lake_table(key: str) -> tuple[str, str] | None:
    """``(layer, table)`` of an asset that lives in the lake, e.g. ``raw/blocks``; else None."""
    parts = tuple(key.split("/"))
    return (parts[0], parts[1]) if len(parts) == 2 and parts[0] in LAYERS else None


def is_ingest(key: str) -> bool:
    """Raw tables are ingested from sources (or seeds); everything else is built from them."""
    return key.startswith("raw/")


@dataclass(frozen=True)
class Rebuild:
    """An asset a run rebuilds, and why (shown to the user)."""

    key: str
    reason: str


@dataclass
class Planner:
    """Decides, from the ledger, which assets of a run are out of date; records what was built.

    ``parents`` maps each asset (user string, e.g. ``raw/blocks``) to its upstream assets;
    ``partitioned`` names the day-partitioned raw tables; ``force`` rebuilds everything asked.
    """

    config: ObservatoryConfig
    parents: dict[str, list[str]]
    partitioned: set[str]
    force: bool = False
    code: str = field(default_factory=code_fingerprint)

    def __post_init__(self) -> None:
        self.warehouse = Warehouse(self.config.data_home)
        self.lake = open_lake(self.config.lake_location)
        self.ledger = Ledger.load(self.warehouse, build_here=not self.config.execution.distributed)
        self.base = config_fingerprint(self.config, self.code)

    def _sources(self, key: str) -> tuple[str, bool]:
        """The fingerprint of an ingest asset's inputs, and whether a source is live."""
        stamps, live = [], False
        for parent in self.parents.get(key, []):
            layer, _, source = parent.partition("/")
            if layer != "source":
                continue
            for feed in self.config.sources.values():
                if feed.source == source:
                    stamp, is_live = feed_stamp(feed)
                    stamps.append(stamp)
                    live = live or is_live
        return digest([self.base, key, stamps]), live

    def _missing(self, key: str) -> bool:
        """Whether the asset's output is gone (a lake table, the serving file, the report)."""
        table = lake_table(key)
        if table is not None:
            return self._table_version(table) is None
        if self.config.execution.distributed:  # the warehouse worker's files, not this machine's
            if not key.startswith("serving/"):
                return False
            try:
                Publication(self.lake).latest()
            except NotPublished:
                return True
            return False
        if key.startswith("serving/"):
            return not self.warehouse.serving_path.exists()
        if key.startswith("report/"):
            return not self.config.report_dir.is_dir()
        return False

    def ingest(
        self, keys: list[str], days: tuple[date, date] | None
    ) -> tuple[list[Rebuild], tuple[date, date] | None]:
        """The ingest assets to rebuild and the days the day-partitioned ones must read."""
        rebuild, spans = [], []
        for key in keys:
            inputs, live = self._sources(key)
            entry = self.ledger.assets.get(key, {})
            same = entry.get("inputs") == inputs
            if key in self.partitioned:  # months without rows have no file: nothing is missing
                assert days is not None, "a run of day-partitioned tables has days (runner.plan)"
                todo = days if self.force or not same else uncovered(entry.get("days", []), *days)
                if todo is None:
                    continue
                reason = "forced" if self.force else ("new days" if same else self._why(entry))
                rebuild.append(Rebuild(key, f"{reason} {todo[0]}..{todo[1]}"))
                spans.append(todo)
            elif self.force or not same or live or self._missing(key):
                if self.force:
                    reason = "forced"
                elif not same:
                    reason = self._why(entry)
                else:
                    reason = "live source" if live else "output missing"
                rebuild.append(Rebuild(key, reason))
        span = (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None
        return rebuild, span

    def _why(self, entry: dict[str, Any]) -> str:
        return "inputs changed" if entry else "never built"

    def version(self, key: str) -> str | None:
        """What a downstream asset was built from: a lake table's content hash, else the inputs
        recorded for the asset (None: not built, or its build is not trusted)."""
        if key not in self.ledger.assets:
            return None
        table = lake_table(key)
        if table is not None:  # none: a day-partitioned table without rows yet
            return self._table_version(table) or "no rows"
        return self.ledger.assets[key]["inputs"]

    def _table_version(self, table: tuple[str, str]) -> str | None:
        """A lake table's version (``Lake.version``: its files' bytes, hashes cached in the
        ledger; a listing on object storage); None when it has no folder or objects."""
        return self.lake.version(*table, self.ledger.file_hash)

    def inputs(self, key: str) -> str | None:
        """The fingerprint of a built asset's inputs now, or None when an upstream is untrusted."""
        versions = []
        for parent in sorted(self.parents.get(key, [])):
            if parent.startswith("source/"):
                continue
            version = self.version(parent)
            if version is None:
                return None
            versions.append([parent, version])
        return digest([self.base, key, versions])

    def build(self, keys: list[str], untrusted: set[str]) -> tuple[list[Rebuild], list[str]]:
        """The built assets (``keys`` in dependency order) to rebuild, and those held back
        because an upstream asset in ``untrusted`` failed (or failed a check)."""
        rebuild: list[Rebuild] = []
        blocked: list[str] = []
        stale: set[str] = set()
        held = set(untrusted)
        for key in keys:
            upstream = self.parents.get(key, [])
            if held & set(upstream):
                held.add(key)
                blocked.append(key)
                continue
            entry = self.ledger.assets.get(key)
            if self.force:
                reason = "forced"
            elif stale & set(upstream):
                reason = "upstream rebuilt"
            elif entry is None:
                reason = "never built"
            elif self._missing(key):
                reason = "output missing"
            elif (inputs := self.inputs(key)) is None:
                reason = "upstream not built"
            elif entry.get("inputs") != inputs:
                reason = "inputs changed"
            else:
                continue
            stale.add(key)
            rebuild.append(Rebuild(key, reason))
        return rebuild, blocked

    def record(self, built: list[str], days: tuple[date, date] | None, failed: set[str]) -> None:
        """Record the assets built (in dependency order) whose checks all passed; forget those
        that failed, so that they are rebuilt next time. Saves the ledger."""
        for key in built:
            if key in failed:
                self.ledger.assets.pop(key, None)
                continue
            if key in self.partitioned:
                inputs, _ = self._sources(key)
                entry = self.ledger.assets.get(key, {})
                covered = entry.get("days", []) if entry.get("inputs") == inputs else []
                if days is not None:
                    covered = _merge(covered, *days)
                self.ledger.assets[key] = {"inputs": inputs, "days": covered}
            elif is_ingest(key):
                self.ledger.assets[key] = {"inputs": self._sources(key)[0]}
            elif (inputs := self.inputs(key)) is not None:
                self.ledger.assets[key] = {"inputs": inputs}
            else:  # built from an upstream that is not trusted: rebuild it next time
                self.ledger.assets.pop(key, None)
        for key in failed:
            self.ledger.assets.pop(key, None)
        self.ledger.prune_files()
        self.ledger.save()
