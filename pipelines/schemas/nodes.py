"""Contracts of the node tables: per-node snapshot rows, published distributions, the curated
operator seeds, and the answers of offline IP databases."""

import polars as pl

from pipelines.schemas import Contract, table
from pipelines.schemas.rejects import rejects_table

NETWORKS = ("ipv4", "ipv6", "onion", "i2p", "cjdns")
OVERLAY_NETWORKS = ("onion", "i2p", "cjdns")  # no geographic location

NODE_SNAPSHOTS = table(
    "raw.node_snapshots",
    "Bitcoin nodes per snapshot, one row per node: address, port, network, user agent, services, "
    "height and, where the source knows them, location and AS. Crawled (reachable) nodes and "
    "unverified gossip addresses are told apart by `reachability`. One partition per UTC month.",
    ("snapshot_date", pl.Date(), "UTC day of the snapshot"),
    ("snapshot_time", pl.Datetime("us", "UTC"), "time the snapshot was taken, UTC"),
    ("source", pl.String(), "configured feed the row came from"),
    (
        "reachability",
        pl.String(),
        "'crawled' (reached by a crawler) or 'gossip' (address list, unverified)",
    ),
    ("address", pl.String(), "IP or overlay address, without port"),
    ("port", pl.Int64(), "port"),
    ("network", pl.String(), "ipv4, ipv6, onion, i2p or cjdns"),
    ("protocol_version", pl.Int64(), "P2P protocol version the node announced"),
    ("user_agent", pl.String(), "user agent the node announced, e.g. /Satoshi:27.0.0/"),
    ("services", pl.Int64(), "service bits the node announced"),
    ("height", pl.Int64(), "best block height the node announced"),
    ("city", pl.String(), "city, where known"),
    ("country_code", pl.String(), "ISO 3166 alpha-2 country, where known"),
    (
        "latitude",
        pl.Float64(),
        "latitude, where known (null for overlay networks; never 0,0 for 'no location')",
    ),
    ("longitude", pl.Float64(), "longitude, where known (null for overlay networks)"),
    ("asn", pl.Int64(), "autonomous system number, where known"),
    ("organization", pl.String(), "organisation operating the AS, where known"),
    (
        "location_source",
        pl.String(),
        "where the location fields came from (the source or an offline IP database)",
    ),
    (
        "asn_source",
        pl.String(),
        "where asn/organization came from (the source, asmap or an offline IP database)",
    ),
)
NODE_SCHEMA = NODE_SNAPSHOTS.schema
NODE_REJECTS = rejects_table(
    "raw.node_rejects",
    "Node rows the feeds could not use, with the reason (written by raw/node_snapshots).",
)

NODE_DISTRIBUTIONS = table(
    "raw.node_distributions",
    "Published node distributions (counts per country or organisation and date), with no per-node "
    "rows; marked with their source.",
    ("snapshot_date", pl.Date(), "date of the published distribution"),
    ("source", pl.String(), "configured feed"),
    ("dimension", pl.String(), "'country' or 'organization'"),
    ("entity", pl.String(), "ISO country code, organisation, 'overlay:tor' or 'unknown'"),
    ("nodes", pl.Int64(), "reachable nodes counted for the entity"),
    (
        "includes_overlay",
        pl.Boolean(),
        "whether the distribution counts Tor nodes (as 'overlay:tor')",
    ),
)
DISTRIBUTION_SCHEMA = NODE_DISTRIBUTIONS.schema
NODE_DISTRIBUTION_REJECTS = rejects_table(
    "raw.node_distribution_rejects",
    "Rows of the published distributions that could not be used, with the reason (written by "
    "raw/node_distributions).",
)


# What an offline IP database answers per address (null where it does not know).
IP_LOOKUP_SCHEMA: dict[str, pl.DataType] = {
    name: NODE_SCHEMA[name]
    for name in ("country_code", "asn", "organization", "city", "latitude", "longitude")
}

NODE_ORGANIZATIONS = table(
    "raw.node_organizations",
    "Curated AS number → the operator behind it, with a public source per row "
    "(dbt_like_sql/seeds/node_organizations.csv), so that one operator under several AS numbers "
    "counts once in the organization and hosting dimensions. An AS without a row keeps the "
    "organisation name its node rows carry.",
    ("asn", pl.Int64(), "autonomous system number"),
    ("organization", pl.String(), "operator of the AS, as the node tables name it"),
    ("source", pl.String(), "public source for the row"),
)

