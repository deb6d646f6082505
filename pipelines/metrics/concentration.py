"""Concentration metrics: from counts per entity (blocks per pool, nodes per AS, ...) to numbers.

Every metric uses the shares ``s_i = c_i / n`` of the entities with a positive count ``c_i``
(``n`` = their total); entities with a zero count are ignored. Counts may be fractional (e.g.
split credits). The scalar functions take one group's counts; ``concentration_table`` computes
the same numbers for many groups at once in Polars and agrees with them (tested).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from numbers import Integral

import polars as pl

Z95 = 1.959964  # two-sided 95% normal quantile
EPS = 1e-12  # so that a cumulative share of exactly the threshold counts as reaching it
TAU_033 = 0.33
TAU_066 = 0.66


def _values(counts: Iterable[float]) -> list[float]:
    """The counts validated (finite, non-negative), ints kept exact."""
    values = [int(c) if isinstance(c, Integral) else float(c) for c in counts]
    for c in values:
        if not math.isfinite(c) or c < 0:
            raise ValueError(f"counts must be finite and non-negative, got {c!r}")
    return values


def _positive(counts: Iterable[float]) -> list[float]:
    """The positive counts; ValueError when there are none."""
    positive = [c for c in _values(counts) if c > 0]
    if not positive:
        raise ValueError("no positive counts: concentration is undefined")
    return positive


def _shares(counts: Iterable[float]) -> tuple[list[float], float]:
    """The shares s_i of the positive counts, and their total n."""
    positive = _positive(counts)
    total = sum(positive)
    return [c / total for c in positive], total


def ordered_sum(expr: pl.Expr) -> pl.Expr:
    """``expr.sum()`` added one by one in ascending order of the values (0 when there are none),
    so that a float sum does not depend on the order of the rows, which Polars does not keep:
    without it two runs of one build differ in the last bits, and a trend test's near-ties with
    them. (``sort().sum()`` would not do: Polars drops a sort before a sum.)"""
    return expr.sort().cum_sum().last().fill_null(0)


def _threshold_rank(cumulative_shares: Iterable[float], threshold: float) -> int:
    """1-based position of the first value ≥ threshold (the last position if none is)."""
    m = 0
    for m, share in enumerate(cumulative_shares, start=1):
        if share >= threshold - EPS:
            return m
    return m


def hhi(counts: Iterable[float]) -> float:
    """Herfindahl-Hirschman index Σ(100·s_i)², from 10,000/k (equal shares) to 10,000 (one)."""
    return 10_000 * sum(s * s for s in _shares(counts)[0])


def nakamoto(counts: Iterable[float], threshold: float = 0.5) -> int:
    """Smallest number of entities, largest first, whose cumulative share is ≥ ``threshold``."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    desc = sorted(_positive(counts), reverse=True)
    total = sum(desc)
    return _threshold_rank((c / total for c in accumulate(desc)), threshold)


def tau(counts: Iterable[float], t: float) -> int:
    """τ-decentralisation index: ``nakamoto`` at threshold ``t`` (0.33 and 0.66 are reported)."""
    return nakamoto(counts, t)


