-- Every block, one row per height, attributed to a pool, the pool's owner on that day and the
-- pool whose block template it used (dbt_like_sql/seeds/pool_template_builders.csv).
-- Evidence order: coinbase payout address, then coinbase tag, then a labelled file's label; of
-- several feeds, the earliest that identifies the block ('unknown' labels never hide a pool).
-- materialized: view
select
    height, hash, time, date, date_source, feed, pool, pool_id, owner, method, evidence_feed,
    address_pool, tag_pool, label, label_matched, conflict, template_builder_observed,
    template_builder_inclusive
from intermediate.block_attribution
order by height
