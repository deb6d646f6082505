-- One row per known mining pool, whichever registries list it: the pool dimension every mining
-- mart joins to, with the provenance of each payout address and coinbase tag.
-- materialized: table
-- column pool_name: pool name (primary key; the curated alias's pool, else the name in the registry of highest precedence)
-- column registry_names: how each registry names the pool: {registry, name, id}
-- column n_payout_addresses: number of payout addresses attributed to the pool
-- column n_coinbase_tags: number of coinbase tags attributed to the pool
-- column payout_addresses: {address, registries}: each address attributed to the pool and the registries listing it for the pool
-- column coinbase_tags: {tag, tag_matching, registries}: each tag attributed to the pool, how it is matched and the registries listing it for the pool
with names as (
    select
        pool_name,
        list({'registry': registry, 'name': registry_pool_name, 'id': registry_pool_id}
            order by precedence, registry_pool_name) as registry_names
    from staging.stg_pools
    group by pool_name
),

claims as (
    select
        kind,
        pool,
        identifier,
        tag_matching,
        list(registry order by precedence) as registries
    from intermediate.pool_identifiers
    where chosen and kind in ('tag', 'address')
    group by kind, pool, identifier, tag_matching
),

addresses as (
    select pool, list({'address': identifier, 'registries': registries} order by identifier) as payout_addresses
    from claims
    where kind = 'address'
    group by pool
),

tags as (
    select
        pool,
        list({'tag': identifier, 'tag_matching': tag_matching, 'registries': registries}
            order by identifier, tag_matching) as coinbase_tags
    from claims
    where kind = 'tag'
    group by pool
)

select
    e.pool as pool_name,
    e.pool_id,
    e.pool_id_registry,
    e.website,
    e.registries,
    n.registry_names,
    coalesce(len(a.payout_addresses), 0) as n_payout_addresses,
    coalesce(len(t.coinbase_tags), 0) as n_coinbase_tags,
    coalesce(a.payout_addresses, []) as payout_addresses,
    coalesce(t.coinbase_tags, []) as coinbase_tags
from intermediate.pool_entities as e
left join names as n on n.pool_name = e.pool
left join addresses as a on a.pool = e.pool
left join tags as t on t.pool = e.pool
order by e.pool_order
