"""Bitnodes API snapshots: list, download once into a cache, parse into node rows.

``GET {base}/api/v1/snapshots/`` lists snapshots newest first, a page at a time
(``{count, next, previous, results: [{url, timestamp, total_nodes, latest_height}]}``);
``GET {base}/api/v1/snapshots/<timestamp>/`` answers ``{timestamp, total_nodes, latest_height,
nodes: {"addr:port": [protocol_version, user_agent, connected_since, services, height,
hostname, city, country_code, latitude, longitude, timezone, asn, organization]}}``. Recent
answers stop after ``height`` (5 values): those nodes get null geography and a null
``location_source`` for the offline enrichment to fill.

bitnodes.io keeps about 60 days of snapshots and allows unauthenticated callers 50 requests
a day, so ``fetch_snapshots`` pages only back to the start of the range (100 snapshots a
page) and never downloads a snapshot its cache already holds.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import polars as pl

from pipelines.atomic import replace_with
from pipelines.http import ApiClient, HttpSettings, SourceFormatError
from pipelines.schemas.nodes import NODE_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.block_cache import require
from pipelines.sources.node_files import (
    NODE_FIELDS,
    crawled_nodes,
    decode_rows,
    row_text,
    split_host_port,
)
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, option

DEFAULT_BASE_URL = "https://bitnodes.io"
SNAPSHOTS_PATH = "/api/v1/snapshots/"
PAGE_SIZE = 100  # the most the API returns per page
MIN_NODE_FIELDS = 5  # protocol_version .. height: what recent answers still carry


@dataclass(frozen=True)
class SnapshotListing:
    """One entry of the snapshot list."""

    timestamp: int
    url: str
    total_nodes: int | None = None
    latest_height: int | None = None

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


@dataclass
class SnapshotFetchReport:
    """What one ``fetch_snapshots`` call did.

    ``listed`` counts the snapshots the API listed in the range, ``downloaded`` those fetched
    now, ``from_cache`` those read from the cache (listed or not: the API forgets old ones),
    ``timestamps`` the snapshots returned, oldest first.
    """

    listed: int = 0
    downloaded: int = 0
    from_cache: int = 0
    timestamps: list[int] = field(default_factory=list)


class BitnodesApi(ApiClient):
    """The Bitnodes snapshot API of bitnodes.io or a self-hosted instance.

    `api_key` is sent as the `api_key_header` header (value as given, e.g. ``"Token abc"``)
    and redacted from every log line and error. Paging follows the ``next`` URLs of the
    answers with their scheme and host replaced by `base_url`'s, so a self-hosted or test
    server that reports another host still works.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        api_key_header: str = "Authorization",
        source: str = "bitnodes_api",
        page_size: int = PAGE_SIZE,
        http: HttpSettings = HttpSettings(),
        min_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            base_url,
            source,
            http,
            sleep,
            min_interval=min_interval,
            headers={api_key_header: api_key} if api_key else {},
        )
        self.page_size = page_size

    def list_snapshots(
        self, limit: int | None = None, since: datetime | None = None
    ) -> list[SnapshotListing]:
        """Listed snapshots, newest first: at most `limit`, none older than `since`.

        With `since`, paging stops at the first page reaching back before it (the list is
        newest first), so only the pages needed are requested.
        """
        oldest = since.timestamp() if since else None
        url: str | None = self.base_url + SNAPSHOTS_PATH
        params: dict | None = {"limit": self.page_size}
        seen: set[str] = set()
        listings: list[SnapshotListing] = []
        while url:
            seen.add(url)
            page = self._http.get_json(url, params)
            where = f"{self.source}: GET {url}"
            results = require(page, "results", kind=list, where=where)
            items = [_listing(item, f"{where} results[{i}]") for i, item in enumerate(results)]
            listings += [s for s in items if oldest is None or s.timestamp >= oldest]
            if limit is not None and len(listings) >= limit:
                return listings[:limit]
            if oldest is not None and any(s.timestamp < oldest for s in items):
                break
            following = require(page, "next", kind=str, where=where, optional=True)
            url, params = (self.on_base_host(following), None) if following else (None, None)
            if url in seen:
                raise SourceFormatError(f"{where}: 'next' leads back to {url}")
        return listings

    def snapshot_url(self, timestamp: int) -> str:
        """The URL of one snapshot."""
        return f"{self.base_url}{SNAPSHOTS_PATH}{timestamp}/"

    def snapshot(self, timestamp: int) -> bytes:
        """The raw answer for one snapshot; SourceFormatError (naming the URL) if not JSON."""
        url = self.snapshot_url(timestamp)
        body = self._http.get_bytes(url)
        try:
            json.loads(body)
        except ValueError as exc:
            raise SourceFormatError(f"{self.source}: GET {url} returned bad JSON: {exc}") from exc
        return body


