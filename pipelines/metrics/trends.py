"""Trends of the concentration series: a Theil–Sen slope, a Mann–Kendall test (with Var(S)
corrected for AR(1) autocorrelation) and a verdict, centralizing, decentralizing or no
significant trend, for every series of ``decentralization_scoreboard``.

Rules (``series_trends``):

* A series is (domain, dimension, variant, metric). A point's time is the midpoint of
  [period_start, period_end] in fractional years, 1970 + (days since 1970-01-01) / 365.2425, and
  each series is sorted by it. The slope is the Theil–Sen slope (median of the pairwise slopes)
  in the metric's units per year.
* Spans: ``None`` is the whole series (``'all'``); an int k (``'last_ky'``) keeps the points with
  period_start later than (last period_start − k calendar years). That span is only "where
  available": the series' first period_start must be at least k years before its last one, and
  the span must hold at least 2 points; otherwise its row is left out.
* Partial periods: scoreboard rows with ``partial`` true (a period the data covers for less than
  90% of its days, see ``decentralization_scoreboard``) are left out before anything else.
* The test is the Mann–Kendall test, two-sided, and only with at least ``min_points`` points
  (6 by default); with fewer the p-values are null and the verdict is 'no significant trend'
  (the slope and S are still given). A constant series is not tested.
* Autocorrelation: neighbouring periods of these series overlap in what they measure (the same
  pools, the same nodes, rolling windows), so positive serial correlation is expected and makes
  the plain test far too eager. ``p_value`` (the verdict's) multiplies Var(S) by the Hamed & Rao
  (1998) factor n/n* of an AR(1) series (``ar1_variance_factor``: all lags, the rank
  autocorrelations (6/π)·asin(φ^k/2)), with φ an upper bound estimated from the series
  (``ar1_upper_bound``): the lag-1 autocorrelation of the ranks of the Theil–Sen-detrended
  series, bias-corrected for short detrended series, plus one standard error. The factor is
  never below 1. This replaced Hamed–Rao's own estimate (only the lags significant at alpha),
  which on simulated null series called 8.8% of white-noise and 17–29% of AR(1) series
  significant at 5%; the AR(1) bound holds 2–6% (24–120 points, φ ≤ 0.8; README). Below
  ``RELIABLE_POINTS`` (24) points a strongly persistent series' φ is underestimated too often
  (7% at 5% for φ = 0.8, 12–24 points), which the note says; the plain p-value
  (``p_value_independent``) is reported beside it.
* Multiple testing: about 1,600 series are tested, so at 5% about 80 "significant" trends would
  be expected by chance alone. The corrected p-values are adjusted by Benjamini–Hochberg within
  each family (``FAMILY``: domain × span), giving ``q_value``; ``verdict`` is significant when
  q ≤ ``fdr`` (0.05 by default), which keeps the expected share of false trends among a
  family's significant verdicts at most ``fdr`` (independent or positively dependent tests).
  ``verdict_unadjusted`` is the verdict at p < ``alpha`` without that control. The control is
  only as good as the p-values; tests/test_trends.py checks both on simulated series.
* Orientation (``METRIC_ORIENTATION``): +1 where a rising value means more concentration (hhi,
  cr1, cr3, cr5, gini, theil), −1 where it means less (nakamoto, tau_033, tau_066, entropy_bits,
  entropy_normalized, effective_entities, and open_share, compute_open_share: a rising
  open-weight share decentralizes AI). The direction of a significant trend is
  sign(slope) × orientation: +1 centralizing, −1 decentralizing. If the signs of S and of the
  Sen slope disagree (possible with many ties) the verdict is 'no significant trend'.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import polars as pl

from pipelines.schemas.decentralization import DECENTRALIZATION_TRENDS

ALPHA = 0.05
FDR = 0.05
MIN_POINTS = 6
SPANS: tuple[int | None, ...] = (None, 3)
DAYS_PER_YEAR = 365.2425  # mean Gregorian year
PHI_MAX = 0.99  # the largest AR(1) coefficient the correction assumes (a near random walk)
RELIABLE_POINTS = 24  # below this a persistent series' AR(1) coefficient is poorly estimated
RANK_TOLERANCE = 1e-9  # detrended values this close (relative to the value range) tie
_EPOCH = date(1970, 1, 1)

CENTRALIZING = "centralizing"
DECENTRALIZING = "decentralizing"
NO_TREND = "no significant trend"
VERDICTS = (CENTRALIZING, DECENTRALIZING, NO_TREND)

KEYS = ["domain", "dimension", "variant", "metric"]
FAMILY = ["domain", "span"]  # the tests whose false discoveries are controlled together

METRIC_ORIENTATION: dict[str, int] = {
    "hhi": 1,
    "cr1": 1,
    "cr3": 1,
    "cr5": 1,
    "gini": 1,
    "theil": 1,
    "nakamoto": -1,
    "tau_033": -1,
    "tau_066": -1,
    "entropy_bits": -1,
    "entropy_normalized": -1,
    "effective_entities": -1,
    "open_share": -1,
    "compute_open_share": -1,
}


_SCHEMA = {
    "domain": pl.String,
    "dimension": pl.String,
    "variant": pl.String,
    "metric": pl.String,
    "span": pl.String,
    "period_first": pl.Date,
    "period_last": pl.Date,
    "points": pl.Int64,
    "first_value": pl.Float64,
    "last_value": pl.Float64,
    "slope_per_year": pl.Float64,
    "mann_kendall_s": pl.Int64,
    "mann_kendall_z": pl.Float64,
    "p_value": pl.Float64,
    "p_value_independent": pl.Float64,
    "variance_factor": pl.Float64,
    "q_value": pl.Float64,
    "family_size": pl.Int64,
    "verdict": pl.String,
    "verdict_unadjusted": pl.String,
    "note": pl.String,
}
assert list(_SCHEMA) == list(DECENTRALIZATION_TRENDS.descriptions)


@dataclass(frozen=True)
class MannKendall:
    """A Mann–Kendall test: points n, S, Var(S), Z (continuity-corrected), two-sided p, the factor
    Var(S) was multiplied by (1 for the plain test) and a note on the correction ('' if none)."""

    n: int
    s: int
    var_s: float
    z: float
    p: float
    variance_factor: float = 1.0
    note: str = ""


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def mann_kendall_z_p(s: int, var_s: float) -> tuple[float, float]:
    """Mann–Kendall Z from S and Var(S), with continuity correction, and its two-sided normal
    p-value; (0, 1) when S = 0 or Var(S) ≤ 0."""
    if var_s <= 0 or s == 0:
        return 0.0, 1.0
    z = (s - _sign(s)) / math.sqrt(var_s)
    return z, math.erfc(abs(z) / math.sqrt(2))


def mann_kendall(values: Sequence[float]) -> MannKendall:
    """Mann–Kendall test of ``values``, which must be in time order (oldest first).

    S = Σ_{i<j} sign(x_j − x_i); Var(S) = [n(n−1)(2n+5) − Σ_t t(t−1)(2t+5)]/18 over the groups
    of t tied values; Z = (S − 1)/√Var(S) if S > 0, (S + 1)/√Var(S) if S < 0, else 0; two-sided
    p = erfc(|Z|/√2). Points are assumed independent (see ``mann_kendall_ar1``).
    """
    x = [float(v) for v in values]
    n = len(x)
    s = sum((xj > xi) - (xj < xi) for i, xi in enumerate(x) for xj in x[i + 1 :])
    ties = sum(t * (t - 1) * (2 * t + 5) for t in Counter(x).values() if t > 1)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18
    z, p = mann_kendall_z_p(s, var_s)
    return MannKendall(n=n, s=s, var_s=var_s, z=z, p=p)


def theil_sen_slope(times: Sequence[float], values: Sequence[float]) -> float | None:
    """Median of the slopes (x_j − x_i)/(t_j − t_i) over the pairs with distinct times; None
    with fewer than 2 distinct times. Times in (fractional) years give a slope per year."""
    if len(times) != len(values):
        raise ValueError(f"{len(times)} times but {len(values)} values")
    t = [float(v) for v in times]
    x = [float(v) for v in values]
    slopes = [
        (x[j] - x[i]) / (t[j] - t[i])
        for i in range(len(t))
        for j in range(i + 1, len(t))
        if t[j] != t[i]
    ]
    return statistics.median(slopes) if slopes else None


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank (as scipy's rankdata)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def lag1_autocorrelation(x: Sequence[float]) -> float | None:
    """ρ_1 = Σ_{t<n} (x_t − x̄)(x_{t+1} − x̄) / Σ (x_t − x̄)² (the biased estimator, as
    statsmodels' acf); None when x is constant or has fewer than 2 values."""
    n = len(x)
    if n < 2:
        return None
    mean = sum(x) / n
    d = [v - mean for v in x]
    denom = sum(v * v for v in d)
    if denom == 0:
        return None
    return sum(d[t] * d[t + 1] for t in range(n - 1)) / denom


def ar1_upper_bound(rank_rho1: float, n: int) -> float:
    """The AR(1) coefficient the correction assumes, from the lag-1 autocorrelation of the ranks
    of the detrended series: φ̂ = 2·sin(π·ρ_1/6) (the Gaussian correlation with that rank
    correlation), bias-corrected for a series detrended by a fitted line, φ̃ = (n·φ̂ + 2)/(n − 5)
    (inverting E[φ̂] ≈ φ − (2 + 5φ)/n), clipped to [0, ``PHI_MAX``], plus one standard error:
    φ_u = φ̃ + √((1 − φ̃²)/n), at most ``PHI_MAX``. With n ≤ 5 there is no estimate: ``PHI_MAX``.
    """
    if n <= 5:
        return PHI_MAX
    phi_hat = 2 * math.sin(math.pi * rank_rho1 / 6)
    phi = min(max((n * phi_hat + 2) / (n - 5), 0.0), PHI_MAX)
    return min(phi + math.sqrt((1 - phi * phi) / n), PHI_MAX)


def ar1_variance_factor(phi: float, n: int) -> float:
    """n/n* of Hamed & Rao (1998) for an AR(1) series with coefficient ``phi`` ≥ 0, over all
    lags: 1 + 2/(n(n−1)(n−2)) · Σ_{k=1}^{n−1} (n−k)(n−k−1)(n−k−2) ρ_k, with the rank
    autocorrelation of a Gaussian AR(1), ρ_k = (6/π)·asin(φ^k/2). At least 1; 1 when n < 3."""
    if not 0 <= phi < 1:
        raise ValueError(f"phi must be in [0, 1), got {phi!r}")
    if n < 3:
        return 1.0
    total = sum(
        (n - k) * (n - k - 1) * (n - k - 2) * 6 / math.pi * math.asin(phi**k / 2)
        for k in range(1, n - 2)  # the terms k ≥ n − 2 are 0
    )
    return 1 + 2 / (n * (n - 1) * (n - 2)) * total


def _ar1_corrected(
    values: Sequence[float], times: Sequence[float], plain: MannKendall, slope: float | None
) -> MannKendall:
    n = plain.n
    if n < 3 or slope is None:
        return plain
    x = [float(v) for v in values]
    residuals = [v - slope * float(t) for v, t in zip(x, times, strict=True)]
    spread = max(x) - min(x)
    if spread > 0:  # float noise of an exact line must not become rank order
        residuals = [round(r / spread / RANK_TOLERANCE) for r in residuals]
    rho1 = lag1_autocorrelation(average_ranks(residuals))
    if rho1 is None:
        return replace(plain, note="detrended series constant: factor 1")
    factor = ar1_variance_factor(ar1_upper_bound(rho1, n), n)
    var_s = plain.var_s * factor
    z, p = mann_kendall_z_p(plain.s, var_s)
    return MannKendall(n, plain.s, var_s, z, p, factor)


def mann_kendall_ar1(values: Sequence[float], times: Sequence[float] | None = None) -> MannKendall:
    """Mann–Kendall test with Var(S) corrected for AR(1) autocorrelation (see the module
    docstring): ``values`` in time order, ``times`` their times (default 1..n).

    The series is detrended with its Theil–Sen slope (x_i − slope·t_i; residuals equal to within
    1e-9 of the value range tie, so an exact line is not ranked by rounding noise), the lag-1
    autocorrelation of the residuals' ranks gives the upper bound φ_u (``ar1_upper_bound``), and
    Var(S) is multiplied by ``ar1_variance_factor(φ_u, n)`` (never below 1). A constant
    detrended series has factor 1.
    """
    if times is None:
        times = range(1, len(values) + 1)
    if len(times) != len(values):
        raise ValueError(f"{len(times)} times but {len(values)} values")
    plain = mann_kendall(values)
    return _ar1_corrected(values, times, plain, theil_sen_slope(times, values))


def metric_orientation(metric: str) -> int:
    """+1 if a rising value means more concentration, −1 if less; ValueError if unknown."""
    try:
        return METRIC_ORIENTATION[metric]
    except KeyError:
        raise ValueError(
            f"unknown metric {metric!r}; known: {', '.join(sorted(METRIC_ORIENTATION))}"
        ) from None


def trend_direction(slope: float | None, orientation: int, s: int | None = None) -> str:
    """What a significant trend would mean: 'centralizing', 'decentralizing', or 'no significant
    trend' when there is no direction.

    Direction = sign(slope) × orientation: +1 centralizing, −1 decentralizing. A Sen slope of 0
    with S ≠ 0 (mostly tied values, e.g. a Nakamoto coefficient going from 1 to 2) takes its
    direction from S; S given and disagreeing in sign with a non-zero slope, or neither giving a
    direction, is no direction.
    """
    if orientation not in (1, -1):
        raise ValueError(f"orientation must be +1 or -1, got {orientation!r}")
    direction = _sign(slope) if slope else 0
    if s is not None and s != 0:
        if direction and _sign(s) != direction:
            return NO_TREND
        direction = _sign(s)
    if direction == 0:
        return NO_TREND
    return CENTRALIZING if direction * orientation > 0 else DECENTRALIZING


def verdict(
    slope: float | None,
    p: float | None,
    alpha: float,
    orientation: int,
    s: int | None = None,
) -> str:
    """The ``trend_direction`` when p < alpha, else 'no significant trend' (also when p is
    None)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    direction = trend_direction(slope, orientation, s)
    return direction if p is not None and p < alpha else NO_TREND


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini–Hochberg q-values, as R's ``p.adjust(p, method = "BH")``.

    With the m non-null p-values sorted, p_(1) ≤ … ≤ p_(m): q_(i) = min_{j ≥ i} p_(j)·m/j,
    capped at 1 (monotone: a smaller p never gets a larger q; equal p equal q). Rejecting every
    hypothesis with q ≤ f keeps the false-discovery rate at most f. None stays None and does not
    count in m. Returned in the input's order.
    """
    tested = sorted(
        ((float(p), i) for i, p in enumerate(p_values) if p is not None), key=lambda t: t[0]
    )
    m = len(tested)
    q: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m, 0, -1):
        p, i = tested[rank - 1]
        if not 0 <= p <= 1:
            raise ValueError(f"a p-value must be in [0, 1], got {p!r}")
        running = min(running, p * (m / rank))  # m/m = 1 exactly: q ≥ p holds in floats
        q[i] = running
    return q


