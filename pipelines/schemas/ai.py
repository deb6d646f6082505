"""Contracts of the AI tables: Epoch AI's model rows and chip-owner rows."""

import polars as pl

from pipelines.schemas import table
from pipelines.schemas.rejects import rejects_table

DATASETS = ("all", "notable", "large_scale", "frontier")  # Epoch's four model databases
UNKNOWN = "unknown"  # the entity of a model without one in a dimension
MULTINATIONAL = "MULTINATIONAL"  # Epoch's country "Multinational"
OTHER = "Other"  # the chip owner Epoch does not name (everyone else)
OPEN = ("open_unrestricted", "open_restricted")  # accessibility classes with open weights

AI_MODELS = table(
    "raw.ai_models",
    "AI models from Epoch AI's databases (all, notable, large-scale, frontier), one row per model "
    "row of each: date, organisations, countries, organisation categories, training compute and "
    "cost, parameters, accessibility, frontier flag. Unparseable values are null (reported in "
    "raw.ai_model_problems).",
    ("dataset", pl.String(), "Epoch dataset: 'all', 'notable', 'large_scale' or 'frontier'"),
    (
        "row",
        pl.Int64(),
        "N of the file's record 'row N' (records after the header, line breaks in quotes kept)",
    ),
    ("model", pl.String(), "model name (Model)"),
    (
        "publication_date",
        pl.Date(),
        "publication date (null when missing or not YYYY-MM-DD: reported)",
    ),
    ("organizations", pl.List(pl.String()), "organisations (Organization), in Epoch's order"),
    (
        "countries",
        pl.List(pl.String()),
        "ISO alpha-2 country per entry of Country (of organization), in order; 'MULTINATIONAL' for"
        " Epoch's 'Multinational', 'unknown' for an unrecognised name (reported)",
    ),
    (
        "organization_categories",
        pl.List(pl.String()),
        "Organization categorization entries (Industry, Academia, Government, Research collective,"
        " ...); null when the file has no such column",
    ),
    (
        "training_compute_flop",
        pl.Float64(),
        "training compute, FLOP (null when absent or unparseable)",
    ),
    (
        "training_cost_usd_2023",
        pl.Float64(),
        "training compute cost, 2023 US dollars ('$' and ',' accepted)",
    ),
    ("parameters", pl.Float64(), "parameters"),
    (
        "accessibility",
        pl.String(),
        "open_unrestricted, open_restricted (restricted use or non-commercial weights), api, "
        "hosted (no API), unreleased; null when empty or unrecognised (reported)",
    ),
    ("accessibility_raw", pl.String(), "Model accessibility as given"),
    (
        "frontier",
        pl.Boolean(),
        "Epoch's Frontier model flag (all true in the frontier file); null when the file has no "
        "such column",
    ),
    ("feed", pl.String(), "configured feed the file came from"),
)
AI_MODEL_PROBLEMS = rejects_table(
    "raw.ai_model_problems",
    "Values in the AI model files that could not be parsed (kept as null).",
)

AI_CHIP_OWNERS = table(
    "raw.ai_chip_owners",
    "Epoch AI's modelled cumulative AI-chip stock per quarter, owner and chip maker, in "
    "H100-equivalents with 5th/95th percentiles, every row of every file.",
    ("quarter", pl.Date(), "first day of the quarter the End date closes"),
    ("quarter_end", pl.Date(), "last day of that quarter"),
    (
        "owner",
        pl.String(),
        "owner (names normalised across files; 'Other' is everyone not named)",
    ),
    ("chip_manufacturer", pl.String(), "chip maker (Google: TPU, Amazon: Trainium)"),
    (
        "h100e",
        pl.Float64(),
        "cumulative chips since the file's Start date, H100 equivalents (median)",
    ),
    ("h100e_p05", pl.Float64(), "5th percentile (null when not given)"),
    ("h100e_p95", pl.Float64(), "95th percentile (null when not given)"),
    (
        "excludes",
        pl.List(pl.String()),
        "for an 'Other' row, the owners its Notes exclude ('Excludes A, B.'), else null",
    ),
    ("partial", pl.Boolean(), "Epoch marks the quarter incomplete (Incomplete = checked)"),
    ("file", pl.String(), "file name"),
    ("row", pl.Int64(), "record N of the file (after the header)"),
    ("feed", pl.String(), "configured feed the files came from"),
)
AI_CHIP_OWNER_PROBLEMS = rejects_table(
    "raw.ai_chip_owner_problems",
    "Rows and values of the chip-owner files that were left out or changed.",
)


