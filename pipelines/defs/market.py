"""``raw/market_observations`` from every market feed, and ``intermediate/market_daily``.

Each feed is stored whole as its own lake partition (``feed=<name>``), rewritten on every run,
so a re-run gives the same table and a feed dropped from the config drops out of it. The daily
table, its discrepancies and its gaps are then rebuilt from all feeds' observations.
"""

import dagster as dg
import polars as pl

from pipelines.market.daily import PRECEDENCE, column_gaps, market_daily, market_discrepancies
from pipelines.metadata import markdown_table
from pipelines.raw_tables import RawTable, write_raw_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas.market import (
    MARKET_DAILY,
    MARKET_DISCREPANCIES,
    MARKET_GAPS,
    MARKET_OBSERVATIONS,
    MARKET_REJECTS,
)

OBSERVATIONS = dg.AssetKey(["raw", "market_observations"])
DAILY = dg.AssetKey(["intermediate", "market_daily"])
DISCREPANCIES = dg.AssetKey(["intermediate", "market_discrepancies"])
GAPS = dg.AssetKey(["intermediate", "market_gaps"])
TABLE = RawTable(MARKET_OBSERVATIONS, MARKET_REJECTS, "feed", ("date", "metric"))

market_feeds = dg.AssetSpec(
    key=["source", "market"],
    description=(
        "The market feeds configured in [sources.market.<feed>]: the Coin Metrics API or CSV, "
        "mempool.space's hash rate and price API, Blockchain.com chart exports."
    ),
    kinds={"bitcoin"},
)


@dg.asset(
    key=OBSERVATIONS,
    deps=[market_feeds],
)
def market_observations(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    reads, summaries = {}, []
    for feed in observatory.config().feeds("market"):
        read = observatory.read(feed, log=context.log)
        reads[feed.name] = read
        summaries.append(_feed_summary(feed.name, feed.kind, read.rows, read.rejects))
        context.log.info(
            f"market feed {feed.name}: {read.rows.height:,} values, {read.rejects.height} rejected"
        )
    metadata = write_raw_table(observatory, TABLE, reads, log=context.log)
    metadata["feeds"] = dg.MetadataValue.md(markdown_table(pl.concat(summaries), 100))
    return dg.MaterializeResult(metadata=metadata)


def _feed_summary(
    name: str, kind: str, observations: pl.DataFrame, rejects: pl.DataFrame
) -> pl.DataFrame:
    """Per metric of one feed: values, first and last day, rejects."""
    by_metric = (
        observations.group_by("metric")
        .agg(
            pl.len().alias("values"),
            pl.col("date").min().cast(pl.String).alias("first_day"),
            pl.col("date").max().cast(pl.String).alias("last_day"),
        )
        .sort("metric")
    )
    return by_metric.select(
        pl.lit(name).alias("feed"),
        pl.lit(kind).alias("kind"),
        "metric",
        pl.col("values").cast(pl.Int64),
        "first_day",
        "last_day",
        pl.lit(rejects.height).cast(pl.Int64).alias("feed_rejects"),
    )


@dg.asset_check(
    asset=OBSERVATIONS,
    name="market_observations_expectations",
    blocking=True,
    description="Suite market_observations: known metrics and kinds, values finite and >= 0, "
    "one value per day, metric and feed",
)
def market_observations_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return observatory.check_suite(
        "market_observations", observatory.lake().read("raw", "market_observations")
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            DAILY,
            deps=[OBSERVATIONS],
        ),
        dg.AssetSpec(
            DISCREPANCIES,
            deps=[OBSERVATIONS],
        ),
        dg.AssetSpec(
            GAPS,
            deps=[OBSERVATIONS],
        ),
    ]
)
def market_daily_tables(observatory: ObservatoryResource):
    """Combine the feeds per column by precedence; list disagreements and gaps."""
    config = observatory.config()
    observations = observatory.lake().read("raw", "market_observations")
    feed_order = [f.name for f in config.feeds("market")]
    daily = market_daily(observations, feed_order)
    discrepancies = market_discrepancies(observations, daily, config.market_tolerances)
    gaps = column_gaps(daily)
    sources = daily.select(
        pl.concat_list([pl.col(f"{c}_source") for c in PRECEDENCE]).alias("s")
    ).explode("s")
    yield dg.MaterializeResult(
        asset_key=DAILY,
        metadata={
            **observatory.store_table(daily, MARKET_DAILY),
            "first_day": str(daily["date"].min()),
            "last_day": str(daily["date"].max()),
            "gaps": dg.MetadataValue.md(_gap_summary(gaps)),
            "values_by_source": dg.MetadataValue.md(
                markdown_table(sources.drop_nulls().group_by("s").len().sort("s"), 50)
            ),
            "precedence": dg.MetadataValue.json({c: list(k) for c, k in PRECEDENCE.items()}),
        },
    )
    yield dg.MaterializeResult(
        asset_key=DISCREPANCIES,
        metadata={
            **observatory.store_table(discrepancies, MARKET_DISCREPANCIES),
            "by_metric": dg.MetadataValue.md(
                markdown_table(
                    discrepancies.group_by("metric", "chosen_feed", "other_feed")
                    .agg(pl.len().alias("days"), pl.col("relative_difference").median())
                    .sort("metric", "other_feed"),
                    50,
                )
            ),
            "tolerances": dg.MetadataValue.json(config.market_tolerances),
        },
    )
    yield dg.MaterializeResult(
        asset_key=GAPS,
        metadata=observatory.store_table(gaps, MARKET_GAPS),
    )


def _gap_summary(gaps: pl.DataFrame) -> str:
    """Per column: how many gaps, how many days, and the longest ones."""
    if gaps.is_empty():
        return "no gaps"
    per_column = (
        gaps.group_by("metric")
        .agg(pl.len().alias("gaps"), pl.col("days").sum().alias("missing_days"))
        .sort("metric")
    )
    longest = gaps.sort("days", "gap_start", descending=[True, False]).head(15)
    return (
        markdown_table(per_column, 50)
        + "\n\nLongest gaps:\n\n"
        + markdown_table(longest.with_columns(pl.col("gap_start", "gap_end").cast(pl.String)), 15)
    )
