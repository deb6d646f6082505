-- Every row names a known mart and domain, one row per series and period, and an interval,
-- where there is one, brackets its value.
select domain, dimension, variant, metric, period_start, 'unknown source or domain' as problem
from decentralization_scoreboard
where source_table not in (
        'mining_concentration', 'node_dispersion', 'hashrate_geography_concentration',
        'ai_concentration', 'ai_openness', 'ai_compute_concentration')
   or domain not in ('bitcoin_mining', 'bitcoin_nodes', 'hashrate_geography', 'ai_models', 'ai_compute')
union all
select domain, dimension, variant, metric, period_start, 'interval does not bracket the value'
from decentralization_scoreboard
where ci_low > value + 1e-9 or ci_high < value - 1e-9
union all
select domain, dimension, variant, metric, period_start, 'duplicate period'
from decentralization_scoreboard
group by domain, dimension, variant, metric, period_start
having count(*) > 1
