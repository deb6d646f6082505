"""AI concentration and openness: hand-worked values on a five-model fixture, and real files."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.ai.concentration import KEYS, ai_concentration, ai_openness
from pipelines.schemas.ai import AI_CONCENTRATION, AI_OPENNESS
from pipelines.sources.epoch_models import read_epoch_models
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

# A-1 (Org A, US, 2023-01, 1e24 FLOP, open); AB-1 (Org A + Org B, US + GB, 2023-12, 3e24, API);
# C-1 (Org C, CN, 2024-02, no compute, unreleased); U-1 (nothing listed, 2024-02); X-1 (bad date).
FIXTURE = FIXTURES / "ai" / "concentration_models.csv"
NOTABLE = SHARED_DATA / "ai" / "notable_ai_models.csv"
needs_epoch = pytest.mark.skipif(not NOTABLE.is_file(), reason=f"no Epoch AI file {NOTABLE}")


@pytest.fixture(scope="module")
def models() -> pl.DataFrame:
    models, problems = read_epoch_models(FIXTURE.read_bytes(), "notable", "fixture")
    assert problems["record"].to_list() == ["row 5"]  # X-1's 2024-02-30
    return models


@pytest.fixture(scope="module")
def table(models) -> pl.DataFrame:
    return ai_concentration(models)


def pick(table: pl.DataFrame, dimension: str, weighting: str, period: str) -> pl.DataFrame:
    return table.filter(
        (pl.col("dimension") == dimension)
        & (pl.col("weighting") == weighting)
        & (pl.col("period") == period)
    )


def test_columns_and_order(table) -> None:
    assert table.columns == list(AI_CONCENTRATION.descriptions)
    assert table.equals(table.sort(KEYS))
    assert set(table["dataset"]) == {"notable"}


def test_year_by_organisation_hand_worked(table) -> None:
    rows = pick(table, "organization", "models", "year")
    assert rows["period_start"].to_list() == [date(2023, 1, 1), date(2024, 1, 1)]
    assert rows["period_end"].to_list() == [date(2023, 12, 31), date(2024, 12, 31)]
    y2023 = rows.row(0, named=True)
    # A: 1 + 1/2 = 1.5, B: 1/2 -> shares 0.75, 0.25 -> 100²·(0.75² + 0.25²) = 6,250
    assert y2023["hhi"] == pytest.approx(6250)
    assert y2023["total"] == 2 and y2023["models"] == 2 and y2023["entities"] == 2
    assert y2023["cr1"] == pytest.approx(0.75)
    assert y2023["nakamoto"] == 1
    # −(0.75·log2 0.75 + 0.25·log2 0.25) = 0.311278 + 0.5
    assert y2023["entropy_bits"] == pytest.approx(0.811278, abs=1e-6)
    assert y2023["hhi_ci_low"] is not None and y2023["nakamoto_ci_high"] is not None
    # 2024: C-1 and U-1 (no organisation: 'unknown'); X-1 has no date and is left out
    y2024 = rows.row(1, named=True)
    assert (y2024["hhi"], y2024["unknown_share"], y2024["models"]) == (5000, 0.5, 2)
    # the same split for countries (US 1.5, GB 0.5) and categories (Industry 1.5, Academia 0.5)
    for dimension in ("country", "organization_category"):
        assert pick(table, dimension, "models", "year")["hhi"][0] == pytest.approx(6250)


def test_compute_weighting_leaves_out_models_without_compute(table) -> None:
    rows = pick(table, "organization", "training_compute", "year")
    assert rows["period_start"].to_list() == [date(2023, 1, 1)]  # no 2024 model has compute
    row = rows.row(0, named=True)
    # A: 1e24 + 1.5e24 = 2.5e24, B: 1.5e24 -> 100²·(0.625² + 0.375²) = 5,312.5
    assert row["hhi"] == pytest.approx(5312.5)
    assert row["total"] == pytest.approx(4e24)
    assert row["models"] == 2
    ci = ("hhi_ci_low", "hhi_ci_high", "nakamoto_ci_low", "nakamoto_ci_high")
    assert all(row[name] is None for name in ci)


def test_rolling_windows_membership(table) -> None:
    rows = pick(table, "organization", "models", "rolling_12m")
    ends = rows["period_end"].to_list()
    assert len(ends) == 14  # windows ending 2023-01 .. 2024-02, the last month with models
    assert (ends[0], ends[-1]) == (date(2023, 1, 31), date(2024, 2, 29))
    by_end = {r["period_end"]: r for r in rows.iter_rows(named=True)}
    assert by_end[date(2023, 11, 30)]["hhi"] == pytest.approx(10_000)  # A-1 alone
    december = by_end[date(2023, 12, 31)]
    assert december["period_start"] == date(2023, 1, 1)
    assert (december["hhi"], december["models"]) == (pytest.approx(6250), 2)
    january = by_end[date(2024, 1, 31)]  # A-1 (2023-01-15) has left: AB-1 alone
    assert january["period_start"] == date(2023, 2, 1)
    assert (january["hhi"], january["models"]) == (pytest.approx(5000), 1)
    february = by_end[date(2024, 2, 29)]  # AB-1, C-1, U-1: A, B 1/6 each; C, unknown 1/3 each
    assert february["hhi"] == pytest.approx(10_000 * (2 / 36 + 2 / 9))
    assert february["unknown_share"] == pytest.approx(1 / 3)
    assert february["models"] == 3
    compute = pick(table, "organization", "training_compute", "rolling_12m")
    last = compute.filter(pl.col("period_end") == date(2024, 2, 29)).row(0, named=True)
    assert (last["hhi"], last["models"]) == (pytest.approx(5000), 1)


def test_as_of_month_cuts_the_series(models) -> None:
    table = ai_concentration(models, as_of_month=date(2024, 1, 15))
    rolling = pick(table, "organization", "models", "rolling_12m")
    assert rolling["period_end"].max() == date(2024, 1, 31)
    assert rolling.height == 13
    assert pick(table, "organization", "models", "year")["period_start"].to_list() == [
        date(2023, 1, 1)
    ]


def test_openness(models) -> None:
    table = ai_openness(models)
    assert table.columns == list(AI_OPENNESS.descriptions)
    y2023, y2024 = table.rows(named=True)
    assert (y2023["year"], y2023["models"], y2023["models_known"], y2023["open_models"]) == (
        2023,
        2,
        2,
        1,
    )
    assert y2023["open_share"] == 0.5
    # Wilson 95% for 1 of 2: 0.5 ± 1.959964·√(0.125 + 0.240091)/(1 + 1.920730)
    assert y2023["open_share_ci_low"] == pytest.approx(0.0945312, abs=1e-6)
    assert y2023["open_share_ci_high"] == pytest.approx(0.9054688, abs=1e-6)
    assert y2023["compute_open_share"] == pytest.approx(0.25)  # 1e24 of 4e24
    # 2024: C-1 unreleased, U-1 unknown; no compute
    assert (y2024["models"], y2024["models_known"], y2024["open_models"]) == (2, 1, 0)
    assert y2024["open_share"] == 0.0
    assert y2024["open_share_ci_low"] == 0.0
    assert y2024["open_share_ci_high"] == pytest.approx(0.7934507, abs=1e-6)  # z²/(1 + z²)
    assert y2024["compute_open_share"] is None


@needs_shared_data
@needs_epoch
@pytest.mark.shared_data
def test_real_notable_2023() -> None:
    data = NOTABLE.read_bytes()
    models, _ = read_epoch_models(data, "notable", "epoch.notable")
    table = ai_concentration(models)
    y2023 = table.filter(
        (pl.col("period") == "year")
        & (pl.col("period_start") == date(2023, 1, 1))
        & (pl.col("weighting") == "models")
    )
    assert y2023["dimension"].to_list() == ["country", "organization", "organization_category"]
    assert y2023["models"].to_list() == [116, 116, 116]
    assert y2023["cr1"][0] == pytest.approx(0.567357, abs=1e-6)  # the US
    assert y2023["hhi"].to_list() == pytest.approx([3646.468871, 289.993331, 5549.541101])
    assert y2023["entities"].to_list() == [20, 128, 4]
    openness = ai_openness(models).filter(pl.col("year") == 2023).row(0, named=True)
    assert (openness["models"], openness["open_models"]) == (116, 59)
    assert openness["compute_open_share"] == pytest.approx(0.115625, abs=1e-6)
