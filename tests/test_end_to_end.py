"""``observatory run --config configs/shared-data.toml`` on the real published data, once."""

import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.mining.attribution import is_identifying_label
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
    # mempool's 168, EDI's 122 and bitcoin-data's 148 records make 175 pools
    assert json.loads(answer.stdout) == [{"pools": 175, "names": 175}]


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
    # mempool's tags and addresses name nobody; bitcoin-data's registry knows DPOOL's payout
    # address, and BTC.com's label says 'unknown'
    for height in (508242, 508434, 509373, 509432, 510199):
        assert by_height[height] == ("DPOOL", "address", "unknown")


def test_no_height_a_feed_identifies_ends_up_unknown(warehouse: Path) -> None:
    """Every height that some labelled file names a pool for is attributed to a pool, although
    the node-derived file (first in the config) says 'unknown' for thousands of them."""
    pools = SHARED_DATA / "pools"
    labels = pl.concat(
        [
            pl.read_parquet(pools / "blocks-node-derived-2024-2025.parquet").select(
                pl.col("block_height").alias("height"), pl.col("mining_pool").alias("label")
            ),
            pl.read_parquet(pools / "blocks-by-pool-2020-2026.parquet").select(
                "height", pl.col("pool_slug").alias("label")
            ),
            pl.read_csv(pools / "btccom-block-labels-2016-2018.csv").select(
                pl.col("blockid").alias("height"), pl.col("miningpool").alias("label")
            ),
        ],
        how="vertical_relaxed",
    )
    identified = labels.filter(is_identifying_label(pl.col("label")))["height"].unique()
    unknown = {
        h
        for (h,) in query(warehouse, "select height from block_attribution where pool = 'unknown'")
    }
    hidden = sorted(set(identified.to_list()) & unknown)
    assert not hidden, f"{len(hidden)} identified heights are unknown, e.g. {hidden[:10]}"
    # the node-derived file's 'unknown' blocks that the slug file names are decided by the latter
    ((decided_by_slugs,),) = query(
        warehouse,
        "select count(*) from block_attribution where height between 869306 and 923810 "
        "and evidence_feed = 'slugs_2020_2026'",
    )
    assert decided_by_slugs > 3000


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
    assert rows > 40000 and located / rows > 0.99
    assert set(sources) - {None} == {"dbip_city_lite 2023-04"}
    # located with coordinates, so the gossip has a spatial spread (measured 6,070 km standard
    # distance, 6,742 and 6,751 km mean pairwise distance)
    spread = query(
        warehouse,
        "select located_nodes, standard_distance_km, mean_pairwise_km from node_dispersion "
        "where source = 'getaddr_gossip_2024_07' and dimension = 'country' "
        "and overlay_policy = 'entity' order by snapshot_date",
    )
    assert len(spread) == 2
    assert all(n > 30000 and 5000 < d < 7000 and 6000 < p < 7500 for n, d, p in spread)


def test_market_daily_from_coin_metrics_and_blockchain_com(warehouse: Path) -> None:
    ((first, last, days),) = query(
        warehouse, "select min(date), max(date), count(*) from market_daily"
    )
    assert (first, last) == (date(2009, 1, 3), date(2024, 4, 27))
    assert days == (last - first).days + 1  # one row per day, gaps included as nulls
    sources = dict(
        query(
            warehouse,
            "select hashrate_ehs_source, count(*) from market_daily "
            "where hashrate_ehs is not null group by 1",
        )
    )
    # Coin Metrics to 2020-07-27 (from 2009-01-09); Blockchain.com after it and in 2023-2024
    assert sources["coinmetrics"] == (date(2020, 7, 27) - date(2009, 1, 9)).days + 1
    assert set(sources) == {"coinmetrics", "blockchain_com"}
    # the half year between the two Blockchain.com exports is a listed gap, never filled
    assert query(
        warehouse,
        "select gap_start, gap_end from market_gaps where metric = 'hashrate_ehs' "
        "order by days desc limit 1",
    ) == [(date(2022, 10, 21), date(2023, 4, 29))]


