"""mempool.space market data: daily hash rate, difficulty and USD price.

``GET {base}/api/v1/mining/hashrate/{period}`` answers ``{"hashrates": [{"timestamp",
"avgHashrate"}], "difficulty": [{"time" (or "timestamp"), "height", "difficulty",
"adjustment"}], ...}``: hash rate points in H/s and the difficulty adjustments.
``GET {base}/api/v1/historical-price?currency=USD`` answers ``{"prices": [{"time", "USD",
...}], "exchangeRates": {...}}``, where a USD price of 0 means no price yet. Times are Unix
seconds; days are UTC days. Records name the entry: ``hashrates[17]``, ``prices[3]`` (from 0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines.http import ApiClient, HttpSettings
from pipelines.schemas.market import OBSERVATION_SCHEMA
from pipelines.sources.block_cache import require
from pipelines.sources.coinmetrics import json_text, sorted_rejects, text_rejects
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, option
from pipelines.sources.text_csv import number_problem

log = logging.getLogger("pipelines.sources.mempool_market")

DEFAULT_BASE_URL = "https://mempool.space"
SOURCE = "mempool_api"
EH_PER_H = 1e-18


class MempoolMarketApi(ApiClient):
    """The mining hash rate and historical price endpoints of mempool.space or an instance."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        period: str = "all",
        source: str = SOURCE,
        http: HttpSettings = HttpSettings(),
        min_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            base_url,
            source,
            http,
            sleep,
            min_interval=min_interval,
        )
        self.hashrate_url = f"{self.base_url}/api/v1/mining/hashrate/{period}"
        self.prices_url = f"{self.base_url}/api/v1/historical-price?currency=USD"

    def hashrate(self) -> Any:
        """The parsed hash rate answer."""
        return self._http.get_json(self.hashrate_url)

    def prices(self) -> Any:
        """The parsed historical price answer."""
        return self._http.get_json(self.prices_url)


def _points(
    document: Any, name: str, time_keys: tuple[str, ...], value_key: str, where: str
) -> pl.DataFrame:
    """The entries of the list `name` as text: sort_key, record, time_field, time, raw.

    The time is read from the first of `time_keys` an entry has. A missing list or an entry
    that is not an object raises SourceFormatError naming `where`.
    """
    entries = require(document, name, kind=list, where=where)
    for i in range(len(entries)):
        require(document, name, i, kind=dict, where=where)
    time_fields = [next((k for k in time_keys if k in e), time_keys[0]) for e in entries]
    return pl.DataFrame(
        {
            "sort_key": range(len(entries)),
            "record": [f"{name}[{i}]" for i in range(len(entries))],
            "time_field": time_fields,
            "time": [json_text(e.get(k)) for e, k in zip(entries, time_fields, strict=True)],
            "raw": [json_text(e.get(value_key)) for e in entries],
        },
        schema={
            "sort_key": pl.Int64,
            "record": pl.String,
            "time_field": pl.String,
            "time": pl.String,
            "raw": pl.String,
        },
    )


