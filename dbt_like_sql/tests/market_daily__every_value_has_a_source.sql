-- A value and its source are present together.
select date from market_daily
where (price_usd is null) <> (price_usd_source is null)
   or (hashrate_ehs is null) <> (hashrate_ehs_source is null)
   or (difficulty is null) <> (difficulty_source is null)
   or (block_count is null) <> (block_count_source is null)
   or (fees_btc is null) <> (fees_btc_source is null)
   or (fees_usd is null) <> (fees_usd_source is null)
   or (issuance_btc is null) <> (issuance_btc_source is null)
   or (issuance_usd is null) <> (issuance_usd_source is null)
   or (miner_revenue_usd is null) <> (miner_revenue_usd_source is null)
   or (hashprice_usd_per_ph_day is null) <> (hashprice_usd_per_ph_day_source is null)
   or (market_cap_usd is null) <> (market_cap_usd_source is null)
