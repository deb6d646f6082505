"""Mining concentration per window: hand-worked HHI/Nakamoto, unknown policies, windows, days."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import polars.selectors as cs
import pytest
from polars.testing import assert_frame_equal

from pipelines.metrics.concentration import concentration, concentration_table, share_table
from pipelines.mining.concentration import (
    GROUP_KEYS,
    GROUPINGS,
    daily_counts,
    days_covered,
    mining_concentration,
    pool_shares,
    window_counts,
)
from pipelines.schemas.mining import MINING_CONCENTRATION, POOL_SHARES

ANCHOR = date(2018, 1, 1)
OWNER_OF = {
    "AntPool": "Bitmain",  # AntPool and BTC.com merge into one owner
    "BTC.com": "Bitmain",
    "Foundry USA": "Foundry USA",  # owns itself
    "unknown": "unknown",
}
# Blocks per (day, pool). 2024-01-03 and -04 have no blocks (a gap); 2024-01-05 only unknown ones;
# 2024-02-10 makes February a partial month. 2024-01-01 is a Monday (ISO week 2024-W01).
BLOCKS: dict[date, dict[str, int]] = {
    date(2024, 1, 1): {"AntPool": 4, "BTC.com": 2, "Foundry USA": 1, "unknown": 3},
    date(2024, 1, 2): {"AntPool": 1, "BTC.com": 1},
    date(2024, 1, 5): {"unknown": 2},
    date(2024, 2, 10): {"AntPool": 1},
}


def attributed() -> pl.DataFrame:
    """One row per block with the date, pool, owner and template-builder columns of
    block_attribution (no template sharing: every pool builds its own; see test_templates.py)."""
    rows = [
        {"height": 0, "date": day, "pool": pool, "owner": OWNER_OF[pool]}
        for day, pools in BLOCKS.items()
        for pool, n in pools.items()
        for _ in range(n)
    ]
    frame = pl.DataFrame(
        rows, schema={"height": pl.Int64, "date": pl.Date, "pool": pl.String, "owner": pl.String}
    )
    return frame.with_columns(
        pl.int_range(pl.len()).alias("height"),
        pl.col("pool").alias("template_builder_observed"),
        pl.col("pool").alias("template_builder_inclusive"),
    )


@pytest.fixture(scope="module")
def tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    """(mining_concentration, pool_shares) for the hand-made blocks."""
    frame = attributed()
    counts = window_counts(daily_counts(frame), ANCHOR)
    return mining_concentration(counts, days_covered(frame, ANCHOR)), pool_shares(counts)


def metric_row(
    table: pl.DataFrame, grouping: str, policy: str, window: str, start: date
) -> dict | None:
    """The single row of one window, or None when the window has no row."""
    rows = table.filter(
        (pl.col("grouping") == grouping)
        & (pl.col("unknown_policy") == policy)
        & (pl.col("window") == window)
        & (pl.col("window_start") == start)
    )
    assert rows.height <= 1
    return rows.row(0, named=True) if rows.height else None


# (grouping, policy, blocks, HHI, Nakamoto, unknown_share) for day 2024-01-01, worked by hand:
# pool/entity   AntPool 4, unknown 3, BTC.com 2, Foundry 1 of 10: 10⁴·(16+9+4+1)/100 = 3000;
#               top two 4+3 = 7/10 ≥ 50% -> 2
# pool/excluded AntPool 4, BTC.com 2, Foundry 1 of 7: 10⁴·(16+4+1)/49; 4/7 ≥ 50% -> 1
# owner/entity  Bitmain 6, unknown 3, Foundry 1 of 10: 10⁴·(36+9+1)/100 = 4600; 6/10 -> 1
# owner/excl.   Bitmain 6, Foundry 1 of 7: 10⁴·(36+1)/49; -> 1
DAY1 = [
    ("pool", "entity", 10, 3000.0, 2),
    ("pool", "excluded", 7, 210_000 / 49, 1),
    ("owner", "entity", 10, 4600.0, 1),
    ("owner", "excluded", 7, 370_000 / 49, 1),
]


@pytest.mark.parametrize(("grouping", "policy", "blocks", "hhi", "nakamoto"), DAY1)
def test_day_window_by_pool_and_owner(
    tables: tuple[pl.DataFrame, pl.DataFrame],
    grouping: str,
    policy: str,
    blocks: int,
    hhi: float,
    nakamoto: int,
) -> None:
    """HHI and Nakamoto of 2024-01-01 under both groupings and both unknown policies."""
    row = metric_row(tables[0], grouping, policy, "day", date(2024, 1, 1))
    assert row is not None
    assert row["blocks"] == blocks
    assert row["hhi"] == pytest.approx(hhi)
    assert row["nakamoto"] == nakamoto
    assert row["effective_entities"] == pytest.approx(10_000 / hhi)
    # unknown_share is the share among all blocks, whatever the policy
    assert row["unknown_share"] == pytest.approx(0.3)
    assert (row["window_end"], row["window_label"]) == (date(2024, 1, 1), "2024-01-01")
    assert (row["days_with_blocks"], row["days_in_window"]) == (1, 1)


def test_second_day_half_and_half(tables: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """1 + 1 blocks: HHI 5000 and a 50% pool is already a majority (Nakamoto 1); one owner."""
    pool = metric_row(tables[0], "pool", "entity", "day", date(2024, 1, 2))
    owner = metric_row(tables[0], "owner", "entity", "day", date(2024, 1, 2))
    assert pool is not None and owner is not None
    assert (pool["hhi"], pool["nakamoto"], pool["entities"]) == (pytest.approx(5000.0), 1, 2)
    assert (owner["hhi"], owner["entities"], owner["unknown_share"]) == (
        pytest.approx(10_000.0),
        1,
        0.0,
    )


def test_only_unknown_blocks_leave_no_excluded_row(
    tables: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """2024-01-05 has only unknown blocks: one entity under 'entity', nothing under 'excluded'."""
    table = tables[0]
    entity = metric_row(table, "pool", "entity", "day", date(2024, 1, 5))
    assert entity is not None
    assert (entity["blocks"], entity["hhi"], entity["unknown_share"]) == (2, 10_000.0, 1.0)
    assert metric_row(table, "pool", "excluded", "day", date(2024, 1, 5)) is None


def test_gap_days_have_no_rows(tables: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Days without blocks are missing from both tables, never rows with zero blocks."""
    concentration_table, shares = tables
    days = set(concentration_table.filter(pl.col("window") == "day")["window_start"].to_list())
    assert days == set(BLOCKS)
    assert set(shares.filter(pl.col("window") == "day")["window_start"].to_list()) == set(BLOCKS)
    assert concentration_table["blocks"].min() > 0
    assert shares["blocks"].min() > 0


