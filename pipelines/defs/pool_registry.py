"""The pool registries: ``raw/pool_registry`` (every configured registry, one row per registry and
pool) and, normalised to one pool per entity, ``intermediate/pool_entities`` and
``intermediate/pool_identifiers`` (each name, tag and address claim, with conflicts resolved)."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from pipelines.metadata import markdown_table
from pipelines.mining.pool_entities import resolve_registries
from pipelines.raw_tables import RawTable, write_raw_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas.mining import POOL_ENTITIES, POOL_IDENTIFIERS, POOL_REGISTRY
from pipelines.sources.pool_registry import combine_registries
from pipelines.sources.registry import FeedRead

KEY = dg.AssetKey(["raw", "pool_registry"])
ENTITIES = dg.AssetKey(["intermediate", "pool_entities"])
IDENTIFIERS = dg.AssetKey(["intermediate", "pool_identifiers"])

registry_file = dg.AssetSpec(
    key=["source", "pool_registry"],
    description=(
        "The pool registries configured in [sources.pool_registry.<name>], in precedence order: "
        "mempool.space's pools-v2.json (mempool/mining-pools, MIT), bitcoin-data/mining-pools' "
        "generated pool-list.json (MIT) and the Edinburgh Decentralization Index's identifier "
        "and address mappings (Blockchain-Technology-Lab/consensus-decentralization, MIT)."
    ),
    kinds={"json"},
    metadata={
        "publisher": "mempool.space; bitcoin-data; Blockchain-Technology-Lab (EDI)",
        "licence": "MIT",
        "live_location": dg.MetadataValue.url(
            "https://raw.githubusercontent.com/mempool/mining-pools/master/pools-v2.json"
        ),
    },
)


TABLE = RawTable(POOL_REGISTRY, None, None)


def _combined(reads: dict[str, FeedRead], kinds: dict[str, str]) -> pl.DataFrame:
    """The registries stacked in config order (precedence 0 first)."""
    parsed = [(name, kinds[name], r.report["tag_matching"], r.rows) for name, r in reads.items()]
    return combine_registries(parsed).sort("precedence", "id", nulls_last=True, maintain_order=True)


@dg.asset(
    key=KEY,
    deps=[registry_file],
    code_version="2",
)
def pool_registry(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    feeds = observatory.config().feeds("pool_registry")
    reads = {feed.name: observatory.read(feed, log=context.log) for feed in feeds}
    kinds = {feed.name: feed.kind for feed in feeds}
    frame = _combined(reads, kinds)
    stored = write_raw_table(observatory, TABLE, reads, whole=frame, log=context.log)
    bad = frame.filter(frame["record_errors"].is_not_null() | frame["tag_errors"].is_not_null())
    if bad.height:
        context.log.warning(f"pool_registry: {bad.height} records with errors (see the check)")
    return dg.MaterializeResult(
        metadata={
            **stored,
            "registries": dg.MetadataValue.json(
                {
                    name: {"kind": kinds[name], "pools": read.rows.height, **read.report}
                    for name, read in reads.items()
                }
            ),
            "retrieved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "records_with_errors": bad.height,
        }
    )


@dg.asset_check(asset=KEY, blocking=True, description="Suite expectations/pool_registry.json")
def pool_registry_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return observatory.check_suite("pool_registry", observatory.lake().read("raw", "pool_registry"))


def conflict_summary(identifiers: pl.DataFrame) -> pl.DataFrame:
    """Per kind: identifiers given to two pools, and how many of those involve two registries."""
    per_identifier = (
        identifiers.filter(pl.col("conflict"))
        .group_by("kind", "identifier_key")
        .agg(pl.col("registry").n_unique().alias("registries"))
    )
    return (
        per_identifier.group_by("kind")
        .agg(
            pl.len().alias("conflicting_identifiers"),
            (pl.col("registries") > 1).sum().alias("across_registries"),
        )
        .sort("kind")
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ENTITIES,
            deps=[KEY, dg.AssetKey(["raw", "pool_label_aliases"])],
        ),
        dg.AssetSpec(
            IDENTIFIERS,
            deps=[KEY, dg.AssetKey(["raw", "pool_label_aliases"])],
        ),
    ]
)
def pool_entities(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Normalise the registries to pool entities and resolve their conflicting claims."""
    lake = observatory.lake()
    entities, identifiers = resolve_registries(
        lake.read("raw", "pool_registry"), lake.read("raw", "pool_label_aliases")
    )
    yield dg.MaterializeResult(
        asset_key=ENTITIES,
        metadata=observatory.store_table(entities, POOL_ENTITIES),
    )
    summary = conflict_summary(identifiers)
    conflicting = identifiers.filter(pl.col("conflict")).drop("conflict")
    if conflicting.height:
        context.log.warning(
            f"pool registries disagree on {summary['conflicting_identifiers'].sum()} identifiers "
            "(see pool_registry_conflicts); the registry of highest precedence decides"
        )
    yield dg.MaterializeResult(
        asset_key=IDENTIFIERS,
        metadata={
            **observatory.store_table(identifiers, POOL_IDENTIFIERS),
            "conflicts": int(summary["conflicting_identifiers"].sum()),
            "conflicts_across_registries": int(summary["across_registries"].sum()),
            "conflicts_by_kind": dg.MetadataValue.md(markdown_table(summary)),
            "conflicting_claims": dg.MetadataValue.md(markdown_table(conflicting, 50)),
        },
    )
