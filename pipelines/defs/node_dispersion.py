"""Nodes enriched offline → distribution and dispersion per snapshot and dimension (Polars)."""

import dagster as dg
import polars as pl

from pipelines.defs.node_snapshots import DISTRIBUTIONS, SNAPSHOTS
from pipelines.nodes.dispersion import distribution_dispersion, node_dispersion, node_distribution
from pipelines.nodes.ipdb import (
    AsmapDatabase,
    IptoccDatabase,
    MmdbDatabase,
    agreement,
    enrich,
)
from pipelines.nodes.snapshots import NODE_COLUMN_DESCRIPTIONS, NODE_SCHEMA, OVERLAY_NETWORKS
from pipelines.resources import ObservatoryResource

NODES = dg.AssetKey(["intermediate", "nodes"])
DISTRIBUTION = dg.AssetKey(["intermediate", "node_distribution"])
DISPERSION = dg.AssetKey(["intermediate", "node_dispersion"])
NODES_DESCRIPTION = (
    "Every node of every snapshot, with country, AS number and organisation filled in offline "
    "where the source lacks them (location_source / asn_source say where each came from)."
)
DISTRIBUTION_DESCRIPTION = "Nodes and share per entity, snapshot, dimension and overlay policy."
DISPERSION_DESCRIPTION = (
    "How concentrated nodes are per snapshot, dimension and overlay policy: the mining metric "
    "set, overlay and unknown shares, and the spatial spread of located nodes."
)


def _databases(observatory: ObservatoryResource) -> list:
    settings = observatory.config().nodes
    if settings["ip_database"] == "iptocc":
        databases = [IptoccDatabase()]
    else:
        databases = [MmdbDatabase.open(settings["ip_database"])]
    if settings["asmap"]:
        databases.append(AsmapDatabase.from_file(settings["asmap"]))
    return databases


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            NODES,
            deps=[SNAPSHOTS],
            group_name="intermediate",
            kinds={"polars", "parquet"},
            description=NODES_DESCRIPTION,
        ),
        dg.AssetSpec(
            DISTRIBUTION,
            deps=[NODES, DISTRIBUTIONS],
            group_name="intermediate",
            kinds={"polars", "parquet"},
            description=DISTRIBUTION_DESCRIPTION,
        ),
        dg.AssetSpec(
            DISPERSION,
            deps=[NODES, DISTRIBUTIONS],
            group_name="intermediate",
            kinds={"polars", "parquet"},
            description=DISPERSION_DESCRIPTION,
        ),
    ]
)
def node_tables(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Enrich the snapshots, then measure them and the published distributions alike."""
    lake = observatory.lake()
    raw = (
        lake.read("raw", "node_snapshots")
        if lake.files("raw", "node_snapshots")
        else pl.DataFrame(schema=NODE_SCHEMA)
    )
    databases = _databases(observatory)
    nodes = enrich(raw, databases)
    known = raw.filter(
        ~pl.col("network").is_in(OVERLAY_NETWORKS) & pl.col("country_code").is_not_null()
    )
    checks = {db.name: agreement(known, db) for db in databases} if known.height else {}
    context.log.info(f"offline databases vs the sources' own geography: {checks}")
    yield dg.MaterializeResult(
        asset_key=NODES,
        metadata={
            **observatory.store_table(
                nodes,
                "intermediate",
                "nodes",
                description=NODES_DESCRIPTION,
                column_descriptions=NODE_COLUMN_DESCRIPTIONS,
            ),
            "offline_databases": ", ".join(db.name for db in databases),
            "agreement_with_source_geography": dg.MetadataValue.json(checks),
        },
    )
    published = distribution_dispersion(lake.read("raw", "node_distributions"))
    distribution = pl.concat([node_distribution(nodes), published.distribution])
    dispersion = pl.concat([node_dispersion(nodes), published.dispersion])
    for key, frame, table, text in (
        (DISTRIBUTION, distribution, "node_distribution", DISTRIBUTION_DESCRIPTION),
        (DISPERSION, dispersion, "node_dispersion", DISPERSION_DESCRIPTION),
    ):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=observatory.store_table(
                frame, "intermediate", table, description=text, column_descriptions={}
            ),
        )