def test_hashrate_geography_shows_chinas_exit(warehouse: Path) -> None:
    china = dict(
        query(warehouse, "select month, share from hashrate_geography where country = 'CN'")
    )
    assert (min(china), max(china)) == (date(2019, 9, 1), date(2022, 1, 1))
    assert len(china) == 29
    assert china[date(2019, 9, 1)] == 0.7553
    assert china[date(2021, 7, 1)] == china[date(2021, 8, 1)] == 0.0
    top = dict(
        query(
            warehouse,
            "select month, top_country from hashrate_geography_concentration "
            "where other_policy = 'entity'",
        )
    )
    assert top[date(2021, 6, 1)] == "CN" and top[date(2021, 7, 1)] == "US"


def test_mining_economics_where_pools_and_market_overlap(warehouse: Path) -> None:
    months = [m for (m,) in query(warehouse, "select month from mining_economics order by 1")]
    # pool data Feb 2016 - Oct 2018 and Jan 2020 on; market data to Oct 2022 and May 2023 -
    # Apr 2024 (hash rate or price)
    assert months[0] == date(2016, 2, 1) and months[-1] == date(2024, 4, 1)
    assert date(2019, 6, 1) not in months  # no pool data
    assert date(2023, 1, 1) not in months  # no market data
    ((with_geography,),) = query(
        warehouse, "select count(*) from mining_economics where country_hhi is not null"
    )
    assert with_geography == 26  # Cambridge's months that have pool data (Jan 2020 - Jan 2022)


def test_ai_tables_from_every_epoch_file(warehouse: Path) -> None:
    counts = dict(query(warehouse, "select dataset, count(*) from ai_models group by 1"))
    assert counts == {"all": 1892, "notable": 952, "large_scale": 473, "frontier": 131}
    datasets = {d for (d,) in query(warehouse, "select distinct dataset from ai_concentration")}
    assert datasets == {"all", "notable", "large_scale", "frontier"}
    ((years, open_share),) = query(
        warehouse,
        "select count(*), max(open_share) from ai_openness where dataset = 'notable'",
    )
    assert years > 10 and 0 < open_share <= 1
    ((quarters, first, last),) = query(
        warehouse, "select count(*), min(quarter), max(quarter) from ai_compute_concentration"
    )
    assert (quarters, first, last) == (17, date(2022, 1, 1), date(2026, 1, 1))


def test_scoreboard_trends_and_report_from_all_shared_data(warehouse: Path) -> None:
    domains = dict(
        query(warehouse, "select domain, count(*) from decentralization_scoreboard group by 1")
    )
    assert set(domains) == {
        "bitcoin_mining",
        "bitcoin_nodes",
        "hashrate_geography",
        "ai_models",
        "ai_compute",
    }
    answer = run_cli(
        "sql",
        "select * from decentralization_trends where verdict <> 'no significant trend'",
        "--format",
        "json",
        "--config",
        SHARED_CONFIG,
        env={"OBSERVATORY_DATA_HOME": str(warehouse)},
    )
    assert answer.returncode == 0, answer.stderr
    significant = json.loads(answer.stdout)
    assert "ai_models" in {r["domain"] for r in significant}
    # Monthly pool HHI rises over 2016-2026 by the plain Mann-Kendall test, but the series is so
    # persistent that, allowing for it, the rise is no verdict
    ((plain, corrected, factor, verdict),) = query(
        warehouse,
        "select p_value_independent, p_value, variance_factor, verdict "
        "from decentralization_trends where domain = 'bitcoin_mining' and dimension = 'pool' "
        "and variant = 'unknown=entity' and metric = 'hhi' and span = 'all'",
    )
    assert plain < 1e-6 and corrected > 0.05 and factor > 10
    assert verdict == "no significant trend"
    # China's exit: the 2019-2022 country HHI falls by ~1,900 a year, significant at p < 0.05,
    # but not once 24 geography tests are controlled for false discoveries
    ((slope, p, q, unadjusted, verdict),) = query(
        warehouse,
        "select slope_per_year, p_value, q_value, verdict_unadjusted, verdict "
        "from decentralization_trends where domain = 'hashrate_geography' "
        "and metric = 'hhi' and variant like 'other=entity%' and span = 'all'",
    )
    assert slope < -1500 and p < 0.05 < q
    assert (unadjusted, verdict) == ("decentralizing", "no significant trend")
    page = (warehouse / "report" / "index.html").read_text()
    assert "Provenance" in page and "coinmetrics" in page and "epoch_models_csv" in page
    assert '<a href="https://db-ip.com">IP Geolocation by DB-IP</a>' in page


