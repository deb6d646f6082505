"""The first asset chain: registry file or URL -> Parquet -> GX check -> dim_pool -> serving."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.defs.pool_registry import pool_registry
from pipelines.http import SourceFormatError, SourceUnavailable
from pipelines.resources import ObservatoryResource
from pipelines.runner import execute
from pipelines.schemas import contract
from pipelines.sources.pool_registry import parse_edi_pools, parse_pools_v2, tag_compile_error
from pipelines.warehouse import Warehouse
from tests.conftest import (
    FIXTURES,
    SAMPLE_POOL_ENTITIES,
    SAMPLE_POOLS,
    SHARED_DATA,
    needs_shared_data,
    write_config,
)
from tests.fakeserver import json_response

SAMPLE = FIXTURES / "pools-v2-sample.json"
SAMPLE_DAYS = (date(2024, 1, 1), date(2024, 1, 3))  # the days of the sample blocks


def test_parse_keeps_lists_and_non_ascii_tags() -> None:
    frame = parse_pools_v2(SAMPLE.read_bytes(), origin="sample")
    assert frame.height == SAMPLE_POOLS
    f2pool = frame.filter(pl.col("name") == "F2Pool").row(0, named=True)
    assert f2pool["tags"] == ["七彩神仙鱼", "Made in China", "🐟"]
    assert f2pool["n_addresses"] == 1 and f2pool["n_tags"] == 3
    assert frame["record_errors"].null_count() == SAMPLE_POOLS
    assert frame["tag_errors"].null_count() == SAMPLE_POOLS


def test_wrong_field_types_name_source_record_and_field() -> None:
    body = json.dumps(
        [
            {"id": 1, "name": "Good", "addresses": [], "tags": ["/good/"], "link": ""},
            {"id": "2", "name": "StringId", "addresses": [], "tags": [], "link": ""},
            {"id": 3, "name": "BadTags", "addresses": [], "tags": "oops", "link": ""},
            7,
        ]
    ).encode()
    frame = parse_pools_v2(body, origin="pools.json")
    errors = frame["record_errors"].to_list()
    assert errors[0] is None
    assert errors[1] == "pools.json record 1 (id='2', name='StringId'): field 'id': got \"2\""
    assert "record 2" in errors[2] and "field 'tags'" in errors[2]
    assert "record 3" in errors[3] and "not a JSON object" in errors[3]
    assert frame.row(0, named=True)["name"] == "Good"  # good records are kept


def test_malformed_documents() -> None:
    with pytest.raises(SourceFormatError, match=r"pools.json: not valid JSON at line 1 column 3"):
        parse_pools_v2(b"[{", origin="pools.json")
    with pytest.raises(SourceFormatError, match="expected a JSON list of pools, got dict"):
        parse_pools_v2(b"{}", origin="pools.json")


EDI_IDENTIFIERS = {
    "/AntPool/": {"name": "AntPool", "link": ""},
    "btcpool": {
        "name": "Bitdeer",
        "link": "https://github.com/0xB10C/known-mining-pools/issues/28",
    },
    "AntPool": {"name": "AntPool", "link": "https://www.antpool.com/"},
    "Bitdeer": {"name": "Bitdeer", "link": "https://www.bitdeer.com/"},
}
EDI_ADDRESSES = {"1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY": {"name": "F2Pool", "source": "x.com"}}


def test_edi_files_become_one_row_per_pool() -> None:
    """Identifiers and addresses grouped by pool name in file order; no ids; the first
    non-empty link of a pool's identifiers."""
    frame = parse_edi_pools(
        json.dumps(EDI_IDENTIFIERS).encode(),
        json.dumps(EDI_ADDRESSES).encode(),
        origin="ids.json",
        addresses_origin="addresses.json",
    )
    rows = frame.select("id", "name", "tags", "addresses", "link", "record_errors").rows()
    assert rows == [
        (None, "AntPool", ["/AntPool/", "AntPool"], [], "https://www.antpool.com/", None),
        (
            None,
            "Bitdeer",
            ["btcpool", "Bitdeer"],
            [],
            "https://github.com/0xB10C/known-mining-pools/issues/28",
            None,
        ),
        (None, "F2Pool", [], ["1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY"], "", None),
    ]
    without_addresses = parse_edi_pools(json.dumps(EDI_IDENTIFIERS).encode(), None, origin="i")
    assert without_addresses["name"].to_list() == ["AntPool", "Bitdeer"]


