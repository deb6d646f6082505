-- The blocks behind every mining table: one row per height, each field from the earliest
-- configured feed that has it.
-- materialized: table
-- column height: block height (primary key)
-- column hash: block hash (null for labelled files without hashes)
-- column time: block header time, UTC (null when no feed has one)
-- column date: UTC day of the block
-- column date_source: 'header' or 'block_count_series' (estimated from daily block counts)
-- column feed: earliest configured feed holding the block
-- column coinbase_hex: coinbase scriptSig as hex
-- column coinbase_addresses: coinbase output addresses, in output order
-- column coinbase_values_sats: coinbase output values in satoshis, in output order
-- column fees_sats: total fees in satoshis
-- column tx_count: number of transactions
-- column label: pool label from a labelled file
select
    height, hash, time, date, date_source, feed, coinbase_hex, coinbase_addresses,
    coinbase_values_sats, fees_sats, tx_count, label
from intermediate.blocks
order by height
