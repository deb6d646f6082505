-- Where Bitcoin's hash rate sits, by country and month, as published by the Cambridge Centre
-- for Alternative Finance (CBECI mining map, from mining-pool geolocation data). Countries are
-- ISO 3166 alpha-2; OTHER is Cambridge's residual of smaller countries. Later point estimates
-- (surveys, other publishers) are in hashrate_point_estimates, never blended in here.
-- materialized: view
-- column source: configured feed it came from (raw.hashrate_geography.feed, not its source)
select month, country, country_name, share, hashrate_ehs, flagged, feed as source
from raw.hashrate_geography
order by month, share desc, country