AI_CONCENTRATION = table(
    "intermediate.ai_concentration",
    "Concentration of AI model building per year and rolling 12 months, by dataset, dimension "
    "(organisation, country, category) and weighting (models, training compute), with fractional "
    "credit for shared models.",
    ("dataset", pl.String(), "Epoch dataset: 'all', 'notable', 'large_scale' or 'frontier'"),
    (
        "dimension",
        pl.String(),
        "'organization', 'country' (ISO alpha-2) or 'organization_category'",
    ),
    (
        "weighting",
        pl.String(),
        (
            "'models' (each model's credits) or 'training_compute' (credits × training FLOP; "
            "models without compute left out)"
        ),
    ),
    (
        "period",
        pl.String(),
        (
            "'year' (calendar; a dataset's last year may be partial) or 'rolling_12m' (the 12 "
            "months ending at period_end)"
        ),
    ),
    ("period_start", pl.Date(), "first day of the period"),
    ("period_end", pl.Date(), "last day of the period (inclusive)"),
    (
        "total",
        pl.Float64(),
        "models (weighting models) or FLOP (weighting training_compute) in the period",
    ),
    ("entities", pl.Int64(), "entities with a positive credit"),
    ("hhi", pl.Float64(), "Herfindahl-Hirschman index, Σ(100·share)², 0-10,000"),
    (
        "hhi_ci_low",
        pl.Float64(),
        "95% interval of HHI, low (models as a sample; null for training_compute)",
    ),
    ("hhi_ci_high", pl.Float64(), "95% interval of HHI, high (null for training_compute)"),
    ("nakamoto", pl.Int64(), "fewest entities holding at least 50%"),
    (
        "nakamoto_ci_low",
        pl.Int64(),
        "95% interval of the Nakamoto coefficient, low (null for compute)",
    ),
    (
        "nakamoto_ci_high",
        pl.Int64(),
        "95% interval of the Nakamoto coefficient, high (null for compute)",
    ),
    ("tau_033", pl.Int64(), "fewest entities holding at least 33%"),
    ("tau_066", pl.Int64(), "fewest entities holding at least 66%"),
    ("cr1", pl.Float64(), "share of the largest entity"),
    ("cr3", pl.Float64(), "share of the three largest entities"),
    ("cr5", pl.Float64(), "share of the five largest entities"),
    ("gini", pl.Float64(), "Gini coefficient over entities with a positive credit"),
    ("entropy_bits", pl.Float64(), "Shannon entropy of shares, bits"),
    ("entropy_normalized", pl.Float64(), "entropy divided by log2(entities) (null for one entity)"),
    ("theil", pl.Float64(), "Theil T index"),
    ("effective_entities", pl.Float64(), "1/Σ share²"),
    (
        "unknown_share",
        pl.Float64(),
        "share of models (or FLOP) whose entity is 'unknown' (none listed)",
    ),
    ("models", pl.Int64(), "model rows behind the row (with a positive weight)"),
)

AI_OPENNESS = table(
    "intermediate.ai_openness",
    "Share of models released with open weights, per year and dataset, with a Wilson interval, and"
    " the share of training compute they hold.",
    ("year", pl.Int32(), "calendar year of publication"),
    ("dataset", pl.String(), "Epoch dataset: 'all', 'notable', 'large_scale' or 'frontier'"),
    ("models", pl.Int64(), "models published in the year"),
    ("models_known", pl.Int64(), "of which with a known accessibility"),
    (
        "open_models",
        pl.Int64(),
        "of which with open weights (unrestricted, restricted use or non-commercial)",
    ),
    ("open_share", pl.Float64(), "open_models / models_known (null when none is known)"),
    ("open_share_ci_low", pl.Float64(), "95% Wilson interval of open_share, low"),
    ("open_share_ci_high", pl.Float64(), "95% Wilson interval of open_share, high"),
    (
        "compute_open_share",
        pl.Float64(),
        (
            "training FLOP of open models / training FLOP of models with known accessibility and "
            "known compute (null when there is none)"
        ),
    ),
)

