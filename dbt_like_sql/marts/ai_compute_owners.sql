-- Who owns AI compute: Epoch AI's modelled cumulative AI-chip stock per quarter and owner, in
-- H100-equivalents, summed over chip makers with no chip counted twice (an owner's chips of one
-- maker come from one file; named owners are taken out of 'Other' when its note does not already
-- exclude them). Percentile bounds are summed across makers: a wider range, as if the makers'
-- errors were perfectly correlated.
-- materialized: table
-- column quarter: first day of the quarter the End date closes
-- column quarter_end: last day of that quarter
-- column owner: owner (names normalised across files; 'Other' is everyone not named)
-- column chip_manufacturers: chip makers counted for the owner in the quarter
-- column h100e: H100 equivalents (median), summed over chip makers
-- column h100e_p05: sum of the makers' 5th percentiles: a wider range than the true 5th percentile, as if the makers' errors were perfectly correlated; a maker without one adds its median
-- column h100e_p95: sum of the makers' 95th percentiles (likewise)
-- column partial: some of the owner's rows are marked incomplete by Epoch
select
    quarter, quarter_end, owner, chip_manufacturers, h100e, h100e_p05, h100e_p95, partial
from intermediate.ai_compute_owners
order by quarter, owner
