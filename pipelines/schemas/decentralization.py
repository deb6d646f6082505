"""Contract of the cross-domain table: trend tests of every scoreboard series."""

import polars as pl

from pipelines.schemas import table

DECENTRALIZATION_TRENDS = table(
    "intermediate.decentralization_trends",
    (
        "For every scoreboard series and span (whole series, last N years), partial periods left "
        "out: Theil-Sen slope per year, Mann-Kendall test (autocorrelation-corrected p-value), its"
        " Benjamini-Hochberg q-value within the domain and span, and a verdict at the "
        "false-discovery rate: centralizing, decentralizing or no significant trend."
    ),
    (
        "domain",
        pl.String(),
        "bitcoin_mining, bitcoin_nodes, hashrate_geography, ai_models or ai_compute",
    ),
    (
        "dimension",
        pl.String(),
        "what the entities are (pool, owner, country, asn, organization, ...)",
    ),
    ("variant", pl.String(), "how the series was counted ('key=value; ...'), as in the scoreboard"),
    ("metric", pl.String(), "concentration metric (hhi, nakamoto, ..., open_share)"),
    (
        "span",
        pl.String(),
        (
            "'all' (the whole series) or 'last_ky' (points with period_start later than the last "
            "period_start minus k years; only where the series reaches back k years)"
        ),
    ),
    ("period_first", pl.Date(), "period_start of the span's first point"),
    ("period_last", pl.Date(), "period_start of the span's last point"),
    ("points", pl.Int64(), "periods in the span"),
    ("first_value", pl.Float64(), "metric value at the first point"),
    ("last_value", pl.Float64(), "metric value at the last point"),
    (
        "slope_per_year",
        pl.Float64(),
        (
            "Theil–Sen slope: median of the pairwise slopes, metric units per year (a point's time"
            " is the midpoint of its period; null with fewer than 2 distinct times)"
        ),
    ),
    (
        "mann_kendall_s",
        pl.Int64(),
        "Mann–Kendall S = Σ_{i<j} sign(x_j − x_i) over the span, in time order",
    ),
    (
        "mann_kendall_z",
        pl.Float64(),
        "Z with continuity correction, using the AR(1)-corrected Var(S) (null when not tested)",
    ),
    (
        "p_value",
        pl.Float64(),
        (
            "two-sided Mann–Kendall p-value with Var(S) corrected for AR(1) autocorrelation: "
            "multiplied by variance_factor; the one the verdict uses; null when not tested"
        ),
    ),
    (
        "p_value_independent",
        pl.Float64(),
        (
            "two-sided Mann–Kendall p-value assuming independent points (tie-corrected Var(S), no "
            "autocorrelation correction); null when not tested"
        ),
    ),
    (
        "variance_factor",
        pl.Float64(),
        (
            "n/n*, the factor applied to Var(S): Hamed & Rao's (1998) factor for an AR(1) series "
            "over all lags, at an upper bound φ_u of the AR(1) coefficient (lag-1 autocorrelation "
            "of the ranks of the Theil–Sen-detrended series, bias-corrected, plus one standard "
            "error, at most 0.99); at least 1 (1 for an exactly linear series); null when not "
            "tested"
        ),
    ),
    (
        "q_value",
        pl.Float64(),
        (
            "Benjamini–Hochberg q-value of p_value within the family (domain, span), as R's "
            "p.adjust(method = 'BH'): min over p_(j) ≥ p of p_(j)·m/j, capped at 1; null when not "
            "tested"
        ),
    ),
    (
        "family_size",
        pl.Int64(),
        "m, the series tested (with a p_value) in the family (domain, span); null when not tested",
    ),
    (
        "verdict",
        pl.String(),
        (
            "'centralizing', 'decentralizing' or 'no significant trend': significant when q_value "
            "≤ fdr (fdr = 0.05, at least 6 points, partial periods left out); direction = "
            "sign(slope) × orientation, orientation +1 where a rising value means more "
            "concentration (hhi, cr1, cr3, cr5, gini, theil) and −1 where it means less (nakamoto,"
            " tau_033, tau_066, entropy_bits, entropy_normalized, effective_entities, open_share, "
            "compute_open_share); a Sen slope of 0 with a significant S takes S's sign; 'no "
            "significant trend' when S and a non-zero slope disagree in sign"
        ),
    ),
    (
        "verdict_unadjusted",
        pl.String(),
        (
            "the verdict without multiple-testing control: significant when p_value < alpha (alpha"
            " = 0.05); a significant verdict_unadjusted with verdict 'no significant trend' did "
            "not survive the false-discovery-rate control"
        ),
    ),
    (
        "note",
        pl.String(),
        (
            "why there is no test ('fewer than 6 points: not tested', 'constant series') or a "
            "caveat (fewer than 24 points: the autocorrelation is poorly estimated; detrended "
            "series constant; Sen slope 0 while S ≠ 0: direction from S; S and slope signs "
            "disagree: no direction); null otherwise"
        ),
    ),
)
