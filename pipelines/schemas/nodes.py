"""Contracts of the node tables: per-node snapshot rows and published distributions."""

import polars as pl

from pipelines.schemas import table
from pipelines.schemas.rejects import rejects_table

NETWORKS = ("ipv4", "ipv6", "onion", "i2p", "cjdns")
OVERLAY_NETWORKS = ("onion", "i2p", "cjdns")  # no geographic location

NODE_SNAPSHOTS = table(
    "raw.node_snapshots",
    "Bitcoin nodes per snapshot, one row per node: address, port, network, user agent, services, "
    "height and, where the source knows them, location and AS. Crawled (reachable) nodes and "
    "unverified gossip addresses are told apart by `reachability`. One partition per UTC day.",
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
    "Published node distributions (counts per country or organisation and date), with no "
    "per-node rows; marked with their source.",
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
    "Rows of the published distributions that could not be used, with the reason "
    "(written by raw/node_distributions).",
)


def conform_nodes(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """``frame`` as ``raw.node_snapshots`` rows of ``source`` (missing columns null, cast)."""
    return NODE_SNAPSHOTS.conform(frame.with_columns(pl.lit(source).alias("source")))
