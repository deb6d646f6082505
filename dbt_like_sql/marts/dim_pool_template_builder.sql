-- Which pools were seen sending their miners another pool's block template, and since when
-- (curated from stratum-job observations; a pool without a row builds its own template).
-- materialized: view
select pool, template_builder, valid_from, valid_to, confidence, source, note
from raw.pool_template_builders
order by template_builder, pool, valid_from
