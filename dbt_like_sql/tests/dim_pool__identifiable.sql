-- Every pool can be recognised in a block: it has a payout address or a coinbase tag.
select pool_id, pool_name
from dim_pool
where n_payout_addresses = 0 and n_coinbase_tags = 0
