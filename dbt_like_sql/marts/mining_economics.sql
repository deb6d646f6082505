-- Why mining concentrates, month by month: pool, owner and template-builder concentration
-- (unknown blocks counted as one entity) beside price, hash rate, hashprice, miners' revenue and
-- how concentrated hash rate is by country. One row per month that has both pool data and market
-- data; the country columns are null outside Cambridge's coverage (2019-09 to 2022-01). Market
-- values are means over the month's days that have them (market_days says how many), never sums
-- over partial months. Template builders are known only from 2024 (pools before their first
-- observed template sharing count as building their own, so before 2024 they equal the pools).
-- materialized: table
-- column month: first day of the month
-- column blocks: attributed blocks in the month
-- column days_with_blocks: days of the month with blocks in the pool data
-- column unknown_share: share of blocks attributed to no pool
-- column pool_hhi: HHI of pools, 0-10,000
-- column pool_nakamoto: fewest pools holding at least 50% of blocks
-- column pool_cr1: share of the largest pool
-- column owner_hhi: HHI of owning entities (pools clustered by owner), 0-10,000
-- column owner_nakamoto: fewest owners holding at least 50% of blocks
-- column owner_cr1: share of the largest owner
-- column template_observed_hhi: HHI of block-template builders (observed sharing only), 0-10,000
-- column template_observed_nakamoto: fewest template builders (observed) with 50% of blocks
-- column template_inclusive_hhi: HHI of block-template builders (partial evidence too), 0-10,000
-- column template_inclusive_nakamoto: fewest template builders (inclusive) with 50% of blocks
-- column price_usd: mean daily closing price, USD
-- column hashrate_ehs: mean daily hash rate, EH/s
-- column miner_revenue_usd_per_day: mean daily miners' revenue, USD
-- column hashprice_usd_per_ph_day: mean daily hashprice, USD per PH/s per day
-- column market_days: days of the month with a price or a hash rate
-- column country_hhi: HHI of hash rate by country (Other as one country), 0-10,000
-- column country_nakamoto: fewest countries holding at least 50% of hash rate
-- column country_cr1: share of the largest country
-- column top_country: ISO alpha-2 of the largest country
with pools as (
    select
        window_start as month,
        max(blocks) as blocks,
        max(days_with_blocks) as days_with_blocks,
        max(unknown_share) as unknown_share,
        max(case when grouping = 'pool' then hhi end) as pool_hhi,
        max(case when grouping = 'pool' then nakamoto end) as pool_nakamoto,
        max(case when grouping = 'pool' then cr1 end) as pool_cr1,
        max(case when grouping = 'owner' then hhi end) as owner_hhi,
        max(case when grouping = 'owner' then nakamoto end) as owner_nakamoto,
        max(case when grouping = 'owner' then cr1 end) as owner_cr1,
        max(case when grouping = 'template_observed' then hhi end) as template_observed_hhi,
        max(case when grouping = 'template_observed' then nakamoto end) as template_observed_nakamoto,
        max(case when grouping = 'template_inclusive' then hhi end) as template_inclusive_hhi,
        max(case when grouping = 'template_inclusive' then nakamoto end)
            as template_inclusive_nakamoto
    from mining_concentration
    where "window" = 'month' and unknown_policy = 'entity'
    group by window_start
),
market as (
    select
        cast(date_trunc('month', date) as date) as month,
        avg(price_usd) as price_usd,
        avg(hashrate_ehs) as hashrate_ehs,
        avg(miner_revenue_usd) as miner_revenue_usd_per_day,
        avg(hashprice_usd_per_ph_day) as hashprice_usd_per_ph_day,
        count(*) filter (where price_usd is not null or hashrate_ehs is not null) as market_days
    from market_daily
    group by 1
),
countries as (
    select month, hhi, nakamoto, cr1, top_country
    from hashrate_geography_concentration
    where other_policy = 'entity'
)
select
    p.month, p.blocks, p.days_with_blocks, p.unknown_share, p.pool_hhi, p.pool_nakamoto,
    p.pool_cr1, p.owner_hhi, p.owner_nakamoto, p.owner_cr1, p.template_observed_hhi,
    p.template_observed_nakamoto, p.template_inclusive_hhi, p.template_inclusive_nakamoto,
    m.price_usd, m.hashrate_ehs, m.miner_revenue_usd_per_day, m.hashprice_usd_per_ph_day,
    m.market_days,
    c.hhi as country_hhi, c.nakamoto as country_nakamoto, c.cr1 as country_cr1, c.top_country
from pools as p
join market as m on m.month = p.month
left join countries as c on c.month = p.month
where m.market_days > 0
order by p.month
