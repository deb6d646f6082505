-- Each pool's (grouping = 'pool'), owner's (grouping = 'owner') and template builder's (grouping =
-- 'template_observed' / 'template_inclusive') share of the blocks of each window, with a 95% Wilson
-- interval: blocks are a sample of hashrate.
-- materialized: table
-- column grouping: 'pool', 'owner', 'template_observed' or 'template_inclusive' (the pool whose block template was used: observed sharing only, or partial evidence too)
-- column unknown_policy: 'entity' (unknown blocks are one entity) or 'excluded'
-- column window: 'day', 'week' (ISO), 'month', 'year' or '30d'
-- column window_start: first day of the window
-- column window_end: last day of the window (inclusive)
-- column window_label: day, ISO week, month, year, or the midpoint of a 30d window
-- column entity: pool, owner or template-building pool
-- column blocks: blocks the entity found in the window
-- column share: share of the window's blocks (0-1)
-- column share_ci_low: 95% Wilson interval, low
-- column share_ci_high: 95% Wilson interval, high
select
    grouping, unknown_policy, "window", window_start, window_end, window_label, entity, blocks,
    share, share_ci_low, share_ci_high
from intermediate.pool_shares
order by grouping, unknown_policy, "window", window_start, share desc, entity