def control_fdr(tests: pl.DataFrame, fdr: float) -> pl.DataFrame:
    """``tests`` (``FAMILY`` columns, ``p_value``, ``direction``) with ``q_value`` and
    ``family_size`` set and ``verdict`` = the direction where q_value ≤ ``fdr``, else 'no
    significant trend'. Q-values are Benjamini–Hochberg within each family (domain, span); rows
    without a p-value get nulls and no verdict. The row order is kept."""
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1), got {fdr!r}")
    q: list[float | None] = [None] * tests.height
    size: list[int | None] = [None] * tests.height
    families = tests.select(*FAMILY, "p_value").with_row_index("_row")
    for family in families.partition_by(FAMILY):
        p = family.get_column("p_value").to_list()
        m = sum(v is not None for v in p)
        rows = family.get_column("_row").to_list()
        for row, p_row, q_row in zip(rows, p, benjamini_hochberg(p), strict=True):
            q[row], size[row] = q_row, (m if p_row is not None else None)
    return tests.with_columns(
        pl.Series("q_value", q, pl.Float64),
        pl.Series("family_size", size, pl.Int64),
    ).with_columns(
        pl.when(pl.col("q_value") <= fdr)
        .then(pl.col("direction"))
        .otherwise(pl.lit(NO_TREND))
        .alias("verdict")
    )


