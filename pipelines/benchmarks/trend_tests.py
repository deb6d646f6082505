"""Benchmark of Mann–Kendall autocorrelation corrections on seeded simulated series.

``uv run --frozen python -m pipelines.benchmarks.trend_tests [--series 4000] [--seed 11] [--out F]``

Regenerates README's comparison table ("The verdict: scoreboard, trends, report"). Each cell is a
number of points (drawn uniformly per series) and a noise: Gaussian AR(1) with unit innovations
and coefficient φ = 0, 0.5 or 0.8 at monthly points (24–120 and 12–24 points), or overlapping
sums of 4 quarterly innovations, halved to unit variance, at quarterly points (8–40). A cell has
``--series`` null series and half as many with a linear trend of ``TREND_PER_YEAR`` (innovation
standard deviations a year). Per method:

* size at 5% and 0.5%: the share of null series with p below the level;
* BH family-wise error: the share of families of 10 null series in which Benjamini–Hochberg at
  q ≤ ``FDR`` finds any trend;
* power after BH: the share of trended series found by BH in families of 5 null and 5 trended.

Plain Mann–Kendall and the chosen correction are ``pipelines.metrics.trends``' own functions;
the alternatives are here, built on its helpers. Results go to ``--out`` (default:
``results.json`` in a new temporary directory); the table is printed as markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from pipelines.metrics.trends import (
    ALPHA,
    FDR,
    PHI_MAX,
    MannKendall,
    ar1_variance_factor,
    average_ranks,
    benjamini_hochberg,
    lag1_autocorrelation,
    mann_kendall,
    mann_kendall_ar1,
    mann_kendall_z_p,
    theil_sen_slope,
)

SEED = 11
SERIES = 4000  # null series per cell (and half as many trended)
TREND_PER_YEAR = 1.5  # innovation standard deviations a year
FAMILY_SIZE = 10
TRENDED_PER_FAMILY = 5
SIZE_LEVELS = {"size_5%": 0.05, "size_0.5%": 0.005}  # result key → level

METHODS = {  # id → the README table's label, in the table's order
    "plain": "plain Mann–Kendall",
    "hamed_rao": "Hamed–Rao (as before)",
    "hamed_rao_floored": "(a) Hamed–Rao floored at 1",
    "ar1_kendall": "(b) AR(1), Kendall bias correction",
    "tfpw": "(c) trend-free pre-whitening",
    "ar1_detrended": "AR(1), detrended bias correction",
    "chosen": "**AR(1), + one standard error (chosen)**",
    "true_phi": "AR(1) with the true φ (not available)",
}


@dataclass(frozen=True)
class Cell:
    """A simulation setting: ``low``–``high`` points; AR(1) noise with coefficient ``phi`` at
    monthly points, or (``phi`` None) overlapping 4-quarter sums at quarterly points."""

    low: int
    high: int
    phi: float | None

    @property
    def points_per_year(self) -> int:
        return 4 if self.phi is None else 12

    @property
    def points(self) -> str:
        span = f"{self.low}–{self.high}"
        return span if self.phi is not None else f"{span}, overlapping 4-quarter sums"


CELLS = (
    *(Cell(24, 120, phi) for phi in (0.0, 0.5, 0.8)),
    *(Cell(12, 24, phi) for phi in (0.0, 0.5, 0.8)),
    Cell(8, 40, None),
)


# --- the corrections not in pipelines.metrics.trends -----------------------------------------


def rank_autocorrelations(x: np.ndarray) -> np.ndarray:
    """ρ_k, k = 0..n−1, of the average ranks of ``x`` (the biased estimator, as
    ``trends.lag1_autocorrelation``); ``x`` must not be constant."""
    ranks = np.asarray(average_ranks(x.tolist()))
    d = ranks - ranks.mean()
    denominator = d @ d
    if denominator == 0:
        raise ValueError("constant series: no autocorrelation")
    return np.correlate(d, d, "full")[len(d) - 1 :] / denominator


def hamed_rao_factor(rho: np.ndarray, alpha: float = ALPHA) -> float:
    """n/n* as Hamed & Rao (1998) published it: 1 + 2/(n(n−1)(n−2)) · Σ (n−k)(n−k−1)(n−k−2) ρ_k
    over the lags k ≥ 1 with |ρ_k| > z_{1−α/2}/√n only; not floored at 1, but a non-positive
    factor is 1 (as the trends module did before the AR(1) correction)."""
    n = len(rho)
    k = np.arange(1, n)
    significant = np.abs(rho[1:]) > NormalDist().inv_cdf(1 - alpha / 2) / math.sqrt(n)
    weights = (n - k) * (n - k - 1) * (n - k - 2)
    factor = 1 + 2 / (n * (n - 1) * (n - 2)) * float(weights @ np.where(significant, rho[1:], 0))
    return factor if factor > 0 else 1.0


def gaussian_phi(rank_rho1: float) -> float:
    """The Gaussian lag-1 correlation with rank correlation ``rank_rho1``: 2·sin(π·ρ_1/6)."""
    return 2 * math.sin(math.pi * rank_rho1 / 6)


def kendall_bias_corrected(phi_hat: float, n: int) -> float:
    """φ̂ corrected for Kendall's bias of a series with an estimated mean, E[φ̂] ≈ φ − (1 + 3φ)/n:
    (n·φ̂ + 1)/(n − 3), clipped to [0, ``PHI_MAX``]."""
    return min(max((n * phi_hat + 1) / (n - 3), 0.0), PHI_MAX)


def detrended_bias_corrected(phi_hat: float, n: int) -> float:
    """φ̂ corrected for the bias of a series detrended by a fitted line, E[φ̂] ≈ φ − (2 + 5φ)/n:
    (n·φ̂ + 2)/(n − 5), clipped to [0, ``PHI_MAX``] (the chosen bound without its standard
    error)."""
    return min(max((n * phi_hat + 2) / (n - 5), 0.0), PHI_MAX)


def prewhitened(residuals: np.ndarray, times: np.ndarray, slope: float) -> np.ndarray:
    """Trend-free pre-whitening (Yue et al. 2002): the detrended series' lag-1 autocorrelation
    r_1 removed, y_t = e_t − r_1·e_{t−1}, and the Sen slope added back, + slope·t_t (t ≥ 2)."""
    r1 = lag1_autocorrelation(residuals.tolist())
    if r1 is None:
        raise ValueError("constant residuals: no autocorrelation")
    return residuals[1:] - r1 * residuals[:-1] + slope * times[1:]


def _corrected_p(plain: MannKendall, factor: float) -> float:
    return mann_kendall_z_p(plain.s, plain.var_s * factor)[1]


def p_values(values: np.ndarray, times: np.ndarray, phi: float | None) -> dict[str, float | None]:
    """Every method's two-sided p-value for one series (``METHODS``' ids); ``true_phi`` is None
    when the noise is not AR(1) (``phi`` None)."""
    n = len(values)
    plain = mann_kendall(values.tolist())
    slope = theil_sen_slope(times.tolist(), values.tolist())
    if slope is None:
        raise ValueError("fewer than 2 distinct times")
    residuals = values - slope * times
    rho = rank_autocorrelations(residuals)
    hamed_rao = hamed_rao_factor(rho)
    phi_hat = gaussian_phi(float(rho[1]))
    return {
        "plain": plain.p,
        "hamed_rao": _corrected_p(plain, hamed_rao),
        "hamed_rao_floored": _corrected_p(plain, max(hamed_rao, 1.0)),
        "ar1_kendall": _corrected_p(
            plain, ar1_variance_factor(kendall_bias_corrected(phi_hat, n), n)
        ),
        "tfpw": mann_kendall(prewhitened(residuals, times, slope).tolist()).p,
        "ar1_detrended": _corrected_p(
            plain, ar1_variance_factor(detrended_bias_corrected(phi_hat, n), n)
        ),
        "chosen": mann_kendall_ar1(values.tolist(), times.tolist()).p,
        "true_phi": None if phi is None else _corrected_p(plain, ar1_variance_factor(phi, n)),
    }


# --- simulation --------------------------------------------------------------------------------


def ar1_noise(rng: np.random.Generator, count: int, length: int, phi: float) -> np.ndarray:
    """``count`` × ``length`` stationary Gaussian AR(1) series with unit innovations."""
    innovations = rng.standard_normal((count, length))
    noise = np.empty_like(innovations)
    noise[:, 0] = innovations[:, 0] / math.sqrt(1 - phi**2)
    for i in range(1, length):
        noise[:, i] = phi * noise[:, i - 1] + innovations[:, i]
    return noise


def four_quarter_sums(rng: np.random.Generator, count: int, length: int) -> np.ndarray:
    """``count`` × ``length`` overlapping sums of 4 standard normal quarterly innovations, halved
    (unit variance; neighbours correlate 0.75, 0.5, 0.25)."""
    e = rng.standard_normal((count, length + 3))
    return (e[:, :-3] + e[:, 1:-2] + e[:, 2:-1] + e[:, 3:]) / 2


def simulate_p_values(
    cell: Cell, count: int, trend_per_year: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Each method's p-values (NaN where it has none) for ``count`` series of ``cell`` with a
    linear trend of ``trend_per_year``."""
    lengths = rng.integers(cell.low, cell.high + 1, size=count)
    if cell.phi is None:
        noise = four_quarter_sums(rng, count, cell.high)
    else:
        noise = ar1_noise(rng, count, cell.high, cell.phi)
    p = {method: np.full(count, np.nan) for method in METHODS}
    for i, n in enumerate(lengths):
        times = np.arange(n) / cell.points_per_year
        values = noise[i, :n] + trend_per_year * times
        for method, value in p_values(values, times, cell.phi).items():
            if value is not None:
                p[method][i] = value
    return p


