-- Days and columns where two market feeds, or a feed and the value derived from other columns,
-- disagree by more than the column's tolerance ([market.tolerances] in the config). The chosen
-- value is the one market_daily holds.
-- materialized: view
select
    date, metric, chosen_feed, chosen_value, other_feed, other_value, relative_difference,
    tolerance
from intermediate.market_discrepancies
order by date, metric, other_feed
