"""Trends of the scoreboard series: hand-worked Mann–Kendall, Theil–Sen and AR(1) correction
answers, verdicts, spans, Benjamini–Hochberg, and error rates and power on simulated series."""

from __future__ import annotations

import functools
import math
import random
from datetime import date

import polars as pl
import pytest

from pipelines.metrics.trends import (
    FDR,
    METRIC_ORIENTATION,
    PHI_MAX,
    ar1_upper_bound,
    ar1_variance_factor,
    benjamini_hochberg,
    control_fdr,
    fdr_summary,
    lag1_autocorrelation,
    mann_kendall,
    mann_kendall_ar1,
    metric_orientation,
    partial_summary,
    series_trends,
    theil_sen_slope,
    verdict,
)
from pipelines.schemas.decentralization import DECENTRALIZATION_TRENDS


def _p(z: float) -> float:
    return 2 * (1 - 0.5 * (1 + math.erf(abs(z) / math.sqrt(2))))


# ---------------------------------------------------------------------------- Mann–Kendall


def test_mann_kendall_increasing_by_hand() -> None:
    mk = mann_kendall([1, 2, 3, 4, 5])
    assert mk.n == 5
    assert mk.s == 10  # all 10 pairs rise
    assert mk.var_s == pytest.approx(5 * 4 * 15 / 18)  # 16.667
    assert mk.z == pytest.approx(9 / math.sqrt(5 * 4 * 15 / 18))  # 2.2045
    assert mk.z == pytest.approx(2.2045, abs=1e-4)
    assert mk.p == pytest.approx(0.0275, abs=1e-4)


def test_mann_kendall_decreasing_is_the_mirror() -> None:
    mk = mann_kendall([5, 4, 3, 2, 1])
    assert mk.s == -10
    assert mk.z == pytest.approx(-2.2045, abs=1e-4)
    assert mk.p == pytest.approx(0.0275, abs=1e-4)


def test_mann_kendall_ties_by_hand() -> None:
    # [1, 2, 2, 3, 3, 3]: 15 pairs, 1 + 3 tied, the other 11 rise.
    # Var = [6·5·17 − (2·1·9) − (3·2·11)]/18 = (510 − 18 − 66)/18 = 426/18.
    mk = mann_kendall([1, 2, 2, 3, 3, 3])
    assert mk.s == 11
    assert mk.var_s == pytest.approx(426 / 18)
    assert mk.z == pytest.approx(10 / math.sqrt(426 / 18))
    # [3, 1, 3, 2, 1]: S = (−1 + 0 − 1 − 1) + (1 + 1 + 0) + (−1 − 1) + (−1) = −4;
    # two pairs of ties: Var = [5·4·15 − 2·(2·1·9)]/18 = (300 − 36)/18 = 264/18.
    mk = mann_kendall([3, 1, 3, 2, 1])
    assert mk.s == -4
    assert mk.var_s == pytest.approx(264 / 18)
    assert mk.z == pytest.approx(-3 / math.sqrt(264 / 18))  # −0.7833
    assert mk.p == pytest.approx(_p(-3 / math.sqrt(264 / 18)))
    assert mk.p == pytest.approx(0.4334, abs=1e-4)


def test_mann_kendall_constant_and_tiny() -> None:
    mk = mann_kendall([2.0] * 7)
    assert (mk.s, mk.var_s, mk.z, mk.p) == (0, 0, 0, 1)
    assert mann_kendall([1.0]).p == 1
    assert mann_kendall([]).n == 0


# ---------------------------------------------------------------------------- Theil–Sen


def test_theil_sen_ignores_an_outlier() -> None:
    times = list(range(10))
    values = [2 * t + 1 for t in times]
    values[6] = 1000  # one wild point
    assert theil_sen_slope(times, values) == pytest.approx(2)
    # ordinary least squares would be pulled far off
    mean_t, mean_v = sum(times) / 10, sum(values) / 10
    ols = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / sum(
        (t - mean_t) ** 2 for t in times
    )
    assert ols > 10


