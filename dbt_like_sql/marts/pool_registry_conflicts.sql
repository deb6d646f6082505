-- Payout addresses and coinbase tags that two registries (or two pools of one registry) give to
-- different pools: one row per claim. The claim of the registry of highest precedence decides.
-- materialized: view
select
    kind, identifier_key, identifier, registry, precedence, registry_pool, pool, chosen,
    decided_pool, decided_by
from intermediate.pool_identifiers
where conflict
order by kind, identifier_key, precedence, pool
