"""Contracts of the mining tables: blocks, their rejects, the pool registries."""

from dataclasses import replace

import polars as pl

from pipelines.schemas import Contract, table
from pipelines.schemas.rejects import rejects_table

BLOCKS = table(
    "raw.blocks",
    "Blocks from every configured feed (node RPC, mempool/esplora API, BigQuery export, labelled "
    "files): height, hash, time, coinbase scriptSig and outputs, fees, labels. One partition per "
    "UTC month; a height may appear once per feed (feeds are reconciled in block_attribution).",
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
    "Mining pools as each configured registry lists them (mempool.space, bitcoin-data, EDI): one "
    "row per registry and pool, with the registry's precedence, pool names as written, payout "
    "addresses and coinbase tags. Used to attribute blocks to pools.",
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

MERGED_BLOCK_DESCRIPTIONS = {
    "time": "block header time, UTC (null when no feed has one)",
    "feed": "earliest configured feed holding the block",
}
MERGED_BLOCKS = Contract(
    "intermediate.blocks",
    (
        "Every block once: the feeds' rows for a height merged, each field from the earliest feed "
        "that has it (a header time beats an estimated date; a label such as 'unknown' that "
        "identifies no pool counts as missing)."
    ),
    # The columns of raw.blocks, one row per block: a merged row's time and feed say more.
    tuple(
        replace(c, description=MERGED_BLOCK_DESCRIPTIONS.get(c.name, c.description))
        for c in BLOCKS.columns
    ),
)

BLOCK_ATTRIBUTION = table(
    "intermediate.block_attribution",
    (
        "Every block (one per height) attributed to a pool and its owner from the evidence of "
        "every feed that holds it: payout address first, then coinbase tag, then a label; evidence"
        " that identifies no pool never hides a feed that does; the deciding feed and conflicts "
        "recorded. Also the pool whose block template it used (observed, and inclusive of partial "
        "evidence)."
    ),
    ("height", pl.Int64(), "block height"),
    ("hash", pl.String(), "block hash (null for labelled files without hashes)"),
    ("time", pl.Datetime("us", "UTC"), "block header time, UTC (null when the feed has none)"),
    (
        "date",
        pl.Date(),
        "UTC day of the block (estimated for feeds without timestamps; see date_source)",
    ),
    ("date_source", pl.String(), "'header' or 'block_count_series'"),
    (
        "feed",
        pl.String(),
        "the earliest feed in the config that holds this height (dates and hash come from it)",
    ),
    ("pool", pl.String(), "attributed pool (registry name; 'unknown' when unattributed)"),
    ("pool_id", pl.Int64(), "registry id of the pool (null for unknown and unmatched labels)"),
    (
        "owner",
        pl.String(),
        "entity owning the pool on the block's date (the pool itself when no owner row)",
    ),
    ("method", pl.String(), "how the pool was found: address, tag, label or unknown"),
    ("evidence_feed", pl.String(), "feed whose evidence decided the pool (null when unknown)"),
    ("address_pool", pl.String(), "pool whose payout address the coinbase pays, if any"),
    ("tag_pool", pl.String(), "pool whose coinbase tag the scriptSig contains, if any"),
    (
        "label",
        pl.String(),
        "label given by a labelled file, as written (the earliest feed's identifying label)",
    ),
    (
        "label_matched",
        pl.Boolean(),
        "whether the label matched a registry pool (null without identifying label)",
    ),
    (
        "conflict",
        pl.Boolean(),
        (
            "the evidence names different pools: address vs tag, or two feeds' coinbases or labels"
            " (address beats tag beats label; between feeds, config order decides)"
        ),
    ),
    (
        "template_builder_observed",
        pl.String(),
        (
            "pool whose block template the block's pool used on its date (observed rows of "
            "pool_template_builders; the pool itself when none; 'unknown' when unattributed)"
        ),
    ),
    (
        "template_builder_inclusive",
        pl.String(),
        (
            "pool whose block template the block's pool used on its date (observed, partial rows "
            "of pool_template_builders; the pool itself when none; 'unknown' when unattributed)"
        ),
    ),
)

# The keys of every per-window mining table: grouping, unknown policy and window.
WINDOW_COLUMNS = (
    (
        "grouping",
        pl.String(),
        (
            "'pool', 'owner', 'template_observed' or 'template_inclusive' (the pool whose block "
            "template was used: observed sharing only, or partial evidence too)"
        ),
    ),
    ("unknown_policy", pl.String(), "'entity' (unknown blocks are one entity) or 'excluded'"),
    (
        "window",
        pl.String(),
        "'day', 'week' (ISO), 'month', 'year' or '30d' (fixed windows from the anchor)",
    ),
    ("window_start", pl.Date(), "first day of the window"),
    ("window_end", pl.Date(), "last day of the window (inclusive)"),
    ("window_label", pl.String(), "day, ISO week, month, year, or for 30d windows their midpoint"),
)

POOL_SHARES = table(
    "intermediate.pool_shares",
    "Each pool's, owner's and template builder's share of blocks per window, with 95% intervals.",
    *WINDOW_COLUMNS,
    ("entity", pl.String(), "pool, owner or template-building pool"),
    ("blocks", pl.Int64(), "blocks the entity found in the window"),
    ("share", pl.Float64(), "entity's share of the window's blocks (0-1)"),
    ("share_ci_low", pl.Float64(), "95% Wilson interval, low"),
    ("share_ci_high", pl.Float64(), "95% Wilson interval, high"),
)

MINING_CONCENTRATION = table(
    "intermediate.mining_concentration",
    "Concentration metrics of mining per window, by pool, owner and template builder.",
    *WINDOW_COLUMNS,
    (
        "blocks",
        pl.Int64(),
        "blocks behind the metrics (identified blocks only when unknown_policy='excluded')",
    ),
    ("entities", pl.Int64(), "entities with at least one block"),
    ("hhi", pl.Float64(), "Herfindahl-Hirschman index, Σ(100·share)², 0-10,000"),
    (
        "hhi_ci_low",
        pl.Float64(),
        "95% interval of HHI, low (delta method, blocks as a sample of hashrate)",
    ),
    ("hhi_ci_high", pl.Float64(), "95% interval of HHI, high"),
    ("nakamoto", pl.Int64(), "fewest entities holding at least 50% of blocks"),
    (
        "nakamoto_ci_low",
        pl.Int64(),
        "95% interval of the Nakamoto coefficient, low (Wilson band method)",
    ),
    ("nakamoto_ci_high", pl.Int64(), "95% interval of the Nakamoto coefficient, high"),
    ("tau_033", pl.Int64(), "fewest entities holding at least 33% of blocks"),
    ("tau_066", pl.Int64(), "fewest entities holding at least 66% of blocks"),
    ("cr1", pl.Float64(), "share of the largest entity"),
    ("cr3", pl.Float64(), "share of the three largest entities"),
    ("cr5", pl.Float64(), "share of the five largest entities"),
    ("gini", pl.Float64(), "Gini coefficient over entities with at least one block"),
    ("entropy_bits", pl.Float64(), "Shannon entropy of shares, bits"),
    ("entropy_normalized", pl.Float64(), "entropy divided by log2(entities) (null for one entity)"),
    ("theil", pl.Float64(), "Theil T index"),
    ("effective_entities", pl.Float64(), "1/Σ share²"),
    ("unknown_share", pl.Float64(), "share of unattributed blocks among all blocks of the window"),
    ("days_with_blocks", pl.Int64(), "days of the window that have blocks in the data"),
    ("days_in_window", pl.Int64(), "days in the window (fewer days with blocks: a partial window)"),
)

POOL_ENTITIES = table(
    "intermediate.pool_entities",
    (
        "One row per pool, whichever registries list it: registry names normalised through the "
        "curated aliases and loose name matching, with the pool's id, website and registries."
    ),
    (
        "pool",
        pl.String(),
        "pool name (the alias's pool, else the name in the registry of highest precedence)",
    ),
    (
        "pool_id",
        pl.Int64(),
        "the pool's id in the first registry, by precedence, that gives it one",
    ),
    (
        "pool_id_registry",
        pl.String(),
        "the registry pool_id comes from (null when no registry has an id)",
    ),
    (
        "website",
        pl.String(),
        "the pool's link in the first registry, by precedence, that has one ('' if none)",
    ),
    ("registries", pl.List(pl.String()), "registries listing the pool, in precedence order"),
    (
        "pool_order",
        pl.UInt32(),
        "position of the pool's first registry row (precedence, then registry order)",
    ),
)

POOL_IDENTIFIERS = table(
    "intermediate.pool_identifiers",
    (
        "Every name, coinbase tag and payout address a registry gives a pool (one row per claim), "
        "normalised to the pool entity; an identifier given to two pools is a conflict, decided by"
        " the registry of highest precedence."
    ),
    ("kind", pl.String(), "'name', 'tag' (coinbase tag) or 'address' (payout address)"),
    ("identifier", pl.String(), "the name, tag or address as the registry writes it"),
    (
        "identifier_key",
        pl.String(),
        (
            "how claims are compared: names lower-cased letters and digits, tags lower-cased, "
            "addresses as written"
        ),
    ),
    (
        "tag_matching",
        pl.String(),
        "how the registry's tags are matched: 'regex_like' or 'literal' (tags only)",
    ),
    ("registry", pl.String(), "the registry making the claim"),
    ("precedence", pl.Int64(), "the registry's precedence (0 first)"),
    ("registry_pool", pl.String(), "the pool as the registry names it"),
    (
        "pool",
        pl.String(),
        "the pool entity that name stands for (aliases and loose name matching applied)",
    ),
    ("conflict", pl.Boolean(), "another claim gives this identifier to another pool"),
    ("chosen", pl.Boolean(), "this claim's pool is the one the identifier attributes to"),
    ("decided_pool", pl.String(), "the pool the identifier attributes to"),
    (
        "decided_by",
        pl.String(),
        "the registry whose claim decides (highest precedence, then first listed)",
    ),
)

POOL_OWNERS = table(
    "raw.pool_owners",
    (
        "Curated, reviewed table of which entity owned which pool when, with a public source per "
        "row (dbt_like_sql/seeds/pool_owners.csv). A pool without a row owns itself."
    ),
    ("pool", pl.String(), "registry pool name"),
    ("owner", pl.String(), "entity owning the pool over the range"),
    ("valid_from", pl.Date(), "first day of ownership (null: since the pool began)"),
    ("valid_to", pl.Date(), "last day of ownership, inclusive (null: still owned)"),
    ("source", pl.String(), "public source for the row"),
    ("note", pl.String(), "what the source says"),
    ("range_error", pl.String(), "valid_from after valid_to (null when fine)"),
    (
        "overlap_error",
        pl.String(),
        "another row gives the pool an owner on overlapping days (null when fine)",
    ),
)

POOL_TEMPLATE_BUILDERS = table(
    "raw.pool_template_builders",
    (
        "Curated table of pools seen sending their miners another pool's block template (stratum "
        "jobs with the same Merkle branches), from the first day observed, with a confidence and a"
        " public source per row (dbt_like_sql/seeds/pool_template_builders.csv). A pool without a "
        "row builds its own template."
    ),
    ("pool", pl.String(), "registry pool name"),
    (
        "template_builder",
        pl.String(),
        "registry pool whose block template the pool sends its miners",
    ),
    ("valid_from", pl.Date(), "first day the sharing was observed (it may have begun earlier)"),
    ("valid_to", pl.Date(), "last day, inclusive (null: still current as far as the sources show)"),
    (
        "confidence",
        pl.String(),
        "'observed' (identical templates seen) or 'partial' (possibly, sometimes)",
    ),
    ("source", pl.String(), "public source for the row"),
    ("note", pl.String(), "what the source observed, and when"),
    ("range_error", pl.String(), "valid_from after valid_to (null when fine)"),
    (
        "overlap_error",
        pl.String(),
        "another row gives the pool a builder on overlapping days (null when fine)",
    ),
    (
        "chain_error",
        pl.String(),
        "the builder is itself mapped to another builder (null when fine)",
    ),
)

POOL_LABEL_ALIASES = table(
    "raw.pool_label_aliases",
    (
        "Curated aliases mapping labels and duplicate registry entries to the registry pool they "
        "mean (dbt_like_sql/seeds/pool_label_aliases.csv)."
    ),
    ("alias", pl.String(), "label or registry name as written"),
    (
        "alias_key",
        pl.String(),
        "the alias lower-cased with punctuation removed (how labels are matched)",
    ),
    ("pool", pl.String(), "registry pool it stands for"),
    ("reason", pl.String(), "why the alias is the same pool"),
    ("source", pl.String(), "public source"),
)
# attribute() builds the columns up to `conflict`; with_template_builders adds one column per
# confidence variant of the template-builder seed.
TEMPLATE_COLUMNS = ("template_builder_observed", "template_builder_inclusive")
ATTRIBUTION_COLUMNS = tuple(n for n in BLOCK_ATTRIBUTION.names if n not in TEMPLATE_COLUMNS)