def test_theil_sen_unequal_spacing_and_repeated_times() -> None:
    # slopes: (1−0)/1 = 1, (5−0)/3 = 5/3, (5−1)/2 = 2 → median 5/3
    assert theil_sen_slope([0, 1, 3], [0, 1, 5]) == pytest.approx(5 / 3)
    # in index units (times 0, 1, 2) the slopes would be 1, 2.5, 4: median 2.5
    assert theil_sen_slope([0, 1, 2], [0, 1, 5]) == pytest.approx(2.5)
    assert theil_sen_slope([0.0, 0.5, 2.0, 6.0], [1, 2, 5, 13]) == pytest.approx(2)
    # pairs with equal times are skipped: slopes 2 (0→1) and 1 (1→2) → 1.5
    assert theil_sen_slope([0, 0, 1], [0, 1, 2]) == pytest.approx(1.5)
    assert theil_sen_slope([1, 1], [0, 5]) is None
    assert theil_sen_slope([3], [0]) is None
    with pytest.raises(ValueError):
        theil_sen_slope([1, 2], [1])


# ---------------------------------------------------------------------------- AR(1) correction


def test_lag1_autocorrelation_by_hand() -> None:
    # [1, 2, 3, 4]: deviations −1.5, −0.5, 0.5, 1.5; Σd² = 5; Σ d_t d_{t+1} = 0.75 − 0.25 + 0.75
    assert lag1_autocorrelation([1, 2, 3, 4]) == pytest.approx(1.25 / 5)
    # [0, 1] × 3: deviations ±0.5, every neighbour product −0.25: 5·(−0.25)/(6·0.25)
    assert lag1_autocorrelation([0, 1] * 3) == pytest.approx(-5 / 6)
    assert lag1_autocorrelation([2.0] * 5) is None
    assert lag1_autocorrelation([1.0]) is None


def test_ar1_upper_bound_by_hand() -> None:
    # ρ_1 = 0, n = 20: φ̂ = 0, φ̃ = 2/15, φ_u = 2/15 + √((1 − 4/225)/20) = 0.1333 + 0.2216
    assert ar1_upper_bound(0.0, 20) == pytest.approx(2 / 15 + math.sqrt((1 - 4 / 225) / 20))
    assert ar1_upper_bound(0.0, 20) == pytest.approx(0.3550, abs=1e-4)
    # ρ_1 = 0.5, n = 25: φ̂ = 2 sin(π/12) = 0.5176, φ̃ = (25·0.5176 + 2)/20 = 0.7470,
    # φ_u = 0.7470 + √((1 − 0.7470²)/25) = 0.7470 + 0.1330 = 0.8800
    phi = (25 * 2 * math.sin(math.pi / 12) + 2) / 20
    assert ar1_upper_bound(0.5, 25) == pytest.approx(phi + math.sqrt((1 - phi**2) / 25))
    assert ar1_upper_bound(0.5, 25) == pytest.approx(0.8800, abs=1e-4)
    # anti-persistence is clipped to φ̃ = 0: ρ_1 = −0.5, n = 11 → φ_u = √(1/11)
    assert ar1_upper_bound(-0.5, 11) == pytest.approx(math.sqrt(1 / 11))
    # ρ_1 = 1 gives φ̂ = 1, clipped to PHI_MAX; with n ≤ 5 there is no estimate
    assert ar1_upper_bound(1.0, 20) == PHI_MAX
    assert ar1_upper_bound(0.0, 5) == PHI_MAX


def test_ar1_variance_factor_by_hand() -> None:
    assert ar1_variance_factor(0.0, 30) == 1
    assert ar1_variance_factor(0.9, 2) == 1
    # n = 5: 1 + 2/60·(4·3·2·ρ_1 + 3·2·1·ρ_2) = 1 + 0.8ρ_1 + 0.2ρ_2; with φ = 2 sin(π/12),
    # ρ_1 = (6/π)·asin(sin(π/12)) = 0.5 and ρ_2 = (6/π)·asin(1 − cos(π/6)) = 0.2566
    phi = 2 * math.sin(math.pi / 12)
    rho2 = 6 / math.pi * math.asin(phi**2 / 2)
    assert rho2 == pytest.approx(0.2566, abs=1e-4)
    assert ar1_variance_factor(phi, 5) == pytest.approx(1 + 0.8 * 0.5 + 0.2 * rho2)
    # long series: the weights (n−k)(n−k−1)(n−k−2)/(n(n−1)(n−2)) → 1, so n/n* → 1 + 2Σρ_k
    limit = 1 + 2 * sum(6 / math.pi * math.asin(0.5**k / 2) for k in range(1, 60))
    assert limit == pytest.approx(2.9, abs=0.05)
    assert ar1_variance_factor(0.5, 3000) == pytest.approx(limit, rel=0.005)
    assert ar1_variance_factor(0.9, 100) > ar1_variance_factor(0.5, 100) > 1
    with pytest.raises(ValueError, match="phi"):
        ar1_variance_factor(1.0, 10)


