"""Nodes enriched offline → distribution and dispersion per snapshot and dimension (Polars)."""

import dagster as dg
import polars as pl
import polars.selectors as cs

from pipelines.defs.node_snapshots import DISTRIBUTIONS, SNAPSHOTS
from pipelines.metadata import markdown_table
from pipelines.nodes.ipdb import AsmapDatabase, open_ip_database
from pipelines.nodes.tables import build_node_tables
from pipelines.resources import ObservatoryResource
from pipelines.schemas.nodes import NODE_SNAPSHOTS

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
    """Enrich the snapshots, then measure them and the published distributions alike, a batch
    of whole days at a time (``pipelines.nodes.tables``) so memory stays bounded."""
    databases = _databases(observatory)

    def progress(done: int, batches: int, rows: int) -> None:
        context.log.info(f"node tables: batch {done}/{batches} done, {rows:,} snapshot rows")

    built = build_node_tables(observatory.lake(), databases, progress=progress)
    checks = built.agreement
    context.log.info(f"offline databases vs the sources' own geography: {checks}")
    for key, table, text, columns in (
        (NODES, "nodes", NODES_DESCRIPTION, NODE_SNAPSHOTS.descriptions),
        (DISTRIBUTION, "node_distribution", DISTRIBUTION_DESCRIPTION, {}),
        (DISPERSION, "node_dispersion", DISPERSION_DESCRIPTION, {}),
    ):
        metadata = observatory.load_table(
            "intermediate",
            table,
            preview=built.previews[table],
            description=text,
            column_descriptions=columns,
        )
        if key == NODES:
            metadata |= {
                "offline_databases": ", ".join(db.name for db in databases),
                "agreement_with_source_geography": dg.MetadataValue.json(checks),
                "agreement_summary": dg.MetadataValue.md(_agreement_summary(checks)),
                "batches": dg.MetadataValue.int(built.batches),
                "days": dg.MetadataValue.int(built.days),
            }
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
