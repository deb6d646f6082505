-- The blocks behind every mining table: one row per height, from the feed with precedence.
-- materialized: table
-- column height: block height (primary key)
-- column hash: block hash (null for labelled files without hashes)
-- column time: block header time, UTC (null when the feed has none)
-- column date: UTC day of the block
-- column date_source: 'header' or 'block_count_series' (estimated from daily block counts)
-- column feed: configured feed the block was taken from
-- column coinbase_hex: coinbase scriptSig as hex
-- column coinbase_addresses: coinbase output addresses, in output order
-- column coinbase_values_sats: coinbase output values in satoshis, in output order
-- column fees_sats: total fees in satoshis
-- column tx_count: number of transactions
-- column label: pool label from a labelled file
select
    b.height, b.hash, b.time, b.date, b.date_source, b.feed, b.coinbase_hex,
    b.coinbase_addresses, b.coinbase_values_sats, b.fees_sats, b.tx_count, b.label
from raw.blocks as b
join intermediate.block_attribution as a on a.height = b.height and a.feed = b.feed
qualify row_number() over (partition by b.height order by b.date desc) = 1
order by b.height
