"""AI chip owners: reading Epoch's files, the no-double-counting rule, concentration ranges."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.ai.compute_owners import (
    ai_compute_concentration,
    ai_compute_owners,
    resolve_double_counts,
)
from pipelines.defs.ai import with_rule_changes
from pipelines.http import SourceFormatError
from pipelines.schemas.ai import AI_CHIP_OWNERS, AI_COMPUTE_CONCENTRATION, AI_COMPUTE_OWNERS
from pipelines.sources.epoch_chip_owners import read_chip_owner_files
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

CHIPS = FIXTURES / "ai" / "chip-owners"
REAL_CHIPS = SHARED_DATA / "ai" / "epoch-ai-chip-owners"
needs_epoch = pytest.mark.skipif(
    not REAL_CHIPS.is_dir(), reason=f"no Epoch AI files at {REAL_CHIPS}"
)

Q1, Q2 = date(2024, 1, 1), date(2024, 4, 1)


@pytest.fixture(scope="module")
def read() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows and problems as ``raw/ai_chip_owners`` stores them (the rule's changes added)."""
    rows, problems = read_chip_owner_files(CHIPS, "epoch.chips")
    _, changes = resolve_double_counts(rows)
    return rows, with_rule_changes(problems, changes, "epoch.chips")


@pytest.fixture(scope="module")
def owners(read) -> pl.DataFrame:
    return ai_compute_owners(read[0])


def owner_row(owners: pl.DataFrame, quarter: date, owner: str) -> tuple:
    row = owners.filter((pl.col("quarter") == quarter) & (pl.col("owner") == owner))
    return row.select("h100e", "h100e_p05", "h100e_p95").row(0)


def test_rows_and_problems(read) -> None:
    rows, problems = read
    assert rows.columns == list(AI_CHIP_OWNERS.descriptions)
    assert rows.height == 12  # 13 records, Oracle's 6/31/2024 left out
    xai = rows.filter(pl.col("owner") == "xAI").row(0, named=True)  # dated 3/31/24
    assert (xai["quarter"], xai["quarter_end"]) == (Q1, date(2024, 3, 31))
    assert (xai["h100e"], xai["h100e_p05"], xai["h100e_p95"]) == (100.0, None, None)
    amd_meta = (pl.col("owner") == "Meta") & (pl.col("chip_manufacturer") == "AMD")
    amd_meta &= pl.col("quarter") == Q2
    meta = rows.filter(amd_meta).row(0, named=True)  # its 95th is below the median
    assert (meta["h100e"], meta["h100e_p05"], meta["h100e_p95"]) == (100.0, 50.0, None)
    other = rows.filter(pl.col("owner") == "Other")["excludes"].to_list()
    assert other == [["Microsoft", "Meta", "xAI"]] * 2
    assert problems.select("record", "field", "problem").rows() == [
        (
            "amd_owners_cumulative_totals.csv row 2",
            "H100e (95th percentile)",
            "on the wrong side of the median (Compute estimate in H100e (median)): bound left null",
        ),
        (
            "amd_owners_cumulative_totals.csv row 3",
            "End date",
            "not a date (M/D/YYYY): row left out",
        ),
        (
            "nvidia_owners_OTHER_cumulative_totals.csv row 1",
            "Notes",
            "does not exclude CoreWeave (coreweave_owners_cumulative_totals.csv row 1): "
            "its H100e subtracted from Other",
        ),
        (
            "nvidia_owners_OTHER_cumulative_totals.csv row 2",
            "Notes",
            "does not exclude CoreWeave (coreweave_owners_cumulative_totals.csv row 2): "
            "its H100e subtracted from Other",
        ),
        (
            "nvidia_owners_cumulative_totals.csv row 5",
            "Owner",
            "also counted in coreweave_owners_cumulative_totals.csv row 2: row left out",
        ),
    ]


def test_no_chip_counted_twice(owners) -> None:
    assert owners.columns == list(AI_COMPUTE_OWNERS.descriptions)
    # CoreWeave in Q2 from its own file (200), not the nvidia file's duplicate (999)
    assert owner_row(owners, Q2, "CoreWeave") == (200, 200, 200)
    # Other (300; 200-400) does not exclude CoreWeave (100; 80-120): 300 − 100, 200 − 120, 400 − 80
    assert owner_row(owners, Q1, "Other") == (200, 80, 320)
    assert owner_row(owners, Q2, "Other") == (300, 200, 400)  # 500 − 200, 400 − 200, 600 − 200
    # Meta: Nvidia (200; 150-250) + AMD (100; 50-150), bounds summed
    assert owner_row(owners, Q1, "Meta") == (300, 200, 400)
    meta = owners.filter((pl.col("quarter") == Q1) & (pl.col("owner") == "Meta"))
    assert meta["chip_manufacturers"].to_list() == [["AMD", "Nvidia"]]
    assert owner_row(owners, Q1, "xAI") == (100, 100, 100)  # no bounds: the median
    assert owners["owner"].to_list() == [
        "CoreWeave",
        "Meta",
        "Microsoft",
        "Other",
        "xAI",
        "CoreWeave",
        "Meta",
        "Microsoft",
        "Other",
    ]


