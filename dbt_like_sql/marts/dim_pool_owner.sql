-- Which entity owned which pool when (curated; a pool without a row owns itself).
-- materialized: view
select pool, owner, valid_from, valid_to, source, note
from raw.pool_owners
order by pool, valid_from nulls first
