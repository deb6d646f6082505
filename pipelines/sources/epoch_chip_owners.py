"""Who owns the AI chips: Epoch AI's quarterly cumulative chip stock by owner, in H100 equivalents.

Each file counts chips of one maker delivered since its ``Start date`` up to the quarter's
``End date`` (median, 5th and 95th percentile), per owner:

- nvidia_owners_cumulative_totals: Nvidia chips of Microsoft, Meta, Amazon, Google, Oracle and
  China (the Chinese market as a whole, not one company), from 2022;
- nvidia_owners_OTHER_cumulative_totals: Nvidia chips of everyone else ("Other"), whose Notes
  say "Excludes Microsoft, Meta, Amazon, Google, Oracle, China, xAI, CoreWeave";
- coreweave_owners_cumulative_totals: CoreWeave's Nvidia chips, from 2023;
- named_other_owners_cumulative_totals: xAI's Nvidia chips (Colossus), a yearly data-centre
  estimate without percentiles, dated M/D/YY;
- amd_owners_cumulative_totals: AMD chips of Meta, Microsoft, Oracle, China (Q4 2025 only) and
  "Other" ("Excludes Microsoft, Meta, Oracle, China"), from 2024;
- tpu_owners_cumulative_totals: Google's TPUs (maker "Google"), from 2023;
- trainium_owners_cumulative_totals: Amazon's Trainium (maker "Amazon"), from 2024.

The files overlap (CoreWeave's chips are in its own file and may be in Nvidia's); every row is
kept here, and ``pipelines.ai.compute_owners`` applies the no-double-counting rule.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import polars as pl

from pipelines.http import SourceFormatError
from pipelines.schemas.ai import AI_CHIP_OWNERS, OTHER
from pipelines.schemas.rejects import MAX_REJECT_VALUE, REJECT_SCHEMA
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, location_bytes, option
from pipelines.sources.text_csv import read_text_csv

OWNER = "Owner"
MAKER = "Chip manufacturer"
END_DATE = "End date"
MEDIAN = "Compute estimate in H100e (median)"
P05 = "H100e (5th percentile)"
P95 = "H100e (95th percentile)"
NOTES = "Notes"
INCOMPLETE = "Incomplete"
REQUIRED = (OWNER, MAKER, END_DATE, MEDIAN)

# lower-case name -> the name used across files
OWNERS = {
    "microsoft": "Microsoft",
    "meta": "Meta",
    "facebook": "Meta",
    "amazon": "Amazon",
    "aws": "Amazon",
    "google": "Google",
    "oracle": "Oracle",
    "china": "China",
    "coreweave": "CoreWeave",
    "xai": "xAI",
    "other": OTHER,
    "others": OTHER,
}
MAKERS = {"nvidia": "Nvidia", "amd": "AMD", "google": "Google", "amazon": "Amazon"}


def _name(raw: pl.Expr, names: dict[str, str]) -> pl.Expr:
    """A name stripped, spaces collapsed, and spelled as ``names`` spells it when listed."""
    text = raw.str.replace_all(r"\s+", " ").str.strip_chars()
    canonical = text.str.to_lowercase().replace_strict(names, default=None, return_dtype=pl.String)
    return pl.when(text != "").then(pl.coalesce(canonical, text))


def _end_date(raw: pl.Expr) -> pl.Expr:
    """M/D/YYYY, M/D/YY (20YY) or YYYY-MM-DD; null otherwise."""
    text = raw.str.strip_chars()
    return (
        pl.when(text.str.contains(r"^\d{1,2}/\d{1,2}/\d{4}$"))
        .then(text.str.to_date("%m/%d/%Y", strict=False))
        .when(text.str.contains(r"^\d{1,2}/\d{1,2}/\d{2}$"))
        .then(text.str.to_date("%m/%d/%y", strict=False))
        .when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$"))
        .then(text.str.to_date("%Y-%m-%d", strict=False))
    )


def _number(raw: pl.Expr) -> pl.Expr:
    return (
        raw.str.strip_chars().str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    )


def _number_problem(raw: pl.Expr) -> pl.Expr:
    """Why a cell is not a finite non-negative number ('missing' when empty); null when it is."""
    number = _number(raw)
    return (
        pl.when(raw.is_null() | (raw.str.strip_chars() == ""))
        .then(pl.lit("missing"))
        .when(number.is_null() | ~number.is_finite())
        .then(pl.lit("not a number"))
        .when(number < 0)
        .then(pl.lit("negative"))
    )


def _problem_rows(
    frame: pl.DataFrame, field: str, value: pl.Expr, problem: pl.Expr
) -> pl.DataFrame:
    return frame.filter(problem.is_not_null()).select(
        "file",
        "row",
        pl.lit(field).alias("field"),
        value.cast(pl.String).str.slice(0, MAX_REJECT_VALUE).alias("value"),
        problem.alias("problem"),
    )


def _read_file(path: Path, feed: str) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Rows (``AI_CHIP_OWNERS``) and problem parts of one file."""
    frame = read_text_csv(path.read_bytes(), f"{feed}: {path.name}")
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise SourceFormatError(
            f"{feed}: {path.name} has no column {', '.join(missing)}; "
            f"the file has: {', '.join(frame.columns)}"
        )
    optional = (P05, P95, NOTES, INCOMPLETE)
    raw = frame.select(
        pl.lit(path.name).alias("file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        *REQUIRED,
        *[
            (pl.col(c) if c in frame.columns else pl.lit(None, pl.String)).alias(c)
            for c in optional
        ],
    )
    end = _end_date(pl.col(END_DATE))
    quarter = pl.date(end.dt.year(), (end.dt.month() - 1) // 3 * 3 + 1, 1)
    owner = _name(pl.col(OWNER), OWNERS)
    excluded = (
        pl.col(NOTES)
        .str.extract(r"(?i)excludes\s+([^.]*)", 1)
        .str.split(",")
        .list.eval(_name(pl.element(), OWNERS))
        .list.drop_nulls()
    )
    parsed = raw.with_columns(
        quarter.alias("quarter"),
        quarter.dt.offset_by("2mo").dt.month_end().alias("quarter_end"),
        end.alias("_end"),
        owner.alias("owner"),
        _name(pl.col(MAKER), MAKERS).alias("chip_manufacturer"),
        *[
            pl.when(_number_problem(pl.col(c)).is_null()).then(_number(pl.col(c))).alias(ours)
            for c, ours in ((MEDIAN, "h100e"), (P05, "h100e_p05"), (P95, "h100e_p95"))
        ],
        pl.when(owner == OTHER).then(excluded).alias("excludes"),
        (pl.col(INCOMPLETE).str.strip_chars().str.to_lowercase() == "checked")
        .fill_null(False)
        .alias("partial"),
        pl.lit(feed).alias("feed"),
    )
    problems = [
        _problem_rows(
            parsed,
            OWNER,
            pl.col(OWNER),
            pl.when(pl.col("owner").is_null()).then(pl.lit("missing: row left out")),
        ),
        _problem_rows(
            parsed,
            MAKER,
            pl.col(MAKER),
            pl.when(pl.col("chip_manufacturer").is_null()).then(pl.lit("missing: row left out")),
        ),
        _problem_rows(
            parsed,
            END_DATE,
            pl.col(END_DATE),
            pl.when(pl.col("_end").is_null())
            .then(pl.lit("not a date (M/D/YYYY): row left out"))
            .when(pl.col("_end") != pl.col("quarter_end"))
            .then(pl.lit("not the last day of a quarter: counted in the quarter holding it")),
        ),
        _problem_rows(
            parsed,
            MEDIAN,
            pl.col(MEDIAN),
            pl.when(pl.col("h100e").is_null()).then(
                _number_problem(pl.col(MEDIAN)) + ": row left out"
            ),
        ),
        *[
            _problem_rows(
                parsed,
                bound,
                pl.col(bound),
                pl.when((pl.col(bound).str.strip_chars() != "") & pl.col(ours).is_null())
                .then(_number_problem(pl.col(bound)) + ": bound left null")
                .when(wrong_side)
                .then(pl.lit(f"on the wrong side of the median ({MEDIAN}): bound left null")),
            )
            for bound, ours, wrong_side in (
                (P05, "h100e_p05", pl.col("h100e_p05") > pl.col("h100e")),
                (P95, "h100e_p95", pl.col("h100e_p95") < pl.col("h100e")),
            )
        ],
    ]
    usable = pl.all_horizontal(pl.col("owner", "chip_manufacturer", "_end", "h100e").is_not_null())
    rows = parsed.filter(usable).with_columns(  # a bound on the wrong side is no bound
        pl.when(pl.col("h100e_p05") <= pl.col("h100e")).then("h100e_p05").alias("h100e_p05"),
        pl.when(pl.col("h100e_p95") >= pl.col("h100e")).then("h100e_p95").alias("h100e_p95"),
    )
    rows = rows.select(list(AI_CHIP_OWNERS.schema)).cast(AI_CHIP_OWNERS.schema)
    return rows, problems


def read_chip_owner_files(folder: Path, feed: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(rows, problems)`` of every ``*.csv`` of Epoch's chip-owner folder.

    Rows (``AI_CHIP_OWNERS``) are everything the files say, sorted by quarter, owner, maker,
    file, row; a row without an owner, maker, End date or median is left out. Problems
    (``REJECT_SCHEMA``, record ``<file> row N``) report those, bad or disordered bounds, End
    dates that are not a quarter's last day (the raw asset adds what the no-double-counting
    rule of ``pipelines.ai.compute_owners`` changes). A
    missing or empty folder, an unreadable file or one without the needed columns raises
    SourceFormatError naming ``feed``.
    """
    paths = sorted(Path(folder).glob("*.csv")) if Path(folder).is_dir() else []
    if not paths:
        raise SourceFormatError(f"{feed}: no chip-owner CSV files in {folder}")
    parts = [_read_file(path, feed) for path in paths]
    rows = pl.concat([part_rows for part_rows, _ in parts]).sort(
        "quarter", "owner", "chip_manufacturer", "file", "row"
    )
    problems = (
        pl.concat([p for _, file_problems in parts for p in file_problems])
        .sort("file", "row", maintain_order=True)
        .select(
            pl.lit(feed).alias("feed"),
            pl.format("{} row {}", "file", "row").alias("record"),
            "field",
            "value",
            "problem",
        )
        .cast(REJECT_SCHEMA)
    )
    return rows, problems


@dataclass(frozen=True)
class ChipOwnerOptions:
    files: list = option([], help="CSV paths to fetch under a URL location (not for a folder)")


def check_chip_owner_files(feed: Feed) -> str | None:
    """``files`` is for a URL location, and a URL location needs it."""
    if not feed.is_remote and feed.options.files:
        return "files: only for a URL location"
    if feed.is_remote and not feed.options.files:
        return f"files: list the CSV paths to fetch under {feed.location}"
    return None


def read_chip_owners_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    """The chip-owner files: a local folder, or ``files`` fetched under a URL."""
    if not feed.is_remote:
        return FeedRead(*read_chip_owner_files(Path(feed.location), feed.name))
    with tempfile.TemporaryDirectory(prefix="chip-owners-") as tmp:
        for path in feed.options.files:
            url = f"{feed.location.rstrip('/')}/{path.lstrip('/')}"
            (Path(tmp) / PurePosixPath(urlsplit(url).path).name).write_bytes(
                location_bytes(feed, url)
            )
        return FeedRead(*read_chip_owner_files(Path(tmp), feed.name))


KINDS = (
    SourceKind(
        "epoch_chip_owners",
        "ai_chip_owners",
        "Epoch AI's cumulative AI-chip stock by owner (*_owners_cumulative_totals.csv): a folder, "
        "or a base URL with the file paths to fetch under it in `files`",
        read_chip_owners_feed,
        ChipOwnerOptions,
        table="raw.ai_chip_owners",
        check=check_chip_owner_files,
        licence=("Epoch AI, epoch-research/ai-chip-counts: MIT; modelled estimates, cite Epoch AI"),
    ),
)
