-- Labels from labelled block files that match no registry pool (kept as their own entities).
-- materialized: table
-- column blocks: blocks carrying the label
-- column first_height: first height with the label
-- column last_height: last height with the label
select
    label,
    feed,
    count(*) as blocks,
    min(height) as first_height,
    max(height) as last_height
from intermediate.block_attribution
where label_matched = false
group by label, feed
order by blocks desc, label
