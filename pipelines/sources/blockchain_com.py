"""Blockchain.com charts: CSV exports and the charts API, read into market observations.

Three shapes are read, each may start with a UTF-8 byte-order mark:

- CSV ``"x","y"``: x a Unix time in milliseconds, y the value (both quoted);
- CSV ``Timestamp,<chart>``: ``YYYY-MM-DD HH:MM:SS`` times, CRLF line ends;
- JSON from ``https://api.blockchain.info/charts/<chart>?timespan=all&format=json&sampled=false``:
  ``{"status": "ok", "name": "Hash Rate", "unit": "Hash Rate TH/s", "period": "day",
  "values": [{"x": <Unix seconds>, "y": <number>}]}`` (told apart by its first byte, ``{``).

The chart comes from the name (file name or URL: ``bitcoin-3year-hash-rate.csv`` is
``hash-rate``), else from the content (the CSV's value column, the JSON ``name``); ``CHARTS``
gives its metric and unit change. A time is rounded to the nearest UTC day (12:00 to the next):
some exports put midnight at 23:00 UTC the day before (``2009-01-02 23:00:00`` is 3 January).
Sparse charts stay sparse: the all-time price has a point every 3 days, and gaps are never
filled. In USD charts a 0 is Blockchain.com's "no price yet" (before August 2010): it is left out,
not rejected. Of several points on one day the file's last is kept. Records are
``<file> row N``, N counting data rows (or JSON values) from 1.

The market price stamped midnight starting day D is the price at that instant, i.e. the close
of day D - 1, and is stored for D - 1 (``PRICE_AT_MIDNIGHT``): against Coin Metrics' closing
prices (2010-2020) it then differs by a median 0.1%, against 1.5% when kept on D. The other
charts are daily totals or estimates for the day they are stamped with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import polars as pl

from pipelines.http import SourceFormatError
from pipelines.schemas.market import OBSERVATION_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA, rejects_of
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, location_bytes, option
from pipelines.sources.text_csv import read_text_csv

SOURCE = "blockchain_com"
# chart -> (metric, power of ten from the chart's unit to the metric's)
CHARTS: dict[str, tuple[str, int]] = {
    "hash-rate": ("hashrate_ehs", -6),  # TH/s -> EH/s
    "difficulty": ("difficulty", 0),  # also miner-difficulty
    "market-price": ("price_usd", 0),
    "miners-revenue": ("miner_revenue_usd", 0),
    "transaction-fees": ("fees_btc", 0),
    "transaction-fees-usd": ("fees_usd", 0),
}
API_TITLES = {"market-price-usd": "market-price"}  # API names that are not the chart's
HASH_RATE_UNIT = "TH/s"
NO_PRICE_IS_ZERO = frozenset({"price_usd", "miner_revenue_usd", "fees_usd"})
PRICE_AT_MIDNIGHT = frozenset({"price_usd"})  # stamped at the close of the previous day
GENESIS = date(2009, 1, 3)
CHART_SUFFIXES = (".csv", ".json")
BOM = b"\xef\xbb\xbf"
NOT_A_NUMBER = "not a non-negative number"
PLAIN_NUMBER = r"^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?$"
API_BODY = pl.Struct(
    {
        "status": pl.String,
        "name": pl.String,
        "unit": pl.String,
        "values": pl.List(pl.Struct({"x": pl.String, "y": pl.String})),
    }
)


def scaled_number(text: pl.Expr, power: int) -> pl.Expr:
    """A non-negative decimal text times ``10**power``; null for anything else.

    The power is added to the text's exponent and the text parsed once, so the result is the
    float nearest the exact decimal: 412345678 TH/s is 412.345678 EH/s, where a float division
    would give 412.34567799999996.
    """
    parts = text.str.strip_chars().str.extract_groups(PLAIN_NUMBER)
    exponent = parts.struct.field("2").cast(pl.Int64, strict=False).fill_null(0) + power
    return pl.format("{}e{}", parts.struct.field("1"), exponent).cast(pl.Float64, strict=False)


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def chart_of(label: str) -> str | None:
    """The chart a file name, URL stem or title names (``bitcoin-1year-miner-difficulty``)."""
    slug = _slug(label)
    slug = API_TITLES.get(slug, slug)
    named = [chart for chart in CHARTS if slug == chart or slug.endswith(f"-{chart}")]
    return max(named, key=len, default=None)


def _file_name(name: str) -> str:
    """The last path segment of a file path or URL, without query or fragment."""
    return re.sub(r"[?#].*$", "", name).rstrip("/").rsplit("/", 1)[-1]


def _metric(file: str, label: str | None, metric: str | None) -> tuple[str, int]:
    """``(metric, power)`` for a file: the override, else by name, else by content label."""
    if metric is not None:
        for known, power in CHARTS.values():
            if known == metric:
                return known, power
        metrics = ", ".join(known for known, _ in CHARTS.values())
        raise ValueError(f"{file}: Blockchain.com charts give no {metric!r}; they give {metrics}")
    stem = file.rsplit(".", 1)[0] if file.lower().endswith(CHART_SUFFIXES) else file
    by_name, by_label = chart_of(stem), chart_of(label) if label else None
    if by_name and by_label and CHARTS[by_name][0] != CHARTS[by_label][0]:
        raise SourceFormatError(f"{file}: the name says chart {by_name}, the content {label!r}")
    chart = by_name or by_label
    if chart is None:
        raise SourceFormatError(
            f"{file}: unknown Blockchain.com chart (content label {label!r}); known charts: "
            f"{', '.join(CHARTS)} (or pass the metric)"
        )
    return CHARTS[chart]


def _epoch(raw: pl.Expr, unit: str) -> pl.Expr:
    whole = raw.str.strip_chars().str.extract(r"^([0-9]{1,15})$", 1).cast(pl.Int64)
    return pl.from_epoch(whole, time_unit=unit)


def _clock(raw: pl.Expr) -> pl.Expr:
    text = raw.str.strip_chars()
    return pl.coalesce(
        text.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ms", strict=False),
        text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("ms")),
    )


class _Rows(NamedTuple):
    rows: pl.DataFrame  # raw_time, raw_value, time
    label: str | None  # what the content calls the chart
    unit: str | None
    time_field: str
    value_field: str
    time_kind: str  # what a time should be, for rejects


def _read_csv(data: bytes, file: str) -> _Rows:
    frame = read_text_csv(data, file)
    columns = frame.columns
    first = columns[0].strip().lower() if columns else ""
    if len(columns) == 2 and first == "x" and columns[1].strip().lower() == "y":
        time, label, kind = _epoch(pl.col(columns[0]), "ms"), None, "Unix time in milliseconds"
    elif len(columns) == 2 and first == "timestamp":
        time, label, kind = _clock(pl.col(columns[0])), columns[1], "YYYY-MM-DD HH:MM:SS time"
    else:
        raise SourceFormatError(
            f'{file}: expected the header "x","y" or Timestamp,<chart>, got {columns}'
        )
    rows = frame.select(
        pl.col(columns[0]).alias("raw_time"),
        pl.col(columns[1]).alias("raw_value"),
        time.alias("time"),
    )
    return _Rows(rows, label, None, columns[0], columns[1], kind)


def _read_api(text: str, file: str) -> _Rows:
    try:
        body = pl.DataFrame({"body": [text]}).select(pl.col("body").str.json_decode(API_BODY))
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(f"{file}: not a Blockchain.com charts answer: {exc}") from exc
    fields = body.unnest("body")
    status, name, unit = fields.select("status", "name", "unit").row(0)
    if status != "ok" or fields["values"].is_null().any():
        raise SourceFormatError(f"{file}: the charts API answered {text[:200]!r}")
    rows = fields.select(pl.col("values").explode()).unnest("values")
    rows = rows.select(
        pl.col("x").alias("raw_time"),
        pl.col("y").alias("raw_value"),
        _epoch(pl.col("x"), "s").alias("time"),
    )
    return _Rows(rows, name, unit, "x", "y", "Unix time in seconds")


def read_blockchain_com_chart(
    data: bytes, name: str, feed: str, metric: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One chart export or API answer: ``(observations, rejects)``.

    `name` is the file name or URL (it names the chart and the records); `metric` overrides the
    chart's metric. A bad time or value rejects the row (field and raw value named), the rest
    is kept. An unknown chart or an unreadable file raises SourceFormatError.
    """
    file = _file_name(name)
    body = data.removeprefix(BOM).lstrip()
    if body[:1] == b"{":
        read = _read_api(body.decode("utf-8", "replace"), file)
    else:
        read = _read_csv(data, file)
    metric, power = _metric(file, read.label, metric)
    if metric == "hashrate_ehs" and read.unit and HASH_RATE_UNIT not in read.unit:
        raise SourceFormatError(f"{file}: hash rate in {read.unit!r}, expected {HASH_RATE_UNIT}")

    frame = read.rows.with_row_index("row", offset=1).with_columns(
        pl.format("{} row {}", pl.lit(file), "row").alias("record"),
        pl.col("time").dt.round("1d").dt.date().alias("date"),
        scaled_number(pl.col("raw_value"), power).alias("value"),
    )
    bad_time = pl.col("date").is_null() | (pl.col("date") < GENESIS)
    time_problem = (
        pl.when(pl.col("raw_time").is_null())
        .then(pl.lit("missing"))
        .when(pl.col("date").is_null())
        .then(pl.lit(f"not a {read.time_kind}"))
        .otherwise(pl.lit(f"before the genesis block ({GENESIS})"))
    )
    value_problem = (
        pl.when(pl.col("raw_value").is_null())
        .then(pl.lit("missing"))
        .otherwise(pl.lit(NOT_A_NUMBER))
    )
    rejects = (
        pl.concat(
            [
                rejects_of(frame.filter(bad_time), feed, read.time_field, "raw_time", time_problem),
                rejects_of(
                    frame.filter(pl.col("value").is_null()),
                    feed,
                    read.value_field,
                    "raw_value",
                    value_problem,
                ),
            ]
        )
        .sort("row", maintain_order=True)
        .select(list(REJECT_SCHEMA))
    )
    observations = (
        frame.filter(~bad_time & pl.col("value").is_not_null())
        .filter((pl.col("value") != 0) | pl.lit(metric not in NO_PRICE_IS_ZERO))
        .filter(pl.col("row") == pl.col("row").max().over("date"))
        .sort("date")
        .select(
            pl.col("date") - pl.duration(days=1 if metric in PRICE_AT_MIDNIGHT else 0),
            pl.lit(metric).alias("metric"),
            "value",
            pl.lit(feed).alias("feed"),
            pl.lit(SOURCE).alias("source"),
            "record",
        )
    )
    return observations.cast(OBSERVATION_SCHEMA), rejects.cast(REJECT_SCHEMA)


