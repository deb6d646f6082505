"""Read one configured node feed for a range of days, whatever its kind."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pipelines.config import SourceConfig

if TYPE_CHECKING:
    from pipelines.resources import ObservatoryResource


@dataclass
class NodeFeedRead:
    rows: pl.DataFrame  # NODE_SCHEMA, or DISTRIBUTION_SCHEMA for published distributions
    rejects: pl.DataFrame  # REJECT_SCHEMA
    report: dict[str, Any] = field(default_factory=dict)


def feed_name(feed: SourceConfig) -> str:
    return feed.name.split(".", 1)[1]


def read_node_feed(
    feed: SourceConfig, start: date, end: date, observatory: ObservatoryResource
) -> NodeFeedRead:
    """Per-node rows of the feed's snapshots dated ``start``..``end`` (files are read whole)."""
    from pipelines.sources import bitnodes_api, node_files

    name = feed_name(feed)
    if feed.kind == "bitnodes_export":
        nodes, rejects = node_files.read_bitnodes_export(Path(feed.location), name)
    elif feed.kind == "bitnodes_csv":
        nodes, rejects = node_files.read_bitnodes_csv(Path(feed.location), name)
    elif feed.kind == "address_list":
        nodes, rejects = node_files.read_address_list(Path(feed.location), name)
    elif feed.kind == "bitnodes_api":
        key_env = feed.options["api_key_env"]
        with bitnodes_api.BitnodesApi(
            feed.location,
            os.environ.get(key_env) if key_env else None,
            source=name,
            min_interval=feed.options["min_interval_seconds"],
            **observatory.http_settings(),
        ) as api:
            nodes, rejects, fetched = bitnodes_api.fetch_snapshots(
                api,
                observatory.lake().root / "cache" / "nodes" / name,
                start,
                end,
                per_day=feed.options["per_day"] or None,
            )
        report = {
            "listed": fetched.listed,
            "downloaded": fetched.downloaded,
            "from_cache": fetched.from_cache,
        }
        return NodeFeedRead(nodes, rejects, {"nodes": nodes.height, **report})
    else:
        raise ValueError(f"{feed.name}: kind {feed.kind} has no per-node rows")
    snapshots = nodes.select("snapshot_time").unique().height
    report = {"nodes": nodes.height, "rejected": rejects.height, "snapshots": snapshots}
    return NodeFeedRead(
        nodes.filter(pl.col("snapshot_date").is_between(start, end)), rejects, report
    )


def read_distribution_feed(feed: SourceConfig) -> NodeFeedRead:
    """Published node distributions (counts per entity and date)."""
    from pipelines.sources import node_files

    rows, rejects = node_files.read_edi_distributions(Path(feed.location), feed_name(feed))
    dates = rows["snapshot_date"].n_unique()
    return NodeFeedRead(rows, rejects, {"rows": rows.height, "dates": dates})
