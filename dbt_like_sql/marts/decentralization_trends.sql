-- Is each concentration series centralizing, decentralizing, or neither? For every series of
-- decentralization_scoreboard and span (the whole series; the last N years where the series reaches
-- back that far, [trends] recent_years), partial periods left out: the Theil-Sen slope per year,
-- the Mann-Kendall test with Var(S) corrected for AR(1) autocorrelation (the uncorrected p-value
-- beside it), first and last values, and a verdict that respects each metric's direction
-- (a rising HHI centralizes; a rising Nakamoto coefficient, entropy or open-weight share
-- decentralizes). About 1,600 series are tested, so the verdict controls the false-discovery rate:
-- Benjamini-Hochberg q-values within each family (domain, span), significant at q <= [trends] fdr;
-- verdict_unadjusted is the verdict at p < [trends] alpha without that control.
-- materialized: view
select
    domain, dimension, variant, metric, span, period_first, period_last, points, first_value,
    last_value, slope_per_year, mann_kendall_s, mann_kendall_z, p_value, p_value_independent,
    variance_factor, q_value, family_size, verdict, verdict_unadjusted, note
from intermediate.decentralization_trends
order by domain, dimension, variant, metric, span
