-- Metrics stay in their ranges.
select month, other_policy, 'range' as problem
from hashrate_geography_concentration
where hhi < 10000.0 / countries - 1e-6 or hhi > 10000 + 1e-6
   or nakamoto < 1 or nakamoto > countries
   or cr1 > cr3 + 1e-12 or cr3 > cr5 + 1e-12 or cr5 > 1 + 1e-12
   or gini < 0 or gini > 1 or other_share < 0 or other_share > 1
