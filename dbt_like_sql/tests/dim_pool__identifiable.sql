-- Every pool can be recognised in a block: some registry gives it a payout address or a coinbase
-- tag (one it lost to a registry of higher precedence counts: see pool_registry_conflicts).
select p.pool_name, p.registries
from dim_pool as p
where p.n_payout_addresses = 0 and p.n_coinbase_tags = 0
    and not exists (
        select 1
        from intermediate.pool_identifiers as i
        where i.pool = p.pool_name and i.kind in ('tag', 'address')
    )
