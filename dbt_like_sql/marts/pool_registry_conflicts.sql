-- Payout addresses and coinbase tags that two registries (or two pools of one registry) give to
-- different pools: one row per claim. The claim of the registry of highest precedence decides.
-- materialized: table
-- column kind: 'tag' or 'address'
-- column identifier_key: the identifier as compared (tags lower-cased, addresses as written)
-- column identifier: the identifier as this registry writes it
-- column registry: the registry making the claim
-- column precedence: the registry's precedence (0 first)
-- column registry_pool: the pool as this registry names it
-- column pool: the pool that name stands for (dim_pool.pool_name)
-- column chosen: whether blocks carrying the identifier are attributed to this claim's pool
-- column decided_pool: the pool blocks carrying the identifier are attributed to
-- column decided_by: the registry whose claim decides
select
    kind, identifier_key, identifier, registry, precedence, registry_pool, pool, chosen,
    decided_pool, decided_by
from intermediate.pool_identifiers
where conflict
order by kind, identifier_key, precedence, pool
