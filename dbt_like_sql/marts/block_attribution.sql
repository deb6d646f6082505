-- Every block, one row per height, attributed to a pool, the pool's owner on that day and the
-- pool whose block template it used (dbt_like_sql/seeds/pool_template_builders.csv).
-- Evidence order: coinbase payout address, then coinbase tag, then a labelled file's label; of
-- several feeds, the earliest that identifies the block ('unknown' labels never hide a pool).
-- materialized: table
-- column height: block height (primary key)
-- column hash: block hash (null for labelled files without hashes)
-- column time: block header time, UTC (null when the feed has none)
-- column date: UTC day of the block (estimated when date_source = 'block_count_series')
-- column date_source: 'header' or 'block_count_series'
-- column feed: earliest configured feed holding the height (dates and hash come from it)
-- column pool: attributed pool ('unknown' when unattributed)
-- column pool_id: registry id of the pool
-- column owner: entity owning the pool on the block's date
-- column method: address, tag, label or unknown
-- column evidence_feed: feed whose evidence decided the pool (null when unknown)
-- column address_pool: pool whose payout address the coinbase pays
-- column tag_pool: pool whose coinbase tag the scriptSig contains
-- column label: label given by a labelled file, as written (the earliest identifying one)
-- column label_matched: whether the label matched a registry pool
-- column conflict: the evidence names different pools (address vs tag, or two feeds)
-- column template_builder_observed: pool whose block template was used (observed sharing only; the pool itself otherwise)
-- column template_builder_inclusive: the same, counting partial evidence ('possibly', 'sometimes') too
select
    height, hash, time, date, date_source, feed, pool, pool_id, owner, method, evidence_feed,
    address_pool, tag_pool, label, label_matched, conflict, template_builder_observed,
    template_builder_inclusive
from intermediate.block_attribution
order by height
