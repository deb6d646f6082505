-- Each pool's (grouping = 'pool'), owner's (grouping = 'owner') and template builder's (grouping =
-- 'template_observed' / 'template_inclusive') share of the blocks of each window, with a 95% Wilson
-- interval: blocks are a sample of hashrate.
-- materialized: view
select
    grouping, unknown_policy, "window", window_start, window_end, window_label, entity, blocks,
    share, share_ci_low, share_ci_high
from intermediate.pool_shares
order by grouping, unknown_policy, "window", window_start, share desc, entity
