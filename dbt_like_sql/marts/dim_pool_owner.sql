-- Which entity owned which pool when (curated; a pool without a row owns itself).
-- materialized: table
-- column pool: registry pool name
-- column owner: owning entity
-- column valid_from: first day (null: since the pool began)
-- column valid_to: last day, inclusive (null: still owned)
-- column source: public source for the row
-- column note: what the source says
select pool, owner, valid_from, valid_to, source, note
from raw.pool_owners
order by pool, valid_from nulls first
