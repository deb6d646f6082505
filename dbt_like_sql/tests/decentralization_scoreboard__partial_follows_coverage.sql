-- Every row has a coverage in (0, 1] and a partial flag, and the flag follows coverage: each
-- partial period is covered less than every complete one.
select domain, dimension, variant, metric, period_start, 'coverage or partial missing or invalid' as problem
from decentralization_scoreboard
where coverage is null or coverage <= 0 or coverage > 1 or partial is null
union all
select domain, dimension, variant, metric, period_start, 'partial period covered as well as a complete one'
from decentralization_scoreboard
where partial
  and coverage >= (select min(coverage) from decentralization_scoreboard where not partial)
