"""Coin Metrics daily BTC metrics: the community CSV and the community API v4.

Both arrive as text (the API sends numbers as strings), so both go through
``observations_from_text``: one row per day in, one observation per day and metric out, in the
units of ``MARKET_METRICS``. Empty cells are no observation; a bad date or a value that is not a
finite non-negative number is a reject naming the record and the Coin Metrics column.

The API (``GET {base}/v4/timeseries/asset-metrics``) answers a page at a time
(``{"data": [{"asset", "time", <metric>: "<number>"}], "next_page_url": ...}``); the community
tier allows about 10 requests per 6 seconds, hence the 0.65 s between requests by default.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import polars as pl

from pipelines.http import ApiClient, HttpSettings, SourceFormatError
from pipelines.schemas.market import OBSERVATION_SCHEMA
from pipelines.schemas.rejects import MAX_REJECT_VALUE, REJECT_SCHEMA
from pipelines.sources.block_cache import require
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, location_bytes, option
from pipelines.sources.text_csv import number_problem, read_text_csv

# Coin Metrics metric id -> (our metric, factor from its unit to ours)
COINMETRICS_METRICS: dict[str, tuple[str, float]] = {
    "PriceUSD": ("price_usd", 1.0),
    "HashRate": ("hashrate_ehs", 1e-6),  # TH/s -> EH/s
    "DiffMean": ("difficulty", 1.0),
    "BlkCnt": ("block_count", 1.0),
    "FeeTotNtv": ("fees_btc", 1.0),
    "FeeTotUSD": ("fees_usd", 1.0),
    "IssTotNtv": ("issuance_btc", 1.0),
    "IssTotUSD": ("issuance_usd", 1.0),
    "CapMrktCurUSD": ("market_cap_usd", 1.0),
    "RevUSD": ("miner_revenue_usd", 1.0),
}
DEFAULT_BASE_URL = "https://community-api.coinmetrics.io"
ASSET_METRICS_PATH = "/v4/timeseries/asset-metrics"
PAGE_SIZE = 10_000  # the most the API returns per page
# a day, optionally with a time of day: "2020-01-01" or "2020-01-01T00:00:00.000000000Z"
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z?)?$"


# --- text to numbers, shared with the other market readers ---------------------------------------


def json_text(value: object) -> str | None:
    """A JSON value as the text to parse: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def text_rejects(
    frame: pl.DataFrame, feed: str, field: str | pl.Expr, raw: pl.Expr, problem: pl.Expr
) -> pl.DataFrame:
    """Rejects (``REJECT_SCHEMA`` plus ``sort_key``) for the rows of `frame` with a `problem`."""
    return frame.filter(problem.is_not_null()).select(
        pl.lit(feed).alias("feed"),
        pl.col("record"),
        (pl.lit(field) if isinstance(field, str) else field).alias("field"),
        raw.str.slice(0, MAX_REJECT_VALUE).alias("value"),
        problem.alias("problem"),
        pl.col("sort_key"),
    )


