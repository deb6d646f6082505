-- How concentrated hash rate is by country, per month: the mining metric set over Cambridge's
-- country shares. Each month has two rows: other_policy 'entity' counts the published residual
-- "Other" as one country, the most concentrated reading the data allows (splitting Other can
-- only lower HHI and CRk and raise the Nakamoto coefficient); 'excluded' uses the named
-- countries only, renormalised. No intervals: the shares are published without sample sizes.
-- materialized: table
-- column month: first day of the month
-- column source: feed the shares came from
-- column other_policy: 'entity' or 'excluded' (see above)
-- column countries: countries with a positive share
-- column hashrate_ehs: network hash rate the shares apply to, EH/s
-- column hhi: Herfindahl-Hirschman index, sum of (100 x share)^2, 0-10,000
-- column nakamoto: fewest countries holding at least 50% of hash rate
-- column tau_033: fewest countries holding at least 33%
-- column tau_066: fewest countries holding at least 66%
-- column cr1: share of the largest country
-- column cr3: share of the three largest
-- column cr5: share of the five largest
-- column gini: Gini coefficient over countries with a positive share
-- column entropy_bits: Shannon entropy of shares, bits
-- column entropy_normalized: entropy / log2(countries)
-- column theil: Theil T index
-- column effective_entities: 1 / sum of squared shares
-- column other_share: share published as Other
-- column top_country: ISO alpha-2 of the largest country
select
    month, source, other_policy, countries, hashrate_ehs, hhi, nakamoto, tau_033, tau_066, cr1,
    cr3, cr5, gini, entropy_bits, entropy_normalized, theil, effective_entities, other_share,
    top_country
from intermediate.hashrate_geography_concentration
order by month, source, other_policy
