"""Rows a reader could not use: kept aside with the reason, never silently dropped.

Every raw table has a rejects table beside it with this shape, written by the same asset.
"""

import polars as pl

from pipelines.schemas import Contract, table

MAX_REJECT_VALUE = 200  # characters of a rejected value kept in a reject's ``value``
REJECT_COLUMNS = (
    ("feed", pl.String(), "configured feed the row came from"),
    ("record", pl.String(), "where in the input: 'line 17', 'row 17', 'height 812345', ..."),
    ("field", pl.String(), "the offending field"),
    ("value", pl.String(), f"its raw value, truncated to {MAX_REJECT_VALUE} characters"),
    ("problem", pl.String(), "what is wrong with it"),
)
REJECT_SCHEMA: dict[str, pl.DataType] = {name: dtype for name, dtype, _ in REJECT_COLUMNS}


def rejects_table(relation: str, description: str) -> Contract:
    """The contract of a rejects table (same columns for every source)."""
    return table(relation, description, *REJECT_COLUMNS)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def rejects_of(
    frame: pl.DataFrame, feed: str, field: str, value: str, problem: pl.Expr
) -> pl.DataFrame:
    """A reject per row of ``frame`` (which has ``row`` and ``record``): ``row`` (to sort by),
    then the ``REJECT_SCHEMA`` columns, with column ``value`` cut to ``MAX_REJECT_VALUE``."""
    return frame.select(
        "row",
        pl.lit(feed).alias("feed"),
        pl.col("record"),
        pl.lit(field).alias("field"),
        pl.col(value).str.slice(0, MAX_REJECT_VALUE).alias("value"),
        problem.alias("problem"),
    )
