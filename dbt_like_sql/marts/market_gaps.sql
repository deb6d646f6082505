-- Runs of days without a value, per market_daily column, between the column's own first and
-- last value: where no configured feed covers the day.
-- materialized: view
select metric, gap_start, gap_end, days
from intermediate.market_gaps
order by metric, gap_start
