-- How concentrated hash rate is by country, per month: the mining metric set over Cambridge's
-- country shares. Each month has two rows: other_policy 'entity' counts the published residual
-- "Other" as one country, the most concentrated reading the data allows (splitting Other can
-- only lower HHI and CRk and raise the Nakamoto coefficient); 'excluded' uses the named
-- countries only, renormalised. No intervals: the shares are published without sample sizes.
-- materialized: view
select
    month, source, other_policy, countries, hashrate_ehs, hhi, nakamoto, tau_033, tau_066, cr1,
    cr3, cr5, gini, entropy_bits, entropy_normalized, theil, effective_entities, other_share,
    top_country
from intermediate.hashrate_geography_concentration
order by month, source, other_policy
