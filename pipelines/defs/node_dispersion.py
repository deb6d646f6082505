"""``intermediate/nodes``, ``node_distribution`` and ``node_dispersion``: the node snapshots
enriched offline (IP databases, asmap) and measured per snapshot and dimension, built in batches
by ``pipelines/node_tables.py``; the operator seeds ``raw/node_organizations`` and
``raw/hosting_providers`` are read from the lake and passed to the measures."""

import dagster as dg
import polars as pl
import polars.selectors as cs

from pipelines.defs.node_reference import HOSTING, ORGANIZATIONS
from pipelines.defs.node_snapshots import DISTRIBUTIONS, SNAPSHOTS
from pipelines.metadata import markdown_table
from pipelines.node_tables import build_node_tables
from pipelines.resources import ObservatoryResource
from pipelines.schemas.nodes import (
    NODE_DISPERSION,
    NODE_DISTRIBUTION,
)
from pipelines.schemas.nodes import NODES as NODES_TABLE
from pipelines.sources.ip_databases import (
    AsmapDatabase,
    IpDatabase,
    open_ip_database,
)

NODES = dg.AssetKey(["intermediate", "nodes"])
DISTRIBUTION = dg.AssetKey(["intermediate", "node_distribution"])
DISPERSION = dg.AssetKey(["intermediate", "node_dispersion"])


def _databases(observatory: ObservatoryResource) -> list[IpDatabase]:
    settings = observatory.config().nodes
    databases = [open_ip_database(settings["ip_database"])]
    if settings["asmap"]:
        databases.append(AsmapDatabase.from_file(settings["asmap"]))
    return databases


def _agreement_summary(checks: dict[str, dict]) -> str:
    """One markdown row per database: its agreement with the sources' own geography."""
    if not checks:
        return "no source recorded its own geography"
    table = pl.DataFrame(list(checks.values())).drop("largest_hosting_asns")
    return markdown_table(table.with_columns(cs.float().round(4)))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            NODES,
            deps=[SNAPSHOTS],
        ),
        dg.AssetSpec(
            DISTRIBUTION,
            deps=[NODES, DISTRIBUTIONS, ORGANIZATIONS, HOSTING],
        ),
        dg.AssetSpec(
            DISPERSION,
            deps=[NODES, DISTRIBUTIONS, ORGANIZATIONS, HOSTING],
        ),
    ]
)
def node_tables(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Enrich the snapshots, then measure them and the published distributions alike, a batch
    of whole days at a time (``build_node_tables``) so memory stays bounded."""
    databases = _databases(observatory)

    def progress(done: int, batches: int, rows: int) -> None:
        context.log.info(f"node tables: batch {done}/{batches} done, {rows:,} snapshot rows")

    lake = observatory.lake()
    built = build_node_tables(
        lake,
        databases,
        lake.read("raw", "node_organizations"),
        lake.read("raw", "hosting_providers"),
        progress=progress,
    )
    checks = built.agreement
    context.log.info(f"offline databases vs the sources' own geography: {checks}")
    for key, contract in (
        (NODES, NODES_TABLE),
        (DISTRIBUTION, NODE_DISTRIBUTION),
        (DISPERSION, NODE_DISPERSION),
    ):
        metadata = observatory.lake_table_metadata(contract, preview=built.previews[contract.table])
        if key == NODES:
            metadata |= {
                "offline_databases": ", ".join(db.name for db in databases),
                "agreement_with_source_geography": dg.MetadataValue.json(checks),
                "agreement_summary": dg.MetadataValue.md(_agreement_summary(checks)),
                "batches": dg.MetadataValue.int(built.batches),
                "days": dg.MetadataValue.int(built.days),
            }
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
