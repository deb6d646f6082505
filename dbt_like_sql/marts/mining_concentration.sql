-- How concentrated Bitcoin mining is, per window, by pool, by owner and by the pool that built the
-- block template (template_observed: observed template sharing only; template_inclusive: partial
-- evidence too): HHI and Nakamoto coefficient with 95% intervals, tau indices, concentration
-- ratios, Gini, entropy, Theil and the effective number of entities. Windows without blocks have no row (a gap, never zero blocks).
-- materialized: table
-- column grouping: 'pool', 'owner', 'template_observed' or 'template_inclusive' (the pool whose block template was used: observed sharing only, or partial evidence too)
-- column unknown_policy: 'entity' (unknown blocks are one entity; default) or 'excluded'
-- column window: 'day', 'week' (ISO), 'month', 'year' or '30d' (fixed 30-day windows)
-- column window_start: first day of the window
-- column window_end: last day of the window (inclusive)
-- column window_label: day, ISO week, month, year, or the midpoint of a 30d window
-- column blocks: blocks behind the metrics
-- column entities: entities with at least one block
-- column hhi: Herfindahl-Hirschman index, sum of (100 x share)^2, 0-10,000
-- column hhi_ci_low: 95% interval of HHI, low (delta method)
-- column hhi_ci_high: 95% interval of HHI, high
-- column nakamoto: fewest entities holding at least 50% of blocks
-- column nakamoto_ci_low: 95% interval of the Nakamoto coefficient, low
-- column nakamoto_ci_high: 95% interval of the Nakamoto coefficient, high
-- column tau_033: fewest entities holding at least 33% of blocks
-- column tau_066: fewest entities holding at least 66% of blocks
-- column cr1: share of the largest entity
-- column cr3: share of the three largest entities
-- column cr5: share of the five largest entities
-- column gini: Gini coefficient over entities with at least one block
-- column entropy_bits: Shannon entropy of shares, bits
-- column entropy_normalized: entropy / log2(entities)
-- column theil: Theil T index
-- column effective_entities: 1 / sum of squared shares
-- column unknown_share: share of unattributed blocks among all blocks of the window
-- column days_with_blocks: days of the window with blocks in the data
-- column days_in_window: days in the window (more than days_with_blocks: a partial window)
select
    grouping, unknown_policy, "window", window_start, window_end, window_label, blocks, entities,
    hhi, hhi_ci_low, hhi_ci_high, nakamoto, nakamoto_ci_low, nakamoto_ci_high, tau_033, tau_066,
    cr1, cr3, cr5, gini, entropy_bits, entropy_normalized, theil, effective_entities,
    unknown_share, days_with_blocks, days_in_window
from intermediate.mining_concentration
order by grouping, unknown_policy, "window", window_start
