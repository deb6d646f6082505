"""The trend-test benchmark: its corrections on hand-worked examples and a tiny seeded run."""

import numpy as np
import pytest

from pipelines.benchmarks.trend_tests import (
    CELLS,
    METHODS,
    SEED,
    benchmark,
    detrended_bias_corrected,
    hamed_rao_factor,
    kendall_bias_corrected,
    markdown_table,
    prewhitened,
    rank_autocorrelations,
)
from pipelines.metrics.trends import PHI_MAX, average_ranks, lag1_autocorrelation


def test_hamed_rao_factor_counts_only_significant_lags() -> None:
    # n = 5: |ρ_k| must exceed 1.96/√5 = 0.877; only lag 1 does; weight (5−1)(5−2)(5−3) = 24
    assert hamed_rao_factor(np.array([1, 0.9, 0.5, 0, 0])) == pytest.approx(1 + 2 / 60 * 24 * 0.9)
    # a significant negative lag shrinks it below 1 (not floored) ...
    assert hamed_rao_factor(np.array([1, -0.9, 0, 0, 0])) == pytest.approx(1 - 2 / 60 * 24 * 0.9)
    # ... but a non-positive factor is 1: n = 6, 1 + (60·(−0.9) + 24·(−0.9))/60 < 0
    assert hamed_rao_factor(np.array([1, -0.9, -0.9, 0, 0, 0])) == 1.0


def test_bias_corrections() -> None:
    assert kendall_bias_corrected(0.5, 23) == pytest.approx((23 * 0.5 + 1) / 20)
    assert detrended_bias_corrected(0.5, 25) == pytest.approx((25 * 0.5 + 2) / 20)
    assert kendall_bias_corrected(-0.5, 23) == 0.0
    assert detrended_bias_corrected(0.99, 25) == PHI_MAX


def test_prewhitened_adds_the_slope_back() -> None:
    # residuals 1, 2, 0, 1: deviations 0, 1, −1, 0, r_1 = (0·1 + 1·(−1) + (−1)·0)/2 = −0.5
    y = prewhitened(np.array([1.0, 2.0, 0.0, 1.0]), np.array([0.0, 1.0, 2.0, 3.0]), 0.5)
    assert y.tolist() == pytest.approx([2 + 0.5 + 0.5, 0 + 1 + 1, 1 + 0 + 1.5])


def test_rank_autocorrelations_agree_with_the_trends_module() -> None:
    x = np.array([0.3, -1.2, 2.5, 0.7, 0.7, -0.4, 1.9, 0.1])
    rho = rank_autocorrelations(x)
    assert rho[0] == pytest.approx(1.0)
    assert rho[1] == pytest.approx(lag1_autocorrelation(average_ranks(x.tolist())))
    with pytest.raises(ValueError, match="constant"):
        rank_autocorrelations(np.ones(5))


def test_tiny_benchmark_run() -> None:
    rows = benchmark(CELLS, series=60, seed=SEED)
    assert len(rows) == len(CELLS) * len(METHODS)
    for row in rows:
        rates = [row[key] for key in ("size_5%", "size_0.5%", "fwer", "power")]
        if row["method"] == "true_phi" and row["phi"] is None:  # no true φ for 4-quarter sums
            assert rates == [None] * 4
        else:
            assert all(0 <= rate <= 1 for rate in rates)
    # persistent nulls (φ = 0.8, 24–120 points): plain Mann–Kendall rejects about half (≈ 30 of
    # 60), the chosen correction about 5% (≈ 3); the gap is far beyond what 60 series can blur
    size = {
        row["method"]: row["size_5%"]
        for row in rows
        if row["phi"] == 0.8 and row["points"] == "24–120"
    }
    assert size["plain"] > 0.3 > 0.15 > size["chosen"]
    table = markdown_table(rows).splitlines()
    # header, rule, then each method × 3 point ranges, but no true-φ row for the 4-quarter sums
    assert len(table) == 2 + 3 * len(METHODS) - 1
    assert table[2].startswith("| plain Mann–Kendall | 24–120 | 0 / 0.5 / 0.8 |")
    assert all(line.count("|") == 8 for line in table)
    # deterministic for a seed
    assert benchmark(CELLS[-1:], series=20, seed=SEED) == benchmark(CELLS[-1:], 20, SEED)
