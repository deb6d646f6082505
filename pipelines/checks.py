"""Blocking checks shared by assets: suites on day-stamped tables, month by month, and the
result of a check that one table's names all match another's."""

from collections.abc import Callable

import dagster as dg
import polars as pl

from pipelines.lake import months
from pipelines.metadata import markdown_table
from pipelines.partitions import YEARLY, days_of
from pipelines.resources import ObservatoryResource


def monthly_expectations_check(
    asset: dg.AssetKey,
    *,
    suite: str,
    derive: Callable[[pl.DataFrame, str], pl.DataFrame],
) -> dg.AssetChecksDefinition:
    """A blocking check running ``expectations/<suite>.json`` on each month file of a table in
    yearly partitions that the run's days fall in (every row of each month; a failure names its
    month).

    ``derive(partition, month)`` adds the columns the suite checks beyond the stored ones.
    """
    layer, table = asset.path

    @dg.asset_check(
        asset=asset,
        name=f"{suite}_expectations",
        blocking=True,
        partitions_def=YEARLY,
        description=f"Suite expectations/{suite}.json on each month of the run's days",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, observatory: ObservatoryResource
    ) -> dg.AssetCheckResult:
        lake = observatory.lake()
        present = set(lake.partitions(layer, table))
        start, end = days_of(context.partition_keys, context.run.tags)
        written = [month for month in months(start, end) if month in present]
        partitions = (
            (month, derive(rows, month))
            for month, rows in lake.read_partitions(layer, table, "month", written)
        )
        return observatory.check_suite_by_partition(suite, partitions)

    return _check


def unmatched_result(
    unmatched: pl.DataFrame, ok: str, problem: str, names: list[str] | None = None
) -> dg.AssetCheckResult:
    """A cross-table check's result: passed when ``unmatched`` has no row; otherwise the rows in
    the metadata and ``problem: <names>`` (default: the first column's values) as description."""
    names = names if names is not None else [str(v) for v in unmatched.to_series(0).to_list()]
    listed = ", ".join(names)
    return dg.AssetCheckResult(
        passed=unmatched.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "unmatched_rows": unmatched.height,
            "unmatched": dg.MetadataValue.md(markdown_table(unmatched, 50)),
        },
        description=ok if unmatched.is_empty() else f"{problem}: {listed}",
    )
