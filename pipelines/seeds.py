"""Curated seed tables (``dbt_like_sql/seeds/*.csv``) as raw assets with a blocking GX check."""

from collections.abc import Callable

import dagster as dg
import polars as pl

from pipelines.resources import ObservatoryResource
from pipelines.sources.pool_reference import SEEDS
from pipelines.validation import gx_check_result


def seed_table(
    name: str, read: Callable[[], pl.DataFrame], description: str, columns: dict[str, str]
) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    """An asset loading ``dbt_like_sql/seeds/<name>.csv`` and its blocking GX check."""
    key = dg.AssetKey(["raw", name])

    @dg.asset(key=key, group_name="raw", kinds={"csv", "parquet"}, description=description)
    def _load(observatory: ObservatoryResource) -> dg.MaterializeResult:
        metadata = observatory.store_table(
            read(), "raw", name, description=description, column_descriptions=columns
        )
        return dg.MaterializeResult(metadata={**metadata, "seed": str(SEEDS / f"{name}.csv")})

    @dg.asset_check(
        asset=key, name=f"{name}_expectations", blocking=True, description=f"GX suite {name}"
    )
    def _check(observatory: ObservatoryResource) -> dg.AssetCheckResult:
        return gx_check_result(name, observatory.lake().read("raw", name))

    return _load, _check