def _checked(points: pl.DataFrame, feed: str, value_key: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Points with a usable time and value (``at``, ``date``, ``value``), and rejects.

    Points are sorted by time, then entry; rejects by entry.
    """
    seconds = pl.col("time").str.strip_chars().cast(pl.Float64, strict=False)
    at = pl.from_epoch((seconds * 1000).cast(pl.Int64, strict=False), time_unit="ms")
    time_problem = (
        pl.when(pl.col("time").is_null())
        .then(pl.lit("missing"))
        .when(at.is_null() | (seconds < 0))
        .then(pl.lit("not a Unix time"))
    )
    value_problem = number_problem(pl.col("raw"))
    rejects = sorted_rejects(
        [
            text_rejects(points, feed, pl.col("time_field"), pl.col("time"), time_problem),
            text_rejects(points, feed, value_key, pl.col("raw"), value_problem),
        ]
    )
    good = points.filter(time_problem.is_null() & value_problem.is_null()).select(
        "sort_key",
        "record",
        at.alias("at"),
        at.dt.date().alias("date"),
        pl.col("raw").str.strip_chars().cast(pl.Float64).alias("value"),
    )
    return good.sort("at", "sort_key"), rejects


def _observations(frame: pl.DataFrame, metric: str, feed: str) -> pl.DataFrame:
    return frame.select(
        "date",
        pl.lit(metric).alias("metric"),
        "value",
        pl.lit(feed).alias("feed"),
        pl.lit(SOURCE).alias("source"),
        "record",
    ).cast(OBSERVATION_SCHEMA)


def read_mempool_hashrate(
    document: Any, feed: str, *, where: str = "hashrate answer"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``hashrate_ehs`` and ``difficulty`` per UTC day from a hash rate answer, and rejects.

    Hash rate: the mean of the day's points (a zero is a value), record naming the day's
    first and last entry (``hashrates[3..5]``) when there are several. Difficulty: the value in
    effect at the end of each day, from the first adjustment's day to the last hash rate day
    (the last adjustment's day without hash rates), record naming that adjustment. Observations
    are sorted by metric, then date. A malformed answer raises SourceFormatError naming `where`.
    """
    points, rejects = _checked(
        _points(document, "hashrates", ("timestamp",), "avgHashrate", where), feed, "avgHashrate"
    )
    adjustments, difficulty_rejects = _checked(
        _points(document, "difficulty", ("time", "timestamp"), "difficulty", where),
        feed,
        "difficulty",
    )
    first, last = pl.col("sort_key").min(), pl.col("sort_key").max()
    hashrates = points.group_by("date").agg(
        (pl.col("value").mean() * EH_PER_H).alias("value"),
        pl.when(first == last)
        .then(pl.format("hashrates[{}]", first))
        .otherwise(pl.format("hashrates[{}..{}]", first, last))
        .alias("record"),
    )
    in_effect = adjustments.unique("date", keep="last", maintain_order=True)
    if in_effect.is_empty():
        daily_difficulty = in_effect
    else:
        end = points["date"].max() if points.height else in_effect["date"].max()
        days = pl.date_range(in_effect["date"].min(), end, "1d", eager=True).alias("date")
        daily_difficulty = days.to_frame().join_asof(
            in_effect.select("date", "value", "record"), on="date", strategy="backward"
        )
    observations = pl.concat(
        [
            _observations(hashrates.sort("date"), "hashrate_ehs", feed),
            _observations(daily_difficulty, "difficulty", feed),
        ]
    )
    return observations, pl.concat([rejects, difficulty_rejects])


def read_mempool_prices(
    document: Any, feed: str, *, where: str = "historical price answer"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``price_usd`` per UTC day (the day's last point) from a historical price answer.

    Zero prices (mempool's "no price yet") are dropped and counted in a log line. A malformed
    answer raises SourceFormatError naming `where`.
    """
    points, rejects = _checked(_points(document, "prices", ("time",), "USD", where), feed, "USD")
    priced = points.filter(pl.col("value") > 0)
    if zeros := points.height - priced.height:
        log.info("%s: %d zero USD prices (no price yet) dropped", feed, zeros)
    daily = priced.unique("date", keep="last", maintain_order=True)
    return _observations(daily, "price_usd", feed), rejects


def fetch_mempool_market(api: MempoolMarketApi, feed: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Daily hash rate, difficulty and USD price from the API, and rejects (see the readers)."""
    hashrate = read_mempool_hashrate(
        api.hashrate(), feed, where=f"{api.source}: GET {api.hashrate_url}"
    )
    prices = read_mempool_prices(api.prices(), feed, where=f"{api.source}: GET {api.prices_url}")
    return (
        pl.concat([hashrate[0], prices[0]]),
        pl.concat([hashrate[1], prices[1]]),
    )


@dataclass(frozen=True)
class MempoolMarketOptions:
    period: str = option(
        "all", choices=("1m", "3m", "6m", "1y", "2y", "3y", "all"), help="hash-rate history span"
    )
    min_interval_seconds: float = option(1.0, help="least time between two requests")


def read_api_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    with MempoolMarketApi(
        feed.location,
        period=feed.options.period,
        source=feed.name,
        min_interval=feed.options.min_interval_seconds,
        http=feed.http,
    ) as api:
        return FeedRead(*fetch_mempool_market(api, feed.name))


KINDS = (
    SourceKind(
        "mempool_api",
        "market",
        "mempool.space /api/v1/mining/hashrate/{period} and /api/v1/historical-price; location is "
        "the base URL",
        read_api_feed,
        MempoolMarketOptions,
        table="raw.market_observations",
        licence=("mempool.space API: see publisher's terms"),
    ),
)
