"""The curated seed tables kept in the repo (``dbt_like_sql/seeds/<name>.csv``), read and checked.

Each seed is a raw asset (``pipelines/seeds.py``); these readers parse one file each and raise on
a malformed row, naming the file and line. Rows are added by pull request, each with its public
source, and reviewed like code.


``pool_owners.csv``: pool → owning entity over a date range (inclusive; empty = open), with a public
source per row. A pool without a row owns itself. ``pool_template_builders.csv``: pool → the pool
whose block template it sends its miners, by date, with a confidence and a source; a pool without a
row builds its own. ``pool_label_aliases.csv``: labels used by block files or duplicate registry
entries → the registry pool they mean, with the reason and a source. ``node_organizations.csv``:
AS number → the operator behind it; ``hosting_providers.csv``: operator → ``cloud`` or
``datacenter``. Rows are added by pull request, each with its source, and reviewed like code.
"""

import csv
from pathlib import Path

import polars as pl

from pipelines.countries import COUNTRIES
from pipelines.schemas import Contract
from pipelines.schemas.market import HASHRATE_POINT_ESTIMATES, OTHER
from pipelines.schemas.mining import POOL_LABEL_ALIASES, POOL_OWNERS, POOL_TEMPLATE_BUILDERS
from pipelines.schemas.nodes import HOSTING_PROVIDERS, NODE_ORGANIZATIONS
from pipelines.text import normalise_key

SEEDS = Path(__file__).resolve().parents[2] / "dbt_like_sql" / "seeds"


def _read_dated_seed(path: Path, columns: list[str]) -> pl.DataFrame:
    """A seed with ``valid_from``/``valid_to`` as dates and a ``row`` index (CSV line - 2)."""
    return (
        pl.read_csv(path, infer_schema=False)
        .with_columns(  # strictly ISO dates: "31/12/2020" is an error, never a guess
            pl.col("valid_from", "valid_to").str.to_date("%Y-%m-%d", strict=True)
        )
        .select(columns)
        .with_row_index("row")
    )


def with_range_errors(table: pl.DataFrame) -> pl.DataFrame:
    """``range_error`` and ``overlap_error`` for rows of a pool valid over inclusive date ranges.

    ``table`` has ``row`` (0-based, CSV line - 2), ``pool``, ``valid_from`` and ``valid_to``
    (null: open); an error names the pool and the CSV lines involved.
    """
    start = pl.col("valid_from").fill_null(pl.date(1900, 1, 1))
    end = pl.col("valid_to").fill_null(pl.date(9999, 12, 31))
    pairs = (
        table.select("row", "pool", start.alias("a0"), end.alias("a1"))
        .join(table.select("row", "pool", start.alias("b0"), end.alias("b1")), on="pool")
        .filter((pl.col("row") != pl.col("row_right")) & (pl.col("a0") <= pl.col("b1")))
        .filter(pl.col("b0") <= pl.col("a1"))
        .group_by("row")
        .agg(pl.col("row_right").sort().alias("overlaps"))
    )
    return (
        table.join(pairs, on="row", how="left")
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
        .drop("overlaps")
        .sort("row")
    )


def read_pool_owners(path: Path = SEEDS / "pool_owners.csv") -> pl.DataFrame:
    """The owner table with ``range_error`` and ``overlap_error`` filled in for the checks."""
    owners = _read_dated_seed(path, ["pool", "owner", "valid_from", "valid_to", "source", "note"])
    return with_range_errors(owners).select(list(POOL_OWNERS.descriptions))


