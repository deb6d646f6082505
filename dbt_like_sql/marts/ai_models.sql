-- AI models from Epoch AI's databases (CC BY 4.0): every model row of each configured database
-- (dataset 'all', 'notable', 'large_scale', 'frontier'), with its organisations, countries and
-- organisation categories as lists in Epoch's order, training compute and cost, parameters,
-- normalised accessibility and the frontier flag. Values Epoch gives that cannot be parsed are null
-- and listed in raw.ai_model_problems.
-- materialized: view
select
    dataset, "row", model, publication_date, organizations, countries, organization_categories,
    training_compute_flop, training_cost_usd_2023, parameters, accessibility, accessibility_raw,
    frontier, feed
from raw.ai_models
order by dataset, "row"
