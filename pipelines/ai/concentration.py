"""How concentrated AI model building is: by organisation, country and sector, and how open.

Each model's credit (``model_credits``: 1/k per organisation, summed per entity) is counted in
calendar years and in rolling 12-month windows, weighted by models or by training compute.
"""

from __future__ import annotations

import calendar
from datetime import date

import polars as pl

from pipelines.ai.models import DIMENSIONS, model_credits
from pipelines.metrics.concentration import concentration_table, ordered_sum, wilson_exprs
from pipelines.schemas.ai import AI_CONCENTRATION, AI_OPENNESS, OPEN, UNKNOWN

PERIODS = ("year", "rolling_12m")
WEIGHTINGS = ("models", "training_compute")
KEYS = ["dataset", "dimension", "weighting", "period", "period_start", "period_end"]
CI_COLUMNS = ("hhi_ci_low", "hhi_ci_high", "nakamoto_ci_low", "nakamoto_ci_high")


def _dated_credits(models: pl.DataFrame, as_of_month: date | None) -> pl.LazyFrame:
    """Every dimension's credits of dated models, one row per weighting with its ``weight``."""
    credits = pl.concat([model_credits(models, dimension) for dimension in DIMENSIONS]).lazy()
    credits = credits.filter(pl.col("publication_date").is_not_null())
    if as_of_month is not None:
        credits = credits.filter(pl.col("publication_date") <= _month_end(as_of_month))
    return pl.concat(
        [
            credits.with_columns(
                pl.lit("models").alias("weighting"), pl.col("credit").alias("weight")
            ),
            credits.with_columns(
                pl.lit("training_compute").alias("weighting"),
                (pl.col("credit") * pl.col("training_compute_flop")).alias("weight"),
            ),
        ]
    ).filter(pl.col("weight") > 0)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _periods(credits: pl.LazyFrame, as_of_month: date | None) -> pl.LazyFrame:
    """Each credit once in its year and once in each of the 12 rolling windows holding it that
    end by the last month (``as_of_month``, else the dataset's last month with models)."""
    month = pl.col("publication_date").dt.month_start()
    last = (
        pl.lit(as_of_month).dt.month_start()
        if as_of_month is not None
        else month.max().over("dataset")
    )
    year = pl.col("publication_date").dt.year()
    years = credits.with_columns(
        pl.lit("year").alias("period"),
        pl.date(year, 1, 1).alias("period_start"),
        pl.date(year, 12, 31).alias("period_end"),
    )
    end_month = month.dt.offset_by(pl.format("{}mo", pl.col("_offset")))
    rolling = (
        credits.with_columns(last.alias("_last"), pl.int_ranges(0, 12).alias("_offset"))
        .explode("_offset")
        .with_columns(end_month.alias("_end_month"))
        .filter(pl.col("_end_month") <= pl.col("_last"))
        .with_columns(
            pl.lit("rolling_12m").alias("period"),
            pl.col("_end_month").dt.offset_by("-11mo").alias("period_start"),
            pl.col("_end_month").dt.month_end().alias("period_end"),
        )
        .drop("_last", "_offset", "_end_month")
    )
    return pl.concat([years, rolling])


def ai_concentration(models: pl.DataFrame, as_of_month: date | None = None) -> pl.DataFrame:
    """The metric set per (dataset, dimension, weighting, period): ``AI_CONCENTRATION``.

    ``models`` are ``raw.ai_models`` rows (one per dataset, concatenated). Models without a
    publication date are left out (they are reported by the reader), and so are those after
    ``as_of_month`` (any day of the last month to report; default: each dataset's last month
    with models, the last month of its rolling windows). The entity 'unknown' (no organisation,
    country or category listed) counts as an entity; its share is unknown_share. Intervals are
    null for the training_compute weighting: FLOP are not a sample size. Sorted by the keys.
    """
    periods = _periods(_dated_credits(models, as_of_month), as_of_month)
    table = concentration_table(
        periods, KEYS, entity="entity", count="weight", unknown_entity=UNKNOWN
    )
    behind = periods.group_by(KEYS).agg(pl.col("row").n_unique().cast(pl.Int64).alias("models"))
    compute = pl.col("weighting") == "training_compute"
    return (
        table.lazy()
        .join(behind, on=KEYS, how="left")
        .with_columns(pl.when(~compute).then(pl.col(name)).alias(name) for name in CI_COLUMNS)
        .select(list(AI_CONCENTRATION.descriptions))
        .sort(KEYS)
        .collect()
    )


def ai_openness(models: pl.DataFrame) -> pl.DataFrame:
    """Open-weight share per (year, dataset) of dated models: ``AI_OPENNESS``, sorted."""
    known = pl.col("accessibility").is_not_null()
    is_open = pl.col("accessibility").is_in(OPEN)
    flop = pl.col("training_compute_flop")
    compute_known = ordered_sum(pl.when(known).then(flop))
    counts = (
        models.lazy()
        .filter(pl.col("publication_date").is_not_null())
        .group_by(pl.col("publication_date").dt.year().alias("year"), "dataset")
        .agg(
            pl.len().cast(pl.Int64).alias("models"),
            known.sum().cast(pl.Int64).alias("models_known"),
            is_open.sum().cast(pl.Int64).alias("open_models"),
            pl.when(compute_known > 0)
            .then(ordered_sum(pl.when(is_open).then(flop)) / compute_known)
            .alias("compute_open_share"),
        )
    )
    low, high = wilson_exprs(pl.col("open_models"), pl.col("models_known"))
    return (
        counts.with_columns(
            pl.when(pl.col("models_known") > 0)
            .then(pl.col("open_models") / pl.col("models_known"))
            .alias("open_share"),
            low.alias("open_share_ci_low"),
            high.alias("open_share_ci_high"),
        )
        .select(list(AI_OPENNESS.descriptions))
        .sort("year", "dataset")
        .collect()
    )
