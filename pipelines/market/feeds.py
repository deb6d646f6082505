"""Read one configured market feed, whatever its kind, into observations and rejects."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl

from pipelines.config import SourceConfig
from pipelines.http import read_location
from pipelines.resources import ObservatoryResource


def read_market_feed(
    feed: SourceConfig, observatory: ObservatoryResource
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(observations, rejects)`` of the feed ``[sources.market.<name>]``, read whole."""
    from pipelines.sources import blockchain_com, coinmetrics, mempool_market

    name = feed.name.split(".", 1)[1]
    options = feed.options
    if feed.kind == "coinmetrics_csv":
        data = read_location(feed.location, source=name, client=observatory.http_client(name))
        return coinmetrics.read_coinmetrics_csv(data, name)
    if feed.kind == "coinmetrics_api":
        key_env = options["api_key_env"]
        start = date.fromisoformat(options["start"]) if options["start"] else None
        with coinmetrics.CoinMetricsApi(
            feed.location,
            os.environ.get(key_env) if key_env else None,
            source=name,
            page_size=options["page_size"],
            min_interval=options["min_interval_seconds"],
            **observatory.http_settings(),
        ) as api:
            return coinmetrics.fetch_coinmetrics(api, name, start)
    if feed.kind == "mempool_api":
        with mempool_market.MempoolMarketApi(
            feed.location,
            period=options["period"],
            source=name,
            min_interval=options["min_interval_seconds"],
            **observatory.http_settings(),
        ) as api:
            return mempool_market.fetch_mempool_market(api, name)
    if feed.kind == "blockchain_com":
        metric = options["metric"] or None
        if feed.is_remote:
            data = read_location(feed.location, source=name, client=observatory.http_client(name))
            chart = Path(urlsplit(feed.location).path).name
            return blockchain_com.read_blockchain_com_chart(data, chart, name, metric)
        if metric is not None and Path(feed.location).is_file():
            data = Path(feed.location).read_bytes()
            return blockchain_com.read_blockchain_com_chart(
                data, Path(feed.location).name, name, metric
            )
        return blockchain_com.read_blockchain_com_charts(Path(feed.location), name)
    raise ValueError(f"[sources.{feed.name}]: no reader for market feed kind {feed.kind!r}")