def read_pool_template_builders(
    path: Path = SEEDS / "pool_template_builders.csv",
) -> pl.DataFrame:
    """The template-builder table with its range, overlap and chain errors for the checks.

    A ``chain_error`` marks a row whose builder is itself mapped to a builder on one of the
    row's days: each row must name the pool that builds the template, not another proxy.
    """
    builders = with_range_errors(
        _read_dated_seed(
            path,
            ["pool", "template_builder", "valid_from", "valid_to", "confidence", "source", "note"],
        )
    )
    start = pl.col("valid_from").fill_null(pl.date(1900, 1, 1))
    end = pl.col("valid_to").fill_null(pl.date(9999, 12, 31))
    chains = (
        builders.select("row", "template_builder", start.alias("a0"), end.alias("a1"))
        .join(
            builders.select(
                pl.col("row").alias("other"),
                pl.col("pool").alias("template_builder"),
                start.alias("b0"),
                end.alias("b1"),
            ),
            on="template_builder",
        )
        .filter((pl.col("a0") <= pl.col("b1")) & (pl.col("b0") <= pl.col("a1")))
        .group_by("row")
        .agg(pl.col("other").min())
    )
    return (
        builders.join(chains, on="row", how="left")
        .with_columns(
            pl.when(pl.col("other").is_not_null())
            .then(
                pl.format(
                    "{}: builder {} is itself mapped to a builder in row {}",
                    "pool",
                    "template_builder",
                    pl.col("other") + 2,
                )
            )
            .alias("chain_error")
        )
        .sort("row")
        .select(list(POOL_TEMPLATE_BUILDERS.descriptions))
    )


def read_pool_label_aliases(path: Path = SEEDS / "pool_label_aliases.csv") -> pl.DataFrame:
    aliases = pl.read_csv(
        path,
        schema={"alias": pl.String, "pool": pl.String, "reason": pl.String, "source": pl.String},
    )
    return aliases.with_columns(normalise_key(pl.col("alias")).alias("alias_key")).select(
        list(POOL_LABEL_ALIASES.descriptions)
    )


def read_hashrate_point_estimates(
    path: Path = SEEDS / "hashrate_point_estimates.csv",
) -> pl.DataFrame:
    """The curated later estimates (``HASHRATE_POINT_ESTIMATES``); a malformed row raises."""
    estimates = pl.read_csv(path, schema=dict.fromkeys(HASHRATE_POINT_ESTIMATES.schema, pl.String))
    estimates = estimates.with_columns(
        pl.col("as_of").str.to_date("%Y-%m-%d", strict=True),
        pl.col("share").cast(pl.Float64, strict=True),
    )
    bad = estimates.with_row_index("line", offset=2).filter(
        ~pl.col("country").is_in([*COUNTRIES, OTHER])
        | ~pl.col("share").is_between(0, 1)
        | pl.any_horizontal(pl.col("coverage", "source", "url").is_null())
    )
    if bad.height:
        raise ValueError(f"{path}: bad rows (country, share 0–1, coverage, source, url): {bad}")
    return estimates.cast(HASHRATE_POINT_ESTIMATES.schema)


def _read_typed_seed(path: Path, contract: Contract) -> pl.DataFrame:
    """The seed at ``path`` as ``contract``'s columns and types (empty fields null). A header
    other than the contract's columns, a row with another number of fields or a value that is
    not of its column's type raises, naming the file and the line."""
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader, [])
        if header != contract.names:
            raise ValueError(f"{path}: header {header}, expected {contract.names}")
        rows = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise ValueError(
                    f"{path}, line {reader.line_num}: {len(row)} fields, expected {len(header)}"
                )
            rows.append([reader.line_num, *(value or None for value in row)])
    text = pl.DataFrame(
        rows, schema={"line": pl.Int64, **dict.fromkeys(header, pl.String)}, orient="row"
    )
    typed = text.cast(contract.schema, strict=False)
    for name, dtype in contract.schema.items():
        bad = text.filter(pl.col(name).is_not_null() & typed[name].is_null())
        if bad.height:
            line, value = bad.row(0)[0], bad[name][0]
            raise ValueError(f"{path}, line {line}: {name} {value!r} is not of type {dtype}")
    return typed.drop("line")


def read_node_organizations(path: Path = SEEDS / "node_organizations.csv") -> pl.DataFrame:
    """The curated AS → operator table (``NODE_ORGANIZATIONS``); a malformed row raises."""
    return _read_typed_seed(path, NODE_ORGANIZATIONS)


def read_hosting_providers(path: Path = SEEDS / "hosting_providers.csv") -> pl.DataFrame:
    """The curated hosting operators (``HOSTING_PROVIDERS``); a malformed row raises."""
    return _read_typed_seed(path, HOSTING_PROVIDERS)
