"""AI: Epoch AI's models and chip owners, raw and checked, then concentration and openness.

``raw/ai_models`` holds one row per model row of each configured database (a lake partition
per feed, rewritten whole each run); values Epoch gives that cannot be parsed are null and
reported in ``raw.ai_model_problems``. ``raw/ai_chip_owners`` holds every row of the chip-owner
files. The intermediate tables apply the documented rules (fractional credits, no chip counted
twice) in ``pipelines/ai``.
"""

import dagster as dg
import polars as pl

from pipelines.ai.compute_owners import (
    ai_compute_concentration,
    ai_compute_owners,
    resolve_double_counts,
)
from pipelines.ai.concentration import ai_concentration, ai_openness
from pipelines.metadata import markdown_table
from pipelines.raw_tables import RawTable, write_raw_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas.ai import (
    AI_CHIP_OWNER_PROBLEMS,
    AI_CHIP_OWNERS,
    AI_COMPUTE_CONCENTRATION,
    AI_COMPUTE_OWNERS,
    AI_CONCENTRATION,
    AI_MODEL_PROBLEMS,
    AI_MODELS,
    AI_OPENNESS,
)

MODELS = dg.AssetKey(["raw", "ai_models"])
CHIP_OWNERS = dg.AssetKey(["raw", "ai_chip_owners"])
COMPUTE_OWNERS = dg.AssetKey(["intermediate", "ai_compute_owners"])
CONCENTRATION = dg.AssetKey(["intermediate", "ai_concentration"])
OPENNESS = dg.AssetKey(["intermediate", "ai_openness"])
COMPUTE_CONCENTRATION = dg.AssetKey(["intermediate", "ai_compute_concentration"])
MODELS_TABLE = RawTable(AI_MODELS, AI_MODEL_PROBLEMS, "feed")
CHIP_OWNERS_TABLE = RawTable(AI_CHIP_OWNERS, AI_CHIP_OWNER_PROBLEMS, None)

ai_model_feeds = dg.AssetSpec(
    key=["source", "ai_models"],
    description="The Epoch AI model databases configured in [sources.ai_models.<feed>].",
    kinds={"csv"},
)
ai_chip_owner_files = dg.AssetSpec(
    key=["source", "ai_chip_owners"],
    description="[sources.ai_chip_owners]: Epoch AI's chip-owner estimates (CSV files).",
    kinds={"csv"},
)


