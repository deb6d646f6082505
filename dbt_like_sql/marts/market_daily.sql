-- Bitcoin's market and network, one row per UTC day from the first to the last day any market
-- feed covers: price, hash rate, difficulty, blocks, fees, issuance, miners' revenue, hashprice
-- and market cap. Each value comes from the feed with precedence for its column (Coin Metrics,
-- then mempool.space, then Blockchain.com; pipelines/market/daily.py) and names it in its
-- _source column. Days no feed covers are null, never interpolated (see market_gaps).
-- materialized: view
select
    date, price_usd, hashrate_ehs, difficulty, block_count, fees_btc, fees_usd, issuance_btc,
    issuance_usd, miner_revenue_usd, hashprice_usd_per_ph_day, market_cap_usd,
    price_usd_source, hashrate_ehs_source, difficulty_source, block_count_source,
    fees_btc_source, fees_usd_source, issuance_btc_source, issuance_usd_source,
    miner_revenue_usd_source, hashprice_usd_per_ph_day_source, market_cap_usd_source
from intermediate.market_daily
order by date