# Week 2024-W01 and January 2024 hold the same days (1, 2, 5):
# pool   AntPool 5, unknown 5, BTC.com 3, Foundry 1 = 14 blocks; identified 9
# owner  Bitmain 8, unknown 5, Foundry 1;                        identified 9
JANUARY = [
    ("pool", "entity", 14, 10_000 * (25 + 25 + 9 + 1) / 196, 2),
    ("pool", "excluded", 9, 10_000 * (25 + 9 + 1) / 81, 1),
    ("owner", "entity", 14, 10_000 * (64 + 25 + 1) / 196, 1),
    ("owner", "excluded", 9, 10_000 * (64 + 1) / 81, 1),
]


@pytest.mark.parametrize(("grouping", "policy", "blocks", "hhi", "nakamoto"), JANUARY)
@pytest.mark.parametrize(
    ("window", "start", "end", "label", "days_in_window"),
    [
        ("week", date(2024, 1, 1), date(2024, 1, 7), "2024-W01", 7),
        ("month", date(2024, 1, 1), date(2024, 1, 31), "2024-01", 31),
    ],
)
def test_week_and_month_aggregate_days(
    tables: tuple[pl.DataFrame, pl.DataFrame],
    window: str,
    start: date,
    end: date,
    label: str,
    days_in_window: int,
    grouping: str,
    policy: str,
    blocks: int,
    hhi: float,
    nakamoto: int,
) -> None:
    """Counts of the window's days are summed before the metrics (not metrics averaged)."""
    row = metric_row(tables[0], grouping, policy, window, start)
    assert row is not None
    assert (row["window_end"], row["window_label"]) == (end, label)
    assert row["blocks"] == blocks
    assert row["hhi"] == pytest.approx(hhi)
    assert row["nakamoto"] == nakamoto
    assert row["unknown_share"] == pytest.approx(5 / 14)
    assert (row["days_with_blocks"], row["days_in_window"]) == (3, days_in_window)


