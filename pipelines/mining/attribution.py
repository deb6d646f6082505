"""Attribute blocks to pools and owners, vectorised in Polars (no Python loop per block).

Order of evidence, strongest first:

1. **address** — a coinbase output pays a pool's registered payout address;
2. **tag** — the coinbase scriptSig, decoded as UTF-8 with replacement, contains one of the pool's
   coinbase tags. mempool-style tags (``tag_matching = 'regex_like'``) are written as regexes but
   almost all are literal text whose ``.`` and ``$`` their authors meant literally (``/BTC.COM/``,
   ``/$Mined by 7pool.com/``), so a tag without other regex syntax is matched as literal text,
   ignoring ASCII case (one Aho-Corasick pass for all of them); the rare tag with real regex syntax
   is matched as a regex. EDI's identifiers (``'literal'``) are exact, case-sensitive substrings,
   as EDI matches them (a second pass). When several tags match, whichever registry they come
   from, the longest wins (``/solo.ckpool.org/`` over ``/ckpool.org/``), then the pool listed first
   (registries in precedence order);
3. **label** — a labelled file's pool name or mempool slug, normalised to a registry name (case and
   punctuation ignored, known aliases from ``dbt_like_sql/seeds/pool_label_aliases.csv``). A label
   that matches no registry pool is kept as its own entity and reported (``label_matched`` false);
4. **unknown** — none of the above (also labels such as "unknown" or "failed").

Blocks whose address and tag point at different pools are flagged (``conflict``); the address wins.
The owner of a pool is looked up in ``dbt_like_sql/seeds/pool_owners.csv`` by the block's date;
a pool with no owner row owns itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from pipelines.mining.pool_entities import resolve_registries
from pipelines.text import lossy_utf8_from_hex, normalise_key

UNKNOWN = "unknown"
UNKNOWN_LABELS = ("unknown", "failed", "")
METHODS = ("address", "tag", "label", UNKNOWN)
# Regex syntax that cannot be meant literally; "." and "$" are read as literal characters.
_REGEX_SYNTAX = re.compile(r"[\\\[\](){}|*+?]|^\^")

ATTRIBUTION_COLUMNS = {
    "height": "block height",
    "hash": "block hash (null for labelled files without hashes)",
    "time": "block header time, UTC (null when the feed has none)",
    "date": "UTC day of the block (estimated for feeds without timestamps; see date_source)",
    "date_source": "'header' or 'block_count_series'",
    "feed": "the feed this block was taken from (earlier feeds in the config win)",
    "pool": "attributed pool (registry name; 'unknown' when unattributed)",
    "pool_id": "registry id of the pool (null for unknown and unmatched labels)",
    "owner": "entity owning the pool on the block's date (the pool itself when no owner row)",
    "method": "how the pool was found: address, tag, label or unknown",
    "address_pool": "pool whose payout address the coinbase pays, if any",
    "tag_pool": "pool whose coinbase tag the scriptSig contains, if any",
    "label": "label given by a labelled file, as written",
    "label_matched": "whether the label matched a registry pool (null without label)",
    "conflict": "address and tag point at different pools (the address wins)",
}


def is_literal_tag(tag: str) -> bool:
    """Whether a registry tag is plain text (its '.' and '$' meant literally)."""
    return _REGEX_SYNTAX.search(tag) is None


@dataclass(frozen=True)
class PoolLookup:
    """The registries, reshaped for joins: pool entities, addresses, tags and name keys.

    Conflicts between registries are already resolved (``resolve_registries``): each address and
    tag (lower-cased) names one pool.
    """

    pools: pl.DataFrame  # pool, pool_id, pool_order
    addresses: pl.DataFrame  # address, pool, pool_order
    literal_tags: pl.DataFrame  # tag, tag_key, tag_len, pool, pool_order, case_sensitive
    regex_tags: pl.DataFrame  # tag, tag_len, pool, pool_order
    name_keys: pl.DataFrame  # key, pool


def build_lookup(registry: pl.DataFrame, aliases: pl.DataFrame) -> PoolLookup:
    """Prepare the stacked registries (``raw.pool_registry``) and aliases (alias, pool)."""
    entities, identifiers = resolve_registries(registry, aliases)
    order = entities.select("pool", "pool_order")
    chosen = identifiers.filter(pl.col("chosen")).join(order, on="pool")
    addresses = (
        chosen.filter(pl.col("kind") == "address")
        .select(pl.col("identifier").alias("address"), "pool", "pool_order")
        .unique(["address", "pool"])
        .sort("address", "pool_order")
    )
    tags = (
        chosen.filter(pl.col("kind") == "tag")
        .select(
            pl.col("identifier").alias("tag"),
            "pool",
            "pool_order",
            (pl.col("tag_matching") == "literal").alias("case_sensitive"),
        )
        .unique(["tag", "pool", "case_sensitive"])
        .with_columns(
            pl.col("tag").str.len_chars().alias("tag_len"),
            (
                pl.col("case_sensitive")
                | pl.col("tag").map_elements(is_literal_tag, return_dtype=pl.Boolean)
            ).alias("literal"),
        )
        .sort("pool_order", "tag", "case_sensitive")
    )
    literal_tags = tags.filter("literal").select(
        "tag",
        pl.col("tag").str.to_lowercase().alias("tag_key"),
        "tag_len",
        "pool",
        "pool_order",
        "case_sensitive",
    )
    alias_keys = aliases.select(normalise_key(pl.col("alias")).alias("key"), "pool")
    registry_keys = identifiers.filter(pl.col("kind") == "name").select(
        pl.col("identifier_key").alias("key"), "pool"
    )
    name_keys = (
        pl.concat(
            [
                alias_keys.with_columns(pl.lit(0).alias("rank")),
                registry_keys.with_columns(pl.lit(1).alias("rank")),
            ]
        )
        .sort("key", "rank")
        .unique("key", keep="first")
        .select("key", "pool")
        .sort("key")
    )
    return PoolLookup(
        pools=entities.select("pool", "pool_id", "pool_order"),
        addresses=addresses,
        literal_tags=literal_tags,
        regex_tags=tags.filter(~pl.col("literal")).select("tag", "tag_len", "pool", "pool_order"),
        name_keys=name_keys,
    )


def merge_feeds(blocks: pl.DataFrame, feed_order: list[str]) -> tuple[pl.DataFrame, dict]:
    """One row per height, combining the evidence of every feed that holds it.

    Each field comes from the earliest feed in ``feed_order`` that has it, so a block known to a
    coinbase export and to a labelled file keeps both its coinbase and its label; ``feed`` is the
    earliest feed holding the height. Returns the merged blocks and overlap figures.
    """
    ranked = blocks.with_columns(
        pl.col("feed")
        .replace_strict(
            {f: i for i, f in enumerate(feed_order)}, default=len(feed_order), return_dtype=pl.Int64
        )
        .alias("feed_rank")
    ).sort("height", "feed_rank")
    if not blocks["height"].is_duplicated().any():  # one feed per height: nothing to merge
        report = {"rows": blocks.height, "blocks": blocks.height, "heights_in_several_feeds": 0}
        return blocks.sort("height").rechunk(), {**report, "heights_with_conflicting_hashes": 0}
    dated = ["time", "date", "date_source"]  # from one row: a header time beats an estimate
    fields = [c for c in blocks.columns if c not in ("height", "feed", *dated)]
    by_dating = [pl.col("time").is_null(), pl.col("feed_rank")]
    merged = ranked.group_by("height").agg(
        pl.col("feed").first(),
        *[pl.col(c).sort_by(by_dating).first() for c in dated],
        *[pl.col(c).drop_nulls().first() for c in fields],
    )
    merged = merged.select(blocks.columns).sort("height")
    hashes = blocks.drop_nulls("hash").group_by("height").agg(pl.col("hash").n_unique().alias("n"))
    report = {
        "rows": blocks.height,
        "blocks": merged.height,
        "heights_in_several_feeds": blocks.height - merged.height,
        "heights_with_conflicting_hashes": hashes.filter(pl.col("n") > 1).height,
    }
    return merged, report


def _address_pools(blocks: pl.DataFrame, lookup: PoolLookup) -> pl.DataFrame:
    outputs = (
        blocks.select("height", pl.col("coinbase_addresses").alias("address"))
        .drop_nulls("address")
        .with_columns(pl.int_ranges(pl.col("address").list.len()).alias("output_index"))
        .explode("address", "output_index")
        .drop_nulls("address")
    )
    return (
        outputs.join(lookup.addresses, on="address", how="inner")
        .sort("height", "output_index", "pool_order")
        .group_by("height")
        .agg(pl.col("pool").first().alias("address_pool"))
    )


def _tag_pools(blocks: pl.DataFrame, lookup: PoolLookup) -> pl.DataFrame:
    texts = blocks.select("height", "coinbase_hex").drop_nulls("coinbase_hex")
    texts = texts.with_columns(lossy_utf8_from_hex(texts["coinbase_hex"]).alias("text"))
    candidates = []
    # One Aho-Corasick pass for the tags matched ignoring ASCII case, one for the case-sensitive
    # (EDI's). The tags go in as written: a tag lower-cased beforehand would no longer match its
    # own non-ASCII capitals ("ÄPool"); tag_key only serves the join.
    for case_sensitive, key in ((False, "tag_key"), (True, "tag")):
        tags = lookup.literal_tags.filter(pl.col("case_sensitive") == case_sensitive)
        patterns = tags["tag"].unique().sort().to_list()
        if not patterns:
            continue
        match = pl.col("match") if case_sensitive else pl.col("match").str.to_lowercase()
        found = (
            texts.select(
                "height",
                pl.col("text")
                .str.extract_many(
                    patterns, ascii_case_insensitive=not case_sensitive, overlapping=True
                )
                .alias("match"),
            )
            .explode("match")
            .drop_nulls("match")
            .select("height", match.alias(key))
            .join(tags, on=key, how="inner")
            .select("height", "tag_len", "pool", "pool_order")
        )
        candidates.append(found)
    for tag, tag_len, pool, pool_order in lookup.regex_tags.iter_rows():
        candidates.append(
            texts.filter(pl.col("text").str.contains(f"(?i){tag}")).select(
                "height",
                pl.lit(tag_len, pl.UInt32).alias("tag_len"),
                pl.lit(pool).alias("pool"),
                pl.lit(pool_order, pl.UInt32).alias("pool_order"),
            )
        )
    if not candidates:
        return pl.DataFrame(schema={"height": pl.Int64, "tag_pool": pl.String})
    return (
        pl.concat(candidates, how="vertical_relaxed")
        .sort("height", "tag_len", "pool_order", descending=[False, True, False])
        .group_by("height")
        .agg(pl.col("pool").first().alias("tag_pool"))
    )


def _label_pools(blocks: pl.DataFrame, lookup: PoolLookup) -> pl.DataFrame:
    labelled = blocks.select("height", "label").drop_nulls("label")
    return (
        labelled.with_columns(normalise_key(pl.col("label")).alias("key"))
        .join(lookup.name_keys, on="key", how="left")
        .select(
            "height",
            pl.when(pl.col("key").is_in(UNKNOWN_LABELS))
            .then(None)
            .otherwise(pl.coalesce("pool", "label"))
            .alias("label_pool"),
            pl.when(pl.col("key").is_in(UNKNOWN_LABELS))
            .then(None)
            .otherwise(pl.col("pool").is_not_null())
            .alias("label_matched"),
        )
    )


def owners_on_date(attributed: pl.DataFrame, owners: pl.DataFrame) -> pl.DataFrame:
    """``height, owner`` for blocks whose pool has an owner row valid on the block's date."""
    return (
        attributed.select("height", "pool", "date")
        .join(owners.select("pool", "owner", "valid_from", "valid_to"), on="pool", how="inner")
        .filter(
            (pl.col("valid_from").is_null() | (pl.col("date") >= pl.col("valid_from")))
            & (pl.col("valid_to").is_null() | (pl.col("date") <= pl.col("valid_to")))
        )
        .sort("height", "owner")
        .group_by("height")
        .agg(pl.col("owner").first())
    )


