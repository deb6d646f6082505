"""Curated seed tables (``dbt_like_sql/seeds/<table>.csv``) as raw assets with a blocking check.

Every seed is read through the asset graph: downstream assets read ``raw/<table>``, never the
CSV, so each seed has lineage, a suite check (``expectations/<table>.json``) and a materialisation
time.
"""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.resources import ObservatoryResource
from pipelines.schemas import Contract
from pipelines.sources.seeds import SEEDS


def seed_table(
    contract: Contract, read: Callable[[Path], pl.DataFrame]
) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    """The asset loading the seed of ``contract`` (``raw.<table>``) and its blocking suite check."""
    name = contract.table
    path = SEEDS / f"{name}.csv"

    @dg.asset(
        key=["raw", name],
        kinds={"csv", "parquet"},
        description=contract.description,
    )
    def _load(observatory: ObservatoryResource) -> dg.MaterializeResult:
        metadata = observatory.store_table(read(path), contract)
        return dg.MaterializeResult(metadata={**metadata, "seed": dg.MetadataValue.path(str(path))})

    @dg.asset_check(
        asset=_load,
        name=f"{name}_expectations",
        blocking=True,
        description=f"Suite {name}",
    )
    def _check(observatory: ObservatoryResource) -> dg.AssetCheckResult:
        return observatory.check_suite(name, observatory.lake().read("raw", name))

    return _load, _check
