-- AI models from Epoch AI's databases (CC BY 4.0): every model row of each configured database
-- (dataset 'all', 'notable', 'large_scale', 'frontier'), with its organisations, countries and
-- organisation categories as lists in Epoch's order, training compute and cost, parameters,
-- normalised accessibility and the frontier flag. Values Epoch gives that cannot be parsed are null
-- and listed in raw.ai_model_problems.
-- materialized: table
-- column dataset: Epoch dataset: 'all', 'notable', 'large_scale' or 'frontier'
-- column row: N of the file's record 'row N' (records after the header, line breaks in quotes kept)
-- column model: model name (Model)
-- column publication_date: publication date (null when missing or not YYYY-MM-DD: reported)
-- column organizations: organisations (Organization), in Epoch's order
-- column countries: ISO alpha-2 country per entry of Country (of organization), in order; 'MULTINATIONAL' for Epoch's 'Multinational', 'unknown' for an unrecognised name (reported)
-- column organization_categories: Organization categorization entries (Industry, Academia, Government, Research collective, ...); null when the file has no such column
-- column training_compute_flop: training compute, FLOP (null when absent or unparseable)
-- column training_cost_usd_2023: training compute cost, 2023 US dollars ('$' and ',' accepted)
-- column parameters: parameters
-- column accessibility: open_unrestricted, open_restricted (restricted use or non-commercial weights), api, hosted (no API), unreleased; null when empty or unrecognised (reported)
-- column accessibility_raw: Model accessibility as given
-- column frontier: Epoch's Frontier model flag (all true in the frontier file); null when the file has no such column
-- column feed: configured feed the file came from
select
    dataset, "row", model, publication_date, organizations, countries, organization_categories,
    training_compute_flop, training_cost_usd_2023, parameters, accessibility, accessibility_raw,
    frontier, feed
from raw.ai_models
order by dataset, "row"
