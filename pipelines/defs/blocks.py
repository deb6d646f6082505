"""``raw/blocks``: blocks from every configured feed; a Dagster partition per UTC year, a lake
file per UTC month.

A run covers a range of days in one go (``BackfillPolicy.single_run`` over its years; with
distributed execution a backfill is a run per year, ``execution.backfill_policy``): each feed
is read once for the run's range, and every day of the range is replaced inside its month (days
without blocks are emptied), so re-running a range gives the same files. Rows a feed cannot use
are kept in ``raw.block_rejects`` with the reason.
"""

import dagster as dg
import polars as pl

from pipelines.checks import monthly_expectations_check
from pipelines.execution import backfill_policy
from pipelines.partitions import YEARLY, run_days
from pipelines.raw_tables import RawTable, write_raw_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas.mining import BLOCK_REJECTS, BLOCKS

KEY = dg.AssetKey(["raw", "blocks"])
TABLE = RawTable(BLOCKS, BLOCK_REJECTS, "month", ("feed", "height"), day_column="date")

block_feeds = dg.AssetSpec(
    key=["source", "blocks"],
    description=(
        "The block feeds configured in [sources.blocks.<feed>]: a Bitcoin Core node, a mempool or "
        "esplora API, a BigQuery crypto_bitcoin export, or pool-labelled block files."
    ),
    kinds={"bitcoin"},
)


@dg.asset(
    key=KEY,
    deps=[block_feeds],
    partitions_def=YEARLY,
    backfill_policy=backfill_policy(),
)
def blocks(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    start, end = run_days(context)
    reads = {}
    for feed in observatory.config().feeds("blocks"):
        read = observatory.read(feed, start, end, context.log)
        reads[feed.name] = read
        context.log.info(
            f"feed {feed.name}: {read.rows.height:,} blocks, {read.rejects.height} rejected"
        )
    metadata = write_raw_table(observatory, TABLE, reads, days=(start, end), log=context.log)
    return dg.MaterializeResult(metadata=metadata)


def _validation_frame(frame: pl.DataFrame, month: str) -> pl.DataFrame:
    """The partition plus the derived columns the suite checks."""
    return frame.with_columns(
        pl.when(
            pl.col("coinbase_hex").is_null()
            & pl.col("label").is_null()
            & (pl.col("coinbase_addresses").list.len().fill_null(0) == 0)
        )
        .then(pl.format("height {}: no coinbase and no label", "height"))
        .alias("evidence_missing"),
        pl.when(
            (pl.col("date_source") == "header") & (pl.col("time").dt.date() != pl.col("date"))
            | (pl.col("date").dt.strftime("%Y-%m") != month)
        )
        .then(pl.format("height {}: dated {} in partition " + month, "height", "date"))
        .alias("date_mismatch"),
    )


blocks_expectations = monthly_expectations_check(KEY, suite="blocks", derive=_validation_frame)