def test_partial_month_and_year(tables: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """February 2024 has blocks on 1 of its 29 days; the year on 4 of 366."""
    table = tables[0]
    february = metric_row(table, "pool", "entity", "month", date(2024, 2, 1))
    assert february is not None
    assert (february["window_end"], february["window_label"]) == (date(2024, 2, 29), "2024-02")
    assert (february["days_with_blocks"], february["days_in_window"]) == (1, 29)
    assert (february["blocks"], february["hhi"]) == (1, 10_000.0)

    year = metric_row(table, "owner", "excluded", "year", date(2024, 1, 1))
    assert year is not None
    assert (year["window_end"], year["window_label"]) == (date(2024, 12, 31), "2024")
    assert (year["days_with_blocks"], year["days_in_window"]) == (4, 366)
    # Bitmain 9 (AntPool 6 + BTC.com 3), Foundry 1 of 10 identified; 5 unknown of 15 in all
    assert year["blocks"] == 10
    assert year["hhi"] == pytest.approx(10_000 * (81 + 1) / 100)
    assert year["unknown_share"] == pytest.approx(5 / 15)

    week6 = metric_row(table, "pool", "entity", "week", date(2024, 2, 5))  # Sat 10 Feb: W06
    assert week6 is not None
    assert (week6["window_label"], week6["days_with_blocks"], week6["days_in_window"]) == (
        "2024-W06",
        1,
        7,
    )


def test_30d_windows_from_the_anchor(tables: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """30-day windows count from 2018-01-01; the label is the window's start + 14 days."""
    table = tables[0].filter((pl.col("window") == "30d") & (pl.col("grouping") == "pool"))
    first = ANCHOR + timedelta(days=30 * ((date(2024, 1, 1) - ANCHOR).days // 30))
    assert first == date(2023, 12, 31)  # 2,191 days after the anchor: window 73 starts a day early
    second = first + timedelta(days=30)
    got = table.filter(pl.col("unknown_policy") == "entity").select(
        "window_start", "window_end", "window_label", "blocks", "days_with_blocks", "days_in_window"
    )
    assert got.sort("window_start").rows() == [
        (first, date(2024, 1, 29), "2024-01-14", 14, 3, 30),
        (second, date(2024, 2, 28), "2024-02-13", 1, 1, 30),
    ]


def test_30d_windows_follow_another_anchor() -> None:
    """A different anchor shifts the 30-day windows (and only them)."""
    frame = attributed()
    anchor = date(2024, 1, 2)
    counts = window_counts(daily_counts(frame), anchor)
    table = mining_concentration(counts, days_covered(frame, anchor))
    starts = (
        table.filter((pl.col("window") == "30d") & (pl.col("grouping") == "pool"))
        .filter(pl.col("unknown_policy") == "entity")
        .sort("window_start")
        .select("window_start", "blocks")
        .rows()
    )
    # 2024-01-01 is the last day of the window before the anchor
    assert starts == [(date(2023, 12, 3), 10), (anchor, 4), (date(2024, 2, 1), 1)]


def test_all_metrics_match_the_scalar_reference(
    tables: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """Every row agrees with pipelines.metrics.concentration computed on the window's counts."""
    frame = attributed()
    table = tables[0]
    assert table.height > 0
    for row in table.iter_rows(named=True):
        in_window = frame.filter(pl.col("date").is_between(row["window_start"], row["window_end"]))
        entities = in_window.group_by(GROUPINGS[row["grouping"]]).len().rows()
        if row["unknown_policy"] == "excluded":
            entities = [(e, n) for e, n in entities if e != "unknown"]
        expected = concentration([n for _, n in entities], [e for e, _ in entities], "unknown")
        assert row["blocks"] == expected.total
        for name in ("entities", "nakamoto", "nakamoto_ci_low", "nakamoto_ci_high"):
            assert row[name] == getattr(expected, name), name
        for name in ("hhi", "hhi_ci_low", "hhi_ci_high", "cr1", "cr3", "gini", "theil"):
            assert row[name] == pytest.approx(getattr(expected, name), abs=1e-9), name
        all_blocks = in_window.height
        unknown = in_window.filter(pl.col("pool") == "unknown").height
        assert row["unknown_share"] == pytest.approx(unknown / all_blocks)


def test_pool_shares_sum_to_one_per_window_and_policy(
    tables: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """Shares of each (grouping, policy, window) add up to 1; excluded has no 'unknown' entity."""
    shares = tables[1]
    assert shares.columns == list(POOL_SHARES.descriptions)
    sums = shares.group_by(GROUP_KEYS).agg(pl.col("share").sum())
    assert sums["share"].to_list() == pytest.approx([1.0] * sums.height)
    excluded = shares.filter(pl.col("unknown_policy") == "excluded")
    assert "unknown" not in excluded["entity"].to_list()
    assert (shares["share_ci_low"] <= shares["share"]).all()
    assert (shares["share"] <= shares["share_ci_high"]).all()


def test_pool_shares_of_one_window(tables: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """The week's shares by pool: entity policy over 14 blocks, excluded over 9."""
    week = tables[1].filter(
        (pl.col("grouping") == "pool")
        & (pl.col("window") == "week")
        & (pl.col("window_start") == date(2024, 1, 1))
    )
    entity = week.filter(pl.col("unknown_policy") == "entity").select("entity", "blocks", "share")
    assert entity.rows() == [  # share descending, ties by entity name
        ("AntPool", 5, pytest.approx(5 / 14)),
        ("unknown", 5, pytest.approx(5 / 14)),
        ("BTC.com", 3, pytest.approx(3 / 14)),
        ("Foundry USA", 1, pytest.approx(1 / 14)),
    ]
    excluded = week.filter(pl.col("unknown_policy") == "excluded").select("entity", "share")
    assert excluded.rows() == [
        ("AntPool", pytest.approx(5 / 9)),
        ("BTC.com", pytest.approx(3 / 9)),
        ("Foundry USA", pytest.approx(1 / 9)),
    ]


def test_outputs_are_sorted_and_complete(tables: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Both tables come sorted (shares by share descending within a window) with their columns."""
    concentration_table, shares = tables
    assert concentration_table.columns == list(MINING_CONCENTRATION.descriptions)
    assert concentration_table.equals(concentration_table.sort(GROUP_KEYS))
    assert concentration_table.select(GROUP_KEYS).is_duplicated().sum() == 0
    expected = shares.sort(
        [*GROUP_KEYS, "share", "entity"], descending=[False] * len(GROUP_KEYS) + [True, False]
    )
    assert shares.equals(expected)
    assert set(concentration_table["window"].unique()) == {"day", "week", "month", "year", "30d"}
    # windows per kind: 4 days, 2 weeks, 2 months, 1 year, 2 thirty-day windows
    per_kind = dict(
        concentration_table.filter(
            (pl.col("grouping") == "pool") & (pl.col("unknown_policy") == "entity")
        )
        .group_by("window")
        .len()
        .rows()
    )
    assert per_kind == {"day": 4, "week": 2, "month": 2, "year": 1, "30d": 2}


def test_tables_have_their_contract_types(tables: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Grouping, policy and window are text in the tables (Enums only while computing)."""
    concentration_table, shares = tables
    assert concentration_table.schema == pl.Schema(MINING_CONCENTRATION.schema)
    assert shares.schema == pl.Schema(POOL_SHARES.schema)


def test_daily_counts_cover_every_grouping() -> None:
    """daily_counts gives (date, entity, count, grouping) rows for every grouping alike."""
    counts = daily_counts(attributed()).collect()
    owner_day1 = (
        counts.filter((pl.col("grouping") == "owner") & (pl.col("date") == date(2024, 1, 1)))
        .sort("entity")
        .select("entity", "count")
        .rows()
    )
    assert owner_day1 == [("Bitmain", 6), ("Foundry USA", 1), ("unknown", 3)]
    assert counts.filter(pl.col("grouping") == "pool")["count"].sum() == 15
    assert set(counts["grouping"].unique()) == {
        "pool",
        "owner",
        "template_observed",
        "template_inclusive",
    }


def random_attribution(blocks: int, seed: int) -> pl.DataFrame:
    """Blocks over 400 days from 2023-11-01, by 12 pools (one "unknown"), 5 owners, with one
    pool's template built by another, drawn at random."""
    pools = ["unknown", *(f"pool {i:02}" for i in range(11))]
    frame = pl.DataFrame(
        {
            "date": pl.date_range(date(2023, 11, 1), date(2024, 12, 4), eager=True).sample(
                blocks, with_replacement=True, seed=seed
            ),
            "pool": pl.Series(pools).sample(blocks, with_replacement=True, seed=seed + 1),
        }
    )
    owner = pl.when(pl.col("pool") == "unknown").then(pl.col("pool"))
    builder = pl.when(pl.col("pool") == "pool 03").then(pl.lit("pool 01"))
    return frame.with_columns(
        owner.otherwise(
            pl.format("owner {}", pl.col("pool").str.slice(-1).cast(pl.Int8) % 5)
        ).alias("owner"),
        builder.otherwise(pl.col("pool")).alias("template_builder_observed"),
        builder.otherwise(pl.col("pool")).alias("template_builder_inclusive"),
    )


@pytest.mark.parametrize("blocks", [0, 3_000])
def test_ranked_tables_equal_the_generic_tables(blocks: int) -> None:
    """pool_shares and mining_concentration, from window_counts' ranked rows, are the tables
    share_table and concentration_table compute from the same counts in any order."""
    frame = random_attribution(blocks, seed=7)
    counts = window_counts(daily_counts(frame), ANCHOR)
    plain = (
        counts.select(*GROUP_KEYS, "entity", "count")
        .with_columns(cs.enum().cast(pl.String))
        .sample(fraction=1.0, shuffle=True, seed=1)
    )
    shares = share_table(plain, GROUP_KEYS).rename({"count": "blocks"})
    assert_frame_equal(pool_shares(counts), shares.select(list(POOL_SHARES.descriptions)))
    metrics = concentration_table(plain, GROUP_KEYS).rename({"total": "blocks"})
    mining = mining_concentration(counts, days_covered(frame, ANCHOR))
    assert mining.schema == pl.Schema(MINING_CONCENTRATION.schema)
    # unknown_share is the entity policy's under both policies; the other metrics are the same
    assert_frame_equal(
        mining.select(metrics.columns).drop("unknown_share"),
        metrics.drop("unknown_share"),
        rel_tol=1e-12,
    )