def _years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def span_label(span: int | None) -> str:
    return "all" if span is None else f"last_{span}y"


def _trend_row(
    starts: list[date],
    times: list[float],
    values: list[float],
    orientation: int,
    alpha: float,
    min_points: int,
) -> dict[str, object]:
    n = len(values)
    slope = theil_sen_slope(times, values)
    plain = mann_kendall(values)
    row: dict[str, object] = {
        "period_first": starts[0],
        "period_last": starts[-1],
        "points": n,
        "first_value": values[0],
        "last_value": values[-1],
        "slope_per_year": slope,
        "mann_kendall_s": plain.s,
        "mann_kendall_z": None,
        "p_value": None,
        "p_value_independent": None,
        "variance_factor": None,
        "verdict_unadjusted": NO_TREND,
        "direction": NO_TREND,
        "note": None,
    }
    if n < min_points:
        row["note"] = f"fewer than {min_points} points: not tested"
        return row
    if min(values) == max(values):
        row["note"] = "constant series"
        return row
    corrected = _ar1_corrected(values, times, plain, slope)
    notes = [corrected.note] if corrected.note else []
    if n < RELIABLE_POINTS:
        notes.append(
            f"fewer than {RELIABLE_POINTS} points: the autocorrelation is poorly estimated "
            "(p_value can be too small for a strongly persistent series)"
        )
    if slope == 0 and plain.s != 0:
        notes.append("Sen slope 0 (mostly tied values) while S ≠ 0: direction from S")
    elif slope is not None and plain.s != 0 and _sign(plain.s) != _sign(slope):
        notes.append("signs of S and of the Sen slope disagree")
    row.update(
        mann_kendall_z=corrected.z,
        p_value=corrected.p,
        p_value_independent=plain.p,
        variance_factor=corrected.variance_factor,
        verdict_unadjusted=verdict(slope, corrected.p, alpha, orientation, s=plain.s),
        direction=trend_direction(slope, orientation, s=plain.s),
        note="; ".join(notes) or None,
    )
    return row