def sorted_rejects(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """``text_rejects`` parts as one frame in ``REJECT_SCHEMA``, in ``sort_key`` order."""
    rejects = pl.concat(parts).sort("sort_key", maintain_order=True)
    return rejects.select(pl.col(name).cast(dtype) for name, dtype in REJECT_SCHEMA.items())


# --- Coin Metrics rows to observations -----------------------------------------------------------


def observations_from_text(
    wide: pl.DataFrame, feed: str, source: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Observations and rejects from text rows: ``record``, ``time`` and metric id columns.

    ``time`` is a UTC day, optionally with a time of day after ``T``. A row without a usable
    date is one reject (field ``time``); of rows with the same date the first is kept and the
    later ones rejected as "duplicate date". Rows with every cell empty (blank lines) are
    skipped. Observations are sorted by date, then in ``COINMETRICS_METRICS`` order.
    """
    metrics = [column for column in COINMETRICS_METRICS if column in wide.columns]
    stripped = [pl.col(c).str.strip_chars() for c in ["time", *metrics]]
    rows = (
        wide.select("record", *[pl.when(text != "").then(text) for text in stripped])
        .with_row_index("sort_key")
        .filter(~pl.all_horizontal(pl.col("time", *metrics).is_null()))
    )
    raw_time = pl.col("time")
    day = pl.when(raw_time.str.contains(TIME_PATTERN)).then(
        raw_time.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    )
    rows = rows.with_columns(day.alias("date")).with_columns(
        (pl.col("sort_key") == pl.col("sort_key").min().over("date")).alias("first")
    )
    date_problem = (
        pl.when(raw_time.is_null())
        .then(pl.lit("missing date"))
        .when(pl.col("date").is_null())
        .then(pl.lit("not a date (YYYY-MM-DD)"))
        .when(~pl.col("first"))
        .then(pl.lit("duplicate date"))
    )
    rejects = [text_rejects(rows, feed, "time", raw_time, date_problem)]
    cells = rows.filter(date_problem.is_null()).unpivot(
        metrics, index=["sort_key", "record", "date"], variable_name="field", value_name="raw"
    )
    cells = cells.filter(pl.col("raw").is_not_null())
    problem = number_problem(pl.col("raw"))
    rejects.append(text_rejects(cells, feed, pl.col("field"), pl.col("raw"), problem))
    metric = {column: name for column, (name, _) in COINMETRICS_METRICS.items()}
    factor = {column: scale for column, (_, scale) in COINMETRICS_METRICS.items()}
    observations = (
        cells.filter(problem.is_null())
        .sort("date", maintain_order=True)
        .select(
            "date",
            pl.col("field").replace_strict(metric, return_dtype=pl.String).alias("metric"),
            (
                pl.col("raw").cast(pl.Float64)
                * pl.col("field").replace_strict(factor, return_dtype=pl.Float64)
            ).alias("value"),
            pl.lit(feed).alias("feed"),
            pl.lit(source).alias("source"),
            "record",
        )
    )
    return observations.cast(OBSERVATION_SCHEMA), sorted_rejects(rejects)


def read_coinmetrics_csv(data: bytes, feed: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Observations and rejects of a Coin Metrics daily CSV (``time`` plus metric columns).

    Records are ``row N``, the N-th record after the header (line N + 1 of a file without quoted
    line breaks; blank lines count). Other columns are ignored; RevUSD may be absent. A file
    that is not CSV, or has no ``time`` column or none of ``COINMETRICS_METRICS``, raises
    SourceFormatError naming `feed`.
    """
    frame = read_text_csv(data, feed)
    if "time" not in frame.columns or not set(COINMETRICS_METRICS) & set(frame.columns):
        raise SourceFormatError(
            f"{feed}: a Coin Metrics CSV needs a 'time' column and at least one of "
            f"{', '.join(COINMETRICS_METRICS)}; the file has: {', '.join(frame.columns)}"
        )
    records = pl.format("row {}", pl.int_range(1, pl.len() + 1)).alias("record")
    return observations_from_text(frame.with_columns(records), feed, "coinmetrics_csv")


# --- the community API ---------------------------------------------------------------------------


class CoinMetricsApi(ApiClient):
    """The Coin Metrics API v4 (the community API by default).

    `api_key`, if any, is sent as the ``api_key`` query parameter and redacted from every log
    line and error. Paging follows ``next_page_url`` with its scheme and host replaced by
    `base_url`'s, so a test or proxy server works.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        source: str = "coinmetrics_api",
        page_size: int = PAGE_SIZE,
        http: HttpSettings = HttpSettings(),
        min_interval: float = 0.65,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            base_url,
            source,
            http,
            sleep,
            min_interval=min_interval,
            secrets=(api_key,) if api_key else (),
        )
        self.page_size = page_size
        self._key_params = {"api_key": api_key} if api_key else None

    def asset_metrics(
        self, metrics: Sequence[str], start: date | None = None
    ) -> Iterator[list[dict]]:
        """The ``data`` items of each page of daily BTC `metrics`, from `start` on.

        A page without a ``data`` list of objects, or a ``next_page_url`` seen before, raises
        SourceFormatError naming the URL (shown without the key).
        """
        query = {
            "assets": "btc",
            "metrics": ",".join(metrics),
            "frequency": "1d",
            "page_size": str(self.page_size),
            "paging_from": "start",
            # a metric the caller may not read (e.g. RevUSD on the free tier) is left out of
            # the answer instead of failing the whole request
            "ignore_forbidden_errors": "true",
            "ignore_unsupported_errors": "true",
        }
        if start is not None:
            query["start_time"] = start.isoformat()
        url: str | None = f"{self.base_url}{ASSET_METRICS_PATH}?{urlencode(query, safe=',')}"
        seen: set[str] = set()
        while url:
            seen.add(url)
            page = self._http.get_json(url, self._key_params)
            where = f"{self.source}: GET {url}"
            data = require(page, "data", kind=list, where=where)
            for i in range(len(data)):
                require(page, "data", i, kind=dict, where=where)
            yield data
            following = require(page, "next_page_url", kind=str, where=where, optional=True)
            url = self._local(following) if following else None
            if url in seen:
                raise SourceFormatError(f"{where}: 'next_page_url' leads back to {url}")

    def _local(self, url: str) -> str:
        """`url` on the host of `base_url`, without any ``api_key`` (it is sent as a parameter)."""
        parts = urlsplit(self.on_base_host(url))
        query = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "api_key"
        ]
        return urlunsplit(parts._replace(query=urlencode(query, safe=",")))


def fetch_coinmetrics(
    api: CoinMetricsApi, feed: str, start: date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Observations and rejects of every ``COINMETRICS_METRICS`` metric of BTC from `start`.

    Records are ``page P item I`` (both from 1). A metric absent or null in an item is no
    observation; a bad value or time is a reject, the rest of the item kept.
    """
    metrics = list(COINMETRICS_METRICS)
    rows = [
        {
            "record": f"page {page} item {item}",
            "time": json_text(entry.get("time")),
            **{metric: json_text(entry.get(metric)) for metric in metrics},
        }
        for page, data in enumerate(api.asset_metrics(metrics, start), start=1)
        for item, entry in enumerate(data, start=1)
    ]
    schema = dict.fromkeys(["record", "time", *metrics], pl.String)
    return observations_from_text(pl.DataFrame(rows, schema=schema), feed, "coinmetrics_api")


def read_csv_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    return FeedRead(*read_coinmetrics_csv(location_bytes(feed), feed.name))


@dataclass(frozen=True)
class CoinMetricsApiOptions:
    api_key_env: str = option("", help="environment variable holding the API key, if any")
    page_size: int = option(10000, help="rows per page")
    min_interval_seconds: float = option(0.65, help="least time between two requests")
    start: str = option("", help="first day to fetch, YYYY-MM-DD (default: all)")


def read_api_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    options: CoinMetricsApiOptions = feed.options
    start = date.fromisoformat(options.start) if options.start else None
    with CoinMetricsApi(
        feed.location,
        os.environ.get(options.api_key_env) if options.api_key_env else None,
        source=feed.name,
        page_size=options.page_size,
        min_interval=options.min_interval_seconds,
        http=feed.http,
    ) as api:
        return FeedRead(*fetch_coinmetrics(api, feed.name, start))


KINDS = (
    SourceKind(
        "coinmetrics_api",
        "market",
        "Coin Metrics community API v4 (/v4/timeseries/asset-metrics, daily BTC metrics); "
        "location is the base URL; an optional key is read from the variable named by api_key_env",
        read_api_feed,
        CoinMetricsApiOptions,
        table="raw.market_observations",
        licence=("Coin Metrics Community data: CC BY-NC 4.0 (see Coin Metrics' terms)"),
    ),
    SourceKind(
        "coinmetrics_csv",
        "market",
        "Coin Metrics daily CSV (time, BlkCnt, PriceUSD, HashRate, DiffMean, FeeTotNtv, ...)",
        read_csv_feed,
        table="raw.market_observations",
        licence=(
            "Coin Metrics Community data: CC BY-NC 4.0 (shared copy via SciEcon/data, a fork of "
            "coinmetrics/data)"
        ),
    ),
)
