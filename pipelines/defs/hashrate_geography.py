"""``raw/hashrate_geography`` (Cambridge's monthly country shares), the curated later point
estimates, and ``intermediate/hashrate_geography_concentration``."""

import dagster as dg
import polars as pl

from pipelines.market.hashrate_concentration import hashrate_geography_concentration
from pipelines.metadata import markdown_table
from pipelines.raw_tables import RawTable, write_raw_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas.market import (
    HASHRATE_GEOGRAPHY,
    HASHRATE_GEOGRAPHY_CONCENTRATION,
    HASHRATE_GEOGRAPHY_REJECTS,
    HASHRATE_POINT_ESTIMATES,
)
from pipelines.seeds import seed_table
from pipelines.sources.cbeci import month_share_totals
from pipelines.sources.seeds import read_hashrate_point_estimates

GEOGRAPHY = dg.AssetKey(["raw", "hashrate_geography"])
CONCENTRATION = dg.AssetKey(["intermediate", "hashrate_geography_concentration"])
TABLE = RawTable(HASHRATE_GEOGRAPHY, HASHRATE_GEOGRAPHY_REJECTS, None)

hashrate_geography_source = dg.AssetSpec(
    key=["source", "hashrate_geography"],
    description="[sources.hashrate_geography]: the Cambridge (CCAF CBECI) mining map export.",
    kinds={"csv"},
)


@dg.asset(
    key=GEOGRAPHY,
    deps=[hashrate_geography_source],
)
def hashrate_geography(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    feed = observatory.config().source("hashrate_geography")
    read = observatory.read(feed, log=context.log)
    rows, rejects = read.rows, read.rejects
    totals = month_share_totals(rows)
    if totals.height:
        context.log.warning(f"{totals.height} months' shares do not add up to 100%")
    if rejects.height:
        context.log.warning(f"{rejects.height} rows rejected; first: {rejects.row(0, named=True)}")
    metadata = write_raw_table(observatory, TABLE, {feed.name: read}, log=context.log)
    china = rows.filter(pl.col("country") == "CN").sort("month")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "months": rows["month"].n_unique(),
            "first_month": str(rows["month"].min()),
            "last_month": str(rows["month"].max()),
            "months_not_adding_to_100pct": dg.MetadataValue.md(markdown_table(totals, 50)),
            "china_share_by_month": dg.MetadataValue.md(
                markdown_table(china.select(pl.col("month").cast(pl.String), "share"), 100)
            ),
        }
    )


@dg.asset_check(
    asset=GEOGRAPHY,
    name="hashrate_geography_expectations",
    blocking=True,
    description="Suite hashrate_geography: ISO codes, shares in 0-1, one row per month and "
    "country, months on the first day",
)
def hashrate_geography_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    rows = observatory.lake().read("raw", "hashrate_geography")
    return observatory.check_suite("hashrate_geography", _validation_frame(rows))


def _validation_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The table plus the derived column the suite checks: the day of ``month``."""
    return frame.with_columns(pl.col("month").dt.day().alias("month_day"))


hashrate_point_estimates, hashrate_point_estimates_expectations = seed_table(
    HASHRATE_POINT_ESTIMATES, read_hashrate_point_estimates
)


@dg.asset(
    key=CONCENTRATION,
    deps=[GEOGRAPHY],
)
def hashrate_geography_concentration_table(
    observatory: ObservatoryResource,
) -> dg.MaterializeResult:
    rows = observatory.lake().read("raw", "hashrate_geography")
    table = hashrate_geography_concentration(rows)
    entity = table.filter(pl.col("other_policy") == "entity").sort("month")
    return dg.MaterializeResult(
        metadata={
            **observatory.store_table(table, HASHRATE_GEOGRAPHY_CONCENTRATION),
            "hhi_by_month": dg.MetadataValue.md(
                markdown_table(
                    entity.select(
                        pl.col("month").cast(pl.String), "hhi", "nakamoto", "cr1", "top_country"
                    ),
                    100,
                )
            ),
        }
    )
