"""Node rows enriched from offline IP databases' answers, and the answers' agreement with the
geography a source recorded.

A database (``pipelines.sources.ip_databases``) answers ``IP_LOOKUP_SCHEMA`` columns per address;
``found`` below is such an answer with the column ``address``, one row per distinct address.
Enrichment asks the databases in turn: before each, ``addresses_to_fill`` gives the addresses
still lacking a field and ``fill_from_lookup`` fills only what a node row lacks from the answer,
recording where it came from in ``location_source`` / ``asn_source`` (``mark_recorded`` first
marks the fields the source itself recorded). ``agreement`` measures how often a database agrees
with the geography a source recorded, and how far its coordinates lie from the recorded ones.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import polars as pl
import polars.selectors as cs

from pipelines.nodes.dispersion import great_circle_km

IP_NETWORKS = ("ipv4", "ipv6")
LARGEST_HOSTING_ASES = 9  # country agreement is also given without the most common hosting ASes
SOURCE = "source"  # location_source / asn_source of fields the source itself recorded
LOCATION_FIELDS = ("country_code", "city", "latitude", "longitude")
IS_IP = pl.col("network").is_in(IP_NETWORKS)


def mark_recorded(nodes: pl.DataFrame) -> pl.DataFrame:
    """``location_source`` / ``asn_source`` set to ``"source"`` (where still null) on IP rows
    that have a ``country_code`` / an ``asn``."""
    return nodes.with_columns(
        pl.when(IS_IP & pl.col("country_code").is_not_null())
        .then(pl.col("location_source").fill_null(SOURCE))
        .otherwise(pl.col("location_source")),
        pl.when(IS_IP & pl.col("asn").is_not_null())
        .then(pl.col("asn_source").fill_null(SOURCE))
        .otherwise(pl.col("asn_source")),
    )


def addresses_to_fill(nodes: pl.DataFrame) -> pl.Series:
    """The addresses of IP rows lacking a country, an AS number or an organisation."""
    missing = pl.any_horizontal(pl.col("country_code", "asn", "organization").is_null())
    return nodes.filter(IS_IP & missing)["address"]


def fill_from_lookup(nodes: pl.DataFrame, found: pl.DataFrame, database: str) -> pl.DataFrame:
    """``nodes`` (``NODE_SCHEMA`` rows) with what they lack filled from ``database``'s answers
    ``found``; nothing a row already has is changed, and the rows keep their order.

    Location fields (country, city, lat/lon) are filled together, only where ``country_code`` is
    null; ``asn`` and ``organization`` together, only where ``asn`` is null (``organization``
    alone where the database gives the row's own AS). ``location_source`` / ``asn_source`` of
    filled rows become ``database``. Overlay rows are left as they are.
    """
    answers = found.rename(lambda c: c if c == "address" else f"_db_{c}")
    joined = nodes.with_row_index("_row").join(answers, on="address", how="left")
    locate = IS_IP & pl.col("country_code").is_null() & pl.col("_db_country_code").is_not_null()
    number = IS_IP & pl.col("asn").is_null() & pl.col("_db_asn").is_not_null()
    name = IS_IP & pl.col("organization").is_null() & pl.col("_db_organization").is_not_null()
    name = name & (number | (pl.col("asn") == pl.col("_db_asn")))
    return (
        joined.with_columns(
            *[pl.when(locate).then(f"_db_{f}").otherwise(f).alias(f) for f in LOCATION_FIELDS],
            pl.when(locate)
            .then(pl.lit(database))
            .otherwise("location_source")
            .alias("location_source"),
            pl.when(number).then("_db_asn").otherwise("asn").alias("asn"),
            pl.when(name).then("_db_organization").otherwise("organization").alias("organization"),
            pl.when(number).then(pl.lit(database)).otherwise("asn_source").alias("asn_source"),
        )
        .drop(cs.starts_with("_db_"))
        .sort("_row")
        .select(nodes.columns)
    )


def ip_addresses(nodes: pl.DataFrame) -> pl.Series:
    """The addresses of the IP rows, those ``agreement_counts`` compares."""
    return nodes.filter(IS_IP)["address"]


def agreement_counts(
    nodes: pl.DataFrame, found: pl.DataFrame, database: str, hosting_asns: Collection[int] = ()
) -> dict[str, Any]:
    """The counts behind ``agreement``: ``rows`` IP rows and, per field, ``*_rows`` recorded,
    ``*_answered`` answered by ``database`` (``found``: its answers for ``ip_addresses(nodes)``)
    and ``*_same`` equal to the record; the country counts again per recorded AS for the
    ``hosting_asns`` (``hosting_country_*``: {asn: rows}); and ``distance_km``: {whole km: rows}
    of the distance between recorded and database coordinates. Add them up over batches with
    ``add_agreement_counts``, then ``agreement_rates``."""
    rows = nodes.filter(IS_IP)
    joined = rows.join(found, on="address", how="left", suffix="_db")
    result: dict[str, Any] = {"database": database, "rows": rows.height}
    for field in ("country_code", "asn"):
        recorded = joined.filter(pl.col(field).is_not_null())
        answered = recorded.filter(pl.col(f"{field}_db").is_not_null())
        label = field.removesuffix("_code")
        result[f"{label}_rows"] = recorded.height
        result[f"{label}_answered"] = answered.height
        result[f"{label}_same"] = answered.filter(pl.col(field) == pl.col(f"{field}_db")).height
    hosting = (
        joined.filter(
            pl.col("country_code").is_not_null()
            & pl.col("country_code_db").is_not_null()
            & pl.col("asn").is_in(pl.Series(list(hosting_asns), dtype=pl.Int64).implode())
        )
        .group_by("asn")
        .agg(
            pl.len().alias("answered"),
            (pl.col("country_code") == pl.col("country_code_db")).sum().alias("same"),
        )
        .sort("asn")
    )
    result["hosting_country_answered"] = dict(hosting.select("asn", "answered").iter_rows())
    result["hosting_country_same"] = dict(hosting.select("asn", "same").iter_rows())
    coordinates = ("latitude", "longitude", "latitude_db", "longitude_db")
    distance = (
        joined.filter(pl.all_horizontal(pl.col(coordinates).is_not_null()))
        .select(great_circle_km(*map(pl.col, coordinates)).floor().cast(pl.Int64).alias("km"))
        .group_by("km")
        .len()
        .sort("km")
    )
    result["distance_km"] = dict(distance.iter_rows())
    return result


def add_agreement_counts(total: dict[str, Any] | None, counts: dict[str, Any]) -> dict[str, Any]:
    """``total`` plus ``counts`` (same database), field by field and key by key."""
    if total is None:
        return {k: dict(v) if isinstance(v, dict) else v for k, v in counts.items()}

    def add(a: Any, b: Any) -> Any:
        if isinstance(b, dict):
            return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}
        return b if isinstance(b, str) else a + b

    return {k: add(total[k], v) for k, v in counts.items()}


def histogram_quantile(counts: dict[int, int], q: float) -> int | None:
    """The ``q`` quantile (nearest rank) of values given as {value: count}; None if empty."""
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


def _largest(counts: dict[int, int], n: int) -> list[int]:
    """The ``n`` keys with the largest counts (ties: the smaller key), ascending."""
    return sorted(sorted(counts, key=lambda k: (-counts[k], k))[:n])


def agreement_rates(
    counts: dict[str, Any], largest_hosting: int = LARGEST_HOSTING_ASES
) -> dict[str, Any]:
    """``agreement``'s result from ``agreement_counts`` (possibly summed)."""
    result: dict[str, Any] = {"database": counts["database"], "rows": counts["rows"]}
    for label in ("country", "asn"):
        recorded, answered = counts[f"{label}_rows"], counts[f"{label}_answered"]
        result[f"{label}_rows"] = recorded
        result[f"{label}_found"] = answered / recorded if recorded else None
        result[f"{label}_agreement"] = counts[f"{label}_same"] / answered if answered else None
    hosting_answered = counts["hosting_country_answered"]
    hosting_same = counts["hosting_country_same"]
    largest = _largest(hosting_answered, largest_hosting)
    answered = counts["country_answered"] - sum(hosting_answered[a] for a in largest)
    same = counts["country_same"] - sum(hosting_same[a] for a in largest)
    result["largest_hosting_asns"] = largest
    result["country_agreement_outside_largest_hosting"] = same / answered if answered else None
    distance = counts["distance_km"]
    result["coordinate_rows"] = sum(distance.values())
    result["distance_median_km"] = histogram_quantile(distance, 0.5)
    result["distance_p90_km"] = histogram_quantile(distance, 0.9)
    return result


def agreement(
    nodes: pl.DataFrame, found: pl.DataFrame, database: str, hosting_asns: Collection[int] = ()
) -> dict[str, Any]:
    """How often ``database`` (``found``: its answers for ``ip_addresses(nodes)``) agrees with
    the country and AS recorded in IP node rows (from a source with its own geography, e.g. a
    Bitnodes export), and how far its coordinates are from the recorded ones.

    For each field: ``*_rows`` rows with the field recorded, ``*_found`` the fraction of them the
    database answers, ``*_agreement`` the fraction of those answers equal to the recorded value
    (None where there is nothing to compare). ``country_agreement_outside_largest_hosting``
    leaves out the rows of the ``LARGEST_HOSTING_ASES`` most common of the ``hosting_asns``
    (listed in ``largest_hosting_asns``), whose blocks are often registered in one country and
    used in another. ``coordinate_rows`` rows have both coordinates; ``distance_median_km`` and
    ``distance_p90_km`` are quantiles of the great-circle distance between them, in whole km.
    """
    return agreement_rates(agreement_counts(nodes, found, database, hosting_asns))
