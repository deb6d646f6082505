-- Is each concentration series centralizing, decentralizing, or neither? For every series of
-- decentralization_scoreboard and span (the whole series; the last N years where the series reaches
-- back that far, [trends] recent_years), partial periods left out: the Theil-Sen slope per year,
-- the Mann-Kendall test with Var(S) corrected for AR(1) autocorrelation (the uncorrected p-value
-- beside it), first and last values, and a verdict that respects each metric's direction
-- (a rising HHI centralizes; a rising Nakamoto coefficient, entropy or open-weight share
-- decentralizes). About 1,600 series are tested, so the verdict controls the false-discovery rate:
-- Benjamini-Hochberg q-values within each family (domain, span), significant at q <= [trends] fdr;
-- verdict_unadjusted is the verdict at p < [trends] alpha without that control.
-- materialized: table
-- column domain: bitcoin_mining, bitcoin_nodes, hashrate_geography, ai_models or ai_compute
-- column dimension: what the entities are (pool, owner, country, asn, organization, ...)
-- column variant: how the series was counted ('key=value; ...'), as in the scoreboard
-- column metric: concentration metric (hhi, nakamoto, ..., open_share)
-- column span: 'all' (the whole series) or 'last_ky' (points with period_start later than the last period_start minus k years; only where the series reaches back k years)
-- column period_first: period_start of the span's first point
-- column period_last: period_start of the span's last point
-- column points: periods in the span
-- column first_value: metric value at the first point
-- column last_value: metric value at the last point
-- column slope_per_year: Theil–Sen slope: median of the pairwise slopes, metric units per year (a point's time is the midpoint of its period; null with fewer than 2 distinct times)
-- column mann_kendall_s: Mann–Kendall S = Σ_{i<j} sign(x_j − x_i) over the span, in time order
-- column mann_kendall_z: Z with continuity correction, using the AR(1)-corrected Var(S) (null when not tested)
-- column p_value: two-sided Mann–Kendall p-value with Var(S) corrected for AR(1) autocorrelation: multiplied by variance_factor; the one the verdict uses; null when not tested
-- column p_value_independent: two-sided Mann–Kendall p-value assuming independent points (tie-corrected Var(S), no autocorrelation correction); null when not tested
-- column variance_factor: n/n*, the factor applied to Var(S): Hamed & Rao's (1998) factor for an AR(1) series over all lags, at an upper bound φ_u of the AR(1) coefficient (lag-1 autocorrelation of the ranks of the Theil–Sen-detrended series, bias-corrected, plus one standard error, at most 0.99); at least 1 (1 for an exactly linear series); null when not tested
-- column q_value: Benjamini–Hochberg q-value of p_value within the family (domain, span), as R's p.adjust(method = 'BH'): min over p_(j) ≥ p of p_(j)·m/j, capped at 1; null when not tested
-- column family_size: m, the series tested (with a p_value) in the family (domain, span); null when not tested
-- column verdict: 'centralizing', 'decentralizing' or 'no significant trend': significant when q_value ≤ fdr (fdr = 0.05, at least 6 points, partial periods left out); direction = sign(slope) × orientation, orientation +1 where a rising value means more concentration (hhi, cr1, cr3, cr5, gini, theil) and −1 where it means less (nakamoto, tau_033, tau_066, entropy_bits, entropy_normalized, effective_entities, open_share, compute_open_share); a Sen slope of 0 with a significant S takes S's sign; 'no significant trend' when S and a non-zero slope disagree in sign
-- column verdict_unadjusted: the verdict without multiple-testing control: significant when p_value < alpha (alpha = 0.05); a significant verdict_unadjusted with verdict 'no significant trend' did not survive the false-discovery-rate control
-- column note: why there is no test ('fewer than 6 points: not tested', 'constant series') or a caveat (fewer than 24 points: the autocorrelation is poorly estimated; detrended series constant; Sen slope 0 while S ≠ 0: direction from S; S and slope signs disagree: no direction); null otherwise
select
    domain, dimension, variant, metric, span, period_first, period_last, points, first_value,
    last_value, slope_per_year, mann_kendall_s, mann_kendall_z, p_value, p_value_independent,
    variance_factor, q_value, family_size, verdict, verdict_unadjusted, note
from intermediate.decentralization_trends
order by domain, dimension, variant, metric, span
