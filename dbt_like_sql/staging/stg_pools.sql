-- Mining pools as each registry lists them, one row per registry and pool, with the pool each
-- record stands for once names are normalised (curated aliases, case and punctuation ignored).
-- materialized: view
-- column registry_pool_id: the pool's id in that registry (null for registries without ids)
-- column registry_pool_name: the pool's name as that registry writes it
-- column pool_name: the pool this record stands for (dim_pool.pool_name)
-- column website: pool website in that registry ('' when unknown)
-- column payout_addresses: payout addresses the registry gives the pool
-- column coinbase_tags: coinbase tags the registry gives the pool
select
    r.registry,
    r.precedence,
    r.id as registry_pool_id,
    r.name as registry_pool_name,
    n.pool as pool_name,
    r.link as website,
    r.tag_matching,
    r.addresses as payout_addresses,
    r.tags as coinbase_tags
from raw.pool_registry as r
inner join intermediate.pool_identifiers as n
    on n.kind = 'name' and n.registry = r.registry and n.identifier = r.name