def _bh_found(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg (``trends.benjamini_hochberg``) discoveries at q ≤ ``FDR``."""
    return np.asarray(benjamini_hochberg(p.tolist())) <= FDR


def error_rates(null: np.ndarray, trended: np.ndarray) -> dict[str, float | None]:
    """Size at each of ``SIZE_LEVELS`` (share of null p below it), BH family-wise error over
    families of ``FAMILY_SIZE`` null p-values and power after BH in families of
    ``TRENDED_PER_FAMILY`` trended and as many null p-values; all None when p is NaN."""
    keys = [*SIZE_LEVELS, "fwer", "power"]
    if np.isnan(null).any() or np.isnan(trended).any():
        return dict.fromkeys(keys)
    families = null[: len(null) // FAMILY_SIZE * FAMILY_SIZE].reshape(-1, FAMILY_SIZE)
    mixed = min(len(null), len(trended)) // TRENDED_PER_FAMILY
    mixed_families = np.hstack(  # each row: TRENDED_PER_FAMILY null, then as many trended
        [
            null[: mixed * TRENDED_PER_FAMILY].reshape(mixed, TRENDED_PER_FAMILY),
            trended[: mixed * TRENDED_PER_FAMILY].reshape(mixed, TRENDED_PER_FAMILY),
        ]
    )
    found = [_bh_found(family)[TRENDED_PER_FAMILY:] for family in mixed_families]
    return dict(
        zip(
            keys,
            [
                *(float(np.mean(null < level)) for level in SIZE_LEVELS.values()),
                float(np.mean([_bh_found(family).any() for family in families])),
                float(np.mean(found)),
            ],
            strict=True,
        )
    )


def benchmark(
    cells: tuple[Cell, ...], series: int, seed: int, progress: bool = False
) -> list[dict[str, Any]]:
    """One row per cell and method: points, phi, method, ``error_rates``, series counts. Each cell
    has its own generator (``seed``, cell index), so a cell's figures do not depend on the
    others."""
    if series < FAMILY_SIZE:
        raise ValueError(f"series must be at least {FAMILY_SIZE}, got {series}")
    rows: list[dict[str, Any]] = []
    for index, cell in enumerate(cells):
        started = time.perf_counter()
        rng = np.random.default_rng([seed, index])
        null = simulate_p_values(cell, series, 0.0, rng)
        trended = simulate_p_values(cell, series // 2, TREND_PER_YEAR, rng)
        for method in METHODS:
            rows.append(
                {
                    "points": cell.points,
                    "phi": cell.phi,
                    "method": method,
                    **error_rates(null[method], trended[method]),
                    "null_series": series,
                    "trended_series": series // 2,
                }
            )
        if progress:
            phi = "overlapping sums" if cell.phi is None else f"φ = {cell.phi}"
            print(
                f"  {cell.low}–{cell.high} points, {phi}: {series + series // 2:,} series "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
    return rows


# --- the table ---------------------------------------------------------------------------------


def _percent(value: float | None, integer: bool) -> str:
    """A share as README writes it: whole percent, or one decimal below 10% (sizes)."""
    if value is None:
        return "—"
    percent = 100 * value
    return f"{percent:.0f}" if integer or round(percent, 1) >= 10 else f"{percent:.1f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The README's table: one line per method and points, the cell's φ values joined by ' / '."""
    columns = (("size_5%", False), ("size_0.5%", False), ("fwer", True), ("power", True))
    lines = [
        "| method | points | φ | size at 5% | size at 0.5% | BH family-wise error (all null) "
        "| power after BH |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for method, label in METHODS.items():
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["method"] == method:
                groups.setdefault(row["points"], []).append(row)
        for points, group in groups.items():
            if all(row["size_5%"] is None for row in group):
                continue
            phis = " / ".join("—" if r["phi"] is None else f"{r['phi']:g}" for r in group)
            cells = [
                " / ".join(_percent(r[key], integer) for r in group) + "%"
                for key, integer in columns
            ]
            lines.append(f"| {label} | {points} | {phis} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=SERIES, help="null series per cell")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed")
    parser.add_argument("--out", type=Path, help="results JSON (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.series < FAMILY_SIZE:
        parser.error(f"--series must be at least {FAMILY_SIZE}")
    out = args.out or Path(tempfile.mkdtemp(prefix="trend-benchmark-")) / "results.json"
    print(
        f"{len(CELLS)} cells × {args.series:,} null + {args.series // 2:,} trended series, "
        f"seed {args.seed}, {len(METHODS)} methods"
    )
    started = time.perf_counter()
    rows = benchmark(CELLS, args.series, args.seed, progress=True)
    seconds = time.perf_counter() - started
    table = markdown_table(rows)
    command = ["python -m pipelines.benchmarks.trend_tests", *(argv or sys.argv[1:])]
    results = {
        "command": " ".join(command),
        "seed": args.seed,
        "series": args.series,
        "trend_per_year": TREND_PER_YEAR,
        "fdr": FDR,
        "seconds": round(seconds, 1),
        "methods": METHODS,
        "rows": rows,
        "table": table,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\n{table}\n\n{seconds:.0f} s; results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
