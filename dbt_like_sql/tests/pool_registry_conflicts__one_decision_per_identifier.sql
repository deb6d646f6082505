-- Each conflicting identifier is decided once: one decided pool, and exactly its claims chosen.
select kind, identifier_key
from pool_registry_conflicts
group by kind, identifier_key
having count(distinct decided_pool) > 1
    or count(distinct pool) < 2
    or bool_or(chosen <> (pool = decided_pool))