def attribute(blocks: pl.DataFrame, lookup: PoolLookup, owners: pl.DataFrame) -> pl.DataFrame:
    """One row per block of ``blocks`` (one per height) with pool, owner, method and conflict."""
    joined = (
        blocks.join(_address_pools(blocks, lookup), on="height", how="left")
        .join(_tag_pools(blocks, lookup), on="height", how="left")
        .join(_label_pools(blocks, lookup), on="height", how="left")
    )
    attributed = joined.with_columns(
        pl.coalesce("address_pool", "tag_pool", "label_pool", pl.lit(UNKNOWN)).alias("pool"),
        pl.when(pl.col("address_pool").is_not_null())
        .then(pl.lit("address"))
        .when(pl.col("tag_pool").is_not_null())
        .then(pl.lit("tag"))
        .when(pl.col("label_pool").is_not_null())
        .then(pl.lit("label"))
        .otherwise(pl.lit(UNKNOWN))
        .alias("method"),
        (
            pl.col("address_pool").is_not_null()
            & pl.col("tag_pool").is_not_null()
            & (pl.col("address_pool") != pl.col("tag_pool"))
        ).alias("conflict"),
    )
    attributed = (
        attributed.join(lookup.pools.select("pool", "pool_id"), on="pool", how="left")
        .join(owners_on_date(attributed, owners), on="height", how="left")
        .with_columns(pl.coalesce("owner", "pool").alias("owner"))
    )
    return attributed.select(list(ATTRIBUTION_COLUMNS)).sort("height")