def concentration_ratio(counts: Iterable[float], k: int) -> float:
    """CRk: sum of the k largest shares (1.0 when there are at most k entities)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    desc = sorted(_positive(counts), reverse=True)
    if k >= len(desc):
        return 1.0
    return sum(desc[:k]) / sum(desc)


def gini(counts: Iterable[float]) -> float:
    """Gini coefficient over entities with a positive count, values sorted ascending:
    G = 2·Σ i·x_(i) / (k·Σx) − (k+1)/k; 0 for equal counts or a single entity."""
    asc = sorted(_positive(counts))
    k = len(asc)
    if k == 1:
        return 0.0
    weighted = sum(i * x for i, x in enumerate(asc, start=1))
    return 2 * weighted / (k * sum(asc)) - (k + 1) / k


def entropy_bits(counts: Iterable[float]) -> float:
    """Shannon entropy H = −Σ s_i·log2(s_i), in bits."""
    return 0.0 - sum(s * math.log2(s) for s in _shares(counts)[0])  # 0.0 − x: never −0.0


def entropy_normalized(counts: Iterable[float]) -> float | None:
    """Entropy over its maximum, H / log2(k), in [0, 1]; None when k ≤ 1 (undefined)."""
    shares, _ = _shares(counts)
    if len(shares) <= 1:
        return None
    return -sum(s * math.log2(s) for s in shares) / math.log2(len(shares))


def theil(counts: Iterable[float]) -> float:
    """Theil T index Σ s_i·ln(k·s_i) = ln(k) − H_nats; 0 for equal shares, ln(k) at most."""
    shares, _ = _shares(counts)
    k = len(shares)
    return sum(s * math.log(k * s) for s in shares)


def effective_entities(counts: Iterable[float]) -> float:
    """Effective number of entities 1/Σs_i² (= 10,000/HHI): k for k equal entities."""
    return 1 / sum(s * s for s in _shares(counts)[0])


def wilson_interval(
    successes: float, n: float, z: float = Z95
) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for the proportion successes/n; (None, None) when n = 0.

    The bound is exactly 0 at 0 successes and exactly 1 at n successes.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return None, None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else min(max(center - half, 0.0), 1.0)
    high = 1.0 if successes == n else min(max(center + half, 0.0), 1.0)
    return low, high


def hhi_interval(counts: Iterable[float], z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval for the HHI, the counts being a multinomial sample of n draws.

    Blocks are a sample of hashrate: with true shares s, the plug-in estimator Σŝ² has, by the
    delta method, Var(Σŝ²) ≈ (4/n)·(Σs³ − (Σs²)²); the interval is HHI ± z·10,000·√Var, clipped
    to [0, 10,000]. The estimator's bias, E[Σŝ²] − Σs² = (1 − Σs²)/n, is small against the
    interval's width for n ≥ ~100 and is not corrected. When the variance term is 0 (one entity,
    or exactly equal shares, where the delta method degenerates) the interval is (HHI, HHI).
    """
    shares, n = _shares(counts)
    sum2 = sum(s * s for s in shares)
    sum3 = sum(s * s * s for s in shares)
    value = 10_000 * sum2
    variance = max(4 / n * (sum3 - sum2 * sum2), 0.0)
    if variance == 0:
        return value, value
    half = z * 10_000 * math.sqrt(variance)
    return max(value - half, 0.0), min(value + half, 10_000.0)


def nakamoto_interval(
    counts: Iterable[float], threshold: float = 0.5, z: float = Z95
) -> tuple[int, int]:
    """Interval for the Nakamoto coefficient, conditional on the observed ranking of entities.

    With entities ranked by observed count, the cumulative share S_m of the top m is a binomial
    proportion of the n draws (blocks). The interval is [smallest m whose Wilson upper bound of
    S_m is ≥ threshold, smallest m whose Wilson lower bound is ≥ threshold], the latter capped at
    k. Uncertainty in the ranking itself is not included.
    """
    desc = sorted(_positive(counts), reverse=True)
    n = sum(desc)
    bounds = [wilson_interval(min(c, n), n, z) for c in accumulate(desc)]
    low = _threshold_rank((high for _, high in bounds), threshold)
    high = _threshold_rank((low for low, _ in bounds), threshold)
    return low, high


@dataclass(frozen=True)
class Concentration:
    """Every metric for one group; field names match the columns of ``concentration_table``."""

    total: float
    entities: int
    hhi: float
    hhi_ci_low: float
    hhi_ci_high: float
    nakamoto: int
    nakamoto_ci_low: int
    nakamoto_ci_high: int
    tau_033: int
    tau_066: int
    cr1: float
    cr3: float
    cr5: float
    gini: float
    entropy_bits: float
    entropy_normalized: float | None
    theil: float
    effective_entities: float
    unknown_share: float


