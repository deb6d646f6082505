-- How concentrated AI compute is among chip owners, per quarter: the mining metric set over owners'
-- median H100-equivalent stock, with 'Other' as one entity (its share is unknown_share), and
-- hhi_low/hhi_high, cr1_low/cr1_high from the two extreme scenarios the 5th/95th percentile bounds
-- allow (the largest owner at one bound, everyone else at the other). Quarters where a started
-- series has no value are marked incomplete.
-- materialized: view
select
    quarter, quarter_end, h100e, entities, hhi, hhi_ci_low, hhi_ci_high, nakamoto,
    nakamoto_ci_low, nakamoto_ci_high, tau_033, tau_066, cr1, cr3, cr5, gini, entropy_bits,
    entropy_normalized, theil, effective_entities, unknown_share, hhi_low, hhi_high, cr1_low,
    cr1_high, owners, partial, missing_series, complete
from intermediate.ai_compute_concentration
order by quarter
