"""Offline IP databases: country (and AS, where the database has it) for node addresses.

Nothing is downloaded at run time. The default database is the ``iptocc`` package (MIT or
Apache-2.0): an IP → country table built from the five Regional Internet Registries' delegation
files and embedded in the wheel, so its country is where the block is *registered*, which for
most addresses is where it is used. A MaxMind or DB-IP ``.mmdb`` file (Country, City or ASN) can
be read with ``MmdbDatabase.open`` (needs the ``maxminddb`` package), and Bitcoin Core's asmap
gives AS numbers through ``AsmapDatabase``.

``enrich`` fills only what a node row lacks and records where it came from in
``location_source`` / ``asn_source``; ``agreement`` measures how often a database agrees with
the geography a source recorded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import polars as pl
import polars.selectors as cs

from pipelines.nodes.asmap import Asmap
from pipelines.nodes.snapshots import NODE_SCHEMA

IP_NETWORKS = ("ipv4", "ipv6")
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
    def open(cls, path: Path | str, name: str | None = None) -> MmdbDatabase:
        try:
            import maxminddb
        except ImportError as error:
            raise ImportError(
                "reading a .mmdb file needs the 'maxminddb' package (uv add maxminddb)"
            ) from error
        return cls(maxminddb.open_database(str(path)), name or Path(path).name)

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        rows = []
        for plain in (_plain_ip(a) for a in addresses.cast(pl.String)):
            record = (self.reader.get(plain) if plain else None) or {}
            location = record.get("location") or {}
            rows.append(
                {
                    "country_code": (record.get("country") or {}).get("iso_code"),
                    "city": ((record.get("city") or {}).get("names") or {}).get("en"),
                    "latitude": location.get("latitude"),
                    "longitude": location.get("longitude"),
                    "asn": record.get("autonomous_system_number"),
                    "organization": record.get("autonomous_system_organization"),
                }
            )
        schema = {**LOOKUP_SCHEMA, **OPTIONAL_LOOKUP_SCHEMA}
        return _conform(pl.DataFrame(rows, schema=schema))


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


def default_databases() -> list[IpDatabase]:
    """The databases installed with the project: ``iptocc`` (country)."""
    return [IptoccDatabase()]


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


def agreement_counts(nodes: pl.DataFrame, db: IpDatabase) -> dict[str, Any]:
    """The counts behind ``agreement``: ``rows`` IP rows and, per field, ``*_rows`` recorded,
    ``*_answered`` answered by ``db`` and ``*_same`` equal to the record; add them up over
    batches, then ``agreement_rates``."""
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
    return result


def add_agreement_counts(total: dict[str, Any] | None, counts: dict[str, Any]) -> dict[str, Any]:
    """``total`` plus ``counts`` (same database), field by field."""
    if total is None:
        return dict(counts)
    return {k: v if k == "database" else total[k] + v for k, v in counts.items()}


def agreement_rates(counts: dict[str, Any]) -> dict[str, Any]:
    """``agreement``'s result from ``agreement_counts`` (possibly summed)."""
    result: dict[str, Any] = {"database": counts["database"], "rows": counts["rows"]}
    for label in ("country", "asn"):
        recorded, answered = counts[f"{label}_rows"], counts[f"{label}_answered"]
        result[f"{label}_rows"] = recorded
        result[f"{label}_found"] = answered / recorded if recorded else None
        result[f"{label}_agreement"] = counts[f"{label}_same"] / answered if answered else None
    return result


def agreement(nodes: pl.DataFrame, db: IpDatabase) -> dict[str, Any]:
    """How often ``db`` agrees with the country and AS recorded in IP node rows (from a source
    with its own geography, e.g. a Bitnodes export).

    For each field: ``*_rows`` rows with the field recorded, ``*_found`` the fraction of them the
    database answers, ``*_agreement`` the fraction of those answers equal to the recorded value
    (None where there is nothing to compare).
    """
    return agreement_rates(agreement_counts(nodes, db))
