-- Each share lies inside its own 95% interval, which lies inside [0, 1].
select *
from pool_shares
where not (0 <= share_ci_low and share_ci_low <= share and share <= share_ci_high and share_ci_high <= 1)
