"""The common shape of a block, whatever feed it came from (node, API, export or labelled file)."""

import polars as pl

BLOCK_SCHEMA: dict[str, pl.DataType] = {
    "height": pl.Int64(),
    "hash": pl.String(),  # null for labelled files that carry no hash
    "time": pl.Datetime("us", "UTC"),  # block header time; null when the feed has none
    "date": pl.Date(),  # UTC date of ``time``, or estimated from a daily block-count series
    "date_source": pl.String(),  # "header" | "block_count_series"
    "coinbase_hex": pl.String(),  # coinbase scriptSig, hex; null for labelled files
    "coinbase_addresses": pl.List(pl.String()),  # coinbase output addresses, output order
    "coinbase_values_sats": pl.List(pl.Int64()),  # coinbase output values (satoshis), same order
    "fees_sats": pl.Int64(),  # total fees of the block, when the feed gives them
    "tx_count": pl.Int64(),  # transactions in the block, when the feed gives them
    "label": pl.String(),  # pool label from a labelled file (name or slug), else null
    "label_scheme": pl.String(),  # "name" | "slug" | null
    "feed": pl.String(),  # the configured feed this row came from
}

BLOCK_COLUMN_DESCRIPTIONS = {
    "height": "block height",
    "hash": "block hash (null for labelled files without hashes)",
    "time": "block header time, UTC (null when the feed has no timestamps)",
    "date": "UTC day of the block: from its header time, or estimated from daily block counts",
    "date_source": "'header' or 'block_count_series' (estimated, see the mining README)",
    "coinbase_hex": "coinbase scriptSig as hex",
    "coinbase_addresses": "coinbase output addresses in output order",
    "coinbase_values_sats": "coinbase output values in satoshis, in output order",
    "fees_sats": "total transaction fees in satoshis",
    "tx_count": "number of transactions",
    "label": "pool label given by a labelled file (a name or a mempool-style slug)",
    "label_scheme": "'name' or 'slug' for labelled files",
    "feed": "configured feed the block came from",
}


def empty_blocks() -> pl.DataFrame:
    return pl.DataFrame(schema=BLOCK_SCHEMA)


def conform(frame: pl.DataFrame, feed: str) -> pl.DataFrame:
    """Add missing block columns as nulls, cast to ``BLOCK_SCHEMA`` and order the columns."""
    frame = frame.with_columns(pl.lit(feed).alias("feed"))
    missing = [pl.lit(None, dtype).alias(n) for n, dtype in BLOCK_SCHEMA.items() if n not in frame]
    return frame.with_columns(missing).select(
        pl.col(name).cast(dtype) for name, dtype in BLOCK_SCHEMA.items()
    )


# Rows a feed could not use: kept aside (quarantined) with the reason, never silently dropped.
MAX_REJECT_VALUE = 200  # characters of a rejected value kept in a reject's ``value``
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "feed": pl.String(),
    "record": pl.String(),  # where: "line 17", "row 17", "height 812345", ...
    "field": pl.String(),  # the offending field
    "value": pl.String(),  # its raw value, truncated to 200 characters
    "problem": pl.String(),  # what is wrong with it
}


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)
