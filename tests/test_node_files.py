"""Node file readers: Bitnodes exports, bitnod.es CSVs, address lists, EDI distributions.

Fixtures in ``fixtures/nodes/`` (made up, documentation address ranges, in the real layouts):

- ``bitnodes-export-1700000000.json``: 14 export rows — onion (v2 and v3), IPv4, IPv6 (one in
  brackets and upper case), I2P, CJDNS, IPv4-mapped IPv6, a 0,0 location with a country, and
  bad rows: 3 fields, port "83x3", address 192.0.2.300, bad services/country/latitude/asn, and
  a duplicate of row 1.
- ``bitnodes-daily-2024-03-01.csv``: a bitnod.es daily CSV with codes and names as countries.
- ``addresses/``: three getaddr answers over two days (duplicates, bad lines) and ``notes.txt``
  with no time in its name.
- ``edi/<date>/*.csv``: EDI distributions with aliases, "Unknown", a blank organisation, an
  unknown country, ragged and bad lines, a wrong first line and a stray file.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.countries import ALIASES, CONTINENTS, COUNTRIES, countries_frame, country_code
from pipelines.http import SourceFormatError
from pipelines.schemas.nodes import DISTRIBUTION_SCHEMA, NODE_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.node_files import (
    address_and_network,
    read_address_list,
    read_bitnodes_csv,
    read_bitnodes_export,
    read_edi_distributions,
    split_host_port,
)
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

NODES = FIXTURES / "nodes"
SHARED_NODES = SHARED_DATA / "nodes"
ONION = ("testonionone" + "abcdefghijklmnopqrstuvwxyz234567" * 2)[:56] + ".onion"
I2P = ("testitwop" + "abcdefghijklmnopqrstuvwxyz234567" * 2)[:52] + ".b32.i2p"
CJDNS = "fc32:17ea:e415:c3bf:9808:149d:b5a2:c9aa"
GEOGRAPHY = ["city", "country_code", "latitude", "longitude", "asn", "organization"]


def rejects_of(rejects: pl.DataFrame) -> list[tuple[str, str, str | None, str]]:
    return [
        (r["record"], r["field"], r["value"], r["problem"]) for r in rejects.iter_rows(named=True)
    ]


def check_shapes(nodes: pl.DataFrame, rejects: pl.DataFrame) -> None:
    assert nodes.schema == pl.Schema(NODE_SCHEMA)
    assert rejects.schema == pl.Schema(REJECT_SCHEMA)


def node(nodes: pl.DataFrame, address: str, port: int | None = None) -> dict:
    rows = nodes.filter(pl.col("address") == address)
    if port is not None:
        rows = rows.filter(pl.col("port") == port)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address", "network"),
    [
        ("192.0.2.1", "192.0.2.1", "ipv4"),
        ("255.255.255.255", "255.255.255.255", "ipv4"),
        ("256.0.0.1", None, None),
        ("01.2.3.4", None, None),
        ("1.2.3", None, None),
        ("2001:db8::1", "2001:db8::1", "ipv6"),
        ("[2001:DB8::1]", "2001:db8::1", "ipv6"),
        ("2001:db8:0:0:0:0:0:1", "2001:db8:0:0:0:0:0:1", "ipv6"),
        ("::", "::", "ipv6"),
        ("1:2:3:4:5:6:7:8:9", None, None),
        ("1::2::3", None, None),
        ("2001:db8::1%eth0", None, None),
        ("64:ff9b::192.0.2.1", "64:ff9b::192.0.2.1", "ipv6"),
        ("::ffff:192.0.2.1", "192.0.2.1", "ipv4"),
        (CJDNS, CJDNS, "cjdns"),
        ("fc::1", "fc::1", "ipv6"),  # 00fc::1 is not in fc00::/8
        (ONION, ONION, "onion"),
        (ONION.upper(), ONION, "onion"),
        ("fc" + ONION[2:], "fc" + ONION[2:], "onion"),  # onion names may start with fc
        ("abcdefghijklmnop.onion", "abcdefghijklmnop.onion", "onion"),  # v2
        ("short.onion", None, None),
        ("abcdefghijklmno1.onion", None, None),  # 1 is not base32
        (I2P, I2P, "i2p"),
        ("example.com", None, None),
        ("", None, None),
    ],
)
def test_address_and_network(host: str, address: str | None, network: str | None) -> None:
    expr_address, expr_network = address_and_network(pl.col("host"))
    row = pl.DataFrame({"host": [host]}).select(expr_address, expr_network.alias("network"))
    assert row.row(0) == (address, network)


def test_split_host_port() -> None:
    texts = [
        "[2001:db8::1]:8333",
        "2001:db8::1:8333",
        "192.0.2.1:8333",
        f"{ONION}:9050",
        "192.0.2.1",
        "[2001:db8::1]",
        " 192.0.2.1:8333 ",
    ]
    host, port = split_host_port(pl.col("text"))
    rows = pl.DataFrame({"text": texts}).select(host.alias("host"), port.alias("port")).rows()
    assert rows == [
        ("2001:db8::1", "8333"),
        ("2001:db8::1", "8333"),
        ("192.0.2.1", "8333"),
        (ONION, "9050"),
        (None, None),
        (None, None),
        ("192.0.2.1", "8333"),
    ]


# --- Bitnodes export -----------------------------------------------------------------------------


def test_export_fixture_keeps_good_rows_and_quarantines_bad_ones() -> None:
    nodes, rejects = read_bitnodes_export(NODES / "bitnodes-export-1700000000.json", "export")
    check_shapes(nodes, rejects)
    assert nodes["address"].to_list() == [
        ONION,
        "192.0.2.10",
        "2001:db8::10",
        I2P,
        CJDNS,
        "2001:db8::20",
        "198.51.100.7",
        ("testoniontwo" + "abcdefghijklmnopqrstuvwxyz234567" * 2)[:56] + ".onion",
        "oldonionabcdefgh.onion",
        "203.0.113.5",
    ]
    assert nodes["network"].to_list() == [
        "onion", "ipv4", "ipv6", "i2p", "cjdns", "ipv6", "ipv4", "onion", "onion", "ipv4"
    ]  # fmt: skip
    assert set(nodes["snapshot_time"]) == {datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)}
    assert set(nodes["snapshot_date"]) == {date(2023, 11, 14)}
    assert set(nodes["reachability"]) == {"crawled"} and set(nodes["source"]) == {"export"}
    assert node(nodes, "192.0.2.10") == {
        "snapshot_date": date(2023, 11, 14),
        "snapshot_time": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        "source": "export",
        "reachability": "crawled",
        "address": "192.0.2.10",
        "port": 8333,
        "network": "ipv4",
        "protocol_version": 70016,
        "user_agent": "/Satoshi:25.0.0/",
        "services": 1033,
        "height": 817000,
        "city": "St Petersburg",
        "country_code": "RU",
        "latitude": 59.8983,
        "longitude": 30.2618,
        "asn": 12389,
        "organization": "Rostelecom",
        "location_source": "source",
        "asn_source": "source",
    }
    overlay = nodes.filter(pl.col("network").is_in(["onion", "i2p", "cjdns"]))
    assert overlay.height == 5
    nulls = overlay.select(*GEOGRAPHY, "location_source", "asn_source").null_count()
    assert nulls.row(0) == (5,) * 8
    assert node(nodes, I2P)["port"] == 0
    # 0,0 is no location, but the country stands
    amazon = node(nodes, "198.51.100.7")
    assert (amazon["latitude"], amazon["longitude"], amazon["country_code"]) == (None, None, "US")
    assert amazon["location_source"] == "source" and amazon["asn"] == 14618
    assert node(nodes, "203.0.113.5")["network"] == "ipv4"  # from ::ffff:203.0.113.5
    bad_fields = node(nodes, "2001:db8::20")  # kept, its bad fields nulled
    assert bad_fields["services"] is None and bad_fields["country_code"] is None
    assert bad_fields["latitude"] is None and bad_fields["longitude"] == 0.0
    assert bad_fields["organization"] == "Example Org" and bad_fields["asn_source"] == "source"
    assert bad_fields["location_source"] is None
    assert rejects_of(rejects) == [
        ("row 5", "row", "[192.0.2.11, 8333, 70015]", "expected 15 fields, got 3"),
        ("row 6", "port", "83x3", "not a port number (0-65535)"),
        ("row 7", "address", "192.0.2.300", "not an IPv4, IPv6, onion, I2P or CJDNS address"),
        ("row 8", "services", "lots", "not a non-negative integer"),
        ("row 8", "country_code", "ZZ", "not an ISO 3166 country code or known country name"),
        ("row 8", "latitude", "95.5", "not a latitude"),
        ("row 8", "asn", "ASX", "not an AS number like 'AS12389'"),
        ("row 11", "address", "192.0.2.10:8333", "duplicate address and port: row 1 kept"),
    ]
    assert set(rejects["feed"]) == {"export"}


def test_export_snapshot_time_from_argument_or_name(tmp_path: Path) -> None:
    path = tmp_path / "nodes.json"
    path.write_text(
        json.dumps([json.loads((NODES / "bitnodes-export-1700000000.json").read_text())[1]])
    )
    with pytest.raises(ValueError, match="no snapshot time in the file name"):
        read_bitnodes_export(path, "export")
    moment = datetime(2024, 1, 2, 3, 4, 5)  # naive: taken as UTC
    nodes, rejects = read_bitnodes_export(path, "export", snapshot_time=moment)
    assert nodes["snapshot_time"].to_list() == [moment.replace(tzinfo=UTC)]
    assert nodes["snapshot_date"].to_list() == [date(2024, 1, 2)] and rejects.height == 0


def test_export_rows_that_are_not_lists_are_rejected(tmp_path: Path) -> None:
    good = json.loads((NODES / "bitnodes-export-1700000000.json").read_text())[1]
    nested = [*good[:13], ["AS1"], "Org"]
    path = tmp_path / "bitnodes-export-1700000000.json"
    path.write_text(json.dumps([good, {"address": "192.0.2.1"}, None, nested, "text"]))
    nodes, rejects = read_bitnodes_export(path, "export")
    check_shapes(nodes, rejects)
    assert nodes["address"].to_list() == ["192.0.2.10"]
    assert node(nodes, "192.0.2.10")["latitude"] == 59.8983
    assert rejects_of(rejects) == [
        ("row 1", "row", '{"address": "192.0.2.1"}', "not a list of plain values"),
        ("row 2", "row", "null", "not a list of plain values"),
        ("row 3", "row", json.dumps(nested), "not a list of plain values"),
        ("row 4", "row", '"text"', "not a list of plain values"),
    ]


@pytest.mark.parametrize("text", ['[["192.0.2.1", 8333', '{"nodes": []}', "null"])
def test_export_that_is_not_a_json_list_raises(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bitnodes-export-1700000000.json"
    path.write_text(text)
    with pytest.raises(SourceFormatError, match=r"bitnodes-export-1700000000\.json"):
        read_bitnodes_export(path, "export")


def test_empty_export(tmp_path: Path) -> None:
    path = tmp_path / "bitnodes-export-1700000000.json"
    path.write_text("[]")
    nodes, rejects = read_bitnodes_export(path, "export")
    check_shapes(nodes, rejects)
    assert nodes.height == 0 and rejects.height == 0


@needs_shared_data
def test_real_bitnodes_export() -> None:
    nodes, rejects = read_bitnodes_export(SHARED_NODES / "bitnodes-export-1663113591.json", "bn")
    check_shapes(nodes, rejects)
    # 14,410 rows: 7,425 onion, 5,880 IPv4, 1,105 IPv6, of which one IPv6 node is listed twice
    counts = dict(nodes.group_by("network").len().iter_rows())
    assert counts == {"onion": 7425, "ipv4": 5880, "ipv6": 1104}
    assert rejects_of(rejects) == [
        (
            "row 4465",
            "address",
            "2603:c022:c003:c900::4:8333",
            "duplicate address and port: row 3681 kept",
        )
    ]
    assert set(nodes["snapshot_time"]) == {datetime(2022, 9, 13, 23, 59, 51, tzinfo=UTC)}
    onion = nodes.filter(pl.col("network") == "onion")
    assert onion.select(GEOGRAPHY).null_count().row(0) == (7425,) * 6
    clear = nodes.filter(pl.col("network") != "onion")
    assert clear["asn"].null_count() == 0 and clear["country_code"].null_count() == 1
    assert clear.filter(pl.col("latitude").is_null()).height == 1  # that node's 0,0
    assert node(nodes, "89.110.53.4")["asn"] == 12389


# --- bitnod.es CSV -------------------------------------------------------------------------------


def test_bitnodes_csv() -> None:
    nodes, rejects = read_bitnodes_csv(NODES / "bitnodes-daily-2024-03-01.csv", "bitnod.es")
    check_shapes(nodes, rejects)
    assert nodes.select("address", "network", "country_code", "organization").rows() == [
        ("192.0.2.10", "ipv4", "RU", "Rostelecom"),
        ("2001:db8::10", "ipv6", "DE", "Deutsche Telekom AG"),
        ("198.51.100.7", "ipv4", "KR", "KT Corporation"),
        (ONION, "onion", None, None),
        ("198.51.100.8", "ipv4", None, "Example ISP"),
        ("198.51.100.9", "ipv4", "US", "Example ISP"),
        ("2001:db8::40", "ipv6", "US", "Example ISP"),
    ]
    assert nodes["snapshot_time"].to_list() == [datetime(2024, 3, 1, tzinfo=UTC)] * 6 + [
        datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    ]
    first = node(nodes, "192.0.2.10")
    assert (first["services"], first["protocol_version"], first["height"]) == (1033, 70016, 832000)
    assert first["user_agent"] == "/Satoshi:26.0.0/" and first["reachability"] == "crawled"
    assert first["location_source"] == "source" and first["latitude"] is None
    assert node(nodes, "198.51.100.8")["location_source"] is None
    assert node(nodes, "198.51.100.9")["height"] is None  # empty block_height
    assert rejects_of(rejects) == [
        ("line 6", "country", "Atlantis", "not an ISO 3166 country code or known country name"),
        ("line 7", "ip_address", "not-an-ip", "not an IPv4, IPv6, onion, I2P or CJDNS address"),
        ("line 8", "services", "0x409", "not a non-negative integer"),
        ("line 9", "export_date", "yesterday", "not a date or date-time"),
    ]


def test_bitnodes_csv_without_a_column_raises(tmp_path: Path) -> None:
    path = tmp_path / "daily.csv"
    path.write_text("export_date,ip_address\n2024-03-01,192.0.2.1\n")
    with pytest.raises(ValueError, match="no column port"):
        read_bitnodes_csv(path, "bitnod.es")


# --- address lists -------------------------------------------------------------------------------


def test_address_list_folder_is_one_snapshot_per_day() -> None:
    nodes, rejects = read_address_list(NODES / "addresses", "getaddr")
    check_shapes(nodes, rejects)
    day1, day2 = date(2024, 7, 25), date(2024, 7, 26)
    assert nodes.select("snapshot_date", "address", "port", "network").rows() == [
        (day1, "192.0.2.10", 8333, "ipv4"),
        (day1, "2001:db8:2152:6608::1", 8332, "ipv6"),
        (day1, "2001:db8::10", 8333, "ipv6"),
        (day1, ONION, 8333, "onion"),
        (day1, "192.0.2.12", 0, "ipv4"),
        (day1, "192.0.2.10", 18333, "ipv4"),
        (day1, I2P, 0, "i2p"),
        (day1, CJDNS, 8333, "cjdns"),
        (day2, "192.0.2.10", 8333, "ipv4"),
        (day2, "198.51.100.7", 8333, "ipv4"),
    ]
    times = dict(nodes.select("snapshot_date", "snapshot_time").unique().iter_rows())
    assert times == {  # the day's last file
        day1: datetime(2024, 7, 25, 14, 4, 5, tzinfo=UTC),
        day2: datetime(2024, 7, 26, 9, 0, tzinfo=UTC),
    }
    assert set(nodes["reachability"]) == {"gossip"}
    nulls = nodes.select(*GEOGRAPHY, "protocol_version", "location_source").null_count()
    assert nulls.row(0) == (10,) * 8
    assert rejects_of(rejects) == [
        (
            "addresses_2024-07-25_13-59-00_.txt line 7",
            "line",
            "192.0.2.11",
            "expected address:port",
        ),
        (
            "addresses_2024-07-25_14-04-05_.txt line 4",
            "address",
            "999.0.2.1",
            "not an IPv4, IPv6, onion, I2P or CJDNS address",
        ),
        (
            "addresses_2024-07-25_14-04-05_.txt line 6",
            "port",
            "99999",
            "not a port number (0-65535)",
        ),
        (
            "notes.txt",
            "file name",
            "notes.txt",
            "no time in the file name (expected ..._YYYY-MM-DD_hh-mm-ss...)",
        ),
    ]


def test_address_list_single_file() -> None:
    path = NODES / "addresses" / "addresses_2024-07-25_13-59-00_.txt"
    nodes, rejects = read_address_list(path, "getaddr")
    assert nodes.height == 5 and rejects.height == 1
    assert set(nodes["snapshot_time"]) == {datetime(2024, 7, 25, 13, 59, tzinfo=UTC)}
    moment = datetime(2024, 8, 1, 6, 0, tzinfo=UTC)
    nodes, _ = read_address_list(path, "getaddr", snapshot_time=moment)
    assert set(nodes["snapshot_time"]) == {moment} and set(nodes["snapshot_date"]) == {
        date(2024, 8, 1)
    }
    with pytest.raises(ValueError, match="no time in the file name"):
        read_address_list(NODES / "addresses" / "notes.txt", "getaddr")


def test_address_list_folder_without_usable_files(tmp_path: Path) -> None:
    (tmp_path / "peers.txt").write_text("192.0.2.1:8333\n")
    nodes, rejects = read_address_list(tmp_path, "getaddr")
    check_shapes(nodes, rejects)
    assert nodes.height == 0 and rejects["record"].to_list() == ["peers.txt"]


@needs_shared_data
def test_real_getaddr_gossip() -> None:
    nodes, rejects = read_address_list(SHARED_NODES / "getaddr-gossip-2024-07", "getaddr")
    check_shapes(nodes, rejects)
    assert rejects.height == 0
    assert nodes["address"].n_unique() == 44426
    assert set(nodes["reachability"]) == {"gossip"}
    assert nodes.group_by("snapshot_date").len().sort("snapshot_date").rows() == [
        (date(2024, 7, 25), 34053),  # = sort -u of the day's files
        (date(2024, 7, 26), 30417),
    ]
    assert nodes.select(["snapshot_date", "address", "port"]).is_unique().all()
    assert set(nodes["network"]) == {"ipv4", "ipv6"}


# --- EDI distributions ---------------------------------------------------------------------------


def test_edi_fixture() -> None:
    distributions, rejects = read_edi_distributions(NODES / "edi", "edi")
    assert distributions.schema == pl.Schema(DISTRIBUTION_SCHEMA)
    assert rejects.schema == pl.Schema(REJECT_SCHEMA)
    first, second = date(2025, 3, 28), date(2026, 4, 17)
    assert distributions.drop("source").rows() == [
        (first, "country", "overlay:tor", 120, True),
        (first, "country", "US", 40, True),
        (first, "country", "DE", 25, True),
        (first, "country", "RU", 5, True),
        (first, "country", "TR", 3, True),  # Türkiye + Turkey
        (first, "country", "unknown", 3, True),
        (first, "country", "Atlantis", 2, True),
        (first, "country", "BQ", 1, True),
        (first, "organization", "overlay:tor", 120, True),
        (first, "organization", "Hetzner", 30, True),
        (first, "organization", "Linode", 9, True),
        (first, "organization", '"Telko"', 1, True),
        (second, "country", "US", 70, False),
        (second, "country", "KR", 4, False),
        (second, "organization", "Hetzner", 21, False),
        (second, "organization", "unknown", 9, False),  # blank name
    ]
    assert set(distributions["source"]) == {"edi"}
    assert rejects_of(rejects) == [
        (
            "2025-03-28/clustered_organizations_bitcoin.csv line 5",
            "line",
            "AWS,20,extra",
            "more than two fields",
        ),
        ("2025-03-28/countries_bitcoin.csv line 10", "name", "Atlantis", "unknown country name"),
        ("2025-03-28/countries_bitcoin.csv line 11", "count", "many", "not a non-negative integer"),
        (
            "2026-04-17/countries_bitcoin.csv line 1",
            "line",
            "Organizations",
            "first line should be 'Countries,<YYYY-MM-DD>'",
        ),
        (
            "2026-04-17/countries_bitcoin_without_tor.csv line 3",
            "line",
            "Korea, Republic of,3",
            "more than two fields",
        ),
        (
            "2026-04-17/readme.csv line 1",
            "line",
            "name",
            "not an EDI distribution file (countries_bitcoin.csv, "
            "countries_bitcoin_without_tor.csv, clustered_organizations_bitcoin.csv, "
            "clustered_organizations_bitcoin_without_tor.csv)",
        ),
    ]


@needs_shared_data
def test_real_edi_distributions() -> None:
    distributions, rejects = read_edi_distributions(SHARED_NODES / "edi-distributions", "edi")
    assert rejects.height == 0
    dates = sorted(set(distributions["snapshot_date"]))
    assert len(dates) == 14 and (dates[0], dates[-1]) == (date(2025, 3, 28), date(2026, 8, 3))
    files = distributions.select("snapshot_date", "dimension", "includes_overlay").unique()
    assert files.height == 14 * 2 + 9 * 2  # *_without_tor from 2026-04-17
    assert files.filter(~pl.col("includes_overlay"))["snapshot_date"].min() == date(2026, 4, 17)
    countries = distributions.filter(pl.col("dimension") == "country")
    with_tor = countries.filter(pl.col("includes_overlay"))
    tor = pl.col("nodes").filter(pl.col("entity") == "overlay:tor").sum()
    shares = (
        with_tor.group_by("snapshot_date")
        .agg(tor.alias("tor"), pl.col("nodes").sum().alias("total"))
        .sort("snapshot_date")
    )
    assert shares.row(0) == (date(2025, 3, 28), 13393, 22295)
    # Tor is 59–70 % of the nodes, except on 2026-07-20 (3,670 of 9,421)
    share = shares["tor"] / shares["total"]
    assert share.is_between(0.38, 0.70).all() and (share > 0.59).sum() == 13
    entities = set(countries["entity"])
    assert {"US", "DE", "TR", "BQ", "AX", "overlay:tor", "unknown"} <= entities
    assert all(len(e) == 2 for e in entities - {"overlay:tor", "unknown"})
    assert countries.filter(~pl.col("includes_overlay"))["entity"].is_in(["overlay:tor"]).sum() == 0


# --- countries -----------------------------------------------------------------------------------


def test_country_table() -> None:
    table = countries_frame()
    assert table.height == 250  # ISO 3166-1 and XK
    assert table["alpha2"].str.contains("^[A-Z]{2}$").all() and table["alpha2"].is_unique().all()
    assert set(table["continent"]) == set(CONTINENTS)
    assert set(ALIASES.values()) <= set(COUNTRIES)
    assert dict(table.select("alpha2", "continent").iter_rows())["AQ"] == "AN"


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("US", "US"),
        ("us", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("Mainland China", "CN"),
        ("Russian Federation", "RU"),
        ("Korea, Republic of", "KR"),
        ("South Korea", "KR"),
        ("Hong Kong", "HK"),
        ("The Netherlands", "NL"),
        ("Türkiye", "TR"),
        ("Curacao", "CW"),
        ("Åland Islands", "AX"),
        ("Bonaire, Sint Eustatius, and Saba", "BQ"),
        ("Trinidad & Tobago", "TT"),
        ("UK", "GB"),
        ("Atlantis", None),
        ("ZZ", None),
        ("Tor", None),
        (None, None),
    ],
)
def test_country_code(given: str | None, code: str | None) -> None:
    frame = pl.DataFrame({"given": [given]}, schema={"given": pl.String})
    assert frame.select(country_code(pl.col("given")))[0, 0] == code