HOSTING_PROVIDERS = table(
    "raw.hosting_providers",
    "Curated cloud and datacenter operators, with a public source per row "
    "(dbt_like_sql/seeds/hosting_providers.csv): the hosting dimension of the node tables "
    "(operators not listed are 'other').",
    ("organization", pl.String(), "operator, as raw.node_organizations names it"),
    ("kind", pl.String(), "'cloud' or 'datacenter'"),
    ("source", pl.String(), "public source for the row"),
)


def conform_nodes(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """``frame`` as ``raw.node_snapshots`` rows of ``source`` (missing columns null, cast)."""
    return NODE_SNAPSHOTS.conform(frame.with_columns(pl.lit(source).alias("source")))


NODES = Contract(
    "intermediate.nodes",
    (
        "Every node of every snapshot, with country, AS number and organisation filled in offline "
        "where the source lacks them (location_source / asn_source say where each came from)."
    ),
    NODE_SNAPSHOTS.columns,  # the same columns, enriched
)

NODE_DISTRIBUTION = table(
    "intermediate.node_distribution",
    "Nodes and share per entity, snapshot, dimension and overlay policy.",
    ("snapshot_date", pl.Date(), "UTC day of the snapshot"),
    (
        "snapshot_time",
        pl.Datetime("us", "UTC"),
        "time of the snapshot, UTC (null for published distributions)",
    ),
    ("source", pl.String(), "configured feed"),
    ("dimension", pl.String(), "what the entities are"),
    (
        "overlay_policy",
        pl.String(),
        "'entity' (overlay networks are one entity), 'excluded' or 'proportional'",
    ),
    (
        "entity",
        pl.String(),
        "the country, AS, operator, client, ... ('overlay', 'unknown' where so)",
    ),
    ("nodes", pl.Float64(), "nodes of the entity (fractional under 'proportional')"),
    ("share", pl.Float64(), "share of the snapshot's nodes (0-1)"),
)

NODE_DISPERSION = table(
    "intermediate.node_dispersion",
    (
        "How concentrated nodes are per snapshot, dimension and overlay policy: the mining metric "
        "set, overlay and unknown shares, and the spatial spread of located nodes."
    ),
    ("snapshot_date", pl.Date(), "UTC day of the snapshot"),
    ("snapshot_time", pl.Datetime("us", "UTC"), "time of the snapshot, UTC"),
    ("source", pl.String(), "configured feed"),
    (
        "dimension",
        pl.String(),
        "country, continent, asn, organization, hosting, network, client, client_version",
    ),
    (
        "overlay_policy",
        pl.String(),
        "'entity', 'excluded' or 'proportional' (same shares as excluded)",
    ),
    ("nodes", pl.Float64(), "nodes counted"),
    ("entities", pl.Int64(), "entities with at least one node"),
    ("hhi", pl.Float64(), "Herfindahl-Hirschman index, 0-10,000"),
    ("nakamoto", pl.Int64(), "fewest entities holding at least 50% of nodes"),
    ("tau_033", pl.Int64(), "fewest entities holding at least 33% of nodes"),
    ("tau_066", pl.Int64(), "fewest entities holding at least 66% of nodes"),
    ("cr1", pl.Float64(), "share of the largest entity"),
    ("cr3", pl.Float64(), "share of the three largest entities"),
    ("cr5", pl.Float64(), "share of the five largest entities"),
    ("gini", pl.Float64(), "Gini coefficient over entities"),
    ("entropy_bits", pl.Float64(), "Shannon entropy of shares, bits"),
    ("entropy_normalized", pl.Float64(), "entropy / log2(entities)"),
    ("theil", pl.Float64(), "Theil T index"),
    ("effective_entities", pl.Float64(), "1 / sum of squared shares"),
    (
        "overlay_share",
        pl.Float64(),
        "share of overlay-network nodes (Tor, I2P, CJDNS) in the snapshot",
    ),
    ("unknown_share", pl.Float64(), "share of nodes whose entity is unknown"),
    ("located_nodes", pl.Int64(), "nodes with coordinates (country rows)"),
    (
        "standard_distance_km",
        pl.Float64(),
        "root mean square great-circle distance to the centroid, km",
    ),
    ("mean_pairwise_km", pl.Float64(), "mean great-circle distance between node pairs, km"),
    (
        "mean_pairwise_se_km",
        pl.Float64(),
        "standard error of mean_pairwise_km (0 when computed exactly)",
    ),
)
