"""The common shape of a node snapshot row, whatever source it came from."""

import polars as pl

NETWORKS = ("ipv4", "ipv6", "onion", "i2p", "cjdns")
OVERLAY_NETWORKS = ("onion", "i2p", "cjdns")  # no geographic location

NODE_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_date": pl.Date(),  # UTC day of the snapshot (the partition)
    "snapshot_time": pl.Datetime("us", "UTC"),  # when the crawl finished
    "source": pl.String(),  # the configured feed, e.g. "bitnodes_api", "bitnodes_export"
    "reachability": pl.String(),  # "crawled" (a crawler reached it) | "gossip" (unverified)
    "address": pl.String(),  # IP address or overlay address, without port
    "port": pl.Int64(),
    "network": pl.String(),  # one of NETWORKS
    "protocol_version": pl.Int64(),
    "user_agent": pl.String(),
    "services": pl.Int64(),
    "height": pl.Int64(),
    "city": pl.String(),
    "country_code": pl.String(),  # ISO 3166 alpha-2
    "latitude": pl.Float64(),  # null when unknown (never 0,0 for "no location")
    "longitude": pl.Float64(),
    "asn": pl.Int64(),  # AS number without the "AS" prefix
    "organization": pl.String(),  # AS organisation as the source names it
    "location_source": pl.String(),  # where country/lat/lon came from: "source" | "<ip db>" | null
    "asn_source": pl.String(),  # where asn/organization came from: "source" | "asmap" | ...
}

NODE_COLUMN_DESCRIPTIONS = {
    "snapshot_date": "UTC day of the snapshot",
    "snapshot_time": "time the snapshot was taken, UTC",
    "source": "configured feed the row came from",
    "reachability": "'crawled' (reached by a crawler) or 'gossip' (address list, unverified)",
    "address": "IP or overlay address, without port",
    "port": "port",
    "network": "ipv4, ipv6, onion, i2p or cjdns",
    "protocol_version": "P2P protocol version the node announced",
    "user_agent": "user agent the node announced, e.g. /Satoshi:27.0.0/",
    "services": "service bits the node announced",
    "height": "best block height the node announced",
    "city": "city, where known",
    "country_code": "ISO 3166 alpha-2 country, where known",
    "latitude": "latitude, where known (null for overlay networks)",
    "longitude": "longitude, where known (null for overlay networks)",
    "asn": "autonomous system number, where known",
    "organization": "organisation operating the AS, where known",
    "location_source": "where the location fields came from (the source or an offline IP database)",
    "asn_source": "where asn/organization came from (the source, asmap or an offline IP database)",
}

# Published distributions carry counts, not nodes: (date, source, dimension, entity, nodes).
DISTRIBUTION_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_date": pl.Date(),
    "source": pl.String(),
    "dimension": pl.String(),  # "country" | "organization" | ...
    "entity": pl.String(),  # as published (normalised later)
    "nodes": pl.Int64(),
    "includes_overlay": pl.Boolean(),  # whether Tor etc. are among the entities
}


def empty_nodes() -> pl.DataFrame:
    return pl.DataFrame(schema=NODE_SCHEMA)


def conform_nodes(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Add missing node columns as nulls, cast to ``NODE_SCHEMA`` and order the columns."""
    frame = frame.with_columns(pl.lit(source).alias("source"))
    missing = [pl.lit(None, t).alias(n) for n, t in NODE_SCHEMA.items() if n not in frame]
    return frame.with_columns(missing).select(
        pl.col(name).cast(dtype) for name, dtype in NODE_SCHEMA.items()
    )
