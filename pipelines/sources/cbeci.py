"""CBECI mining map: monthly hash rate shares by country, and later point estimates (a seed).

The Cambridge Centre for Alternative Finance (CCAF) published, for September 2019 to January
2022, each month's share of hash rate by country, from the IP addresses of miners connecting to
partner pools. The export has the header
``date,country,monthly_hashrate_%,monthly_absolute_hashrate_EH/S``: first-of-month dates,
shares as ``75.53%`` (a plain 0–100 number is read the same), names as the World Bank writes
them (``Mainland China``, ``"Iran, Islamic Rep."``), ``Other`` for the rest, and a ``*`` after
names the map footnotes (Germany, Ireland: see ``flagged``).

``read_hashrate_point_estimates`` reads ``dbt_like_sql/seeds/hashrate_point_estimates.csv``:
later published country shares (surveys, heatmaps), each with what it covers and its source.
"""

from __future__ import annotations

import polars as pl

from pipelines.countries import country_code
from pipelines.http import SourceFormatError
from pipelines.schemas.market import HASHRATE_GEOGRAPHY_SCHEMA, OTHER
from pipelines.schemas.rejects import REJECT_SCHEMA, rejects_of
from pipelines.sources.blockchain_com import NOT_A_NUMBER, scaled_number
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, location_bytes
from pipelines.sources.text_csv import read_text_csv

SOURCE = "cbeci"
HEADER = ("date", "country", "monthly_hashrate_%", "monthly_absolute_hashrate_EH/S")
SHARE_TOLERANCE = 0.005  # a month's shares sum to 1 within half a percentage point
FOOTNOTE = r"\s*\*+$"


def _problem(raw: pl.Expr, problem: str | pl.Expr) -> pl.Expr:
    problem = pl.lit(problem) if isinstance(problem, str) else problem
    return (
        pl.when(raw.is_null() | (raw.str.strip_chars() == ""))
        .then(pl.lit("missing"))
        .otherwise(problem)
    )


