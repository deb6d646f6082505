-- Every label alias points at a registry pool.
select a.alias, a.pool
from raw.pool_label_aliases as a
left join dim_pool as p on p.pool_name = a.pool
where p.pool_name is null
