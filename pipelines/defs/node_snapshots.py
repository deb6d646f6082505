"""``raw/node_snapshots`` (a Dagster partition per UTC year, a lake file per month) and
``raw/node_distributions``."""

import dagster as dg
import polars as pl

from pipelines.checks import monthly_expectations_check
from pipelines.execution import backfill_policy
from pipelines.metadata import markdown_table
from pipelines.partitions import YEARLY, run_days
from pipelines.raw_tables import RawTable, write_raw_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas.nodes import (
    NODE_DISTRIBUTION_REJECTS,
    NODE_DISTRIBUTIONS,
    NODE_REJECTS,
    NODE_SNAPSHOTS,
    OVERLAY_NETWORKS,
)
from pipelines.sources.registry import Feed, kind_of

SNAPSHOTS = dg.AssetKey(["raw", "node_snapshots"])
DISTRIBUTIONS = dg.AssetKey(["raw", "node_distributions"])
SNAPSHOTS_TABLE = RawTable(
    NODE_SNAPSHOTS,
    NODE_REJECTS,
    "month",
    ("source", "snapshot_time", "address", "port"),
    day_column="snapshot_date",
)
DISTRIBUTIONS_TABLE = RawTable(
    NODE_DISTRIBUTIONS,
    NODE_DISTRIBUTION_REJECTS,
    None,
    ("snapshot_date", "source", "dimension", "entity"),
)

node_feeds = dg.AssetSpec(
    key=["source", "nodes"],
    description=(
        "The node feeds configured in [sources.nodes.<feed>]: the Bitnodes API, Bitnodes crawler "
        "exports, bitnod.es CSVs, getaddr address lists and published distributions."
    ),
    kinds={"bitcoin"},
)


def _feeds(observatory: ObservatoryResource, table: str) -> list[Feed]:
    """The node feeds whose kind lands in ``table`` (per-node rows or published counts)."""
    return [f for f in observatory.config().feeds("nodes") if kind_of(f).table == table]


@dg.asset(
    key=SNAPSHOTS,
    deps=[node_feeds],
    partitions_def=YEARLY,
    backfill_policy=backfill_policy(),
)
def node_snapshots(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    start, end = run_days(context)
    reads = {}
    for feed in _feeds(observatory, NODE_SNAPSHOTS.relation):
        reads[feed.name] = observatory.read(feed, start, end, context.log)
        context.log.info(f"feed {feed.name}: {reads[feed.name].report}")
    metadata = write_raw_table(
        observatory, SNAPSHOTS_TABLE, reads, days=(start, end), log=context.log
    )
    nodes = pl.concat([r.rows for r in reads.values()] or [NODE_SNAPSHOTS.empty()])
    by_snapshot = (
        nodes.filter(pl.col("snapshot_date").is_between(start, end))
        .group_by("source", "reachability", "snapshot_time", "network")
        .len()
        .sort("source", "snapshot_time", "network")
    )
    metadata["nodes_by_snapshot_and_network"] = dg.MetadataValue.md(markdown_table(by_snapshot, 50))
    return dg.MaterializeResult(metadata=metadata)


def _validation_frame(frame: pl.DataFrame, month: str) -> pl.DataFrame:
    """The partition plus the derived columns the suite checks."""
    overlay = pl.col("network").is_in(OVERLAY_NETWORKS)
    located = pl.col("latitude").is_not_null() | pl.col("longitude").is_not_null()
    return frame.with_columns(
        pl.when(overlay & located)
        .then(pl.format("{}: overlay node with a location", "address"))
        .alias("overlay_located"),
        pl.when(pl.col("snapshot_date").dt.strftime("%Y-%m") != month)
        .then(pl.format("{}: snapshot of {} in partition " + month, "address", "snapshot_date"))
        .alias("date_mismatch"),
    )


node_snapshots_expectations = monthly_expectations_check(
    SNAPSHOTS, suite="node_snapshots", derive=_validation_frame
)


@dg.asset(
    key=DISTRIBUTIONS,
    deps=[node_feeds],
)
def node_distributions(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    reads = {
        feed.name: observatory.read(feed, log=context.log)
        for feed in _feeds(observatory, NODE_DISTRIBUTIONS.relation)
    }
    return dg.MaterializeResult(
        metadata=write_raw_table(observatory, DISTRIBUTIONS_TABLE, reads, log=context.log)
    )


@dg.asset_check(
    asset=DISTRIBUTIONS,
    blocking=True,
    description="Suite expectations/node_distributions.json",
)
def node_distributions_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return observatory.check_suite(
        "node_distributions", observatory.lake().read("raw", "node_distributions")
    )
