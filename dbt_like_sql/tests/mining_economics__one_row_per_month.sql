-- One row per month, each with pool, owner, template-builder and market data.
select month, count(*) as rows
from mining_economics
group by month
having count(*) > 1 or bool_or(pool_hhi is null) or bool_or(owner_hhi is null)
   or bool_or(template_observed_hhi is null) or bool_or(template_inclusive_hhi is null)
   or bool_or(market_days = 0)