def test_edi_bad_entries_name_source_record_and_field() -> None:
    identifiers = {
        "/good/": {"name": "Good", "link": ""},
        "/noname/": {"link": ""},
        "/badlink/": {"name": "Good", "link": 5},
        "/notobject/": "Good",
        "": {"name": "Empty", "link": ""},
    }
    addresses = {"1Addr": {"name": 3, "source": ""}}
    frame = parse_edi_pools(
        json.dumps(identifiers).encode(),
        json.dumps(addresses).encode(),
        origin="ids.json",
        addresses_origin="addr.json",
    )
    errors = dict(zip(frame["tags"].list.first(), frame["record_errors"], strict=True))
    assert errors["/good/"] == "ids.json identifier '/badlink/': field 'link': got 5"
    assert errors["/noname/"] == "ids.json identifier '/noname/': field 'name': got null"
    assert errors["/notobject/"].startswith("ids.json identifier '/notobject/': value is not")
    bad_address = frame.filter(pl.col("addresses").list.len() > 0).row(0, named=True)
    assert bad_address["record_errors"] == "addr.json address '1Addr': field 'name': got 3"
    assert frame.filter(pl.col("name") == "Empty")["tag_errors"].item().startswith("empty")


@pytest.mark.parametrize(
    ("identifiers", "addresses", "message"),
    [
        (b"{", None, r"pool_registry: ids.json: not valid JSON at line 1 column 2"),
        (b"[]", None, "pool_registry: ids.json: expected a JSON object of identifiers, got list"),
        (b"{}", b"[1]", "pool_registry: addr.json: expected a JSON object of addresses, got list"),
    ],
)
def test_malformed_edi_documents(identifiers: bytes, addresses: bytes | None, message: str) -> None:
    with pytest.raises(SourceFormatError, match=message):
        parse_edi_pools(identifiers, addresses, origin="ids.json", addresses_origin="addr.json")


@needs_shared_data
def test_real_registries_parse_cleanly() -> None:
    pools = SHARED_DATA / "pools"
    mempool = parse_pools_v2((pools / "mempool-pools-v2.json").read_bytes(), origin="m")
    bitcoin_data = parse_pools_v2((pools / "bitcoin-data-pool-list.json").read_bytes(), origin="b")
    edi = parse_edi_pools(
        (pools / "edi-identifiers-bitcoin.json").read_bytes(),
        (pools / "edi-addresses-bitcoin.json").read_bytes(),
        origin="e",
    )
    assert (mempool.height, bitcoin_data.height, edi.height) == (168, 148, 122)
    assert edi["n_tags"].sum() == 182 and edi["n_addresses"].sum() == 3
    for frame in (mempool, bitcoin_data, edi):
        assert frame["record_errors"].null_count() == frame.height
        assert frame["tag_errors"].null_count() == frame.height


def test_every_registry_kind_over_http(fake_server, tmp_path: Path) -> None:
    """The three loaders read from URLs (EDI's addresses too), in precedence order."""
    pools = json.loads(SAMPLE.read_text())
    fake_server.route("/pools-v2.json", (429, {"Retry-After": "0"}, b""), json_response(pools))
    fake_server.route("/edi/identifiers.json", json_response(EDI_IDENTIFIERS))
    fake_server.route("/edi/addresses.json", json_response(EDI_ADDRESSES))
    fake_server.route("/generated/pool-list.json", json_response(pools[:2]))
    config = write_config(
        tmp_path,
        {
            "pool_registry.mempool": {
                "kind": "mempool_pools_v2",
                "location": fake_server.url("/pools-v2.json"),
            },
            "pool_registry.edi": {
                "kind": "edi_pools",
                "location": fake_server.url("/edi/identifiers.json"),
                "addresses": fake_server.url("/edi/addresses.json"),
            },
            "pool_registry.bitcoin_data": {
                "kind": "bitcoin_data_pools",
                "location": fake_server.url("/generated/pool-list.json"),
            },
        },
    )
    resource = ObservatoryResource(config_file=str(config))
    result = pool_registry(context=dg.build_asset_context(), observatory=resource)
    frame = pl.read_parquet(tmp_path / "warehouse" / "lake" / "raw" / "pool_registry")
    counts = frame.group_by("registry", "precedence", "tag_matching").len().sort("precedence")
    assert counts.rows() == [
        ("mempool", 0, "regex_like", SAMPLE_POOLS),
        ("edi", 1, "literal", 3),
        ("bitcoin_data", 2, "regex_like", 2),
    ]
    registries = result.metadata["registries"].value
    assert registries["edi"]["addresses"] == fake_server.url("/edi/addresses.json")
    assert [r.path for r in fake_server.requests] == [
        "/pools-v2.json",
        "/pools-v2.json",
        "/edi/identifiers.json",
        "/edi/addresses.json",
        "/generated/pool-list.json",
    ]


