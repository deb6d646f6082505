-- A month's published shares cannot add up to more than 100% (1 point allowed for the export's
-- rounding to 0.01%). Less than 100% means rows were rejected: see raw.hashrate_geography_rejects.
select month, source, sum(share) as total
from hashrate_geography
group by month, source
having sum(share) > 1.01
