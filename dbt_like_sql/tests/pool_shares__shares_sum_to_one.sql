-- The shares of each window add up to 1.
select grouping, unknown_policy, "window", window_start, sum(share) as total
from pool_shares
group by grouping, unknown_policy, "window", window_start
having abs(sum(share) - 1) > 1e-9