@dg.asset(
    key=MODELS,
    deps=[ai_model_feeds],
)
def ai_models(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    reads = {}
    for feed in observatory.config().feeds("ai_models"):
        read = reads[feed.name] = observatory.read(feed, log=context.log)
        context.log.info(f"{feed.name}: {read.rows.height:,} models, {read.rejects.height} issues")
    return dg.MaterializeResult(
        metadata=write_raw_table(observatory, MODELS_TABLE, reads, log=context.log)
    )


@dg.asset_check(
    asset=MODELS,
    name="ai_models_expectations",
    blocking=True,
    description="Suite ai_models: named models, known datasets and accessibility classes, "
    "non-negative compute, cost and parameters, one row per file row",
)
def ai_models_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    models = observatory.lake().read("raw", "ai_models")
    scalar = models.drop("organizations", "countries", "organization_categories")
    return observatory.check_suite("ai_models", scalar)


@dg.asset(
    key=CHIP_OWNERS,
    deps=[ai_chip_owner_files],
)
def ai_chip_owners(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    feed = observatory.config().source("ai_chip_owners")
    read = observatory.read(feed, log=context.log)
    _, changes = resolve_double_counts(read.rows)
    read.rejects = with_rule_changes(read.rejects, changes, feed.name)
    metadata = write_raw_table(observatory, CHIP_OWNERS_TABLE, {feed.name: read}, log=context.log)
    by_file = read.rows.group_by("file").agg(
        pl.len().alias("rows"),
        pl.col("owner").unique().sort().str.join(", ").alias("owners"),
        pl.col("quarter").min().cast(pl.String).alias("first_quarter"),
        pl.col("quarter").max().cast(pl.String).alias("last_quarter"),
    )
    metadata["files"] = dg.MetadataValue.md(markdown_table(by_file.sort("file"), 20))
    return dg.MaterializeResult(metadata=metadata)


def with_rule_changes(problems: pl.DataFrame, changes: pl.DataFrame, feed: str) -> pl.DataFrame:
    """The files' problems and what the no-double-counting rule changed, by file and row."""
    record = pl.col("record").str.extract_groups(r"^(?<file>.*) row (?<row>\d+)$")
    changed = changes.select(
        pl.lit(feed).alias("feed"),
        pl.format("{} row {}", "file", "row").alias("record"),
        "field",
        "value",
        pl.col("change").alias("problem"),
    )
    return (
        pl.concat([problems, changed.cast(problems.schema)])
        .with_columns(record.struct.field("file"), record.struct.field("row").cast(pl.Int64))
        .sort("file", "row", maintain_order=True)
        .drop("file", "row")
    )


@dg.asset_check(
    asset=CHIP_OWNERS,
    name="ai_chip_owners_expectations",
    blocking=True,
    description="Suite ai_chip_owners: owners and makers named, stock non-negative, "
    "5th percentile <= median <= 95th percentile",
)
def ai_chip_owners_expectations(observatory: ObservatoryResource) -> dg.AssetCheckResult:
    return observatory.check_suite(
        "ai_chip_owners", observatory.lake().read("raw", "ai_chip_owners")
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            CONCENTRATION,
            deps=[MODELS],
        ),
        dg.AssetSpec(
            OPENNESS,
            deps=[MODELS],
        ),
    ]
)
def ai_model_tables(observatory: ObservatoryResource):
    """Concentration and openness of AI models from the raw model rows."""
    models = observatory.lake().read("raw", "ai_models")
    concentration = ai_concentration(models)
    openness = ai_openness(models)
    yearly = concentration.filter(
        (pl.col("period") == "year")
        & (pl.col("dataset") == "notable")
        & (pl.col("weighting") == "models")
    )
    yield dg.MaterializeResult(
        asset_key=CONCENTRATION,
        metadata={
            **observatory.store_table(concentration, AI_CONCENTRATION),
            "notable_by_year": dg.MetadataValue.md(
                markdown_table(
                    yearly.select(
                        "dimension", pl.col("period_start").dt.year().alias("year"), "hhi", "cr1"
                    ).tail(30),
                    30,
                )
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=OPENNESS,
        metadata={
            **observatory.store_table(openness, AI_OPENNESS),
            "recent_years": dg.MetadataValue.md(markdown_table(openness.tail(20), 20)),
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            COMPUTE_OWNERS,
            deps=[CHIP_OWNERS],
        ),
        dg.AssetSpec(
            COMPUTE_CONCENTRATION,
            deps=[CHIP_OWNERS],
        ),
    ]
)
def ai_compute_tables(observatory: ObservatoryResource):
    """Owners' chip stock per quarter and how concentrated it is."""
    owners = ai_compute_owners(observatory.lake().read("raw", "ai_chip_owners"))
    concentration = ai_compute_concentration(owners)
    yield dg.MaterializeResult(
        asset_key=COMPUTE_OWNERS,
        metadata=observatory.store_table(owners, AI_COMPUTE_OWNERS),
    )
    yield dg.MaterializeResult(
        asset_key=COMPUTE_CONCENTRATION,
        metadata={
            **observatory.store_table(concentration, AI_COMPUTE_CONCENTRATION),
            "by_quarter": dg.MetadataValue.md(
                markdown_table(
                    concentration.select(
                        pl.col("quarter").cast(pl.String), "hhi", "hhi_low", "hhi_high", "cr1"
                    ),
                    40,
                )
            ),
        },
    )
