"""``raw/node_snapshots`` (one partition per UTC day) and ``raw/node_distributions``."""

from datetime import date

import dagster as dg
import polars as pl

from pipelines.checks import daily_expectations_check
from pipelines.metadata import markdown_table
from pipelines.nodes.feeds import feed_name, read_distribution_feed, read_node_feed
from pipelines.nodes.snapshots import NODE_COLUMN_DESCRIPTIONS, NODE_SCHEMA, OVERLAY_NETWORKS
from pipelines.partitions import DAILY
from pipelines.resources import ObservatoryResource
from pipelines.validation import gx_check_result
from pipelines.warehouse import load_parquet_table

SNAPSHOTS = dg.AssetKey(["raw", "node_snapshots"])
DISTRIBUTIONS = dg.AssetKey(["raw", "node_distributions"])
SNAPSHOTS_DESCRIPTION = (
    "Bitcoin nodes per snapshot, one row per node: address, port, network, user agent, services, "
    "height and, where the source knows them, location and AS. Crawled (reachable) nodes and "
    "unverified gossip addresses are told apart by `reachability`. One partition per UTC day."
)
DISTRIBUTIONS_DESCRIPTION = (
    "Published node distributions (counts per country or organisation and date), with no "
    "per-node rows; marked with their source."
)
REJECTS_DESCRIPTION = "Node rows the feeds could not use, with the reason (written by raw/node_*)."

node_feeds = dg.AssetSpec(
    key=["source", "nodes"],
    description=(
        "The node feeds configured in [sources.nodes.<feed>]: the Bitnodes API, Bitnodes crawler "
        "exports, bitnod.es CSVs, getaddr address lists and published distributions."
    ),
    group_name="source",
    kinds={"bitcoin"},
)


def _per_node_feeds(observatory: ObservatoryResource) -> list:
    return [f for f in observatory.config().feeds("nodes") if f.kind != "edi_distributions"]


@dg.asset(
    key=SNAPSHOTS,
    deps=[node_feeds],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="raw",
    kinds={"parquet", "duckdb"},
    description=SNAPSHOTS_DESCRIPTION,
)
def node_snapshots(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    start = date.fromisoformat(context.partition_key_range.start)
    end = date.fromisoformat(context.partition_key_range.end)
    lake = observatory.lake()
    frames, reports = [], []
    for feed in _per_node_feeds(observatory):
        read = read_node_feed(feed, start, end, observatory)
        frames.append(read.rows)
        lake.write(read.rejects, "raw", "node_rejects", ("feed", feed_name(feed)))
        reports.append({"feed": feed_name(feed), "kind": feed.kind, **read.report})
        context.log.info(f"feed {feed_name(feed)}: {read.report}")
    nodes = pl.concat(frames) if frames else pl.DataFrame(schema=NODE_SCHEMA)
    written, removed = lake.replace_days(
        nodes,
        "raw",
        "node_snapshots",
        column="snapshot_date",
        start=start,
        end=end,
        sort_by=["source", "snapshot_time", "address", "port"],
    )
    with observatory.warehouse().writer() as con:
        load_parquet_table(
            con,
            "raw.node_snapshots",
            lake.files("raw", "node_snapshots"),
            description=SNAPSHOTS_DESCRIPTION,
            column_descriptions=NODE_COLUMN_DESCRIPTIONS,
            empty_schema=NODE_SCHEMA,
        )
        load_parquet_table(
            con,
            "raw.node_rejects",
            lake.files("raw", "node_rejects"),
            description=REJECTS_DESCRIPTION,
        )
    by_snapshot = (
        nodes.group_by("source", "reachability", "snapshot_time", "network")
        .len()
        .sort("source", "snapshot_time", "network")
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(nodes.height),
            "days_with_snapshots": written,
            "days_emptied": removed,
            "feeds": dg.MetadataValue.md(markdown_table(pl.DataFrame(reports), 50)),
            "nodes_by_snapshot_and_network": dg.MetadataValue.md(markdown_table(by_snapshot, 50)),
        }
    )


def _validation_frame(frame: pl.DataFrame, day: str) -> pl.DataFrame:
    """The partition plus the derived columns the suite checks."""
    overlay = pl.col("network").is_in(OVERLAY_NETWORKS)
    located = pl.col("latitude").is_not_null() | pl.col("longitude").is_not_null()
    return frame.with_columns(
        pl.when(overlay & located)
        .then(pl.format("{}: overlay node with a location", "address"))
        .alias("overlay_located"),
        pl.when(pl.col("snapshot_date") != date.fromisoformat(day))
        .then(pl.format("{}: snapshot of {} in partition " + day, "address", "snapshot_date"))
        .alias("date_mismatch"),
    )


node_snapshots_expectations = daily_expectations_check(
    SNAPSHOTS, suite="node_snapshots", column="snapshot_date", derive=_validation_frame
)


@dg.asset(
    key=DISTRIBUTIONS,
    deps=[node_feeds],
    group_name="raw",
    kinds={"parquet", "duckdb"},
    description=DISTRIBUTIONS_DESCRIPTION,
)
def node_distributions(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    lake = observatory.lake()
    frames, reports = [], []
    for feed in observatory.config().feeds("nodes"):
        if feed.kind != "edi_distributions":
            continue
        read = read_distribution_feed(feed)
        frames.append(read.rows)
        lake.write(read.rejects, "raw", "node_rejects", ("feed", feed_name(feed)))
        reports.append({"feed": feed_name(feed), **read.report})
    rows = pl.concat(frames).sort("snapshot_date", "source", "dimension", "entity")
    stored = observatory.store_table(
        rows,
        "raw",
        "node_distributions",
        description=DISTRIBUTIONS_DESCRIPTION,
        column_descriptions={
            "snapshot_date": "date of the published distribution",
            "source": "configured feed",
            "dimension": "'country' or 'organization'",
            "entity": "ISO country code, organisation, 'overlay:tor' or 'unknown'",
            "nodes": "reachable nodes counted for the entity",
            "includes_overlay": "whether the distribution counts Tor nodes (as 'overlay:tor')",
        },
    )
    return dg.MaterializeResult(
        metadata={**stored, "feeds": dg.MetadataValue.md(markdown_table(pl.DataFrame(reports)))}
    )


@dg.asset_check(
    asset=DISTRIBUTIONS,
    blocking=True,
    description="GX suite expectations/node_distributions.json",
)
def node_distributions_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return gx_check_result(
        "node_distributions", observatory.lake().read("raw", "node_distributions")
    )
