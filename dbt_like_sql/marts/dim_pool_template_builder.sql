-- Which pools were seen sending their miners another pool's block template, and since when
-- (curated from stratum-job observations; a pool without a row builds its own template).
-- materialized: table
-- column pool: registry pool name
-- column template_builder: registry pool whose block template the pool sends its miners
-- column valid_from: first day the sharing was observed (it may have begun earlier)
-- column valid_to: last day, inclusive (null: still current as far as the sources show)
-- column confidence: 'observed' (identical templates seen) or 'partial' (possibly, sometimes)
-- column source: public source for the row
-- column note: what the source observed, and when
select pool, template_builder, valid_from, valid_to, confidence, source, note
from raw.pool_template_builders
order by template_builder, pool, valid_from
