-- The shares of each snapshot, dimension and policy add up to 1.
select snapshot_date, snapshot_time, source, dimension, overlay_policy, sum(share) as total
from node_distribution
group by snapshot_date, snapshot_time, source, dimension, overlay_policy
having abs(sum(share) - 1) > 1e-9
