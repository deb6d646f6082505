"""``raw/pool_owners`` and ``raw/pool_label_aliases``: curated reference tables kept in the repo."""

from collections.abc import Callable

import dagster as dg
import polars as pl

from pipelines.resources import ObservatoryResource
from pipelines.sources.pool_reference import (
    ALIAS_COLUMNS,
    OWNER_COLUMNS,
    SEEDS,
    read_pool_label_aliases,
    read_pool_owners,
)
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


pool_owners, pool_owners_expectations = seed_table(
    "pool_owners",
    read_pool_owners,
    "Curated, reviewed table of which entity owned which pool when, with a public source per row "
    "(dbt_like_sql/seeds/pool_owners.csv). A pool without a row owns itself.",
    OWNER_COLUMNS,
)
pool_label_aliases, pool_label_aliases_expectations = seed_table(
    "pool_label_aliases",
    read_pool_label_aliases,
    "Curated aliases mapping labels and duplicate registry entries to the registry pool they mean "
    "(dbt_like_sql/seeds/pool_label_aliases.csv).",
    ALIAS_COLUMNS,
)
