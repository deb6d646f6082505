-- Days and columns where two market feeds, or a feed and the value derived from other columns,
-- disagree by more than the column's tolerance ([market.tolerances] in the config). The chosen
-- value is the one market_daily holds.
-- materialized: table
-- column date: UTC day
-- column metric: market_daily column
-- column chosen_feed: feed whose value market_daily holds
-- column chosen_value: the value market_daily holds
-- column other_feed: feed (or 'derived') that disagrees
-- column other_value: its value
-- column relative_difference: |chosen - other| / max(|chosen|, |other|)
-- column tolerance: the column's tolerance, exceeded here
select
    date, metric, chosen_feed, chosen_value, other_feed, other_value, relative_difference,
    tolerance
from intermediate.market_discrepancies
order by date, metric, other_feed
