"""Credits of AI models to the entities that built them (organisations, countries, categories).

The model rows are Epoch AI's databases as read by ``pipelines/sources/epoch_models.py``
(``raw.ai_models``); a model shared by several entities gives each a fractional credit.
"""

from __future__ import annotations

import polars as pl

from pipelines.schemas.ai import AI_MODELS, UNKNOWN

# dimension -> the list column holding its entities
DIMENSIONS = {
    "organization": "organizations",
    "country": "countries",
    "organization_category": "organization_categories",
}


CREDIT_COLUMNS = {
    "dataset": AI_MODELS.descriptions["dataset"],
    "row": AI_MODELS.descriptions["row"],
    "model": AI_MODELS.descriptions["model"],
    "publication_date": AI_MODELS.descriptions["publication_date"],
    "training_compute_flop": AI_MODELS.descriptions["training_compute_flop"],
    "dimension": "'organization', 'country' or 'organization_category'",
    "entity": "organisation, country or category; 'unknown' when the model lists none",
    "credit": "the entity's share of the model (a model's credits sum to 1)",
}


def model_credits(models: pl.DataFrame | pl.LazyFrame, dimension: str) -> pl.DataFrame:
    """One row per (model row, entity) of ``dimension`` with its ``credit`` (``CREDIT_COLUMNS``).

    Each of the m entries of the model's list gets 1/m: for countries and categories aligned
    with the k organisations (m = k) that is each organisation's 1/k going to its own country
    or category, and a list of another length (Google DeepMind: US, UK) is split on its own.
    An entity repeated within a model is summed (two US organisations: US 1). A model with an
    empty list gets 'unknown' with credit 1; a null list (the file has no such column) none.
    Sorted by dataset, row, entity.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; valid: {', '.join(DIMENSIONS)}")
    column = pl.col(DIMENSIONS[dimension])
    keys = ["dataset", "row", "model", "publication_date", "training_compute_flop"]
    return (
        models.lazy()
        .filter(column.is_not_null())
        .select(
            *keys,
            column.alias("entity"),
            (1 / column.list.len().clip(lower_bound=1)).alias("credit"),
        )
        .explode("entity", empty_as_null=True)
        .with_columns(pl.col("entity").fill_null(UNKNOWN))
        .group_by(*keys, "entity")
        .agg(pl.col("credit").sum())
        .select(*keys, pl.lit(dimension).alias("dimension"), "entity", "credit")
        .sort("dataset", "row", "entity")
        .collect()
    )
