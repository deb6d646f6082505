-- The blocks behind every mining table: one row per height, each field from the earliest
-- configured feed that has it.
-- materialized: view
select
    height, hash, time, date, date_source, feed, coinbase_hex, coinbase_addresses,
    coinbase_values_sats, fees_sats, tx_count, label
from intermediate.blocks
order by height
