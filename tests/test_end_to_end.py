"""``observatory run --config configs/shared-data.toml`` on the real published data, once."""

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, SHARED_DATA, run_cli

SHARED_CONFIG = str(PROJECT_ROOT / "configs" / "shared-data.toml")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"no shared data at {SHARED_DATA}"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data home after a full run on every shared-data source (a few minutes)."""
    home = tmp_path_factory.mktemp("shared") / "warehouse"
    result = run_cli(
        "run", "--config", SHARED_CONFIG, env={"OBSERVATORY_DATA_HOME": str(home)}, timeout=1200
    )
    assert result.returncode == 0, result.stderr[-5000:]
    assert "succeeded" in result.stderr
    return home


def query(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "observatory.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_dim_pool_has_the_registry(warehouse: Path) -> None:
    answer = run_cli(
        "sql",
        "select count(*) as pools, count(distinct pool_name) as names from dim_pool",
        "--format",
        "json",
        "--config",
        SHARED_CONFIG,
        env={"OBSERVATORY_DATA_HOME": str(warehouse)},
    )
    assert json.loads(answer.stdout) == [{"pools": 168, "names": 168}]


def test_every_block_of_both_eras_is_attributed(warehouse: Path) -> None:
    # BTC.com labels: heights 400000-546235 less 88 missing; slug file: 610683-942459.
    ((blocks, first, last),) = query(
        warehouse, "select count(*), min(height), max(height) from block_attribution"
    )
    assert (first, last) == (400000, 942459)
    assert blocks == (546235 - 400000 + 1 - 88) + (942459 - 610683 + 1)


def test_months_cover_both_eras_and_the_gap_stays_a_gap(warehouse: Path) -> None:
    months = {
        (grouping, start)
        for grouping, start in query(
            warehouse,
            "select grouping, window_start from mining_concentration "
            "where \"window\" = 'month' and unknown_policy = 'entity'",
        )
    }
    for grouping in ("pool", "owner"):
        starts = {s for g, s in months if g == grouping}
        assert date(2016, 2, 1) in starts and date(2018, 10, 1) in starts
        assert date(2020, 1, 1) in starts and date(2026, 3, 1) in starts
        # Nov 2018 - Nov 2019 have no blocks in the data: no rows, never zero-block rows.
        assert not {s for s in starts if date(2018, 11, 1) <= s <= date(2019, 11, 1)}
    ((missing, before, after),) = query(
        warehouse,
        "select missing_blocks, last_date_before, first_date_after from block_gaps "
        "order by missing_blocks desc limit 1",
    )
    assert missing == 610682 - 546236 + 1
    assert (before, after) == (date(2018, 10, 18), date(2019, 12, 31))


def test_bigquery_coinbases_name_the_pools_btccom_labels_give(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select height, pool, method, label from block_attribution "
        "where height in (select height from blocks where coinbase_hex <> '') order by height",
    )
    by_height = {h: (pool, method, label) for h, pool, method, label in rows}
    assert by_height[507516][:2] == ("BTC.TOP", "tag")  # /BTC.TOP/
    assert by_height[507715][:2] == ("GBMiners", "tag")  # /mined by gbminers/
    assert by_height[510888][:2] == ("WAYI.CN", "tag")  # /E2M & BTC.TOP/, labelled Easy2Mine
    assert by_height[649061][:2] == ("AntPool", "address")  # pays AntPool, says Mined by AntPool
    assert by_height[682736][:2] == ("ViaBTC", "tag")  # /ViaBTC/
    for height in (508242, 508434, 509373, 509432, 510199):  # coinbase names nobody
        assert by_height[height][0] == "unknown"


def test_owner_grouping_merges_bitmain_pools(warehouse: Path) -> None:
    ((pool_share, owner_share),) = query(
        warehouse,
        "select max(share) filter (where grouping = 'pool'), "
        "max(share) filter (where grouping = 'owner') from pool_shares "
        "where \"window\" = 'year' and window_start = date '2017-01-01' "
        "and unknown_policy = 'entity'",
    )
    assert owner_share > pool_share  # AntPool + BTC.com under Bitmain


def test_tables_command_lists_the_mining_marts(warehouse: Path) -> None:
    listed = run_cli(
        "tables",
        "--format",
        "json",
        "--config",
        SHARED_CONFIG,
        env={"OBSERVATORY_DATA_HOME": str(warehouse)},
    )
    names = {t["name"] for t in json.loads(listed.stdout)}
    assert {"blocks", "block_attribution", "pool_shares", "mining_concentration"} <= names


def test_node_dispersion_for_the_export_and_every_published_date(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select source, reachability, count(distinct snapshot_date) from node_dispersion "
        "where dimension = 'country' group by all order by source",
    )
    assert rows == [
        ("bitnodes_2022", "crawled", 1),
        ("edi", "published", 14),
        ("getaddr_gossip_2024_07", "gossip", 2),
    ]
    ((nodes, overlay, distance, pairwise),) = query(
        warehouse,
        "select nodes, overlay_share, standard_distance_km, mean_pairwise_km from node_dispersion "
        "where source = 'bitnodes_2022' and dimension = 'country' and overlay_policy = 'entity'",
    )
    assert nodes == 14409  # one IPv6 node is listed twice in the export: kept once
    assert abs(overlay - 7425 / 14409) < 1e-9
    assert 1000 < distance < 10000 and 1000 < pairwise < 10000


def test_gossip_is_enriched_offline_and_marked_unverified(warehouse: Path) -> None:
    ((rows, located, sources),) = query(
        warehouse,
        "select count(*), count(country_code), list(distinct location_source) "
        "from node_snapshots where reachability = 'gossip' and network in ('ipv4', 'ipv6')",
    )
    assert rows > 40000 and located / rows > 0.95
    assert {s.split("-")[0] for s in sources if s} == {"iptocc"}  # e.g. "iptocc-3.3.170"
