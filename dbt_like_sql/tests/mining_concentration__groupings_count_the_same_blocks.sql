-- Every grouping of a window counts the same blocks: owners and template builders regroup the
-- pools' blocks, they never add or drop one.
select "window", window_start, unknown_policy, grouping, blocks, pool_blocks
from (
    select
        *,
        max(blocks) filter (where grouping = 'pool')
            over (partition by "window", window_start, unknown_policy) as pool_blocks
    from mining_concentration
)
where blocks is distinct from pool_blocks
   or grouping not in ('pool', 'owner', 'template_observed', 'template_inclusive')
