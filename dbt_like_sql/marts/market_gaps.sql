-- Runs of days without a value, per market_daily column, between the column's own first and
-- last value: where no configured feed covers the day.
-- materialized: table
-- column metric: market_daily column
-- column gap_start: first day without a value
-- column gap_end: last day without a value
-- column days: days in the gap
select metric, gap_start, gap_end, days
from intermediate.market_gaps
order by metric, gap_start