def concentration(
    counts: Sequence[float],
    labels: Sequence[str] | None = None,
    unknown_label: str | None = None,
) -> Concentration:
    """All metrics for one group. Counts with the same label are summed first; the entity
    ``unknown_label`` counts like any other entity and its share is reported as unknown_share."""
    if labels is None:
        if unknown_label is not None:
            raise ValueError("unknown_label needs labels")
        values = _values(counts)
        unknown = 0.0
    else:
        if len(labels) != len(counts):
            raise ValueError(f"{len(counts)} counts but {len(labels)} labels")
        by_label: dict[str, float] = {}
        for label, c in zip(labels, _values(counts), strict=True):
            by_label[label] = by_label.get(label, 0) + c
        values = list(by_label.values())
        unknown = by_label.get(unknown_label, 0.0) if unknown_label is not None else 0.0
    positive = _positive(values)
    total = sum(positive)
    hhi_low, hhi_high = hhi_interval(positive)
    nakamoto_low, nakamoto_high = nakamoto_interval(positive)
    return Concentration(
        total=total,
        entities=len(positive),
        hhi=hhi(positive),
        hhi_ci_low=hhi_low,
        hhi_ci_high=hhi_high,
        nakamoto=nakamoto(positive),
        nakamoto_ci_low=nakamoto_low,
        nakamoto_ci_high=nakamoto_high,
        tau_033=tau(positive, TAU_033),
        tau_066=tau(positive, TAU_066),
        cr1=concentration_ratio(positive, 1),
        cr3=concentration_ratio(positive, 3),
        cr5=concentration_ratio(positive, 5),
        gini=gini(positive),
        entropy_bits=entropy_bits(positive),
        entropy_normalized=entropy_normalized(positive),
        theil=theil(positive),
        effective_entities=effective_entities(positive),
        unknown_share=unknown / total,
    )


# --- vectorised (Polars) versions -------------------------------------------------------------