AI_COMPUTE_OWNERS = table(
    "intermediate.ai_compute_owners",
    "AI-chip stock per quarter and owner in H100-equivalents, summed over chip makers, no chip "
    "counted twice.",
    ("quarter", pl.Date(), "first day of the quarter the End date closes"),
    ("quarter_end", pl.Date(), "last day of that quarter"),
    ("owner", pl.String(), "owner (names normalised across files; 'Other' is everyone not named)"),
    (
        "chip_manufacturers",
        pl.List(pl.String()),
        "chip makers counted for the owner in the quarter",
    ),
    ("h100e", pl.Float64(), "H100 equivalents (median), summed over chip makers"),
    (
        "h100e_p05",
        pl.Float64(),
        (
            "sum of the makers' 5th percentiles: a wider range than the true 5th percentile, as if"
            " the makers' errors were perfectly correlated; a maker without one adds its median"
        ),
    ),
    ("h100e_p95", pl.Float64(), "sum of the makers' 95th percentiles (likewise)"),
    ("partial", pl.Boolean(), "some of the owner's rows are marked incomplete by Epoch"),
)

AI_COMPUTE_CONCENTRATION = table(
    "intermediate.ai_compute_concentration",
    "Concentration of AI compute among chip owners per quarter, with the range the percentile "
    "bounds imply.",
    ("quarter", pl.Date(), "first day of the quarter the End date closes"),
    ("quarter_end", pl.Date(), "last day of that quarter"),
    ("h100e", pl.Float64(), "H100 equivalents of every owner present (median)"),
    ("entities", pl.Int64(), "owners with chips, 'Other' included"),
    (
        "hhi",
        pl.Float64(),
        "Herfindahl-Hirschman index of median H100e shares, 0-10,000 ('Other' as one entity)",
    ),
    ("hhi_ci_low", pl.Float64(), "null: chip estimates are not a sample"),
    ("hhi_ci_high", pl.Float64(), "null"),
    ("nakamoto", pl.Int64(), "fewest owners holding at least 50%"),
    ("nakamoto_ci_low", pl.Int64(), "null"),
    ("nakamoto_ci_high", pl.Int64(), "null"),
    ("tau_033", pl.Int64(), "fewest owners holding at least 33%"),
    ("tau_066", pl.Int64(), "fewest owners holding at least 66%"),
    ("cr1", pl.Float64(), "share of the largest owner"),
    ("cr3", pl.Float64(), "share of the three largest owners"),
    ("cr5", pl.Float64(), "share of the five largest owners"),
    ("gini", pl.Float64(), "Gini coefficient over owners"),
    ("entropy_bits", pl.Float64(), "Shannon entropy of shares, bits"),
    ("entropy_normalized", pl.Float64(), "entropy divided by log2(entities)"),
    ("theil", pl.Float64(), "Theil T index"),
    ("effective_entities", pl.Float64(), "1/Σ share²"),
    ("unknown_share", pl.Float64(), "share of 'Other' (owners Epoch does not name)"),
    (
        "hhi_low",
        pl.Float64(),
        (
            "HHI with the largest owner (by median) at its 5th percentile and every other at its "
            "95th: the low end of the range the percentile bounds imply"
        ),
    ),
    (
        "hhi_high",
        pl.Float64(),
        "HHI with the largest owner at its 95th percentile and every other at its 5th",
    ),
    ("cr1_low", pl.Float64(), "cr1 in the hhi_low scenario"),
    ("cr1_high", pl.Float64(), "cr1 in the hhi_high scenario"),
    ("owners", pl.Int64(), "named owners with chips ('Other' not counted)"),
    ("partial", pl.Boolean(), "some rows of the quarter are marked incomplete by Epoch"),
    (
        "missing_series",
        pl.List(pl.String()),
        (
            "owner (maker) series with a value in an earlier quarter but none in this one (xAI is "
            "given for Q4 only; several files end before Q1 2026)"
        ),
    ),
    (
        "complete",
        pl.Boolean(),
        "no missing series and not partial: only then are quarters comparable",
    ),
)
