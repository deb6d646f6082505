"""The registry of source kinds: one object per way of reading a source.

A kind is declared once, in the module of its reader, as a module-level ``KINDS`` tuple:

    KINDS = (SourceKind("bitnodes_csv", source="nodes", description="...", read=read_csv_feed,
                        options=NoOptions),)

``options`` is a frozen dataclass whose fields (with defaults) are the keys the config table may
set; ``option(...)`` adds help, choices and whether a value names a file or a URL. ``read`` gets a
``Feed`` (the validated config of one feed, with the shared HTTP settings) and a ``ReadScope`` (the
days asked for, where to cache, a logger) and returns a ``FeedRead``: a frame of the raw table's
contract, its rejects and a small report for the asset's metadata. ``load_config`` validates
against this registry, so adding a kind touches one file.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from pipelines.atomic import replace_with
from pipelines.http import HttpSettings, is_url, read_location


@dataclass(frozen=True)
class Source:
    """A ``[sources.<name>]`` table: one kind, or several feeds ``[sources.<name>.<feed>]``."""

    name: str
    multi_feed: bool


# Every source the pipeline reads. Feeds of a multi-feed source are in precedence order.
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("pool_registry", True),
        Source("blocks", True),
        Source("nodes", True),
        Source("market", True),
        Source("hashrate_geography", False),
        Source("ai_models", True),
        Source("ai_chip_owners", False),
    )
}


def option(
    default: Any,
    *,
    help: str = "",
    choices: tuple[str, ...] = (),
    path: bool = False,
    location: bool = False,
) -> Any:
    """A kind option: ``path`` names a local file (resolved against the config, must exist);
    ``location`` a URL or a local file; ``choices`` the valid values (required when the default
    is not one of them)."""
    metadata = {"help": help, "choices": choices, "path": path, "location": location}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class NoOptions:
    """A kind with no options besides ``kind`` and ``location``."""


@dataclass(frozen=True)
class Feed:
    """One configured feed (or single source), validated: what a reader is given."""

    source: str  # "blocks"
    name: str  # the feed's name ("node_2024_2025"), or the source's for a single-feed source
    kind: str
    location: str  # an http(s) URL or an absolute local path
    options: Any  # the kind's options dataclass
    http: HttpSettings = field(default_factory=HttpSettings)

    @property
    def key(self) -> str:
        """``blocks.node_2024_2025``, or ``hashrate_geography`` for a single-feed source."""
        return f"{self.source}.{self.name}" if SOURCES[self.source].multi_feed else self.source

    @property
    def is_remote(self) -> bool:
        return is_url(self.location)


@dataclass(frozen=True)
class ReadScope:
    """What one read asks for: the days (daily sources), a cache folder for the feed, a log."""

    cache_dir: Path
    start: date | None = None
    end: date | None = None
    log: logging.Logger | Any = field(
        default_factory=lambda: logging.getLogger("pipelines.sources")
    )


@dataclass
class FeedRead:
    rows: pl.DataFrame  # the raw table's contract
    rejects: pl.DataFrame  # REJECT_SCHEMA
    report: dict[str, Any] = field(default_factory=dict)  # one row of the asset's feed table


@dataclass(frozen=True)
class SourceKind:
    name: str
    source: str  # the [sources.<source>] it may be configured for
    description: str
    read: Callable[[Feed, ReadScope], FeedRead]
    options: type = NoOptions
    table: str = ""  # the raw table its rows land in, e.g. "raw.blocks"
    check: Callable[[Feed], str | None] | None = None  # a problem across options, or None
    licence: str = ""  # the data's licence or terms, shown in the report's provenance

    def option_fields(self) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(self.options)}

    def defaults(self) -> dict[str, Any]:
        return {k: _default(f) for k, f in self.option_fields().items()}


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


@cache
def kinds() -> dict[str, dict[str, SourceKind]]:
    """Every kind, by source and kind name (imports every reader module of this package)."""
    found: dict[str, dict[str, SourceKind]] = {name: {} for name in SOURCES}
    package = importlib.import_module("pipelines.sources")
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        for kind in getattr(importlib.import_module(f"pipelines.sources.{module}"), "KINDS", ()):
            if kind.source not in SOURCES:
                raise ValueError(f"kind {kind.name}: unknown source {kind.source!r}")
            if kind.name in found[kind.source]:
                raise ValueError(f"kind {kind.name} declared twice for [sources.{kind.source}]")
            found[kind.source][kind.name] = kind
    return found


def kind_of(feed: Feed) -> SourceKind:
    return kinds()[feed.source][feed.kind]


def read_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    """Read one configured feed with its kind's reader."""
    return kind_of(feed).read(feed, scope)


def location_bytes(feed: Feed, location: str | None = None) -> bytes:
    """The bytes at the feed's location (or at ``location``): a local file or an http(s) GET."""
    with feed.http.client(feed.name) as client:
        return read_location(location or feed.location, source=feed.name, client=client)


def local_copy(feed: Feed, scope: ReadScope) -> Path:
    """A file feed's path: the file itself, or a copy downloaded into the feed's cache folder."""
    if not feed.is_remote:
        return Path(feed.location)
    target = scope.cache_dir / "downloads" / Path(urlsplit(feed.location).path).name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(location_bytes(feed))
    replace_with(tmp, target)
    return target
