-- Later, one-off estimates of where hash rate sits (surveys, analysts), each with its source and
-- what it covers (e.g. only the firms that answered a survey). A curated, reviewed seed
-- (dbt_like_sql/seeds/hashrate_point_estimates.csv), kept apart from the monthly series.
-- materialized: view
select as_of, country, share, coverage, source, url, note
from raw.hashrate_point_estimates
order by as_of, source, share desc, country
