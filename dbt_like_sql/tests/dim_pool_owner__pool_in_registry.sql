-- Every owned pool is a registry pool.
select o.pool
from dim_pool_owner as o
left join dim_pool as p on p.pool_name = o.pool
where p.pool_name is null
