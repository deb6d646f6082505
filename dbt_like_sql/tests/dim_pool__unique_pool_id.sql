-- Every pool id appears once.
select pool_id, count(*) as n
from dim_pool
group by pool_id
having count(*) > 1
