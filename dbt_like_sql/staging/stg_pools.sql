-- Mining pools from the registry, renamed to warehouse conventions.
-- materialized: view
-- column pool_id: mempool.space pool id
-- column pool_name: pool name as mempool.space displays it
-- column website: pool website ('' when unknown)
-- column payout_addresses: known coinbase payout addresses
-- column coinbase_tags: coinbase-tag patterns (regex syntax)
select
    id as pool_id,
    trim(name) as pool_name,
    link as website,
    addresses as payout_addresses,
    tags as coinbase_tags
from raw.pool_registry
