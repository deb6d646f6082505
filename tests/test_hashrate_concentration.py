"""Hash rate concentration by country: both Other rules, checked against hand-worked numbers."""

from datetime import date

import polars as pl
import pytest

from pipelines.market.hashrate_concentration import hashrate_geography_concentration
from pipelines.schemas.market import HASHRATE_GEOGRAPHY_CONCENTRATION

SEP, OCT = date(2019, 9, 1), date(2019, 10, 1)


def rows() -> pl.DataFrame:
    data = [
        (SEP, "CN", 0.6, 60.0),
        (SEP, "US", 0.2, 20.0),
        (SEP, "OTHER", 0.2, 20.0),
        (OCT, "US", 0.3, 30.0),
        (OCT, "CN", 0.3, 30.0),
        (OCT, "RU", 0.2, 20.0),
        (OCT, "OTHER", 0.2, None),
        (OCT, "IE", 0.0, 0.0),  # a published zero is not a country with hash rate
    ]
    return pl.DataFrame(
        data, schema=["month", "country", "share", "hashrate_ehs"], orient="row"
    ).with_columns(pl.lit("cbeci").alias("feed"))


def test_other_as_one_country_and_excluded():
    table = hashrate_geography_concentration(rows())
    assert table.columns == list(HASHRATE_GEOGRAPHY_CONCENTRATION.descriptions)
    got = {(r["month"], r["other_policy"]): r for r in table.iter_rows(named=True)}
    sep = got[(SEP, "entity")]
    # 60² + 20² + 20² = 4,400
    assert sep["hhi"] == pytest.approx(4_400)
    assert (sep["nakamoto"], sep["countries"], sep["top_country"]) == (1, 3, "CN")
    assert sep["cr1"] == pytest.approx(0.6) and sep["other_share"] == pytest.approx(0.2)
    assert sep["hashrate_ehs"] == pytest.approx(100.0)
    # named only: 0.75 and 0.25 -> 5,625 + 625
    sep_named = got[(SEP, "excluded")]
    assert sep_named["hhi"] == pytest.approx(6_250)
    assert (sep_named["countries"], sep_named["cr1"]) == (2, pytest.approx(0.75))
    assert sep_named["other_share"] == pytest.approx(0.2)

    octo = got[(OCT, "entity")]
    # 30² + 30² + 20² + 20² = 2,600; two 30% countries reach 50%; tie broken by code: CN
    assert octo["hhi"] == pytest.approx(2_600)
    assert (octo["nakamoto"], octo["countries"], octo["top_country"]) == (2, 4, "CN")
    # a null hash rate row does not erase the others
    assert octo["hashrate_ehs"] == pytest.approx(80.0)
    # named only: 0.375, 0.375, 0.25 -> 2 x 1,406.25 + 625
    assert got[(OCT, "excluded")]["hhi"] == pytest.approx(3_437.5)