def test_ar1_zigzag_by_hand() -> None:
    # [0, 1] × 6 at times 1..12: Sen slope 0 (30 zero, 21 positive, 15 negative slopes), so the
    # residuals are the values; ranks 3.5 / 9.5 alternate, ρ_1 = −11/12: anti-persistent,
    # φ̃ clipped to 0 and φ_u = √(1/12). S = 21 − 15 = 6, Var(S) = (12·11·29 − 2·6·5·17)/18 = 156.
    mk = mann_kendall_ar1([0, 1] * 6)
    factor = ar1_variance_factor(math.sqrt(1 / 12), 12)
    assert mk.s == 6
    assert mk.variance_factor == pytest.approx(factor)
    assert mk.var_s == pytest.approx(156 * factor)
    assert mk.z == pytest.approx(5 / math.sqrt(156 * factor))
    assert mk.p > mann_kendall([0, 1] * 6).p  # never less cautious than the plain test


def test_ar1_random_walk_inflates_the_variance() -> None:
    rng = random.Random(20240601)
    walk = [0.0]
    for _ in range(79):
        walk.append(walk[-1] + rng.gauss(0, 1))
    times = [2000 + i / 12 for i in range(80)]
    corrected, plain = mann_kendall_ar1(walk, times), mann_kendall(walk)
    assert corrected.variance_factor > 10
    assert corrected.p > plain.p
    noise = [rng.gauss(0, 1) for _ in range(80)]
    assert 1 <= mann_kendall_ar1(noise, times).variance_factor < 3  # the bound's one s.e.


def test_ar1_p_value_never_below_the_plain_one() -> None:
    rng = random.Random(4)
    for _ in range(50):
        values = [float(rng.randint(1, 6)) + 0.2 * t for t in range(rng.randint(6, 40))]
        corrected, plain = mann_kendall_ar1(values), mann_kendall(values)
        assert corrected.variance_factor >= 1
        assert corrected.p >= plain.p
        assert corrected.s == plain.s


def test_ar1_exact_line_is_not_corrected() -> None:
    # fractional years: the residuals of an exact line differ only by rounding noise, which must
    # not be ranked as if it were signal
    times = [1970 + (18_000 + 30.4 * i + 15) / 365.2425 for i in range(40)]
    corrected = mann_kendall_ar1([1700 + 37.3 * (t - 2019) for t in times], times)
    assert corrected.variance_factor == 1
    assert corrected.note == "detrended series constant: factor 1"
    assert corrected.p == pytest.approx(mann_kendall(list(range(40))).p)
    with pytest.raises(ValueError):
        mann_kendall_ar1([1.0, 2.0], [1.0])


# ---------------------------------------------------------------------------- verdicts


def test_orientation() -> None:
    assert metric_orientation("hhi") == 1
    assert metric_orientation("nakamoto") == -1
    assert metric_orientation("open_share") == -1
    assert set(METRIC_ORIENTATION) >= {"cr1", "cr3", "cr5", "gini", "theil", "tau_066"}
    with pytest.raises(ValueError, match="unknown metric"):
        metric_orientation("lorenz")