@pytest.mark.parametrize(
    ("tag", "bad"),
    [
        ("/BTC.COM/", False),
        ("/$Mined by 7pool.com/", False),
        ("七彩神仙鱼", False),
        ("/unbalanced(/", True),
        ("(?<=lookbehind)x", True),  # Python accepts it, Polars' regex engine does not
    ],
)
def test_tag_compile_errors(tag: str, bad: bool) -> None:
    assert (tag_compile_error(tag) is not None) is bad


def test_asset_writes_parquet_the_warehouse_loads(registry_config: Path, tmp_path: Path) -> None:
    resource = ObservatoryResource(config_file=str(registry_config))
    result = pool_registry(context=dg.build_asset_context(), observatory=resource)
    assert result.metadata["dagster/row_count"].value == SAMPLE_POOLS
    assert result.metadata["records_with_errors"] == 0
    assert "| id | name |" in result.metadata["preview"].value
    lake_file = tmp_path / "warehouse" / "lake" / "raw" / "pool_registry" / "data.parquet"
    assert pl.read_parquet(lake_file).height == SAMPLE_POOLS
    assert not (tmp_path / "warehouse" / "build").exists()  # a Python step writes the lake only
    assert resource.load_lake_tables([contract("raw.pool_registry")]) == ["raw.pool_registry"]
    with Warehouse(tmp_path / "warehouse").writer() as con:
        assert con.execute("select count(*) from raw.pool_registry").fetchall() == [(SAMPLE_POOLS,)]


def test_live_registry_over_http(fake_server, tmp_path: Path, monkeypatch) -> None:
    fake_server.route(
        "/pools-v2.json", (429, {"Retry-After": "0"}, b""), (200, {}, SAMPLE.read_bytes())
    )
    config = write_config(
        tmp_path,
        {
            "pool_registry.mempool": {
                "kind": "mempool_pools_v2",
                "location": fake_server.url("/pools-v2.json"),
            }
        },
    )
    resource = ObservatoryResource(config_file=str(config))
    result = pool_registry(context=dg.build_asset_context(), observatory=resource)
    assert result.metadata["dagster/row_count"].value == SAMPLE_POOLS
    assert len(fake_server.requests) == 2


def test_unreachable_registry_names_url_and_offline_config(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/pools-v2.json"  # discard port: nothing listens
    config = write_config(
        tmp_path, {"pool_registry.mempool": {"kind": "mempool_pools_v2", "location": url}}
    )
    (tmp_path / "observatory.toml").write_text(
        config.read_text()
        + "\n[http]\nmax_attempts = 2\nbackoff_seconds = 0.01\ntimeout_seconds = 1\n"
    )
    resource = ObservatoryResource(config_file=str(config))
    with pytest.raises(SourceUnavailable) as err:
        pool_registry(context=dg.build_asset_context(), observatory=resource)
    assert url in str(err.value) and "configs/shared-data.toml" in str(err.value)


def serving_pool_count(data_home: Path) -> int:
    con = Warehouse(data_home).reader()
    try:
        return con.execute("select count(*) from dim_pool").fetchall()[0][0]
    finally:
        con.close()


def test_bad_registry_fails_the_check_and_stops_downstream(
    registry_config: Path, tmp_path: Path
) -> None:
    good = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1])
    assert good.success, good.summary()
    assert serving_pool_count(tmp_path / "warehouse") == SAMPLE_POOL_ENTITIES

    pools = json.loads(SAMPLE.read_text())
    pools.append({**pools[0], "name": "Duplicate id"})
    pools.append({"id": 99, "name": "", "addresses": [], "tags": ["/broken(/"], "link": ""})
    bad_file = tmp_path / "bad-pools.json"
    bad_file.write_text(json.dumps(pools))
    registry_config.write_text(registry_config.read_text().replace(str(SAMPLE), str(bad_file)))

    bad = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1])
    assert not bad.success
    (check, summary), *_ = bad.failed_checks
    assert check == "raw/pool_registry:pool_registry_expectations"
    assert "id" in summary and "tag_errors" in summary
    assert {"staging/stg_pools", "marts/dim_pool", "serving/observatory_duckdb"} <= set(bad.not_run)
    # analysts keep the last good data
    assert serving_pool_count(tmp_path / "warehouse") == SAMPLE_POOL_ENTITIES
    # a failed check is not forgotten: the next run reads the registry again and fails again
    again = execute(start=SAMPLE_DAYS[0], end=SAMPLE_DAYS[1])
    assert not again.success
    assert [c for c, _ in again.failed_checks] == ["raw/pool_registry:pool_registry_expectations"]
    assert {"marts/dim_pool", "serving/observatory_duckdb"} <= set(again.not_run)
