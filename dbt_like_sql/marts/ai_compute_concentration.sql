-- How concentrated AI compute is among chip owners, per quarter: the mining metric set over owners'
-- median H100-equivalent stock, with 'Other' as one entity (its share is unknown_share), and
-- hhi_low/hhi_high, cr1_low/cr1_high from the two extreme scenarios the 5th/95th percentile bounds
-- allow (the largest owner at one bound, everyone else at the other). Quarters where a started
-- series has no value are marked incomplete.
-- materialized: table
-- column quarter: first day of the quarter the End date closes
-- column quarter_end: last day of that quarter
-- column h100e: H100 equivalents of every owner present (median)
-- column entities: owners with chips, 'Other' included
-- column hhi: Herfindahl-Hirschman index of median H100e shares, 0-10,000 ('Other' as one entity)
-- column hhi_ci_low: null: chip estimates are not a sample
-- column hhi_ci_high: null
-- column nakamoto: fewest owners holding at least 50%
-- column nakamoto_ci_low: null
-- column nakamoto_ci_high: null
-- column tau_033: fewest owners holding at least 33%
-- column tau_066: fewest owners holding at least 66%
-- column cr1: share of the largest owner
-- column cr3: share of the three largest owners
-- column cr5: share of the five largest owners
-- column gini: Gini coefficient over owners
-- column entropy_bits: Shannon entropy of shares, bits
-- column entropy_normalized: entropy divided by log2(entities)
-- column theil: Theil T index
-- column effective_entities: 1/Σ share²
-- column unknown_share: share of 'Other' (owners Epoch does not name)
-- column hhi_low: HHI with the largest owner (by median) at its 5th percentile and every other at its 95th: the low end of the range the percentile bounds imply
-- column hhi_high: HHI with the largest owner at its 95th percentile and every other at its 5th
-- column cr1_low: cr1 in the hhi_low scenario
-- column cr1_high: cr1 in the hhi_high scenario
-- column owners: named owners with chips ('Other' not counted)
-- column partial: some rows of the quarter are marked incomplete by Epoch
-- column missing_series: owner (maker) series with a value in an earlier quarter but none in this one (xAI is given for Q4 only; several files end before Q1 2026)
-- column complete: no missing series and not partial: only then are quarters comparable
select
    quarter, quarter_end, h100e, entities, hhi, hhi_ci_low, hhi_ci_high, nakamoto,
    nakamoto_ci_low, nakamoto_ci_high, tau_033, tau_066, cr1, cr3, cr5, gini, entropy_bits,
    entropy_normalized, theil, effective_entities, unknown_share, hhi_low, hhi_high, cr1_low,
    cr1_high, owners, partial, missing_series, complete
from intermediate.ai_compute_concentration
order by quarter
