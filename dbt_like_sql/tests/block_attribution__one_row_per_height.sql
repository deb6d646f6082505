-- Every height is attributed exactly once.
select height, count(*) as n from block_attribution group by height having count(*) > 1
