-- Every metric lies in its range.
select *
from node_dispersion
where not (
    hhi between 0 and 10000
    and nakamoto between 1 and entities
    and tau_033 <= nakamoto and nakamoto <= tau_066
    and cr1 <= cr3 and cr3 <= cr5 and cr5 <= 1 + 1e-12
    and gini >= 0 and gini < 1
    and overlay_share between 0 and 1
    and coalesce(standard_distance_km, 0) between 0 and 20038
    and coalesce(mean_pairwise_km, 0) between 0 and 20038
)
