"""``raw/pool_registry``: mempool.space's mining-pool registry, one row per pool."""

import hashlib
from datetime import UTC, datetime

import dagster as dg

from pipelines.resources import ObservatoryResource
from pipelines.sources.pool_registry import COLUMN_DESCRIPTIONS, parse_pools_v2
from pipelines.validation import gx_check_result

KEY = dg.AssetKey(["raw", "pool_registry"])

registry_file = dg.AssetSpec(
    key=["source", "pool_registry"],
    description=(
        "mempool.space's pool registry file pools-v2.json, published in the mempool/mining-pools "
        "GitHub repository (MIT). Read from the location configured in [sources.pool_registry]."
    ),
    group_name="source",
    kinds={"json"},
    metadata={
        "publisher": "mempool.space (mempool/mining-pools)",
        "licence": "MIT",
        "live_location": dg.MetadataValue.url(
            "https://raw.githubusercontent.com/mempool/mining-pools/master/pools-v2.json"
        ),
    },
)
DESCRIPTION = (
    "Mining pools known to mempool.space (pools-v2.json): id, name, payout addresses and "
    "coinbase tags. Used to attribute blocks to pools."
)


@dg.asset(
    key=KEY,
    deps=[registry_file],
    group_name="raw",
    kinds={"parquet", "duckdb"},
    description=DESCRIPTION,
    code_version="1",
)
def pool_registry(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    source, body = observatory.read_source("pool_registry")
    frame = parse_pools_v2(body, origin=source.location).sort("id", nulls_last=True)
    stored = observatory.store_table(
        frame,
        "raw",
        "pool_registry",
        description=DESCRIPTION,
        column_descriptions=COLUMN_DESCRIPTIONS,
    )
    bad = frame.filter(frame["record_errors"].is_not_null() | frame["tag_errors"].is_not_null())
    if bad.height:
        context.log.warning(f"pool_registry: {bad.height} records with errors (see the check)")
    return dg.MaterializeResult(
        metadata={
            **stored,
            "source_kind": source.kind,
            "source_location": source.location,
            "source_sha256": hashlib.sha256(body).hexdigest(),
            "retrieved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "records_with_errors": bad.height,
        }
    )


@dg.asset_check(asset=KEY, blocking=True, description="GX suite expectations/pool_registry.json")
def pool_registry_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return gx_check_result("pool_registry", observatory.lake().read("raw", "pool_registry"))
