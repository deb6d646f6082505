-- How concentrated the building of AI models is, per calendar year and per rolling 12 months
-- (windows ending at each month end), for each Epoch dataset, dimension (organization, country,
-- organization_category) and weighting ('models': each model counts 1, shared by its k
-- organisations as 1/k each; 'training_compute': the same credit times the model's training FLOP,
-- models without compute left out). The same metric set as mining concentration; 'unknown' (no
-- entity listed) is one entity. Intervals only for the model-count weighting.
-- materialized: table
-- column dataset: Epoch dataset: 'all', 'notable', 'large_scale' or 'frontier'
-- column dimension: 'organization', 'country' (ISO alpha-2) or 'organization_category'
-- column weighting: 'models' (each model's credits) or 'training_compute' (credits × training FLOP; models without compute left out)
-- column period: 'year' (calendar; a dataset's last year may be partial) or 'rolling_12m' (the 12 months ending at period_end)
-- column period_start: first day of the period
-- column period_end: last day of the period (inclusive)
-- column total: models (weighting models) or FLOP (weighting training_compute) in the period
-- column entities: entities with a positive credit
-- column hhi: Herfindahl-Hirschman index, Σ(100·share)², 0-10,000
-- column hhi_ci_low: 95% interval of HHI, low (models as a sample; null for training_compute)
-- column hhi_ci_high: 95% interval of HHI, high (null for training_compute)
-- column nakamoto: fewest entities holding at least 50%
-- column nakamoto_ci_low: 95% interval of the Nakamoto coefficient, low (null for compute)
-- column nakamoto_ci_high: 95% interval of the Nakamoto coefficient, high (null for compute)
-- column tau_033: fewest entities holding at least 33%
-- column tau_066: fewest entities holding at least 66%
-- column cr1: share of the largest entity
-- column cr3: share of the three largest entities
-- column cr5: share of the five largest entities
-- column gini: Gini coefficient over entities with a positive credit
-- column entropy_bits: Shannon entropy of shares, bits
-- column entropy_normalized: entropy divided by log2(entities) (null for one entity)
-- column theil: Theil T index
-- column effective_entities: 1/Σ share²
-- column unknown_share: share of models (or FLOP) whose entity is 'unknown' (none listed)
-- column models: model rows behind the row (with a positive weight)
select
    dataset, dimension, weighting, period, period_start, period_end, total, entities, hhi,
    hhi_ci_low, hhi_ci_high, nakamoto, nakamoto_ci_low, nakamoto_ci_high, tau_033, tau_066, cr1,
    cr3, cr5, gini, entropy_bits, entropy_normalized, theil, effective_entities, unknown_share,
    models
from intermediate.ai_concentration
order by dataset, dimension, weighting, period, period_start