def series_trends(
    scoreboard: pl.DataFrame,
    spans: Sequence[int | None] = SPANS,
    alpha: float = ALPHA,
    fdr: float = FDR,
    min_points: int = MIN_POINTS,
) -> pl.DataFrame:
    """One row per series (domain, dimension, variant, metric) and span (the columns of
    ``DECENTRALIZATION_TRENDS``), sorted by domain, dimension, variant, metric, span. See the
    module docstring for the rules.
    ``scoreboard`` needs domain, dimension, variant, metric, period_start, period_end, value
    (rows with a null value are ignored) and may have ``partial`` (rows where it is true are
    left out)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if min_points < 3:
        raise ValueError(f"min_points must be at least 3, got {min_points!r}")
    for span in spans:
        if span is not None and (not isinstance(span, int) or span <= 0):
            raise ValueError(f"a span is None or a positive number of years, got {span!r}")
    needed = [*KEYS, "period_start", "period_end", "value"]
    missing = [c for c in needed if c not in scoreboard.columns]
    if missing:
        raise ValueError(f"scoreboard lacks columns: {', '.join(missing)}")
    for metric in scoreboard.get_column("metric").unique().to_list():
        metric_orientation(metric)

    complete = (
        scoreboard.filter(~pl.col("partial")) if "partial" in scoreboard.columns else scoreboard
    )
    frame = (
        complete.select(needed)
        .filter(pl.col("value").is_not_null())
        .with_columns(
            (
                (pl.col("period_start").cast(pl.Date).cast(pl.Int32).cast(pl.Float64))
                + pl.col("period_end").cast(pl.Date).cast(pl.Int32).cast(pl.Float64)
            )
            .truediv(2 * DAYS_PER_YEAR)
            .add(_EPOCH.year)
            .alias("_time"),
            pl.col("period_start").cast(pl.Date),
            pl.col("value").cast(pl.Float64),
        )
        .sort([*KEYS, "_time", "period_start"])
    )
    rows: list[dict[str, object]] = []
    if frame.height:
        for key, part in frame.partition_by(KEYS, as_dict=True, maintain_order=True).items():
            starts = part.get_column("period_start").to_list()
            times = part.get_column("_time").to_list()
            values = part.get_column("value").to_list()
            ids = dict(zip(KEYS, key, strict=True))
            orientation = metric_orientation(ids["metric"])
            for span in spans:
                if span is None:
                    keep = 0
                else:
                    cutoff = _years_before(starts[-1], span)
                    if starts[0] > cutoff:
                        continue  # the series does not reach back `span` years
                    keep = next(i for i, d in enumerate(starts) if d > cutoff)
                    if len(starts) - keep < 2:
                        continue
                row = _trend_row(
                    starts[keep:], times[keep:], values[keep:], orientation, alpha, min_points
                )
                rows.append({**ids, "span": span_label(span), **row})
    tests = pl.DataFrame(rows, schema={**_SCHEMA, "direction": pl.String})
    return (
        control_fdr(tests, fdr)
        .select(list(DECENTRALIZATION_TRENDS.descriptions))
        .sort([*KEYS, "span"])
    )


def fdr_summary(trends: pl.DataFrame) -> pl.DataFrame:
    """Per family (domain, span): series ``tested``, ``significant_unadjusted`` (p < alpha),
    ``significant`` (q ≤ fdr) and ``lost`` (significant before the control, not after)."""
    significant = pl.col("verdict") != NO_TREND
    unadjusted = pl.col("verdict_unadjusted") != NO_TREND
    return (
        trends.group_by(FAMILY)
        .agg(
            pl.col("p_value").is_not_null().sum().cast(pl.Int64).alias("tested"),
            unadjusted.sum().cast(pl.Int64).alias("significant_unadjusted"),
            significant.sum().cast(pl.Int64).alias("significant"),
            (unadjusted & ~significant).sum().cast(pl.Int64).alias("lost"),
        )
        .sort(FAMILY)
    )


def partial_summary(scoreboard: pl.DataFrame) -> pl.DataFrame:
    """The partial periods ``series_trends`` leaves out: one row per (domain, period_start,
    period_end) with the scoreboard ``rows`` it holds and their lowest and highest coverage."""
    return (
        scoreboard.filter(pl.col("partial"))
        .group_by("domain", "period_start", "period_end")
        .agg(
            pl.len().cast(pl.Int64).alias("rows"),
            pl.col("coverage").min().alias("coverage_min"),
            pl.col("coverage").max().alias("coverage_max"),
        )
        .sort("domain", "period_start", "period_end")
    )
