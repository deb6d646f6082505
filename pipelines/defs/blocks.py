"""``raw/blocks``: blocks from every configured feed, one Parquet partition per UTC day.

A run covers a range of days in one go (``BackfillPolicy.single_run``): each feed is read once
for the whole range, and every day of the range is rewritten whole (days without blocks are
removed), so re-running a range gives the same partitions. Rows a feed cannot use are kept in
``raw.block_rejects`` with the reason.
"""

from datetime import date

import dagster as dg
import polars as pl

from pipelines.checks import daily_expectations_check
from pipelines.metadata import markdown_table
from pipelines.mining.blocks import BLOCK_COLUMN_DESCRIPTIONS, BLOCK_SCHEMA, REJECT_SCHEMA
from pipelines.mining.feeds import read_feed
from pipelines.partitions import DAILY
from pipelines.resources import ObservatoryResource
from pipelines.warehouse import load_parquet_table

KEY = dg.AssetKey(["raw", "blocks"])
DESCRIPTION = (
    "Blocks from every configured feed (node RPC, mempool/esplora API, BigQuery export, labelled "
    "files): height, hash, time, coinbase scriptSig and outputs, fees, labels. One partition per "
    "UTC day; a height may appear once per feed (feeds are reconciled in block_attribution)."
)
REJECTS_DESCRIPTION = "Rows the block feeds could not use, with the reason (written by raw/blocks)."

block_feeds = dg.AssetSpec(
    key=["source", "blocks"],
    description=(
        "The block feeds configured in [sources.blocks.<feed>]: a Bitcoin Core node, a mempool or "
        "esplora API, a BigQuery crypto_bitcoin export, or pool-labelled block files."
    ),
    group_name="source",
    kinds={"bitcoin"},
)


@dg.asset(
    key=KEY,
    deps=[block_feeds],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="raw",
    kinds={"parquet", "duckdb"},
    description=DESCRIPTION,
)
def blocks(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    first, last = context.partition_key_range.start, context.partition_key_range.end
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    lake = observatory.lake()
    frames, feed_rows = [], []
    for feed in observatory.config().feeds("blocks"):
        name = feed.name.split(".", 1)[1]
        read = read_feed(feed, start, end, observatory, log=context.log)
        frames.append(read.blocks)
        lake.write(read.rejects, "raw", "block_rejects", ("feed", name))
        feed_rows.append({"feed": name, "kind": feed.kind, **read.report})
        context.log.info(
            f"feed {name}: {read.blocks.height:,} blocks, {read.rejects.height} rejected"
        )
    in_range = pl.concat(frames).filter(pl.col("date").is_between(start, end))

    def progress(done: int, total: int, written: int) -> None:
        context.log.info(f"partitions: {done:,}/{total:,} days ({written:,} with blocks)")

    written, removed = lake.replace_days(
        in_range,
        "raw",
        "blocks",
        column="date",
        start=start,
        end=end,
        sort_by=["feed", "height"],
        progress=progress,
    )
    with observatory.warehouse().writer() as con:
        load_parquet_table(
            con,
            "raw.blocks",
            lake.files("raw", "blocks"),
            description=DESCRIPTION,
            column_descriptions=BLOCK_COLUMN_DESCRIPTIONS,
            empty_schema=BLOCK_SCHEMA,
        )
        load_parquet_table(
            con,
            "raw.block_rejects",
            lake.files("raw", "block_rejects"),
            description=REJECTS_DESCRIPTION,
        )
    rejects = pl.concat(
        [pl.read_parquet(p) for p in lake.files("raw", "block_rejects")]
        or [pl.DataFrame(schema=REJECT_SCHEMA)]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(in_range.height),
            "days": (end - start).days + 1,
            "days_with_blocks": written,
            "days_emptied": removed,
            "feeds": dg.MetadataValue.md(markdown_table(pl.DataFrame(feed_rows), 50)),
            "rejected_rows": rejects.height,
            "rejects_sample": dg.MetadataValue.md(markdown_table(rejects, 20)),
            "first_day": first,
            "last_day": last,
        }
    )


def _validation_frame(frame: pl.DataFrame, day: str) -> pl.DataFrame:
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
            | (pl.col("date") != date.fromisoformat(day))
        )
        .then(pl.format("height {}: dated {} in partition " + day, "height", "date"))
        .alias("date_mismatch"),
    )


blocks_expectations = daily_expectations_check(
    KEY, suite="blocks", column="date", derive=_validation_frame
)
