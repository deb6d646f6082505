-- One row per day, and no day missing between the first and the last.
select 'duplicate' as problem, date from market_daily group by date having count(*) > 1
union all
select 'missing days' as problem, null as date
from market_daily
having count(*) > 0 and count(*) <> datediff('day', min(date), max(date)) + 1
