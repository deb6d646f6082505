-- Hashprice is miners' revenue per PH/s per day (1 EH/s = 1,000 PH/s).
select date, hashprice_usd_per_ph_day, miner_revenue_usd, hashrate_ehs
from market_daily
where hashprice_usd_per_ph_day is not null
  and abs(hashprice_usd_per_ph_day * 1000 * hashrate_ehs - miner_revenue_usd)
      > 1e-9 * miner_revenue_usd
