-- Later, one-off estimates of where hash rate sits (surveys, analysts), each with its source and
-- what it covers (e.g. only the firms that answered a survey). A curated, reviewed seed
-- (dbt_like_sql/seeds/hashrate_point_estimates.csv), kept apart from the monthly series.
-- materialized: table
-- column as_of: the date or period end the estimate is for
-- column country: ISO 3166 alpha-2, or OTHER
-- column share: estimated share of hash rate, 0-1, of what the estimate covers
-- column coverage: who or what the estimate covers
-- column source: publisher and title
-- column url: where it is published
-- column note: caveats
select as_of, country, share, coverage, source, url, note
from raw.hashrate_point_estimates
order by as_of, source, share desc, country
