-- How concentrated the building of AI models is, per calendar year and per rolling 12 months
-- (windows ending at each month end), for each Epoch dataset, dimension (organization, country,
-- organization_category) and weighting ('models': each model counts 1, shared by its k
-- organisations as 1/k each; 'training_compute': the same credit times the model's training FLOP,
-- models without compute left out). The same metric set as mining concentration; 'unknown' (no
-- entity listed) is one entity. Intervals only for the model-count weighting.
-- materialized: view
select
    dataset, dimension, weighting, period, period_start, period_end, total, entities, hhi,
    hhi_ci_low, hhi_ci_high, nakamoto, nakamoto_ci_low, nakamoto_ci_high, tau_033, tau_066, cr1,
    cr3, cr5, gini, entropy_bits, entropy_normalized, theil, effective_entities, unknown_share,
    models
from intermediate.ai_concentration
order by dataset, dimension, weighting, period, period_start
