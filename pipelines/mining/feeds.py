"""Read one configured block feed for a range of days, whatever its kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pipelines.config import SourceConfig, is_url
from pipelines.mining.blocks import empty_blocks, empty_rejects

if TYPE_CHECKING:
    from pipelines.resources import ObservatoryResource


@dataclass
class FeedRead:
    blocks: pl.DataFrame  # BLOCK_SCHEMA
    rejects: pl.DataFrame  # REJECT_SCHEMA
    report: dict[str, Any] = field(default_factory=dict)


def _local_copy(feed: SourceConfig, observatory: ObservatoryResource) -> Path:
    """A file feed's path: the file itself, or a downloaded copy for an https location."""
    if not is_url(feed.location):
        return Path(feed.location)
    from pipelines.atomic import replace_with

    target = observatory.lake().root / "downloads" / feed.name / Path(feed.location).name
    target.parent.mkdir(parents=True, exist_ok=True)
    body = observatory.http_client(feed.name).get_bytes(feed.location)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(body)
    replace_with(tmp, target)
    return target


def _file_report(blocks: pl.DataFrame, rejects: pl.DataFrame) -> dict[str, Any]:
    heights = blocks["height"]
    span = int(heights.max() - heights.min() + 1) if blocks.height else 0
    return {
        "blocks": blocks.height,
        "rejected": rejects.height,
        "first_height": int(heights.min()) if blocks.height else None,
        "last_height": int(heights.max()) if blocks.height else None,
        "missing_heights": span - heights.n_unique(),
        "first_day": str(blocks["date"].min()) if blocks.height else None,
        "last_day": str(blocks["date"].max()) if blocks.height else None,
    }


def read_feed(
    feed: SourceConfig,
    start: date,
    end: date,
    observatory: ObservatoryResource,
    *,
    log: logging.Logger | Any = None,
) -> FeedRead:
    """The feed's blocks dated ``start``..``end`` (files are read whole; rejects are whole-file)."""
    from pipelines.sources import block_files

    name = feed.name.split(".", 1)[1]
    if feed.kind == "bigquery_coinbase_ndjson":
        blocks, rejects = block_files.read_bigquery_coinbase_ndjson(
            _local_copy(feed, observatory), name
        )
    elif feed.kind == "labelled_blocks":
        options = feed.options
        counts = (
            block_files.read_block_counts_csv(Path(options["block_counts"]))
            if options["block_counts"]
            else None
        )
        blocks, rejects = block_files.read_labelled_blocks(
            _local_copy(feed, observatory),
            name,
            height_column=options["height_column"],
            label_column=options["label_column"],
            label_scheme=options["label_scheme"],
            time_column=options["time_column"] or None,
            hash_column=options["hash_column"] or None,
            block_counts=counts,
        )
    else:
        return _read_live_feed(feed, name, start, end, observatory, log=log)
    report = _file_report(blocks, rejects)
    return FeedRead(blocks.filter(pl.col("date").is_between(start, end)), rejects, report)


def _live_loader(feed: SourceConfig, name: str, observatory: ObservatoryResource) -> Any:
    http = observatory.config().http
    common = {
        "timeout": http["timeout_seconds"],
        "max_attempts": int(http["max_attempts"]),
        "backoff": http["backoff_seconds"],
    }
    if feed.kind == "bitcoin_core_rpc":
        from pipelines.sources.bitcoin_rpc import BitcoinRpc

        return BitcoinRpc(
            feed.location, cookie=feed.options["cookie_file"] or None, feed=name, **common
        )
    from pipelines.sources.esplora import EsploraClient

    return EsploraClient(
        feed.location,
        flavour="mempool" if feed.kind == "mempool_rest" else "esplora",
        feed=name,
        min_interval=feed.options["min_interval_seconds"],
        concurrency=feed.options["concurrency"],
        **common,
    )


def _read_live_feed(
    feed: SourceConfig,
    name: str,
    start: date,
    end: date,
    observatory: ObservatoryResource,
    *,
    log: Any,
) -> FeedRead:
    """Blocks of the days from a node or API, through the resumable height cache."""
    from pipelines.sources.block_cache import fetch_range, heights_for_dates

    log = log or logging.getLogger(__name__)
    with _live_loader(feed, name, observatory) as loader:
        try:
            first, last = heights_for_dates(loader, start, end)
        except LookupError:
            log.info(f"feed {name}: no block between {start} and {end}")
            return FeedRead(empty_blocks(), empty_rejects(), {"blocks": 0})
        log.info(f"feed {name}: heights {first:,}..{last:,} for {start}..{end}")

        def progress(done: int, total: int) -> None:
            log.info(f"feed {name}: {done:,}/{total:,} heights")

        blocks, fetched = fetch_range(
            loader,
            first,
            last,
            observatory.lake().root / "cache" / "blocks" / name,
            progress=progress,
        )
    for reorg in fetched.reorgs:
        log.warning(
            f"feed {name}: reorg at height {reorg.height}: {reorg.old_hash} replaced by "
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
    return FeedRead(blocks.filter(pl.col("date").is_between(start, end)), empty_rejects(), report)
