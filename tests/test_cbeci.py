"""CBECI mining map rows, month share totals, and the later point-estimate seed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.http import SourceFormatError
from pipelines.schemas.market import (
    HASHRATE_GEOGRAPHY,
    HASHRATE_GEOGRAPHY_SCHEMA,
    HASHRATE_POINT_ESTIMATES,
)
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.cbeci import (
    month_share_totals,
    read_cbeci_countries,
)
from pipelines.sources.seeds import read_hashrate_point_estimates
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

SAMPLE = FIXTURES / "market" / "cbeci-countries-sample.csv"
SHARED = SHARED_DATA / "market" / "cbeci-mining-countries-monthly.csv"
needs_cbeci = pytest.mark.skipif(not SHARED.is_file(), reason=f"no {SHARED}")


@pytest.fixture(scope="module")
def sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    return read_cbeci_countries(SAMPLE.read_bytes(), "cbeci")


def test_rows_are_typed_and_described(sample):
    rows, rejects = sample
    assert rows.schema == pl.Schema(HASHRATE_GEOGRAPHY_SCHEMA)
    assert rejects.schema == pl.Schema(REJECT_SCHEMA)
    assert set(HASHRATE_GEOGRAPHY.descriptions) == set(HASHRATE_GEOGRAPHY_SCHEMA)


def test_september_2019(sample):
    rows, _ = sample
    september = rows.filter(pl.col("month") == date(2019, 9, 1))
    assert september.select(
        "country", "country_name", "share", "hashrate_ehs", "flagged"
    ).rows() == [
        ("CA", "Canada", 0.0106, 0.94, False),
        ("CN", "Mainland China", 0.7553, 66.76, False),
        ("DE", "Germany", 0.009, 0.8, True),
        ("IE", "Ireland", 0.0, 0.0, True),
        ("IR", "Iran, Islamic Rep.", 0.0174, 1.54, False),
        ("KZ", "Kazakhstan", 0.0142, 1.26, False),
        ("MY", "Malaysia", 0.0325, 2.88, False),
        ("OTHER", "Other", 0.061, 5.39, False),
        ("RU", "Russian Federation", 0.0593, 5.24, False),
        ("US", "United States", 0.0406, 3.59, False),
    ]
    assert set(september["feed"]) == {"cbeci"}
    assert set(september["source"]) == {"cbeci"}


def test_bad_rows_are_rejected_with_row_and_field(sample):
    rows, rejects = sample
    assert rejects.rows() == [
        ("cbeci", "row 13", "country", "Atlantis", "unknown country name"),
        ("cbeci", "row 21", "country", "Canada", "repeats CA 2021-07-01 of row 14"),
        (
            "cbeci",
            "row 22",
            "date",
            "2021-07-15",
            "not a first-of-month date (YYYY-MM-DD or YYYY-MM)",
        ),
        ("cbeci", "row 24", "monthly_hashrate_%", "118.1%", "above 100%"),
        ("cbeci", "row 25", "monthly_hashrate_%", "abc", "not a percentage from 0 to 100"),
        (
            "cbeci",
            "row 26",
            "monthly_absolute_hashrate_EH/S",
            "n/a",
            "not a non-negative number",
        ),
    ]
    # a YYYY-MM month and a share without % are read; a bad hash rate is nulled, the row kept
    assert rows.filter(pl.col("month") == date(2021, 8, 1)).select(
        "country", "share", "hashrate_ehs"
    ).rows() == [("RU", 0.1123, None), ("US", 0.354, 42.74)]
    july = rows.filter(pl.col("month") == date(2021, 7, 1))
    assert july.filter(pl.col("country") == "CN")["share"].to_list() == [0.0]
    assert july.filter(pl.col("country") == "CA")["hashrate_ehs"].to_list() == [10.87]


def test_month_share_totals_reports_unbalanced_months(sample):
    rows, _ = sample
    # September 2019 sums to 0.9999, within half a point
    assert month_share_totals(rows).rows() == [
        ("cbeci", date(2021, 7, 1), 9, 0.8811),  # the Atlantis row (11.9%) was rejected
        ("cbeci", date(2021, 8, 1), 2, 0.4663),
    ]
    assert month_share_totals(rows, tolerance=1e-5)["month"][0] == date(2019, 9, 1)


def test_missing_fields_and_header():
    data = b"date,country,monthly_hashrate_%,monthly_absolute_hashrate_EH/S\n,,,\n"
    rows, rejects = read_cbeci_countries(data, "cbeci")
    assert rows.is_empty()
    assert rejects.select("field", "problem").rows() == [
        ("date", "missing"),
        ("country", "missing"),
        ("monthly_hashrate_%", "missing"),
    ]
    with pytest.raises(SourceFormatError, match="no column monthly_hashrate_%"):
        read_cbeci_countries(b"date,country,share\n2019-09-01,Canada,1%\n", "cbeci")


def test_point_estimate_seed_is_well_formed():
    estimates = read_hashrate_point_estimates()
    assert list(estimates.columns) == list(HASHRATE_POINT_ESTIMATES.descriptions)
    assert not estimates.select("as_of", "source", "country").is_duplicated().any()
    assert estimates["url"].str.starts_with("https://").all()
    totals = estimates.group_by("as_of", "source").agg(pl.col("share").sum())
    assert (totals["share"] <= 1).all()
    ccaf = estimates.filter(pl.col("source").str.starts_with("Cambridge Centre"))
    assert ccaf.select("country", "share").rows()[0] == ("US", 0.754)
    assert ccaf["coverage"].str.contains("48%").all()


def test_point_estimate_seed_rejects_bad_rows(tmp_path: Path):
    path = tmp_path / "estimates.csv"
    path.write_text(
        "as_of,country,share,coverage,source,url,note\n"
        "2025-01-01,XX,0.5,network,someone,https://example.org,\n"
    )
    with pytest.raises(ValueError, match="bad rows"):
        read_hashrate_point_estimates(path)


@needs_shared_data
@needs_cbeci
def test_shared_cbeci_file():
    rows, rejects = read_cbeci_countries(SHARED.read_bytes(), "cbeci")
    assert rejects.is_empty()
    months = rows.group_by("month").len().sort("month")
    assert months.height == 29
    assert months["month"][0] == date(2019, 9, 1)
    assert months["month"][-1] == date(2022, 1, 1)
    assert set(months["len"]) == {10}
    china = rows.filter(pl.col("country") == "CN").select("month", "share")
    assert china.filter(pl.col("month") == date(2019, 9, 1))["share"].to_list() == [0.7553]
    exit_months = china.filter(pl.col("month").is_in([date(2021, 7, 1), date(2021, 8, 1)]))
    assert exit_months["share"].to_list() == [0.0, 0.0]
    assert set(rows.filter("flagged")["country"]) == {"DE", "IE"}
    assert rows.filter(pl.col("country") == "OTHER").height == 29
    assert month_share_totals(rows).is_empty()
