-- How open AI models are, per publication year and Epoch dataset: the share of models released with
-- open weights (any licence) among those whose accessibility is known, with a 95% Wilson interval,
-- and the share of training compute those open models hold.
-- materialized: view
select
    year, dataset, models, models_known, open_models, open_share, open_share_ci_low,
    open_share_ci_high, compute_open_share
from intermediate.ai_openness
order by dataset, year
