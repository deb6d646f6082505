-- Runs of missing block heights between the blocks the warehouse holds: where the data is silent.
-- materialized: table
-- column first_missing_height: first height missing
-- column last_missing_height: last height missing
-- column missing_blocks: number of heights missing
-- column last_date_before: date of the block before the gap
-- column first_date_after: date of the block after the gap
with ordered as (
    select
        height,
        date,
        lead(height) over (order by height) as next_height,
        lead(date) over (order by height) as next_date
    from intermediate.block_attribution
)
select
    height + 1 as first_missing_height,
    next_height - 1 as last_missing_height,
    next_height - height - 1 as missing_blocks,
    date as last_date_before,
    next_date as first_date_after
from ordered
where next_height > height + 1
order by first_missing_height