def wilson_exprs(successes: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """``wilson_interval`` as Polars expressions (low, high); null where n = 0."""
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = z * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / denominator
    low = (
        pl.when(n <= 0)
        .then(None)
        .when(successes <= 0)
        .then(0.0)
        .otherwise((center - half).clip(0.0, 1.0))
    )
    high = (
        pl.when(n <= 0)
        .then(None)
        .when(successes >= n)
        .then(1.0)
        .otherwise((center + half).clip(0.0, 1.0))
    )
    return low, high


def _invalid(counts: pl.Expr) -> pl.Expr:
    """Whether each count is negative or not finite (null counts are not invalid)."""
    as_float = counts.cast(pl.Float64)
    return (as_float < 0) | ~as_float.is_finite()


def _threshold_rank_expr(cumulative: pl.Expr, threshold: float) -> pl.Expr:
    """In a group: 1 + how many of the (increasing) row values are below threshold, at most k."""
    return pl.min_horizontal((cumulative < threshold - EPS).sum() + 1, pl.len())


GROUP_TOTAL = "_n"
RANK_COLUMNS = (GROUP_TOTAL, "_k", "_rank", "_cum")  # group total and size, rank, cumulative


def rank_columns(group_by: list[str], count: str = "count") -> list[pl.Expr]:
    """``RANK_COLUMNS`` for rows sorted by group, then count descending: each group's total count
    and number of rows, and each row's rank in its group and cumulative count."""
    x = pl.col(count).cast(pl.Float64)
    return [
        x.sum().over(group_by).alias(GROUP_TOTAL),
        pl.len().over(group_by).alias("_k"),
        pl.int_range(1, pl.len() + 1).over(group_by).alias("_rank"),
        x.cum_sum().over(group_by).alias("_cum"),
    ]


def concentration_exprs(
    entity: str = "entity", count: str = "count", unknown_entity: str | None = "unknown"
) -> list[pl.Expr]:
    """Aggregations giving ``total`` and every ``Concentration`` field, in order, over groups of
    rows ranked as ``rank_columns`` says (positive counts only)."""
    x = pl.col(count).cast(pl.Float64)
    n, k, rank, cumulative = (pl.col(name) for name in RANK_COLUMNS)
    share = x / n
    sum2 = share.pow(2).sum()
    sum3 = share.pow(3).sum()
    hhi_value = 10_000 * sum2
    hhi_half = Z95 * 10_000 * (4 / n.first() * (sum3 - sum2.pow(2))).clip(0.0).sqrt()
    wilson_low, wilson_high = wilson_exprs(cumulative, n)
    entropy = 0.0 - (share * share.log(2)).sum()  # 0.0 − x: never −0.0
    is_unknown = pl.col(entity) == unknown_entity if unknown_entity is not None else pl.lit(False)
    unknown = pl.when(is_unknown).then(x).otherwise(0.0).sum() / n.first()

    def top(m: int) -> pl.Expr:
        top_m = pl.when(rank <= m).then(x).otherwise(0.0).sum() / n.first()
        return pl.when(pl.len() <= m).then(1.0).otherwise(top_m)

    return [
        pl.col(count).sum().alias("total"),
        pl.len().cast(pl.Int64).alias("entities"),
        hhi_value.alias("hhi"),
        (hhi_value - hhi_half).clip(lower_bound=0.0).alias("hhi_ci_low"),
        (hhi_value + hhi_half).clip(upper_bound=10_000.0).alias("hhi_ci_high"),
        _threshold_rank_expr(cumulative / n, 0.5).cast(pl.Int64).alias("nakamoto"),
        _threshold_rank_expr(wilson_high, 0.5).cast(pl.Int64).alias("nakamoto_ci_low"),
        _threshold_rank_expr(wilson_low, 0.5).cast(pl.Int64).alias("nakamoto_ci_high"),
        _threshold_rank_expr(cumulative / n, TAU_033).cast(pl.Int64).alias("tau_033"),
        _threshold_rank_expr(cumulative / n, TAU_066).cast(pl.Int64).alias("tau_066"),
        top(1).alias("cr1"),
        top(3).alias("cr3"),
        top(5).alias("cr5"),
        # the spec's Σ i·x_(i) over ascending i is (k+1)·Σx − Σ rank·x over descending ranks
        pl.when(pl.len() == 1)
        .then(0.0)
        .otherwise((k.first() + 1) / k.first() - 2 * (rank * x).sum() / (k * n).first())
        .alias("gini"),
        entropy.alias("entropy_bits"),
        pl.when(pl.len() > 1)
        .then(entropy / k.first().cast(pl.Float64).log(2))
        .alias("entropy_normalized"),
        (share * (k * share).log()).sum().alias("theil"),
        (1 / sum2).alias("effective_entities"),
        unknown.alias("unknown_share"),
    ]


def concentration_table(
    counts: pl.DataFrame | pl.LazyFrame,
    group_by: list[str],
    entity: str = "entity",
    count: str = "count",
    unknown_entity: str | None = "unknown",
) -> pl.DataFrame:
    """Every ``Concentration`` metric for each group, vectorised in Polars (no Python per group).

    ``counts`` has a row per (group..., entity) with a count; rows repeating a (group, entity) are
    summed, null counts ignored, and groups without any positive count are left out. The output
    has the group columns, then ``total`` (the summed count, e.g. blocks: callers rename it), then
    the ``Concentration`` fields in order, sorted by the group columns. Entities are ranked by count
    descending, ties by entity ascending. Raises ValueError on negative or non-finite counts.
    """
    ranked = (
        counts.lazy()
        .group_by([*group_by, entity])
        .agg(ordered_sum(pl.col(count)), _invalid(pl.col(count)).any().alias("_invalid"))
        .filter((pl.col(count) > 0) | pl.col("_invalid"))
        .sort([*group_by, count, entity], descending=[False] * len(group_by) + [True, False])
        .with_columns(rank_columns(group_by, count))
    )
    out = (
        ranked.group_by(group_by)
        .agg(*concentration_exprs(entity, count, unknown_entity), pl.col("_invalid").any())
        .sort(group_by)
        .collect()
    )
    if out["_invalid"].any():
        raise ValueError(f"column {count!r} has negative or non-finite counts")
    return out.drop("_invalid")


def share_columns(count: pl.Expr, total: pl.Expr, z: float = Z95) -> list[pl.Expr]:
    """``share`` of ``total`` (null where the total is not positive) and its Wilson interval
    (``share_ci_low``, ``share_ci_high``)."""
    low, high = wilson_exprs(count, total, z)
    return [
        pl.when(total > 0).then(count / total).alias("share"),
        low.alias("share_ci_low"),
        high.alias("share_ci_high"),
    ]


def share_table(
    counts: pl.DataFrame | pl.LazyFrame,
    group_by: list[str],
    entity: str = "entity",
    count: str = "count",
    z: float = Z95,
) -> pl.DataFrame:
    """Each row's ``share`` of its group's total count, with a Wilson interval
    (``share_ci_low``, ``share_ci_high``); every input row and column is kept. Sorted by the
    group columns, then share descending, then entity. Shares are null in an all-zero group;
    raises ValueError on negative or non-finite counts."""
    total = ordered_sum(pl.col(count)).over(group_by)
    out = (
        counts.lazy()
        .with_columns(share_columns(pl.col(count), total, z))
        .sort([*group_by, "share", entity], descending=[False] * len(group_by) + [True, False])
        .collect()
    )
    if out.select(_invalid(pl.col(count)).any()).item():
        raise ValueError(f"column {count!r} has negative or non-finite counts")
    return out
