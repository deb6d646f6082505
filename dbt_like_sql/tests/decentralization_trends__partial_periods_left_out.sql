-- A trend is tested on the complete periods of its series only: its points are the scoreboard's
-- periods of that series from period_first to period_last that are not partial.
select t.domain, t.dimension, t.variant, t.metric, t.span, t.points,
    count(*) filter (where not s.partial) as complete_periods
from decentralization_trends t
join decentralization_scoreboard s
  on s.domain = t.domain and s.dimension = t.dimension and s.variant = t.variant
 and s.metric = t.metric and s.period_start between t.period_first and t.period_last
group by all
having count(*) filter (where not s.partial) <> t.points
