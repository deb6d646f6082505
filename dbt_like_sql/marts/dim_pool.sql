-- One row per known mining pool: the pool dimension every mining mart joins to.
-- materialized: table
-- column pool_id: mempool.space pool id (primary key)
-- column pool_name: pool name as mempool.space displays it (unique)
-- column website: pool website ('' when unknown)
-- column n_payout_addresses: number of known payout addresses
-- column n_coinbase_tags: number of coinbase-tag patterns
-- column payout_addresses: known coinbase payout addresses
-- column coinbase_tags: coinbase-tag patterns (regex syntax)
select
    pool_id,
    pool_name,
    website,
    len(payout_addresses) as n_payout_addresses,
    len(coinbase_tags) as n_coinbase_tags,
    payout_addresses,
    coinbase_tags
from staging.stg_pools
order by pool_id
