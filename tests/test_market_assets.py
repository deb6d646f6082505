"""The market and hash rate geography assets as Dagster runs them, on the sample fixtures."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.defs.hashrate_geography import (
    hashrate_geography,
    hashrate_geography_concentration_table,
    hashrate_geography_expectations,
)
from pipelines.defs.market import (
    market_daily_tables,
    market_observations,
    market_observations_expectations,
)
from pipelines.lake import Lake
from pipelines.resources import ObservatoryResource
from pipelines.schemas import contracts
from pipelines.warehouse import LAKE_LOADS, Warehouse, load_lake_tables
from tests.conftest import FIXTURES, write_config

MARKET = FIXTURES / "market"
FEEDS = {
    "market.coinmetrics": {
        "kind": "coinmetrics_csv",
        "location": str(MARKET / "coinmetrics-sample.csv"),
    },
    "market.charts": {"kind": "blockchain_com", "location": str(MARKET / "charts-2024-01")},
    "hashrate_geography": {
        "kind": "cbeci_csv",
        "location": str(MARKET / "cbeci-countries-sample.csv"),
    },
}
ASSETS = [
    market_observations,
    market_observations_expectations,
    market_daily_tables,
    hashrate_geography,
    hashrate_geography_expectations,
    hashrate_geography_concentration_table,
]


def run(folder: Path, sources: dict) -> tuple[dg.ExecuteInProcessResult, Lake]:
    config = write_config(folder, sources)
    result = dg.materialize(
        ASSETS,
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        raise_on_error=False,
    )
    return result, Lake(folder / "warehouse" / "lake")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.ExecuteInProcessResult, Lake]:
    return run(tmp_path_factory.mktemp("market"), FEEDS)


def metadata(result: dg.ExecuteInProcessResult, *key: str) -> dict:
    """The metadata of the materialization of asset ``key`` in ``result``."""
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == list(key)
    ]
    return event.step_materialization_data.materialization.metadata


def test_bad_rows_are_reported_and_the_rest_kept(built) -> None:
    result, lake = built
    assert result.success
    rejects = lake.read("raw", "market_rejects", ("feed", "coinmetrics"))
    assert sorted(rejects.select("record", "field").rows()) == [
        ("row 3", "time"),
        ("row 4", "HashRate"),
    ]
    observations = lake.read("raw", "market_observations", ("feed", "coinmetrics"))
    # row 4 lost only its hash rate: its price is kept
    day = observations.filter(pl.col("date") == date(2010, 7, 20))
    assert "price_usd" in day["metric"].to_list() and "hashrate_ehs" not in day["metric"]
    assert metadata(result, "raw", "market_observations")["rejected_rows"].value == 2


def test_market_daily_spans_the_feeds_with_gaps_left_null_and_listed(built) -> None:
    result, lake = built
    daily = lake.read("intermediate", "market_daily")
    assert (daily["date"].min(), daily["date"].max()) == (date(2010, 7, 17), date(2024, 1, 3))
    assert daily.height == (date(2024, 1, 3) - date(2010, 7, 17)).days + 1
    jan = daily.filter(pl.col("date") == date(2024, 1, 2)).row(0, named=True)
    # stamped 2024-01-03 00:00: the close of the 2nd
    assert (jan["price_usd"], jan["price_usd_source"]) == (44_961.60, "charts")
    assert jan["hashrate_ehs"] == pytest.approx(498.7)
    # 53,567,890.25 USD / 498,700 PH/s
    assert jan["hashprice_usd_per_ph_day"] == pytest.approx(53_567_890.25 / 498_700)
    gaps = lake.read("intermediate", "market_gaps")
    price_gap = gaps.filter(pl.col("metric") == "price_usd").sort("days").row(-1, named=True)
    assert (price_gap["gap_start"], price_gap["gap_end"]) == (date(2010, 7, 21), date(2019, 12, 31))
    gap_text = metadata(result, "intermediate", "market_daily")["gaps"].value
    assert "price_usd" in gap_text and "2010-07-21" in gap_text


def test_geography_rejects_unknown_countries_and_keeps_the_month(built) -> None:
    result, lake = built
    rows = lake.read("raw", "hashrate_geography")
    july = rows.filter(pl.col("month") == date(2021, 7, 1))
    assert july.filter(pl.col("country") == "CN")["share"].item() == 0.0
    assert "Atlantis" not in july["country_name"].to_list()
    meta = metadata(result, "raw", "hashrate_geography")
    assert meta["rejected_rows"].value == 6
    table = lake.read("intermediate", "hashrate_geography_concentration")
    sep = table.filter(
        (pl.col("month") == date(2019, 9, 1)) & (pl.col("other_policy") == "entity")
    ).row(0, named=True)
    # the month's published shares add up to 99.99%: metrics use shares of that total
    assert (sep["top_country"], sep["cr1"]) == ("CN", pytest.approx(0.7553 / 0.9999))


def test_the_warehouse_loads_the_lake_tables_once_per_version(built) -> None:
    """Python steps write only the lake; the warehouse steps load what changed."""
    _, lake = built
    tables = [
        "intermediate.hashrate_geography_concentration",
        "intermediate.market_daily",
        "intermediate.market_discrepancies",
        "intermediate.market_gaps",
        "raw.hashrate_geography",
        "raw.market_observations",
        "raw.market_rejects",
    ]
    warehouse = Warehouse(lake.root.parent)
    with warehouse.writer() as con:
        pinned = warehouse.pinned_path
        assert set(tables) <= set(load_lake_tables(con, lake, contracts().values(), pinned))
        counts = dict(con.execute(f"select relation, 1 from {LAKE_LOADS}").fetchall())
        assert load_lake_tables(con, lake, contracts().values(), pinned) == []  # nothing changed
        rows = con.sql("select count(*) from intermediate.market_daily").fetchall()[0][0]
    assert set(tables) <= set(counts)
    assert rows == lake.read("intermediate", "market_daily").height


def test_rerun_is_identical_and_a_dropped_feed_leaves(tmp_path: Path) -> None:
    first, lake = run(tmp_path, FEEDS)
    before = lake.read("intermediate", "market_daily")
    again, _ = run(tmp_path, FEEDS)
    assert first.success and again.success
    assert lake.read("intermediate", "market_daily").equals(before)
    without_charts = {k: v for k, v in FEEDS.items() if k != "market.charts"}
    dropped, _ = run(tmp_path, without_charts)
    assert dropped.success
    assert lake.partitions("raw", "market_observations") == ["coinmetrics"]
    assert lake.read("intermediate", "market_daily")["date"].max() == date(2020, 1, 1)
