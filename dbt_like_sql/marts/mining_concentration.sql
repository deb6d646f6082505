-- How concentrated Bitcoin mining is, per window, by pool, by owner and by the pool that built the
-- block template (template_observed: observed template sharing only; template_inclusive: partial
-- evidence too): HHI and Nakamoto coefficient with 95% intervals, tau indices, concentration
-- ratios, Gini, entropy, Theil and the effective number of entities. Windows without blocks have no row (a gap, never zero blocks).
-- materialized: view
select
    grouping, unknown_policy, "window", window_start, window_end, window_label, blocks, entities,
    hhi, hhi_ci_low, hhi_ci_high, nakamoto, nakamoto_ci_low, nakamoto_ci_high, tau_033, tau_066,
    cr1, cr3, cr5, gini, entropy_bits, entropy_normalized, theil, effective_entities,
    unknown_share, days_with_blocks, days_in_window
from intermediate.mining_concentration
order by grouping, unknown_policy, "window", window_start