def _listing(item: object, where: str) -> SnapshotListing:
    return SnapshotListing(
        timestamp=require(item, "timestamp", kind=int, where=where),
        url=require(item, "url", kind=str, where=where),
        total_nodes=require(item, "total_nodes", kind=int, where=where, optional=True),
        latest_height=require(item, "latest_height", kind=int, where=where, optional=True),
    )


def read_bitnodes_api_snapshot(
    document: dict | bytes, source: str, *, where: str = "snapshot"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes of one snapshot answer (parsed or raw), and rejects.

    The snapshot time is the answer's ``timestamp``. Records are
    ``snapshot <timestamp> node <addr:port>``. A node whose key is not ``address:port`` or whose
    value is not a list of 5 to 13 plain values is rejected; bad fields are nulled and
    reported. A document of the wrong shape raises SourceFormatError naming `where`.
    """
    if isinstance(document, bytes | bytearray):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise SourceFormatError(f"{source}: {where}: bad JSON: {exc}") from exc
    named = f"{source}: {where}"
    timestamp = require(document, "timestamp", kind=int, where=named)
    nodes = require(document, "nodes", kind=dict, where=named)
    rows = decode_rows(json.dumps(list(nodes.values())), named)
    host, port = split_host_port(pl.col("key"))
    size = pl.col("row").list.len()
    wrong_size = pl.format(
        "expected {} to {} fields, got {}",
        pl.lit(MIN_NODE_FIELDS),
        pl.lit(len(NODE_FIELDS)),
        size,
    )
    row_problem = pl.coalesce(
        pl.col("problem"),
        pl.when(~size.is_between(MIN_NODE_FIELDS, len(NODE_FIELDS))).then(wrong_size),
    )
    key_problem = pl.when(host.is_null()).then(pl.lit("expected address:port"))
    frame = rows.with_columns(pl.Series("key", list(nodes), dtype=pl.String)).with_row_index(
        "sort_key"
    )
    frame = frame.select(
        "sort_key",
        pl.format(f"snapshot {timestamp} node {{}}", "key").alias("record"),
        pl.lit(datetime.fromtimestamp(timestamp, UTC))
        .cast(pl.Datetime("us", "UTC"))
        .alias("snapshot_time"),
        pl.when(key_problem.is_not_null())
        .then(pl.lit("key"))
        .otherwise(pl.lit("value"))
        .alias("problem_field"),
        pl.coalesce(key_problem, row_problem).alias("problem"),
        pl.when(key_problem.is_not_null())
        .then(pl.col("key"))
        .otherwise(pl.coalesce("value", row_text(pl.col("row"))))
        .alias("value"),
        host.alias("raw_address"),
        port.alias("raw_port"),
        pl.col("row").alias("fields"),
    )
    return crawled_nodes(frame, source)


def _write_atomically(target: Path, body: bytes) -> None:
    """Write `body` to a temporary file beside `target`, then rename it over `target`."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        replace_with(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _latest_per_day(timestamps: list[int], per_day: int) -> list[int]:
    """The last `per_day` of `timestamps` on each UTC day."""
    days: dict[date, list[int]] = {}
    for ts in sorted(timestamps):
        days.setdefault(datetime.fromtimestamp(ts, UTC).date(), []).append(ts)
    return sorted(ts for day in days.values() for ts in day[-per_day:])


def fetch_snapshots(
    api: BitnodesApi,
    cache_dir: str | Path,
    start_date: date,
    end_date: date,
    *,
    per_day: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, SnapshotFetchReport]:
    """Nodes of the snapshots from `start_date` to `end_date` (UTC days, inclusive).

    Lists the snapshots back to `start_date`, adds those of the range already in `cache_dir`
    (``<timestamp>.json``, the raw answers) and downloads only the others, each parsed before
    it is written (atomically) so that a bad answer is never cached. With `per_day`, only the
    last `per_day` snapshots of each day are used (1 is one snapshot per day partition).
    Returns nodes and rejects of all those snapshots, oldest first, and a report. Snapshots
    are known by their listed timestamp; the nodes' snapshot time is the answer's own
    ``timestamp``, which can be a few minutes earlier. A failure part-way keeps what was
    already downloaded in the cache.
    """
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    if per_day is not None and per_day < 1:
        raise ValueError(f"per_day must be >= 1, got {per_day}")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    start = datetime.combine(start_date, clock(0), UTC)
    end = datetime.combine(end_date + timedelta(days=1), clock(0), UTC)
    listed = {s.timestamp for s in api.list_snapshots(since=start) if s.time < end}
    cached = {
        int(p.stem)
        for p in cache.glob("*.json")
        if p.stem.isdigit() and start.timestamp() <= int(p.stem) < end.timestamp()
    }
    wanted = sorted(listed | cached)
    if per_day is not None:
        wanted = _latest_per_day(wanted, per_day)
    report = SnapshotFetchReport(listed=len(listed), timestamps=wanted)
    nodes, rejects = [pl.DataFrame(schema=NODE_SCHEMA)], [pl.DataFrame(schema=REJECT_SCHEMA)]
    for timestamp in wanted:
        path = cache / f"{timestamp}.json"
        if timestamp in cached:
            body, where = path.read_bytes(), str(path)
            report.from_cache += 1
        else:
            body, where = api.snapshot(timestamp), f"GET {api.snapshot_url(timestamp)}"
            report.downloaded += 1
        parsed = read_bitnodes_api_snapshot(body, api.source, where=where)
        if timestamp not in cached:
            _write_atomically(path, body)
        nodes.append(parsed[0])
        rejects.append(parsed[1])
    return pl.concat(nodes), pl.concat(rejects), report


@dataclass(frozen=True)
class BitnodesApiOptions:
    api_key_env: str = option("", help="environment variable holding the API key, if any")
    per_day: int = option(1, help="snapshots kept per day (the latest); 0 keeps all")
    min_interval_seconds: float = option(1.0, help="least time between two requests")


def read_api_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    """Nodes of the scope's days from the API, through the snapshot cache."""
    options: BitnodesApiOptions = feed.options
    key = os.environ.get(options.api_key_env) if options.api_key_env else None
    with BitnodesApi(
        feed.location,
        key,
        source=feed.name,
        min_interval=options.min_interval_seconds,
        http=feed.http,
    ) as api:
        nodes, rejects, fetched = fetch_snapshots(
            api, scope.cache_dir, scope.start, scope.end, per_day=options.per_day or None
        )
    report = {
        "nodes": nodes.height,
        "listed": fetched.listed,
        "downloaded": fetched.downloaded,
        "from_cache": fetched.from_cache,
    }
    return FeedRead(nodes, rejects, report)


KINDS = (
    SourceKind(
        "bitnodes_api",
        "nodes",
        "Bitnodes API snapshots (/api/v1/snapshots/); location is the base URL; the key, if any, "
        "is read from the environment variable named by api_key_env",
        read_api_feed,
        BitnodesApiOptions,
        table="raw.node_snapshots",
        licence=(
            "Bitnodes API: see publisher's terms (Bitnodes software ayeowch/bitnodes: MIT); "
            "geography from MaxMind GeoLite2 (GeoLite2 EULA, attribution required)"
        ),
    ),
)