def read_blockchain_com_charts(location: Path, feed: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every ``*.csv`` and ``*.json`` chart in a folder (by name), or one file.

    Where files give the same metric for the same day (a 3-year and a 1-year export that
    overlap) the file whose name sorts last wins, agreeing or not: a feed gives one value per
    day and metric, and disagreement between feeds is for the discrepancy table.
    """
    location = Path(location)
    if location.is_dir():
        files = sorted(
            (
                path
                for path in location.iterdir()
                if path.suffix.lower() in CHART_SUFFIXES and path.is_file()
            ),
            key=lambda path: path.name,
        )
        if not files:
            raise SourceFormatError(f"{location}: no .csv or .json chart files")
    else:
        files = [location]
    parts = [read_blockchain_com_chart(path.read_bytes(), path.name, feed) for path in files]
    observations = (
        pl.concat([observations for observations, _ in parts])
        .unique(["date", "metric"], keep="last", maintain_order=True)
        .sort("date", "metric")
    )
    return observations, pl.concat([rejects for _, rejects in parts])


@dataclass(frozen=True)
class BlockchainComOptions:
    metric: str = option("", help="the metric, when the chart's name does not say it")


def read_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    """A chart from the API URL, one export file, or a folder of exports."""
    metric = feed.options.metric or None
    if feed.is_remote:
        chart = Path(urlsplit(feed.location).path).name
        return FeedRead(*read_blockchain_com_chart(location_bytes(feed), chart, feed.name, metric))
    path = Path(feed.location)
    if metric is not None and path.is_file():
        return FeedRead(*read_blockchain_com_chart(path.read_bytes(), path.name, feed.name, metric))
    return FeedRead(*read_blockchain_com_charts(path, feed.name))


KINDS = (
    SourceKind(
        "blockchain_com",
        "market",
        "Blockchain.com chart exports (CSV, a file or a folder) or its charts JSON API URL; the "
        "metric comes from the chart's name unless `metric` names it",
        read_feed,
        BlockchainComOptions,
        table="raw.market_observations",
        licence=(
            "Blockchain.com chart data: Blockchain.com's terms apply; the shared copies come from "
            "repositories under Apache-2.0, a licence that covers those repositories, not "
            "Blockchain.com's data"
        ),
    ),
)
