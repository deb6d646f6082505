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
from pipelines.sources.pool_registry import parse_pools_v2, tag_compile_error
from pipelines.warehouse import Warehouse
from tests.conftest import FIXTURES, SAMPLE_POOLS, write_config

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


def test_asset_writes_parquet_and_build_table(registry_config: Path, tmp_path: Path) -> None:
    resource = ObservatoryResource(config_file=str(registry_config))
    result = pool_registry(context=dg.build_asset_context(), observatory=resource)
    assert result.metadata["dagster/row_count"].value == SAMPLE_POOLS
    assert result.metadata["records_with_errors"] == 0
    assert "| id | name |" in result.metadata["preview"].value
    lake_file = tmp_path / "warehouse" / "lake" / "raw" / "pool_registry" / "data.parquet"
    assert pl.read_parquet(lake_file).height == SAMPLE_POOLS
    with Warehouse(tmp_path / "warehouse").writer() as con:
        assert con.execute("select count(*) from raw.pool_registry").fetchall() == [(SAMPLE_POOLS,)]


def test_live_registry_over_http(fake_server, tmp_path: Path, monkeypatch) -> None:
    fake_server.route(
        "/pools-v2.json", (429, {"Retry-After": "0"}, b""), (200, {}, SAMPLE.read_bytes())
    )
    config = write_config(
        tmp_path,
        {
            "pool_registry": {
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
        tmp_path, {"pool_registry": {"kind": "mempool_pools_v2", "location": url}}
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
    assert serving_pool_count(tmp_path / "warehouse") == SAMPLE_POOLS

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
    assert serving_pool_count(tmp_path / "warehouse") == SAMPLE_POOLS
