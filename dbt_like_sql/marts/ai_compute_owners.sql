-- Who owns AI compute: Epoch AI's modelled cumulative AI-chip stock per quarter and owner, in
-- H100-equivalents, summed over chip makers with no chip counted twice (an owner's chips of one
-- maker come from one file; named owners are taken out of 'Other' when its note does not already
-- exclude them). Percentile bounds are summed across makers: a wider range, as if the makers'
-- errors were perfectly correlated.
-- materialized: view
select
    quarter, quarter_end, owner, chip_manufacturers, h100e, h100e_p05, h100e_p95, partial
from intermediate.ai_compute_owners
order by quarter, owner
