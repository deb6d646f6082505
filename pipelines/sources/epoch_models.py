"""Epoch AI's model databases: one row per model with who built it, where, and how open it is.

Epoch AI (CC BY 4.0) publishes four CSVs of one schema family: every ML system (dataset
``all``), the ``notable`` models, the ``large_scale`` models (over 10²³ FLOP) and the
``frontier`` models. Not every file has every column: large_scale has no
``Organization categorization``, ``Training compute cost (2023 USD)`` nor ``Frontier model``, and
``all`` has no ``Frontier model``; what a file lacks is null.

Lists are comma-separated. ``Country (of organization)`` and ``Organization categorization``
usually hold one entry per organisation, in the same order ("aligned"); some list more entries
(an organisation in two countries). ``Organization`` may quote a name holding a comma
(``"SambaNova Systems, Inc"``); a comma followed by a space is ambiguous ("… Co., Ltd." is one
organisation, "MIT, Genesis Therapeutics" two), so it separates organisations only when that
makes the list as long as the aligned country or category list and keeping it does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.countries import country_code
from pipelines.http import SourceFormatError
from pipelines.schemas.ai import AI_MODELS, DATASETS, MULTINATIONAL, UNKNOWN
from pipelines.schemas.rejects import MAX_REJECT_VALUE, REJECT_SCHEMA
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, location_bytes, option
from pipelines.sources.text_csv import number_problem, read_text_csv

MODEL = "Model"
ORGANIZATION = "Organization"
DATE = "Publication date"
COUNTRY = "Country (of organization)"
CATEGORY = "Organization categorization"
ACCESSIBILITY_COLUMN = "Model accessibility"
FRONTIER = "Frontier model"
# Epoch column -> ours, for the numbers
NUMBERS = {
    "Training compute (FLOP)": "training_compute_flop",
    "Training compute cost (2023 USD)": "training_cost_usd_2023",
    "Parameters": "parameters",
}
EPOCH_COLUMNS = (MODEL, ORGANIZATION, DATE, COUNTRY, CATEGORY, ACCESSIBILITY_COLUMN, FRONTIER)

# Epoch's ``Model accessibility`` (compared lower case, spaces collapsed) -> ours; anything else,
# reported, and an empty cell are null.
ACCESSIBILITY = {
    "open weights (unrestricted)": "open_unrestricted",
    "open weights (restricted use)": "open_restricted",
    "open weights (non-commercial)": "open_restricted",
    "api access": "api",
    "hosted access (no api)": "hosted",
    "unreleased": "unreleased",
}
TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")

_STRICT_ITEMS = r'(?:"[^"]*"|[^,"]|,\s)+'  # commas followed by a space stay inside an entry
_LOOSE_ITEMS = r'(?:"[^"]*"|[^,"])+'  # every comma outside quotes separates
_PLAIN_ITEMS = r"[^,]+"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_NO_LIST = pl.lit(None, dtype=pl.List(pl.String))


def _items(raw: pl.Expr, pattern: str) -> pl.Expr:
    """A comma-separated cell's entries: quotes dropped, spaces collapsed, empty ones left out."""
    entry = (
        pl.element()
        .str.replace_all('"', "", literal=True)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    return raw.fill_null("").str.extract_all(pattern).list.eval(entry.filter(entry != ""))


def _organizations(raw: pl.Expr, countries: pl.Expr, categories: pl.Expr) -> pl.Expr:
    """Organisations, splitting at ", " only when that aligns them with countries or categories."""
    strict, loose = _items(raw, _STRICT_ITEMS), _items(raw, _LOOSE_ITEMS)

    def aligned(items: pl.Expr) -> pl.Expr:
        n = items.list.len()
        return ((n == countries.list.len()) | (n == categories.list.len())).fill_null(False)

    return pl.when(aligned(loose) & ~aligned(strict)).then(loose).otherwise(strict)


def _country(name: pl.Expr) -> pl.Expr:
    """ISO alpha-2, MULTINATIONAL, or 'unknown', for a country name."""
    return (
        pl.when(name.str.to_lowercase() == "multinational")
        .then(pl.lit(MULTINATIONAL))
        .otherwise(pl.coalesce(country_code(name), pl.lit(UNKNOWN)))
    )


def _number_text(raw: pl.Expr) -> pl.Expr:
    """The text of a number without a leading '$' and thousands separators."""
    text = raw.str.strip_chars().str.replace(r"^\$\s*", "")
    return (
        pl.when(text.str.contains(_THOUSANDS))
        .then(text.str.replace_all(",", "", literal=True))
        .otherwise(text)
    )


def _number_problem(raw: pl.Expr) -> pl.Expr:
    """Why a non-empty cell is not a finite non-negative number; null when it is (or empty)."""
    blank = raw.is_null() | (raw.str.strip_chars() == "")
    return pl.when(blank).then(None).otherwise(number_problem(_number_text(raw)))


def _problems(frame: pl.DataFrame, field: str, value: pl.Expr, problem: pl.Expr) -> pl.DataFrame:
    """Problem rows (row, field, value, problem) of the rows of ``frame`` with a problem."""
    return frame.filter(problem.is_not_null()).select(
        pl.col("row"),
        pl.lit(field).alias("field"),
        value.str.slice(0, MAX_REJECT_VALUE).alias("value"),
        problem.alias("problem"),
    )


def read_epoch_models(data: bytes, dataset: str, feed: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(models, problems)`` of one Epoch models CSV: ``AI_MODELS``, one row per record.

    A bad publication date, number, accessibility, frontier flag or country name is nulled (or
    'unknown' for a country) and reported in ``REJECT_SCHEMA`` (record ``row N``, field the
    Epoch column), the row kept; so are a missing model name or date, and a model name repeated
    (both rows kept). A file that is not CSV or has no ``Model`` or ``Organization`` column
    raises SourceFormatError naming ``feed``.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    frame = read_text_csv(data, feed)
    missing = [name for name in (MODEL, ORGANIZATION) if name not in frame.columns]
    if missing:
        raise SourceFormatError(
            f"{feed}: an Epoch models CSV needs columns {MODEL!r} and {ORGANIZATION!r}; "
            f"missing {', '.join(missing)}; the file has: {', '.join(frame.columns)}"
        )
    present = set(frame.columns)
    raw = frame.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        *[
            (pl.col(name) if name in present else pl.lit(None, pl.String)).alias(name)
            for name in (*EPOCH_COLUMNS, *NUMBERS)
        ],
    )

    date_text = pl.col(DATE).str.strip_chars()
    date = pl.when(date_text.str.contains(_ISO_DATE)).then(
        date_text.str.to_date("%Y-%m-%d", strict=False)
    )
    country_names = _items(pl.col(COUNTRY), _PLAIN_ITEMS)
    categories = _items(pl.col(CATEGORY), _PLAIN_ITEMS) if CATEGORY in present else _NO_LIST
    accessibility_raw = pl.col(ACCESSIBILITY_COLUMN).str.strip_chars()
    accessibility = (
        accessibility_raw.str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .replace_strict(ACCESSIBILITY, default=None, return_dtype=pl.String)
    )
    flag = pl.col(FRONTIER).str.strip_chars().str.to_lowercase()
    if dataset == "frontier":
        frontier = pl.lit(True)
    elif FRONTIER in present:
        frontier = (
            pl.when(flag.is_null() | (flag == "") | flag.is_in(FALSE_WORDS))
            .then(False)
            .when(flag.is_in(TRUE_WORDS))
            .then(True)
        )
    else:
        frontier = pl.lit(None, pl.Boolean)
    model = pl.col(MODEL).str.strip_chars()
    parsed = raw.with_columns(
        pl.when(model != "").then(model).alias("model"),
        date.alias("publication_date"),
        country_names.alias("_country_names"),
        categories.alias("organization_categories"),
        *[
            pl.when(_number_problem(pl.col(name)).is_null())
            .then(_number_text(pl.col(name)).cast(pl.Float64, strict=False))
            .alias(ours)
            for name, ours in NUMBERS.items()
        ],
        accessibility.alias("accessibility"),
        pl.when(accessibility_raw != "").then(accessibility_raw).alias("accessibility_raw"),
        frontier.alias("frontier"),
        pl.lit(dataset).alias("dataset"),
        pl.lit(feed).alias("feed"),
    ).with_columns(
        _organizations(
            pl.col(ORGANIZATION), pl.col("_country_names"), pl.col("organization_categories")
        ).alias("organizations"),
        pl.col("_country_names").list.eval(_country(pl.element())).alias("countries"),
        pl.col("row").min().over("model").alias("_first_row"),
    )

    names = parsed.select("row", pl.col("_country_names").alias("name")).explode("name")
    problems = [
        _problems(
            parsed,
            MODEL,
            pl.col(MODEL),
            pl.when(pl.col("model").is_null())
            .then(pl.lit("missing"))
            .when(pl.col("row") != pl.col("_first_row"))
            .then(pl.format("model name repeated (first at row {}); both rows kept", "_first_row")),
        ),
        _problems(
            parsed,
            DATE,
            pl.col(DATE),
            pl.when(date_text.is_null() | (date_text == ""))
            .then(pl.lit("missing"))
            .when(pl.col("publication_date").is_null())
            .then(pl.lit("not a date (YYYY-MM-DD)")),
        ),
        _problems(
            names,
            COUNTRY,
            pl.col("name"),
            pl.when(_country(pl.col("name")) == UNKNOWN).then(pl.lit("unknown country name")),
        ),
        *[_problems(parsed, name, pl.col(name), _number_problem(pl.col(name))) for name in NUMBERS],
        _problems(
            parsed,
            ACCESSIBILITY_COLUMN,
            pl.col(ACCESSIBILITY_COLUMN),
            pl.when(
                pl.col("accessibility_raw").is_not_null() & pl.col("accessibility").is_null()
            ).then(pl.lit("unknown accessibility")),
        ),
        _problems(
            parsed,
            FRONTIER,
            pl.col(FRONTIER),
            pl.when(pl.col("frontier").is_null() & flag.is_not_null()).then(
                pl.lit("not True or False")
            ),
        ),
    ]
    rejects = (
        pl.concat(problems)
        .sort("row", maintain_order=True)
        .select(
            pl.lit(feed).alias("feed"),
            pl.format("row {}", "row").alias("record"),
            "field",
            "value",
            "problem",
        )
        .cast(REJECT_SCHEMA)
    )
    models = parsed.select(list(AI_MODELS.descriptions)).cast(
        {
            "organizations": pl.List(pl.String),
            "countries": pl.List(pl.String),
            "organization_categories": pl.List(pl.String),
            "frontier": pl.Boolean,
        }
    )
    return models, rejects


@dataclass(frozen=True)
class ModelsOptions:
    dataset: str = option(
        "",
        choices=("all", "notable", "large_scale", "frontier"),
        help="which of Epoch's four databases the file is",
    )


def read_models_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    models, problems = read_epoch_models(location_bytes(feed), feed.options.dataset, feed.name)
    dates = models["publication_date"]
    report = {"dataset": feed.options.dataset, "first": str(dates.min()), "last": str(dates.max())}
    return FeedRead(models, problems, report)


KINDS = (
    SourceKind(
        "epoch_models_csv",
        "ai_models",
        "an Epoch AI model database CSV (all_ai_models, notable_ai_models, large_scale_ai_models "
        "or frontier_ai_models), a file or its download URL",
        read_models_feed,
        ModelsOptions,
        table="raw.ai_models",
        licence=("Epoch AI: CC BY 4.0 (cite Epoch AI)"),
    ),
)
