-- Every block, one row per height, attributed to a pool, the pool's owner on that day and the
-- pool whose block template it used (dbt_like_sql/seeds/pool_template_builders.csv).
-- Evidence order: coinbase payout address, then coinbase tag, then a labelled file's label.
-- materialized: table
-- column height: block height (primary key)
-- column hash: block hash (null for labelled files without hashes)
-- column time: block header time, UTC (null when the feed has none)
-- column date: UTC day of the block (estimated when date_source = 'block_count_series')
-- column date_source: 'header' or 'block_count_series'
-- column feed: configured feed the block was taken from
-- column pool: attributed pool ('unknown' when unattributed)
-- column pool_id: registry id of the pool
-- column owner: entity owning the pool on the block's date
-- column method: address, tag, label or unknown
-- column address_pool: pool whose payout address the coinbase pays
-- column tag_pool: pool whose coinbase tag the scriptSig contains
-- column label: label given by a labelled file, as written
-- column label_matched: whether the label matched a registry pool
-- column conflict: address and tag point at different pools (the address wins)
-- column template_builder_observed: pool whose block template was used (observed sharing only; the pool itself otherwise)
-- column template_builder_inclusive: the same, counting partial evidence ('possibly', 'sometimes') too
select
    height, hash, time, date, date_source, feed, pool, pool_id, owner, method,
    address_pool, tag_pool, label, label_matched, conflict, template_builder_observed,
    template_builder_inclusive
from intermediate.block_attribution
order by height
