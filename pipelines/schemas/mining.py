"""Contracts of the mining tables: blocks, their rejects, the pool registries."""

import polars as pl

from pipelines.schemas import table
from pipelines.schemas.rejects import rejects_table

BLOCKS = table(
    "raw.blocks",
    "Blocks from every configured feed (node RPC, mempool/esplora API, BigQuery export, labelled "
    "files): height, hash, time, coinbase scriptSig and outputs, fees, labels. One partition per "
    "UTC day; a height may appear once per feed (feeds are reconciled in block_attribution).",
    ("height", pl.Int64(), "block height"),
    ("hash", pl.String(), "block hash (null for labelled files without hashes)"),
    ("time", pl.Datetime("us", "UTC"), "block header time, UTC (null when the feed has none)"),
    (
        "date",
        pl.Date(),
        "UTC day of the block: from its header time, or estimated from daily block counts",
    ),
    ("date_source", pl.String(), "'header' or 'block_count_series' (estimated, see README)"),
    ("coinbase_hex", pl.String(), "coinbase scriptSig as hex (null for labelled files)"),
    ("coinbase_addresses", pl.List(pl.String()), "coinbase output addresses in output order"),
    (
        "coinbase_values_sats",
        pl.List(pl.Int64()),
        "coinbase output values in satoshis, in output order",
    ),
    ("fees_sats", pl.Int64(), "total transaction fees in satoshis, when the feed gives them"),
    ("tx_count", pl.Int64(), "number of transactions, when the feed gives it"),
    ("label", pl.String(), "pool label given by a labelled file (a name or a mempool-style slug)"),
    ("label_scheme", pl.String(), "'name' or 'slug' for labelled files"),
    ("feed", pl.String(), "configured feed the block came from"),
)
BLOCK_SCHEMA = BLOCKS.schema
BLOCK_REJECTS = rejects_table(
    "raw.block_rejects",
    "Rows the block feeds could not use, with the reason (written by raw/blocks).",
)


def conform_blocks(frame: pl.DataFrame, feed: str) -> pl.DataFrame:
    """``frame`` as ``raw.blocks`` rows of ``feed``: missing columns null, types cast, ordered."""
    return BLOCKS.conform(frame.with_columns(pl.lit(feed).alias("feed")))


REGISTRY_POOL_COLUMNS = (
    ("id", pl.Int64(), "the registry's pool id (null for registries without ids, e.g. EDI)"),
    ("name", pl.String(), "pool name as the registry writes it"),
    ("addresses", pl.List(pl.String()), "known coinbase payout addresses of the pool"),
    (
        "tags",
        pl.List(pl.String()),
        "coinbase tags the pool writes into its coinbase (see tag_matching)",
    ),
    ("link", pl.String(), "pool website"),
    ("n_addresses", pl.Int64(), "number of payout addresses"),
    ("n_tags", pl.Int64(), "number of coinbase tags"),
    (
        "tag_errors",
        pl.String(),
        "tags that cannot be matched: bad regexes, empty tags (null when all are fine)",
    ),
    ("record_errors", pl.String(), "fields of this record that had the wrong type (null if none)"),
)
POOL_REGISTRY = table(
    "raw.pool_registry",
    "Mining pools as each configured registry lists them (mempool.space, bitcoin-data, EDI): "
    "one row per registry and pool, with the registry's precedence, pool names as written, "
    "payout addresses and coinbase tags. Used to attribute blocks to pools.",
    ("registry", pl.String(), "the registry's name in the config ([sources.pool_registry.<name>])"),
    (
        "registry_kind",
        pl.String(),
        "the registry's format: mempool_pools_v2, bitcoin_data_pools or edi_pools",
    ),
    (
        "precedence",
        pl.Int64(),
        "the registry's position in the config, 0 first: a lower number wins conflicts",
    ),
    (
        "tag_matching",
        pl.String(),
        "how the registry's tags are matched: 'regex_like' (literal text unless it has regex "
        "syntax other than '.' and '$', ASCII case ignored) or 'literal' (exact, case-sensitive "
        "substring, as EDI matches them)",
    ),
    *REGISTRY_POOL_COLUMNS,
)
