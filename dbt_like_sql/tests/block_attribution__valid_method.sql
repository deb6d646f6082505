-- Every block says how it was attributed and which feed decided; unknown blocks have neither a
-- pool nor a deciding feed.
select height, method, pool, evidence_feed
from block_attribution
where method not in ('address', 'tag', 'label', 'unknown')
   or (method = 'unknown') <> (pool = 'unknown')
   or (method = 'unknown') <> (evidence_feed is null)
   or owner is null
