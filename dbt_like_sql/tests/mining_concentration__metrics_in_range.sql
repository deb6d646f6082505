-- Every metric lies in its range and inside its interval.
select *
from mining_concentration
where not (
    hhi between 0 and 10000
    and hhi_ci_low <= hhi and hhi <= hhi_ci_high
    and nakamoto between 1 and entities
    and nakamoto_ci_low <= nakamoto and nakamoto <= nakamoto_ci_high
    and tau_033 <= nakamoto and nakamoto <= tau_066
    and cr1 <= cr3 and cr3 <= cr5 and cr5 <= 1 + 1e-12
    and gini >= 0 and gini < 1
    and unknown_share between 0 and 1
    and days_with_blocks between 1 and days_in_window
)