def test_trend_verdicts_are_consistent_on_real_series(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select count(*), count(*) filter (where p_value is not null and points < 6), "
        "count(*) filter (where verdict not in "
        "('centralizing', 'decentralizing', 'no significant trend')) "
        "from decentralization_trends",
    )
    ((total, tested_too_short, unknown),) = rows
    assert total > 1000 and tested_too_short == 0 and unknown == 0
    # HHI and the Nakamoto coefficient of one series never point opposite ways
    opposite = query(
        warehouse,
        "select h.domain, h.dimension, h.variant, h.span from decentralization_trends h "
        "join decentralization_trends n using (domain, dimension, variant, span) "
        "where h.metric = 'hhi' and n.metric = 'nakamoto' and h.verdict <> n.verdict "
        "and 'no significant trend' not in (h.verdict, n.verdict)",
    )
    assert opposite == []


def test_partial_periods_are_kept_but_not_tested(warehouse: Path) -> None:
    # the one-day first month of the node-derived blocks, and AI's 2025, cut at each dataset's
    # last publication date
    ((coverage, partial),) = query(
        warehouse,
        "select distinct coverage, partial from decentralization_scoreboard "
        "where domain = 'bitcoin_mining' and period_start = '2019-12-01'",
    )
    assert coverage == 1 / 31 and partial
    partial_ai = query(
        warehouse,
        "select distinct split_part(variant, ';', 1) from decentralization_scoreboard "
        "where domain = 'ai_models' and partial and period_start = '2025-01-01' order by 1",
    )
    assert [r[0] for r in partial_ai] == [
        "dataset=all",
        "dataset=frontier",
        "dataset=large_scale",
        "dataset=notable",
    ]
    ((points, complete),) = query(
        warehouse,
        "select t.points, (select count(*) from decentralization_scoreboard s "
        "where s.domain = t.domain and s.dimension = t.dimension and s.variant = t.variant "
        "and s.metric = t.metric and not s.partial) from decentralization_trends t "
        "where domain = 'bitcoin_mining' and dimension = 'pool' and variant = 'unknown=entity' "
        "and metric = 'hhi' and span = 'all'",
    )
    assert points == complete < 109


def test_fdr_control_removes_verdicts_and_keeps_them_unadjusted(warehouse: Path) -> None:
    ((unadjusted, controlled, gained),) = query(
        warehouse,
        "select count(*) filter (where verdict_unadjusted <> 'no significant trend'), "
        "count(*) filter (where verdict <> 'no significant trend'), "
        "count(*) filter (where verdict <> 'no significant trend' "
        "and verdict <> verdict_unadjusted) from decentralization_trends",
    )
    assert controlled < unadjusted and gained == 0  # with fdr = alpha, BH only removes
    families = query(
        warehouse,
        "select domain, span, count(distinct family_size), max(family_size), count(p_value) "
        "from decentralization_trends group by all",
    )
    assert all(sizes == 1 and m == tested for _, _, sizes, m, tested in families)
