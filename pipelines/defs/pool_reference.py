"""``raw/pool_owners`` and ``raw/pool_label_aliases``: curated reference tables kept in the repo."""

import dagster as dg

from pipelines.resources import ObservatoryResource
from pipelines.sources.pool_reference import (
    ALIAS_COLUMNS,
    OWNER_COLUMNS,
    SEEDS,
    read_pool_label_aliases,
    read_pool_owners,
)
from pipelines.validation import gx_check_result

OWNERS = dg.AssetKey(["raw", "pool_owners"])
ALIASES = dg.AssetKey(["raw", "pool_label_aliases"])
OWNERS_DESCRIPTION = (
    "Curated, reviewed table of which entity owned which pool when, with a public source per row "
    "(dbt_like_sql/seeds/pool_owners.csv). A pool without a row owns itself."
)
ALIASES_DESCRIPTION = (
    "Curated aliases mapping labels and duplicate registry entries to the registry pool they mean "
    "(dbt_like_sql/seeds/pool_label_aliases.csv)."
)


@dg.asset(key=OWNERS, group_name="raw", kinds={"csv", "parquet"}, description=OWNERS_DESCRIPTION)
def pool_owners(observatory: ObservatoryResource) -> dg.MaterializeResult:
    frame = read_pool_owners()
    metadata = observatory.store_table(
        frame,
        "raw",
        "pool_owners",
        description=OWNERS_DESCRIPTION,
        column_descriptions=OWNER_COLUMNS,
    )
    return dg.MaterializeResult(metadata={**metadata, "seed": str(SEEDS / "pool_owners.csv")})


@dg.asset(key=ALIASES, group_name="raw", kinds={"csv", "parquet"}, description=ALIASES_DESCRIPTION)
def pool_label_aliases(observatory: ObservatoryResource) -> dg.MaterializeResult:
    frame = read_pool_label_aliases()
    metadata = observatory.store_table(
        frame,
        "raw",
        "pool_label_aliases",
        description=ALIASES_DESCRIPTION,
        column_descriptions=ALIAS_COLUMNS,
    )
    return dg.MaterializeResult(
        metadata={**metadata, "seed": str(SEEDS / "pool_label_aliases.csv")}
    )


@dg.asset_check(asset=OWNERS, blocking=True, description="GX suite expectations/pool_owners.json")
def pool_owners_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return gx_check_result("pool_owners", observatory.lake().read("raw", "pool_owners"))


@dg.asset_check(
    asset=ALIASES, blocking=True, description="GX suite expectations/pool_label_aliases.json"
)
def pool_label_aliases_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return gx_check_result(
        "pool_label_aliases", observatory.lake().read("raw", "pool_label_aliases")
    )