def test_verdict_rules() -> None:
    assert verdict(1.5, 0.01, 0.05, metric_orientation("hhi")) == "centralizing"
    assert verdict(0.2, 0.01, 0.05, metric_orientation("nakamoto")) == "decentralizing"
    assert verdict(-0.3, 0.01, 0.05, metric_orientation("entropy_bits")) == "centralizing"
    assert verdict(-0.3, 0.01, 0.05, metric_orientation("hhi")) == "decentralizing"
    assert verdict(1.5, 0.05, 0.05, 1) == "no significant trend"  # p must be < alpha
    assert verdict(1.5, None, 0.05, 1) == "no significant trend"
    assert verdict(0.0, 0.001, 0.05, 1) == "no significant trend"  # no direction at all
    # a Nakamoto coefficient going 1 -> 2 with most values tied: Sen slope 0, S > 0
    assert verdict(0.0, 0.001, 0.05, metric_orientation("nakamoto"), s=9) == "decentralizing"
    assert verdict(None, 0.001, 0.05, 1) == "no significant trend"
    assert verdict(1.0, 0.001, 0.05, 1, s=-12) == "no significant trend"  # signs disagree
    assert verdict(1.0, 0.001, 0.05, 1, s=12) == "centralizing"
    with pytest.raises(ValueError):
        verdict(1.0, 0.01, 0.05, 0)


# ---------------------------------------------------------------------------- series_trends


def _monthly(metric: str, values: list[float], first: date = date(2020, 1, 1)) -> pl.DataFrame:
    starts = []
    year, month = first.year, first.month
    for _ in values:
        starts.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    frame = pl.DataFrame(
        {"period_start": starts, "value": values},
        schema={"period_start": pl.Date, "value": pl.Float64},
    )
    return frame.with_columns(
        pl.lit("bitcoin_mining").alias("domain"),
        pl.lit("pool").alias("dimension"),
        pl.lit("unknown=entity").alias("variant"),
        pl.col("period_start").dt.month_end().alias("period_end"),
        pl.lit(metric).alias("metric"),
    )


def _rise(n: int) -> list[float]:
    """A clear rise, 10 a month, with an alternating ±3 jitter: anti-persistent residuals, so the
    AR(1) bound is φ_u = √(1/n) (φ̃ clipped to 0)."""
    return [1000 + 10 * i + 3 * (-1) ** i for i in range(n)]


def test_series_trends_columns_orientation_and_notes() -> None:
    board = pl.concat(
        [
            _monthly("hhi", _rise(12)),
            _monthly("nakamoto", [2.0 + (i >= 9) for i in range(12)]),
            _monthly("entropy_bits", [5 - 0.1 * i + 0.03 * (-1) ** i for i in range(12)]),
            _monthly("cr1", [0.3] * 12),
            _monthly("gini", [0.5, 0.4, 0.6, 0.7, 0.3]),
        ],
        how="diagonal",
    )
    out = series_trends(board.sample(fraction=1, shuffle=True, seed=1), spans=(None,))
    assert out.columns == list(DECENTRALIZATION_TRENDS.descriptions)
    assert out.get_column("metric").to_list() == [
        "cr1",
        "entropy_bits",
        "gini",
        "hhi",
        "nakamoto",
    ]
    rows = {r["metric"]: r for r in out.iter_rows(named=True)}
    hhi = rows["hhi"]
    assert hhi["verdict"] == "centralizing"
    assert hhi["slope_per_year"] == pytest.approx(120, rel=0.02)  # 10 a month
    assert (hhi["first_value"], hhi["last_value"], hhi["points"]) == (1003, 1107, 12)
    assert (hhi["period_first"], hhi["period_last"]) == (date(2020, 1, 1), date(2020, 12, 1))
    assert hhi["mann_kendall_s"] == 66
    assert hhi["p_value_independent"] == pytest.approx(mann_kendall(list(range(12))).p)
    assert hhi["variance_factor"] == pytest.approx(ar1_variance_factor(math.sqrt(1 / 12), 12))
    assert hhi["p_value"] > hhi["p_value_independent"]
    assert rows["entropy_bits"]["verdict"] == "centralizing"
    # a single step 2 → 3: S = 9·3 = 27 > 0 but 39 of the 66 pairwise slopes are 0 (ties), so
    # the Sen slope is 0: no direction
    assert rows["nakamoto"]["mann_kendall_s"] == 27
    assert rows["nakamoto"]["slope_per_year"] == 0
    assert rows["nakamoto"]["verdict"] == "no significant trend"
    assert rows["cr1"]["note"] == "constant series"
    assert rows["cr1"]["p_value"] is None
    gini = rows["gini"]
    assert gini["note"] == "fewer than 6 points: not tested"
    assert gini["p_value"] is None and gini["p_value_independent"] is None
    assert gini["verdict"] == "no significant trend"
    assert gini["slope_per_year"] is not None
    assert series_trends(board, spans=(None,), min_points=5).filter(
        pl.col("metric") == "gini"
    ).get_column("p_value").item() == pytest.approx(mann_kendall([0.5, 0.4, 0.6, 0.7, 0.3]).p)


