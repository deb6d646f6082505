-- How open AI models are, per publication year and Epoch dataset: the share of models released with
-- open weights (any licence) among those whose accessibility is known, with a 95% Wilson interval,
-- and the share of training compute those open models hold.
-- materialized: table
-- column year: calendar year of publication
-- column dataset: Epoch dataset: 'all', 'notable', 'large_scale' or 'frontier'
-- column models: models published in the year
-- column models_known: of which with a known accessibility
-- column open_models: of which with open weights (unrestricted, restricted use or non-commercial)
-- column open_share: open_models / models_known (null when none is known)
-- column open_share_ci_low: 95% Wilson interval of open_share, low
-- column open_share_ci_high: 95% Wilson interval of open_share, high
-- column compute_open_share: training FLOP of open models / training FLOP of models with known accessibility and known compute (null when there is none)
select
    year, dataset, models, models_known, open_models, open_share, open_share_ci_low,
    open_share_ci_high, compute_open_share
from intermediate.ai_openness
order by dataset, year
