-- Day windows count exactly the attributed blocks of that day, and every such day has a window.
with per_day as (
    select date, count(*) as blocks from block_attribution group by date
),
day_windows as (
    select window_start as date, blocks
    from mining_concentration
    where grouping = 'pool' and unknown_policy = 'entity' and "window" = 'day'
)
select coalesce(d.date, w.date) as date, d.blocks as attributed, w.blocks as in_window
from per_day as d
full join day_windows as w on w.date = d.date
where d.blocks is distinct from w.blocks
