"""Blocks → pools and owners → shares and concentration per window (Polars, in the lake)."""

from datetime import date

import dagster as dg
import polars as pl

from pipelines.metadata import markdown_table
from pipelines.mining.attribution import attribute, build_lookup, merge_feeds
from pipelines.mining.concentration import (
    GROUPINGS,
    daily_counts,
    days_covered,
    mining_concentration,
    pool_shares,
    window_counts,
)
from pipelines.mining.templates import with_template_builders
from pipelines.resources import ObservatoryResource
from pipelines.schemas.mining import (
    BLOCK_ATTRIBUTION,
    MERGED_BLOCKS,
    MINING_CONCENTRATION,
    POOL_SHARES,
)

BLOCKS = dg.AssetKey(["raw", "blocks"])
MERGED = dg.AssetKey(["intermediate", "blocks"])
ATTRIBUTION = dg.AssetKey(["intermediate", "block_attribution"])
SHARES = dg.AssetKey(["intermediate", "pool_shares"])
CONCENTRATION = dg.AssetKey(["intermediate", "mining_concentration"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            MERGED,
            deps=[BLOCKS],
        ),
        dg.AssetSpec(
            ATTRIBUTION,
            deps=[
                MERGED,
                dg.AssetKey(["raw", "pool_registry"]),
                dg.AssetKey(["raw", "pool_label_aliases"]),
                dg.AssetKey(["raw", "pool_owners"]),
                dg.AssetKey(["raw", "pool_template_builders"]),
            ],
        ),
    ]
)
def attributed_blocks(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Merge the feeds' blocks (one row per height); attribute each to a pool, owner and template
    builder."""
    lake = observatory.lake()
    feeds = [feed.name for feed in observatory.config().feeds("blocks")]
    rows = lake.read("raw", "blocks")
    blocks, overlap = merge_feeds(rows, feeds)
    merged_metadata = observatory.store_table(blocks, MERGED_BLOCKS)
    del blocks  # a copy of every block: not held while attributing (peak memory)
    yield dg.MaterializeResult(
        asset_key=MERGED,
        metadata={**merged_metadata, **{f"feeds/{k}": v for k, v in overlap.items()}},
    )
    lookup = build_lookup(lake.read("raw", "pool_registry"), lake.read("raw", "pool_label_aliases"))
    attributed = with_template_builders(
        attribute(rows, lookup, lake.read("raw", "pool_owners"), feeds),
        lake.read("raw", "pool_template_builders"),
    )
    del rows
    methods = attributed.group_by("method").len().sort("method")
    unmatched = (
        attributed.filter(pl.col("label_matched") == False)  # noqa: E712 (null = no label)
        .group_by("feed", "label")
        .agg(pl.len().alias("blocks"))
        .sort("blocks", "label", descending=[True, False])
    )
    if unmatched.height:
        context.log.warning(
            f"{unmatched.height} labels match no registry pool; kept as their own entities: "
            + ", ".join(unmatched["label"].head(20).to_list())
        )
    stored = observatory.store_table(attributed, BLOCK_ATTRIBUTION)
    yield dg.MaterializeResult(
        asset_key=ATTRIBUTION,
        metadata={
            **stored,
            "blocks_by_method": dg.MetadataValue.md(markdown_table(methods)),
            "conflicts": int(attributed["conflict"].sum()),
            "blocks_by_evidence_feed": dg.MetadataValue.md(
                markdown_table(attributed.group_by("evidence_feed").len().sort("evidence_feed"))
            ),
            "unmatched_labels": dg.MetadataValue.md(markdown_table(unmatched, 50)),
            "first_block": str(attributed["date"].min()),
            "last_block": str(attributed["date"].max()),
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            SHARES,
            deps=[ATTRIBUTION],
        ),
        dg.AssetSpec(
            CONCENTRATION,
            deps=[ATTRIBUTION],
        ),
    ]
)
def mining_windows(observatory: ObservatoryResource):
    """Shares and concentration for day, ISO week, month, year and 30-day windows."""
    anchor = date.fromisoformat(observatory.config().mining["anchor_30d"])
    attributed = observatory.lake().read(
        "intermediate", "block_attribution", columns=["date", *GROUPINGS.values()]
    )
    counts = window_counts(daily_counts(attributed), anchor)
    shares = pool_shares(counts)
    concentration = mining_concentration(counts, days_covered(attributed, anchor))
    yield dg.MaterializeResult(
        asset_key=SHARES,
        metadata=observatory.store_table(shares, POOL_SHARES),
    )
    yield dg.MaterializeResult(
        asset_key=CONCENTRATION,
        metadata={
            **observatory.store_table(concentration, MINING_CONCENTRATION),
            "anchor_30d": str(anchor),
        },
    )