def test_series_trends_rising_nakamoto_decentralizes() -> None:
    board = _monthly("nakamoto", [float(2 + i // 2) for i in range(14)])
    row = series_trends(board, spans=(None,)).row(0, named=True)
    assert row["slope_per_year"] > 0
    assert row["verdict"] == "decentralizing"


def test_spans_where_available() -> None:
    short = _monthly("hhi", [float(i) for i in range(30)])  # 2020-01 .. 2022-06: < 3 years
    out = series_trends(short)
    assert out.get_column("span").to_list() == ["all"]
    long = _monthly("hhi", [float(i % 7) for i in range(50)])  # 2020-01 .. 2024-02
    out = series_trends(long)
    assert out.get_column("span").to_list() == ["all", "last_3y"]
    last = out.filter(pl.col("span") == "last_3y").row(0, named=True)
    # later than 2021-02-01: 2021-03 .. 2024-02, 36 months
    assert (last["period_first"], last["period_last"], last["points"]) == (
        date(2021, 3, 1),
        date(2024, 2, 1),
        36,
    )
    assert last["first_value"] == 14 % 7
    # exactly three years of reach (2021-02 .. 2024-02) is enough
    assert series_trends(long.tail(37)).get_column("span").to_list() == ["all", "last_3y"]
    assert series_trends(long.tail(36)).get_column("span").to_list() == ["all"]


def test_yearly_span_has_too_few_points_to_test() -> None:
    starts = [date(y, 1, 1) for y in range(2015, 2026)]
    board = pl.DataFrame(
        {
            "domain": "ai_models",
            "dimension": "organization",
            "variant": "dataset=all; weighting=models",
            "metric": "open_share",
            "period_start": starts,
            "period_end": [date(d.year, 12, 31) for d in starts],
            "value": [0.1 * i for i in range(11)],
        }
    )
    out = series_trends(board)
    rows = {r["span"]: r for r in out.iter_rows(named=True)}
    assert rows["all"]["verdict"] == "decentralizing"  # rising open share
    assert rows["last_3y"]["points"] == 3  # 2023, 2024, 2025
    assert rows["last_3y"]["verdict"] == "no significant trend"
    assert rows["last_3y"]["note"] == "fewer than 6 points: not tested"


def test_series_trends_rejects_unknown_metric_and_handles_empty() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        series_trends(_monthly("lorenz", [1.0, 2.0, 3.0]))
    empty = series_trends(_monthly("hhi", []))
    assert empty.is_empty() and empty.columns == list(DECENTRALIZATION_TRENDS.descriptions)


# ---------------------------------------------------------------------------- multiple testing


def test_benjamini_hochberg_by_hand() -> None:
    # m = 4, sorted 0.005, 0.01, 0.03, 0.04 → p·m/rank = 0.02, 0.02, 0.04, 0.04; the running
    # minimum from the largest p down leaves them so: q = 0.02, 0.04, 0.04, 0.02 in input order
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert q == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # None is not tested (m = 4): 0.02·4/1 = 0.08 > 0.03·4/2 = 0.06, so the smaller p takes
    # the larger one's q (monotone); 0.5·4/3 = 0.667; 0.9·4/4 = 0.9
    q = benjamini_hochberg([0.02, 0.5, 0.03, None, 0.9])
    assert q[3] is None
    assert [q[0], q[1], q[2], q[4]] == pytest.approx([0.06, 2 / 3, 0.06, 0.9])
    # ties share a q: 0.01·3/1 = 0.03 and 0.01·3/2 = 0.015 → both 0.015
    assert benjamini_hochberg([0.01, 0.04, 0.01]) == pytest.approx([0.015, 0.04, 0.015])
    assert benjamini_hochberg([1.0, 1.0]) == [1.0, 1.0]  # never above 1
    assert benjamini_hochberg([]) == []
    with pytest.raises(ValueError, match="p-value"):
        benjamini_hochberg([0.2, 1.5])


def test_benjamini_hochberg_agrees_with_the_step_up_rule() -> None:
    # q ≤ f exactly for the hypotheses the BH step-up procedure rejects: all p_(i) with
    # i ≤ k = max{i: p_(i) ≤ i·f/m}
    rng = random.Random(3)
    for _ in range(200):
        p = [rng.random() ** 3 for _ in range(rng.randint(1, 30))]
        m, ranked = len(p), sorted(p)
        k = max((i for i in range(1, m + 1) if ranked[i - 1] <= i * 0.05 / m), default=0)
        rejected = {i for i, v in enumerate(p) if k and v <= ranked[k - 1]}
        q = benjamini_hochberg(p)
        assert {i for i, v in enumerate(q) if v <= 0.05} == rejected
        assert all(qi >= pi for qi, pi in zip(q, p, strict=True))


def _tests(rows: list[tuple[str, str, float | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["domain", "span", "p_value", "direction"], orient="row"
    ).with_columns(pl.lit(None, pl.String).alias("verdict"))


def test_control_fdr_adjusts_within_each_family() -> None:
    tests = _tests(
        [
            ("bitcoin_mining", "all", 0.01, "centralizing"),
            ("ai_models", "all", 0.04, "decentralizing"),
            ("bitcoin_mining", "all", 0.04, "decentralizing"),
            ("bitcoin_mining", "last_3y", 0.04, "centralizing"),
            ("bitcoin_mining", "all", 0.03, "centralizing"),
            ("bitcoin_mining", "all", None, "no significant trend"),
            ("bitcoin_mining", "all", 0.005, "no significant trend"),  # S and slope disagree
        ]
    )
    out = control_fdr(tests, 0.03)
    assert out.columns == [*tests.columns, "q_value", "family_size"]
    # mining/all holds the hand-worked [0.01, 0.04, 0.03, 0.005] (q 0.02, 0.04, 0.04, 0.02);
    # the other two families have one test each, so q = p
    assert out.get_column("q_value").to_list() == pytest.approx(
        [0.02, 0.04, 0.04, 0.04, 0.04, None, 0.02]
    )
    assert out.get_column("family_size").to_list() == [4, 1, 4, 1, 4, None, 4]
    assert out.get_column("verdict").to_list() == [
        "centralizing",  # q 0.02 ≤ 0.03
        "no significant trend",
        "no significant trend",
        "no significant trend",
        "no significant trend",
        "no significant trend",  # not tested
        "no significant trend",  # significant but without a direction
    ]
    assert control_fdr(tests, 0.04).get_column("verdict").to_list()[:5] == [
        "centralizing",
        "decentralizing",  # q = 0.04 ≤ 0.04: the rule is q ≤ fdr
        "decentralizing",
        "centralizing",
        "centralizing",
    ]
    with pytest.raises(ValueError, match="fdr"):
        control_fdr(tests, 0)


def test_series_trends_counts_a_family_and_keeps_the_unadjusted_verdict() -> None:
    # a clear rise (p ≈ 3e-4) survives; a weak one (p = 0.030) is significant alone but not
    # among 4 series of which the other two are flat noise (q = 0.030·4/2 = 0.06)
    weak = [0.0, 1, 1, 2, 0, 2, 1, 3, 4, 2, 4, 3]
    board = pl.concat(
        [
            _monthly("hhi", _rise(12)),
            _monthly("cr1", weak),
            _monthly("gini", [1.0, 3, 2, 1, 3, 2, 1, 3, 2, 1, 3, 2]),
            _monthly("theil", [2.0, 1, 3, 2, 1, 3, 2, 1, 3, 2, 1, 3]),
        ]
    )
    out = series_trends(board, spans=(None,))
    rows = {r["metric"]: r for r in out.iter_rows(named=True)}
    assert {r["family_size"] for r in rows.values()} == {4}
    q = benjamini_hochberg([rows[m]["p_value"] for m in ("hhi", "cr1", "gini", "theil")])
    assert [rows[m]["q_value"] for m in ("hhi", "cr1", "gini", "theil")] == pytest.approx(q)
    assert rows["hhi"]["verdict"] == rows["hhi"]["verdict_unadjusted"] == "centralizing"
    cr1 = rows["cr1"]
    assert cr1["p_value"] < 0.05 < cr1["q_value"] == pytest.approx(2 * cr1["p_value"])
    assert cr1["verdict_unadjusted"] == "centralizing"
    assert cr1["verdict"] == "no significant trend"
    alone = series_trends(_monthly("cr1", weak), spans=(None,)).row(0, named=True)
    assert alone["q_value"] == pytest.approx(alone["p_value"]) and alone["family_size"] == 1
    assert alone["verdict"] == "centralizing"


def test_partial_periods_are_left_out() -> None:
    # a steady rise whose first and last months are partial, with values that would break it
    board = _monthly("hhi", [5000.0, *_rise(10), 0.0])
    board = board.with_columns(
        pl.int_range(pl.len()).is_in([0, 11]).alias("partial"),
        pl.lit(1.0).alias("coverage"),
    )
    row = series_trends(board, spans=(None,)).row(0, named=True)
    assert (row["points"], row["first_value"], row["last_value"]) == (10, 1003, 1087)
    assert (row["period_first"], row["period_last"]) == (date(2020, 2, 1), date(2020, 11, 1))
    assert row["verdict"] == "centralizing"
    assert series_trends(board.drop("partial"), spans=(None,)).row(0, named=True)["points"] == 12
    periods = partial_summary(board.with_columns(pl.lit(0.2).alias("coverage")))
    assert periods.to_dicts() == [
        {
            "domain": "bitcoin_mining",
            "period_start": date(2020, 1, 1),
            "period_end": date(2020, 1, 31),
            "rows": 1,
            "coverage_min": 0.2,
            "coverage_max": 0.2,
        },
        {
            "domain": "bitcoin_mining",
            "period_start": date(2020, 12, 1),
            "period_end": date(2020, 12, 31),
            "rows": 1,
            "coverage_min": 0.2,
            "coverage_max": 0.2,
        },
    ]


def test_fdr_summary_counts_before_and_after() -> None:
    trends = pl.DataFrame(
        {
            "domain": ["a", "a", "a", "a", "b"],
            "span": ["all", "all", "all", "last_3y", "all"],
            "p_value": [0.001, 0.02, None, 0.3, 0.01],
            "verdict_unadjusted": [
                "centralizing",
                "decentralizing",
                "no significant trend",
                "no significant trend",
                "centralizing",
            ],
            "verdict": [
                "centralizing",
                "no significant trend",
                "no significant trend",
                "no significant trend",
                "centralizing",
            ],
        }
    )
    assert fdr_summary(trends).rows() == [
        ("a", "all", 2, 2, 1, 1),
        ("a", "last_3y", 1, 0, 0, 0),
        ("b", "all", 1, 1, 1, 0),
    ]


# ------------------------------------------------------- multiple testing on simulated series
# Each simulation is one family (its own domain) of monthly series of `points` (24–120 by
# default; 12–24 for short ones), AR(1) noise with coefficient phi, some with a linear trend of
# `TREND` innovation standard deviations a year; all go through series_trends, as in the asset.
# Seeded: the figures are the same on every run. Measured figures are in the README.

SIMULATIONS, SERIES, TREND = 80, 10, 1.5
LONG, SHORT = (24, 120), (12, 24)


def _simulated_board(
    seed: int, phi: float, trended: int, simulations: int, points: tuple[int, int]
) -> pl.DataFrame:
    rng = random.Random(seed)
    columns: dict[str, list] = {"domain": [], "variant": [], "period_start": [], "value": []}
    for sim in range(simulations):
        for j in range(SERIES):
            noise = rng.gauss(0, 1) / math.sqrt(1 - phi**2)  # stationary from the start
            for i in range(rng.randint(*points)):
                noise = phi * noise + rng.gauss(0, 1) if i else noise
                year, month = divmod(i, 12)
                columns["domain"].append(f"sim{sim}")
                columns["variant"].append(f"series{j}")
                columns["period_start"].append(date(2010 + year, month + 1, 1))
                columns["value"].append(noise + (TREND * i / 12 if j < trended else 0.0))
    return pl.DataFrame(columns).with_columns(
        pl.lit("pool").alias("dimension"),
        pl.lit("hhi").alias("metric"),
        pl.col("period_start").dt.month_end().alias("period_end"),
    )


@functools.cache
def _simulated_trends(phi: float, trended: int, points: tuple[int, int] = LONG) -> pl.DataFrame:
    simulations = SIMULATIONS if trended == 0 else SIMULATIONS // 2
    board = _simulated_board(int(phi * 10) + trended, phi, trended, simulations, points)
    return series_trends(board, spans=(None,)).with_columns(
        (pl.col("variant").str.strip_prefix("series").cast(pl.Int64) < trended).alias("trend")
    )


def _family_errors(trends: pl.DataFrame, verdict_column: str) -> pl.DataFrame:
    """Per family: discoveries R, false discoveries V, FDP = V/max(R, 1)."""
    found = pl.col(verdict_column) != "no significant trend"
    return (
        trends.group_by("domain")
        .agg(found.sum().alias("R"), (found & ~pl.col("trend")).sum().alias("V"))
        .with_columns((pl.col("V") / pl.max_horizontal("R", 1)).alias("fdp"))
    )


def _fwer(trends: pl.DataFrame, verdict_column: str) -> float:
    return (_family_errors(trends, verdict_column).get_column("V") > 0).mean()


def _size(trends: pl.DataFrame, column: str, level: float) -> float:
    return (trends.get_column(column) < level).mean()


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_null_series_p_values_hold_their_level(phi: float) -> None:
    # null series: the share with p < 0.05 (and < 0.005, the tail BH uses) stays near the level,
    # where the plain Mann–Kendall p-values, which assume independence, do not once phi > 0
    trends = _simulated_trends(phi, 0)
    assert _size(trends, "p_value", 0.05) <= 0.05 + 0.015
    assert _size(trends, "p_value", 0.005) <= 0.005 + 0.005
    if phi > 0:
        assert _size(trends, "p_value_independent", 0.05) > 0.2


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_null_series_family_wise_error_within_fdr(phi: float) -> None:
    # with every hypothesis of a family null, BH's FDR is the family-wise error
    trends = _simulated_trends(phi, 0)
    assert _fwer(trends, "verdict") <= FDR + 0.03
    assert _fwer(trends, "verdict") < _fwer(trends, "verdict_unadjusted")


def test_bh_controls_the_family_wise_error_given_valid_p_values() -> None:
    # white noise and the plain Mann–Kendall p-values, valid for independent points: with every
    # hypothesis null, BH's FDR is the family-wise error, at most 0.05 (measured 3.8%)
    trends = _simulated_trends(0.0, 0)
    plain = control_fdr(
        trends.select(
            "domain", "span", "trend", pl.col("p_value_independent").alias("p_value")
        ).with_columns(pl.lit("centralizing").alias("direction")),
        FDR,
    )
    assert _fwer(plain, "verdict") <= FDR + 0.03


@pytest.mark.parametrize(("phi", "power"), [(0.0, 0.9), (0.5, 0.8)])
def test_strong_trends_are_found_among_nulls(phi: float, power: float) -> None:
    # half of each family trends by TREND innovation standard deviations a year; measured 99%
    # (white noise) and 86% (phi = 0.5: the price of bounding the AR(1) coefficient from above;
    # with the true phi it would be 95%)
    trends = _simulated_trends(phi, SERIES // 2)
    found = trends.filter(pl.col("trend")).get_column("verdict") == "centralizing"
    assert found.mean() >= power


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_fdp_among_discoveries_is_controlled(phi: float) -> None:
    fdp = _family_errors(_simulated_trends(phi, SERIES // 2), "verdict").get_column("fdp")
    assert fdp.mean() <= FDR + 0.03


def test_short_series_error_is_controlled_unless_strongly_persistent() -> None:
    # 12–24 points: white noise and phi = 0.5 hold the level; with phi = 0.8 no estimate of the
    # persistence from so few points is good enough, and the error is only bounded (see README)
    for phi in (0.0, 0.5):
        trends = _simulated_trends(phi, 0, SHORT)
        assert _size(trends, "p_value", 0.05) <= 0.05 + 0.015
        assert _fwer(trends, "verdict") <= FDR + 0.03
    persistent = _simulated_trends(0.8, 0, SHORT)
    assert _size(persistent, "p_value", 0.05) <= 0.1
    assert _fwer(persistent, "verdict") <= 0.2
    assert _fwer(persistent, "verdict") < _fwer(persistent, "verdict_unadjusted") / 3
