"""Fetch a height range of blocks from any loader, with a resumable Parquet cache.

A loader (``BitcoinRpc``, ``EsploraClient``) answers three questions: ``tip_height()``,
``block_time(h)`` and ``blocks(heights)`` (a frame in ``BLOCK_SCHEMA``). ``fetch_range`` fetches
heights in fixed, height-aligned chunks and keeps one Parquet file per chunk in a cache folder,
written atomically, so an interrupted run resumes where it stopped. Blocks near the tip can be
replaced by a reorg, so each call re-fetches the last few heights below the tip seen by the
previous call and replaces any block whose hash changed.

Also here: the small parsing helpers the loaders share (field checks, subsidy, fee estimate).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from pipelines.atomic import replace_with
from pipelines.http import SourceFormatError
from pipelines.schemas.mining import BLOCK_SCHEMA, BLOCKS, conform_blocks
from pipelines.schemas.rejects import empty_rejects
from pipelines.sources.registry import FeedRead, ReadScope

log = logging.getLogger("pipelines.sources.block_cache")

HALVING_INTERVAL = 210_000
INITIAL_SUBSIDY_SATS = 50 * 100_000_000
TIP_FILE = "tip.json"
MAX_FUTURE_BLOCK_TIME = timedelta(hours=2)  # consensus: at most 2 h ahead of the nodes' clocks
# Columns a loader fills from one block; the rest of BLOCK_SCHEMA is derived or null.
ROW_SCHEMA = {
    name: BLOCK_SCHEMA[name]
    for name in (
        "height",
        "hash",
        "time",
        "coinbase_hex",
        "coinbase_addresses",
        "coinbase_values_sats",
        "fees_sats",
        "tx_count",
    )
}


class BlockLoader(Protocol):
    """What ``fetch_range`` and ``heights_for_dates`` need from a block source."""

    def tip_height(self) -> int: ...

    def block_time(self, height: int) -> datetime: ...

    def blocks(self, heights: Sequence[int]) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Reorg:
    """A cached block replaced because the source now has another block at its height."""

    height: int
    old_hash: str
    new_hash: str


@dataclass
class FetchReport:
    """What one ``fetch_range`` call did.

    ``fetched`` counts blocks downloaded (re-checked ones included), ``from_cache`` the returned
    blocks that came from the cache only, ``gaps`` the requested heights that are not returned
    (above the tip, or missing from the source's answer).
    """

    tip: int
    fetched: int = 0
    from_cache: int = 0
    reorgs: list[Reorg] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)


def subsidy_sats(height: int) -> int:
    """The block subsidy at `height`: 50 BTC halved every 210,000 blocks."""
    return INITIAL_SUBSIDY_SATS >> (height // HALVING_INTERVAL)


def claimed_fees_sats(height: int, coinbase_values_sats: Sequence[int]) -> int | None:
    """Fees the miner claimed: coinbase outputs minus the subsidy; None when below the subsidy.

    A miner may claim less than it could, so this is a lower bound of the block's fees.
    """
    fees = sum(coinbase_values_sats) - subsidy_sats(height)
    return fees if fees >= 0 else None


def _field_name(path: Sequence[str | int]) -> str:
    name = ""
    for key in path:
        name += f"[{key}]" if isinstance(key, int) else f"{'.' if name else ''}{key}"
    return name


def require(
    obj: Any,
    *path: str | int,
    kind: type | tuple[type, ...],
    where: str,
    optional: bool = False,
) -> Any:
    """``obj[path[0]][path[1]]...`` checked to be a `kind`, else SourceFormatError naming it.

    `where` names the source and request. With `optional`, a missing or null field is None.
    """
    value = obj
    for depth, key in enumerate(path):
        if isinstance(key, int):
            present = isinstance(value, list) and key < len(value)
        else:
            present = isinstance(value, dict) and key in value
        if not present:
            if optional:
                return None
            raise SourceFormatError(f"{where}: missing field {_field_name(path[: depth + 1])!r}")
        value = value[key]
    if value is None and optional:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        shown = json.dumps(value)[:80]
        raise SourceFormatError(
            f"{where}: field {_field_name(path)!r} should be {expected}, got {shown}"
        )
    return value


def blocks_frame(rows: Sequence[dict[str, Any]], feed: str) -> pl.DataFrame:
    """Loader rows (``ROW_SCHEMA`` keys, ``time`` as aware datetime) as ``BLOCK_SCHEMA``."""
    frame = pl.DataFrame(list(rows), schema=ROW_SCHEMA).with_columns(
        pl.col("time").dt.date().alias("date"), pl.lit("header").alias("date_source")
    )
    return conform_blocks(frame, feed).sort("height")


class _Chunks:
    """Height-aligned chunk files ``blocks-<first>-<last>.parquet`` in one folder."""

    def __init__(self, folder: Path, size: int) -> None:
        self.folder = folder
        self.size = size
        self._frames: dict[int, pl.DataFrame] = {}

    def first_of(self, height: int) -> int:
        return height - height % self.size

    def path(self, first: int) -> Path:
        return self.folder / f"blocks-{first:07d}-{first + self.size - 1:07d}.parquet"

    def load(self, first: int) -> pl.DataFrame:
        """The cached blocks of the chunk starting at `first` (empty when none)."""
        if first not in self._frames:
            self._frames[first] = self._read(self.path(first))
        return self._frames[first]

    def store(self, first: int, frame: pl.DataFrame) -> None:
        """Write the chunk atomically: readers see the old file or the new one, never a mix."""
        frame = frame.sort("height")
        _write_atomically(self.path(first), frame.write_parquet)
        self._frames[first] = frame

    @staticmethod
    def _read(path: Path) -> pl.DataFrame:
        if not path.exists():
            return BLOCKS.empty()
        try:
            frame = pl.read_parquet(path)
            return frame.select(pl.col(n).cast(t) for n, t in BLOCK_SCHEMA.items()).sort("height")
        except (OSError, pl.exceptions.PolarsError) as exc:
            log.warning("block cache: unreadable chunk %s (%s); fetching it again", path, exc)
            return BLOCKS.empty()


def _write_atomically(target: Path, write: Callable[[Path], Any]) -> None:
    """Call `write` on a temporary file beside `target`, then rename it over `target`."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        replace_with(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _previous_tip(folder: Path) -> int | None:
    path = folder / TIP_FILE
    if not path.exists():
        return None
    try:
        return int(json.loads(path.read_text())["tip_height"])
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("block cache: ignoring unreadable %s (%s)", path, exc)
        return None


def _recheck(loader: BlockLoader, chunks: _Chunks, heights: range, report: FetchReport) -> set[int]:
    """Re-fetch the cached blocks at `heights`; replace and report those whose hash changed."""
    firsts = sorted({chunks.first_of(h) for h in heights})
    cached = pl.concat([BLOCKS.empty(), *(chunks.load(first) for first in firsts)]).filter(
        pl.col("height").is_in(list(heights))
    )
    if cached.is_empty():
        return set()
    fresh = loader.blocks(cached["height"].to_list())
    report.fetched += fresh.height
    changed = (
        cached.select("height", "hash")
        .join(fresh.select("height", new_hash="hash"), on="height")
        .filter(pl.col("hash") != pl.col("new_hash"))
        .sort("height")
    )
    report.reorgs += [Reorg(*row) for row in changed.iter_rows()]
    moved = changed["height"].to_list()
    for first in sorted({chunks.first_of(h) for h in moved}):
        in_chunk = pl.col("height").is_between(first, first + chunks.size - 1)
        kept = chunks.load(first).filter(~pl.col("height").is_in(moved))
        new = fresh.filter(pl.col("height").is_in(moved) & in_chunk)
        chunks.store(first, pl.concat([kept, new]))
    return set(fresh["height"].to_list())


def fetch_range(
    loader: BlockLoader,
    start_height: int,
    end_height: int,
    cache_dir: Path,
    chunk_size: int = 144,
    progress: Callable[[int, int], None] | None = None,
    *,
    recheck: int = 6,
) -> tuple[pl.DataFrame, FetchReport]:
    """The blocks of heights [start_height, end_height] (sorted by height) and a report.

    Chunks cover heights ``[k * chunk_size, (k + 1) * chunk_size - 1]``; only the heights a
    chunk file lacks are fetched, and each chunk is written as soon as it is complete, so an
    interrupted call loses at most one chunk of work. Use one `cache_dir` per chain and keep
    `chunk_size` fixed for it (files of another size are not read). Before fetching, the
    cached blocks among the `recheck` heights at and below the tip of the previous call are
    fetched again; a block whose hash changed is replaced and listed in ``report.reorgs``.
    Heights above the current tip are not fetched and end up in ``report.gaps``.
    `progress(done, total)` is called after each chunk, in heights.
    """
    if not 0 <= start_height <= end_height:
        raise ValueError(f"need 0 <= start_height <= end_height, got {start_height}..{end_height}")
    if chunk_size < 1 or recheck < 0:
        raise ValueError(f"need chunk_size >= 1 and recheck >= 0, got {chunk_size}, {recheck}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    chunks = _Chunks(cache_dir, chunk_size)
    tip = loader.tip_height()
    report = FetchReport(tip=tip)
    fetched: set[int] = set()
    previous = _previous_tip(cache_dir)
    if previous is not None and recheck:
        heights = range(max(0, previous - recheck + 1), min(previous, tip) + 1)
        fetched |= _recheck(loader, chunks, heights, report)
    _write_atomically(
        cache_dir / TIP_FILE, lambda tmp: tmp.write_text(json.dumps({"tip_height": tip}))
    )

    last = min(end_height, tip)
    pieces = []
    for first in range(chunks.first_of(start_height), last + 1, chunk_size):
        low, high = max(first, start_height), min(first + chunk_size - 1, last)
        chunk = chunks.load(first)
        missing = sorted(set(range(low, high + 1)) - set(chunk["height"].to_list()))
        if missing:
            new = loader.blocks(missing).filter(pl.col("height").is_in(missing))
            report.fetched += new.height
            fetched |= set(new["height"].to_list())
            chunks.store(first, pl.concat([chunk, new]))
        pieces.append(chunks.load(first).filter(pl.col("height").is_between(low, high)))
        if progress is not None:
            progress(high - start_height + 1, last - start_height + 1)

    frame = pl.concat([BLOCKS.empty(), *pieces]).sort("height")
    returned = set(frame["height"].to_list())
    report.from_cache = len(returned - fetched)
    report.gaps = sorted(set(range(start_height, end_height + 1)) - returned)
    return frame, report


def heights_for_dates(
    loader: BlockLoader, start_date: date, end_date: date, *, window: int = 12
) -> tuple[int, int]:
    """The smallest height dated on or after `start_date` and the largest dated by `end_date`.

    Header times are not monotonic: a block's time must only exceed the median time of the 11
    blocks before it (median-time-past) and be at most 2 hours ahead of the nodes' clocks, so
    the blocks of a UTC day are not always one contiguous run of heights. The returned range
    covers every block dated in [start_date, end_date] but may hold a few dated just outside
    it: filter the fetched blocks on ``date``.

    Method: binary search on header time (as if it were monotonic), then widen from each bound.
    Upwards, until `window` (>= 11) blocks in a row are past the end: exact by consensus, as
    their median is then past it too, and so is every later block. Downwards, until `window`
    blocks in a row are dated over 2 hours before the start: a block dated on or after the
    start was mined at most 2 hours earlier (the future limit), so it cannot sit below blocks
    mined that long before, unless those carry times far behind their real ones.
    """
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    if window < 11:
        raise ValueError(f"window must be >= 11 (the median-time-past span), got {window}")
    tip = loader.tip_height()
    times: dict[int, datetime] = {}

    def time_at(height: int) -> datetime:
        if height not in times:
            times[height] = loader.block_time(height)
        return times[height]

    def first_at_or_after(moment: datetime) -> int:
        low, high = 0, tip + 1
        while low < high:
            middle = (low + high) // 2
            if time_at(middle) < moment:
                low = middle + 1
            else:
                high = middle
        return low

    def widen(
        height: int, step: int, inside: Callable[[datetime], bool], far: Callable[[datetime], bool]
    ) -> list[int]:
        """Heights from `height` on (by `step`) that are `inside`, until `window` far in a row."""
        found, far_run = [], 0
        while 0 <= height <= tip and far_run < window:
            moment = time_at(height)
            if inside(moment):
                found.append(height)
            far_run = far_run + 1 if far(moment) else 0
            height += step
        return found

    start = datetime.combine(start_date, clock.min, UTC)
    stop = datetime.combine(end_date + timedelta(days=1), clock.min, UTC)
    first = first_at_or_after(start)
    after = first_at_or_after(stop)
    early = start - MAX_FUTURE_BLOCK_TIME
    first = min([first, *widen(first - 1, -1, lambda t: t >= start, lambda t: t < early)])
    last = max([after - 1, *widen(after, 1, lambda t: t < stop, lambda t: t >= stop)])
    if first > tip or last < first:
        raise LookupError(
            f"no blocks dated {start_date}..{end_date} (tip {tip} is dated "
            f"{time_at(tip).date()}, block 0 {time_at(0).date()})"
        )
    return first, last


def read_live_blocks(loader: BlockLoader, feed: str, scope: ReadScope) -> FeedRead:
    """The blocks of the scope's days from a node or API, through the resumable height cache
    (``scope.cache_dir``); reorgs replaced in the cache are logged."""
    log = scope.log
    with loader:
        try:
            first, last = heights_for_dates(loader, scope.start, scope.end)
        except LookupError:
            log.info(f"feed {feed}: no block between {scope.start} and {scope.end}")
            return FeedRead(BLOCKS.empty(), empty_rejects(), {"blocks": 0})
        log.info(f"feed {feed}: heights {first:,}..{last:,} for {scope.start}..{scope.end}")

        def progress(done: int, total: int) -> None:
            log.info(f"feed {feed}: {done:,}/{total:,} heights")

        blocks, fetched = fetch_range(loader, first, last, scope.cache_dir, progress=progress)
    for reorg in fetched.reorgs:
        log.warning(
            f"feed {feed}: reorg at height {reorg.height}: {reorg.old_hash} replaced by "
            f"{reorg.new_hash}"
        )
    report = {
        "blocks": blocks.height,
        "tip": fetched.tip,
        "fetched": fetched.fetched,
        "from_cache": fetched.from_cache,
        "reorgs": len(fetched.reorgs),
        "missing_heights": len(fetched.gaps),
        "first_height": first,
        "last_height": last,
    }
    in_days = blocks.filter(pl.col("date").is_between(scope.start, scope.end))
    return FeedRead(in_days, empty_rejects(), report)
