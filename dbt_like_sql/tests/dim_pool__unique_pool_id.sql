-- Every pool id appears once within its registry (ids of different registries may coincide).
select pool_id_registry, pool_id, count(*) as n
from dim_pool
where pool_id is not null
group by pool_id_registry, pool_id
having count(*) > 1