def test_concentration_and_extreme_scenarios(owners) -> None:
    table = ai_compute_concentration(owners)
    assert table.columns == list(AI_COMPUTE_CONCENTRATION.descriptions)
    q1 = table.row(0, named=True)
    # Microsoft 400, Meta 300, Other 200, CoreWeave 100, xAI 100 of 1,100
    assert q1["h100e"] == 1100
    assert q1["hhi"] == pytest.approx(10_000 * 310_000 / 1100**2)  # 2,561.98
    assert q1["cr1"] == pytest.approx(400 / 1100)
    assert q1["unknown_share"] == pytest.approx(200 / 1100)  # Other
    assert (q1["entities"], q1["owners"]) == (5, 4)
    # low: Microsoft at 300, the rest at their 95th: 400, 320, 120, 100 (total 1,240)
    assert q1["hhi_low"] == pytest.approx(10_000 * 376_800 / 1240**2)  # 2,450.57
    assert q1["cr1_low"] == pytest.approx(400 / 1240)  # Meta is then the largest
    # high: Microsoft at 500, the rest at their 5th: 200, 80, 80, 100 (total 960)
    assert q1["hhi_high"] == pytest.approx(10_000 * 312_800 / 960**2)  # 3,394.10
    assert q1["cr1_high"] == pytest.approx(500 / 960)
    assert all(q1[c] is None for c in ("hhi_ci_low", "hhi_ci_high", "nakamoto_ci_low"))
    assert (q1["missing_series"], q1["complete"]) == ([], True)
    q2 = table.row(1, named=True)
    # Microsoft 600, Meta 400, Other 300, CoreWeave 200; xAI has no Q2 value
    assert q2["hhi"] == pytest.approx(10_000 * 650_000 / 1500**2)
    assert (q2["missing_series"], q2["complete"]) == (["xAI (Nvidia)"], False)


def test_unusable_folders(tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError, match=r"epoch\.chips: no chip-owner CSV"):
        read_chip_owner_files(tmp_path, "epoch.chips")
    (tmp_path / "owners.csv").write_text("Name,Owner,End date\nX,Meta,3/31/2024\n")
    with pytest.raises(SourceFormatError, match=r"epoch\.chips: owners\.csv has no column"):
        read_chip_owner_files(tmp_path, "epoch.chips")


@needs_shared_data
@needs_epoch
@pytest.mark.shared_data
def test_real_chip_owner_files() -> None:
    rows, problems = read_chip_owner_files(REAL_CHIPS, "epoch")
    assert (rows.height, problems.height) == (187, 0)
    assert sorted(set(rows["owner"])) == [
        "Amazon",
        "China",
        "CoreWeave",
        "Google",
        "Meta",
        "Microsoft",
        "Oracle",
        "Other",
        "xAI",
    ]
    # every "Other" excludes every named owner of its chip maker: the rule changes nothing
    owners = ai_compute_owners(rows)
    assert owners["h100e"].sum() == rows["h100e"].sum()
    q4 = owners.filter(pl.col("quarter") == date(2025, 10, 1))
    assert q4.filter(pl.col("owner") == "Other")["h100e"].item() == 2_973_994 + 388_586
    table = ai_compute_concentration(owners)
    assert table.height == 17  # Q1 2022 .. Q1 2026
    incomplete = table.filter(~pl.col("complete"))
    assert incomplete["quarter"].to_list() == [
        date(2025, 1, 1),
        date(2025, 4, 1),
        date(2025, 7, 1),
        date(2026, 1, 1),
    ]
    assert incomplete["missing_series"][0].to_list() == ["xAI (Nvidia)"]
    last = table.filter(pl.col("quarter") == date(2025, 10, 1)).row(0, named=True)
    assert last["h100e"] == 19_521_441
    assert last["cr1"] == pytest.approx(5_049_814 / 19_521_441)  # Google: TPUs and Nvidia
    assert (last["entities"], last["owners"]) == (9, 8)
