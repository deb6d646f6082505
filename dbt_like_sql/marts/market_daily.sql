-- Bitcoin's market and network, one row per UTC day from the first to the last day any market
-- feed covers: price, hash rate, difficulty, blocks, fees, issuance, miners' revenue, hashprice
-- and market cap. Each value comes from the feed with precedence for its column (Coin Metrics,
-- then mempool.space, then Blockchain.com; pipelines/market/daily.py) and names it in its
-- _source column. Days no feed covers are null, never interpolated (see market_gaps).
-- materialized: table
-- column date: UTC day
-- column price_usd: closing price of one BTC, USD (end of the UTC day)
-- column hashrate_ehs: network hash rate, EH/s, daily mean estimate
-- column difficulty: mining difficulty, mean over the day's blocks (or in effect at day end)
-- column block_count: blocks mined that UTC day
-- column fees_btc: transaction fees paid to miners that day, BTC
-- column fees_usd: transaction fees paid to miners that day, USD
-- column issuance_btc: new BTC issued (block subsidies) that day
-- column issuance_usd: new BTC issued that day, USD
-- column miner_revenue_usd: miners' revenue that day (subsidy plus fees), USD
-- column hashprice_usd_per_ph_day: miners' revenue per PH/s per day, USD
-- column market_cap_usd: market capitalisation, USD
-- column price_usd_source: feed of price_usd
-- column hashrate_ehs_source: feed of hashrate_ehs
-- column difficulty_source: feed of difficulty
-- column block_count_source: feed of block_count
-- column fees_btc_source: feed of fees_btc
-- column fees_usd_source: feed of fees_usd ('derived' = fees_btc x price_usd)
-- column issuance_btc_source: feed of issuance_btc
-- column issuance_usd_source: feed of issuance_usd ('derived' = issuance_btc x price_usd)
-- column miner_revenue_usd_source: feed of miner_revenue_usd ('derived' = issuance_usd + fees_usd)
-- column hashprice_usd_per_ph_day_source: 'derived' (miner_revenue_usd / (1,000 x hashrate_ehs))
-- column market_cap_usd_source: feed of market_cap_usd
select
    date, price_usd, hashrate_ehs, difficulty, block_count, fees_btc, fees_usd, issuance_btc,
    issuance_usd, miner_revenue_usd, hashprice_usd_per_ph_day, market_cap_usd,
    price_usd_source, hashrate_ehs_source, difficulty_source, block_count_source,
    fees_btc_source, fees_usd_source, issuance_btc_source, issuance_usd_source,
    miner_revenue_usd_source, hashprice_usd_per_ph_day_source, market_cap_usd_source
from intermediate.market_daily
order by date
