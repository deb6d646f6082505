-- Every pool name appears once (case-insensitively): pools are joined on name across registries.
select lower(pool_name) as pool_name, count(*) as n
from dim_pool
group by lower(pool_name)
having count(*) > 1
