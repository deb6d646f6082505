-- Where Bitcoin's hash rate sits, by country and month, as published by the Cambridge Centre
-- for Alternative Finance (CBECI mining map, from mining-pool geolocation data). Countries are
-- ISO 3166 alpha-2; OTHER is Cambridge's residual of smaller countries. Later point estimates
-- (surveys, other publishers) are in hashrate_point_estimates, never blended in here.
-- materialized: table
-- column month: first day of the month
-- column country: ISO 3166 alpha-2, or OTHER for the published residual
-- column country_name: the name as published (footnote marker removed)
-- column share: share of the network hash rate, 0-1
-- column hashrate_ehs: that share of the network hash rate, EH/s
-- column flagged: published with Cambridge's asterisk: the share is thought to come from VPN or proxy routing rather than mining in the country
-- column source: feed it came from
select month, country, country_name, share, hashrate_ehs, flagged, feed as source
from raw.hashrate_geography
order by month, share desc, country
