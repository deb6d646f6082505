"""Curated pool reference tables kept in the repo (``dbt_like_sql/seeds/``).

``pool_owners.csv``: pool → owning entity over a date range (inclusive; empty = open), with a public
source per row. A pool without a row owns itself. ``pool_label_aliases.csv``: labels used by block
files or duplicate registry entries → the registry pool they mean, with the reason and a source.
Rows are added by pull request, each with its source, and reviewed like code.
"""

from pathlib import Path

import polars as pl

from pipelines.config import PROJECT_ROOT
from pipelines.text import normalise_key

SEEDS = PROJECT_ROOT / "dbt_like_sql" / "seeds"

OWNER_COLUMNS = {
    "pool": "registry pool name",
    "owner": "entity owning the pool over the range",
    "valid_from": "first day of ownership (null: since the pool began)",
    "valid_to": "last day of ownership, inclusive (null: still owned)",
    "source": "public source for the row",
    "note": "what the source says",
    "range_error": "valid_from after valid_to (null when fine)",
    "overlap_error": "another row gives the pool an owner on overlapping days (null when fine)",
}
ALIAS_COLUMNS = {
    "alias": "label or registry name as written",
    "alias_key": "the alias lower-cased with punctuation removed (how labels are matched)",
    "pool": "registry pool it stands for",
    "reason": "why the alias is the same pool",
    "source": "public source",
}


def read_pool_owners(path: Path = SEEDS / "pool_owners.csv") -> pl.DataFrame:
    """The owner table with ``range_error`` and ``overlap_error`` filled in for the checks."""
    owners = (
        pl.read_csv(path, infer_schema=False)
        .with_columns(  # strictly ISO dates: "31/12/2020" is an error, never a guess
            pl.col("valid_from", "valid_to").str.to_date("%Y-%m-%d", strict=True)
        )
        .select("pool", "owner", "valid_from", "valid_to", "source", "note")
        .with_row_index("row")
    )
    start = pl.col("valid_from").fill_null(pl.date(1900, 1, 1))
    end = pl.col("valid_to").fill_null(pl.date(9999, 12, 31))
    pairs = (
        owners.select("row", "pool", start.alias("a0"), end.alias("a1"))
        .join(owners.select("row", "pool", start.alias("b0"), end.alias("b1")), on="pool")
        .filter((pl.col("row") != pl.col("row_right")) & (pl.col("a0") <= pl.col("b1")))
        .filter(pl.col("b0") <= pl.col("a1"))
        .group_by("row")
        .agg(pl.col("row_right").sort().alias("overlaps"))
    )
    return (
        owners.join(pairs, on="row", how="left")
        .with_columns(
            pl.when(start > end)
            .then(
                pl.format(
                    "{}: valid_from {} is after valid_to {}", "pool", "valid_from", "valid_to"
                )
            )
            .alias("range_error"),
            pl.when(pl.col("overlaps").is_not_null())
            .then(
                pl.format(
                    "{}: row {} overlaps rows {}",
                    "pool",
                    pl.col("row") + 2,
                    (pl.col("overlaps").list.eval(pl.element() + 2))
                    .cast(pl.List(pl.String))
                    .list.join(", "),
                )
            )
            .alias("overlap_error"),
        )
        .sort("row")
        .select(list(OWNER_COLUMNS))
    )


def read_pool_label_aliases(path: Path = SEEDS / "pool_label_aliases.csv") -> pl.DataFrame:
    aliases = pl.read_csv(
        path,
        schema={"alias": pl.String, "pool": pl.String, "reason": pl.String, "source": pl.String},
    )
    return aliases.with_columns(normalise_key(pl.col("alias")).alias("alias_key")).select(
        list(ALIAS_COLUMNS)
    )
