-- Every block says how it was attributed, and unknown blocks have no pool.
select height, method, pool
from block_attribution
where method not in ('address', 'tag', 'label', 'unknown')
   or (method = 'unknown') <> (pool = 'unknown')
   or owner is null
