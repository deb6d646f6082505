"""Blocking GX checks on daily-partitioned lake tables, validated day by day."""

from collections.abc import Callable

import dagster as dg
import polars as pl

from pipelines.partitions import DAILY
from pipelines.resources import ObservatoryResource
from pipelines.validation import gx_partitions_check_result


def daily_expectations_check(
    asset: dg.AssetKey,
    *,
    suite: str,
    column: str,
    derive: Callable[[pl.DataFrame, str], pl.DataFrame],
) -> dg.AssetChecksDefinition:
    """A blocking check running ``expectations/<suite>.json`` on each day of the run's range.

    ``derive(partition, day)`` adds the columns the suite checks beyond the stored ones.
    """
    layer, table = asset.path

    @dg.asset_check(
        asset=asset,
        name=f"{suite}_expectations",
        blocking=True,
        partitions_def=DAILY,
        description=f"GX suite expectations/{suite}.json on each day of the run's range",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, observatory: ObservatoryResource
    ) -> dg.AssetCheckResult:
        lake = observatory.lake()
        present = set(lake.partitions(layer, table))
        days = [k for k in context.partition_keys if k in present]
        partitions = ((day, derive(lake.read(layer, table, (column, day)), day)) for day in days)
        return gx_partitions_check_result(suite, partitions)

    return _check
