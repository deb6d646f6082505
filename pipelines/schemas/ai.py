"""Contracts of the AI tables: Epoch AI's model rows and chip-owner rows."""

import polars as pl

from pipelines.schemas import table
from pipelines.schemas.rejects import rejects_table

AI_MODELS = table(
    "raw.ai_models",
    "AI models from Epoch AI's databases (all, notable, large-scale, frontier), one row per "
    "model row of each: date, organisations, countries, organisation categories, training "
    "compute and cost, parameters, accessibility, frontier flag. Unparseable values are null "
    "(reported in raw.ai_model_problems).",
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
        "ISO alpha-2 country per entry of Country (of organization), in order; 'MULTINATIONAL' "
        "for Epoch's 'Multinational', 'unknown' for an unrecognised name (reported)",
    ),
    (
        "organization_categories",
        pl.List(pl.String()),
        "Organization categorization entries (Industry, Academia, Government, Research "
        "collective, ...); null when the file has no such column",
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
        "Epoch's Frontier model flag (all true in the frontier file); null when the file has "
        "no such column",
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