def read_cbeci_countries(data: bytes, feed: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The mining map export: ``(rows, rejects)``, rows in ``HASHRATE_GEOGRAPHY_SCHEMA``.

    A row with a bad month (not the first of a month), an unknown country or a share that is not
    0–100% is rejected; a repeated (month, country) rejects the later row. A bad hash rate is
    nulled and reported, the row kept. Records are ``row N``, N counting data rows from 1.
    """
    frame = read_text_csv(data, "CBECI countries")
    columns = {column.strip().lower(): column for column in frame.columns}
    missing = [name for name in HEADER if name.lower() not in columns]
    if missing:
        raise SourceFormatError(
            f"CBECI countries: no column {', '.join(missing)}; the file has {frame.columns}"
        )
    raw = frame.select(
        pl.col(columns[name.lower()]).alias(alias)
        for name, alias in zip(
            HEADER, ("raw_month", "raw_country", "raw_share", "raw_hashrate"), strict=True
        )
    ).with_row_index("row", offset=1)
    raw = raw.with_columns(pl.format("row {}", "row").alias("record"))

    month_text = pl.col("raw_month").str.strip_chars().str.extract(r"^(\d{4}-\d{2})(?:-01)?$", 1)
    published = pl.col("raw_country").str.strip_chars()
    name = published.str.replace(FOOTNOTE, "")
    share_text = pl.col("raw_share").str.strip_chars().str.strip_suffix("%")
    hashrate_text = pl.col("raw_hashrate").str.strip_chars()
    parsed = raw.with_columns(
        pl.concat_str(month_text, pl.lit("-01"))
        .str.to_date("%Y-%m-%d", strict=False)
        .alias("month"),
        pl.when(name.str.to_lowercase() == "other")
        .then(pl.lit(OTHER))
        .otherwise(country_code(name))
        .alias("country"),
        name.alias("country_name"),
        scaled_number(share_text, -2).alias("share"),
        scaled_number(hashrate_text, 0).alias("hashrate_ehs"),
        published.str.contains(FOOTNOTE).alias("flagged"),
        (hashrate_text.is_not_null() & (hashrate_text != "")).alias("has_hashrate"),
    )
    bad_share = pl.col("share").is_null() | (pl.col("share") > 1)
    share_problem = pl.when(pl.col("share") > 1).then(pl.lit("above 100%"))
    valid = parsed.filter(
        pl.col("month").is_not_null() & pl.col("country").is_not_null() & ~bad_share
    ).with_columns(pl.col("row").min().over("month", "country").alias("first_row"))
    rejects = pl.concat(
        [
            rejects_of(
                parsed.filter(pl.col("month").is_null()),
                feed,
                "date",
                "raw_month",
                _problem(pl.col("raw_month"), "not a first-of-month date (YYYY-MM-DD or YYYY-MM)"),
            ),
            rejects_of(
                parsed.filter(pl.col("country").is_null()),
                feed,
                "country",
                "raw_country",
                _problem(pl.col("raw_country"), "unknown country name"),
            ),
            rejects_of(
                parsed.filter(bad_share),
                feed,
                "monthly_hashrate_%",
                "raw_share",
                _problem(
                    pl.col("raw_share"),
                    share_problem.otherwise(pl.lit("not a percentage from 0 to 100")),
                ),
            ),
            rejects_of(
                parsed.filter(pl.col("has_hashrate") & pl.col("hashrate_ehs").is_null()),
                feed,
                "monthly_absolute_hashrate_EH/S",
                "raw_hashrate",
                pl.lit(NOT_A_NUMBER),
            ),
            rejects_of(
                valid.filter(pl.col("row") != pl.col("first_row")),
                feed,
                "country",
                "raw_country",
                pl.format("repeats {} {} of row {}", "country", "month", "first_row"),
            ),
        ]
    )
    rows = (
        valid.filter(pl.col("row") == pl.col("first_row"))
        .with_columns(pl.lit(feed).alias("feed"), pl.lit(SOURCE).alias("source"))
        .sort("month", "country")
        .select(list(HASHRATE_GEOGRAPHY_SCHEMA))
    )
    rejects = rejects.sort("row", maintain_order=True).select(list(REJECT_SCHEMA))
    return rows.cast(HASHRATE_GEOGRAPHY_SCHEMA), rejects.cast(REJECT_SCHEMA)


def month_share_totals(rows: pl.DataFrame, tolerance: float = SHARE_TOLERANCE) -> pl.DataFrame:
    """Months whose shares do not sum to 1 ± `tolerance`: feed, month, countries, share_total.

    Published shares are rounded, so a month rarely sums to exactly 1; one further off has rows
    missing or wrong (rejected rows are missing). None of its rows is rejected for it.
    """
    return (
        rows.group_by("feed", "month")
        .agg(
            pl.len().cast(pl.Int64).alias("countries"),
            pl.col("share").sum().round(10).alias("share_total"),
        )
        .filter((pl.col("share_total") - 1).abs() > tolerance)
        .sort("feed", "month")
    )


def read_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    rows, rejects = read_cbeci_countries(location_bytes(feed), "cbeci")
    rows = rows.cast(HASHRATE_GEOGRAPHY_SCHEMA)
    return FeedRead(rows, rejects, {"rows": rows.height, "rejected": rejects.height})


KINDS = (
    SourceKind(
        "cbeci_csv",
        "hashrate_geography",
        "Cambridge (CCAF CBECI) mining map export: date, country, monthly_hashrate_%, "
        "monthly_absolute_hashrate_EH/S (a file or the download URL)",
        read_feed,
        table="raw.hashrate_geography",
        licence=(
            "Cambridge Centre for Alternative Finance (CCAF), CBECI mining map: cite CCAF; the "
            "CBECI website is CC BY-NC-SA 4.0 (shared copy from "
            "Mccalabrese/Bitcoin-Hashrate-simulations-MonteCarlo)"
        ),
    ),
)
