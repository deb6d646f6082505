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
4. **unknown** — none of the above.

When several feeds hold a height, each feed's row is evidence of its own. Evidence that identifies
no pool is missing, never a verdict: a label meaning "no pool identified" in any scheme
(``unknown``, ``failed``, empty, or a name the registry itself calls unknown) and a coinbase that
matches no address or tag give way to another feed that does identify the block. Between two
feeds that both identify it, the earlier feed in the config wins. ``evidence_feed`` names the feed
whose evidence decided. Blocks whose evidence names different pools (address vs tag, or two feeds'
labels) are flagged (``conflict``). The owner of a pool is looked up in
``dbt_like_sql/seeds/pool_owners.csv`` by the block's date; a pool with no owner row owns itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from pipelines.mining.pool_entities import resolve_registries
from pipelines.schemas.mining import ATTRIBUTION_COLUMNS
from pipelines.text import lossy_utf8_from_hex, normalise_key, nul_repaired_utf8_from_hex

UNKNOWN = "unknown"
UNKNOWN_LABELS = ("unknown", "failed", "")
METHODS = ("address", "tag", "label", UNKNOWN)
# Regex syntax that cannot be meant literally; "." and "$" are read as literal characters.
_REGEX_SYNTAX = re.compile(r"[\\\[\](){}|*+?]|^\^")


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


def is_identifying_label(label: pl.Expr) -> pl.Expr:
    """Whether a label names a pool: not null and not one of the "no pool identified" labels."""
    return label.is_not_null() & ~normalise_key(label).is_in(UNKNOWN_LABELS)


def _feed_rank(feed_order: list[str]) -> pl.Expr:
    ranks = {f: i for i, f in enumerate(feed_order)}
    return pl.col("feed").replace_strict(ranks, default=len(feed_order), return_dtype=pl.Int64)


def _one_row_per_height(blocks: pl.DataFrame) -> bool:
    """Whether no height repeats (counted distinct: several times faster than is_duplicated)."""
    return blocks["height"].n_unique() == blocks.height


def merge_feeds(blocks: pl.DataFrame, feed_order: list[str]) -> tuple[pl.DataFrame, dict]:
    """One row per height, combining the evidence of every feed that holds it.

    Each field comes from the earliest feed in ``feed_order`` that has it, so a block known to a
    coinbase export and to a labelled file keeps both its coinbase and its label. A label that
    identifies no pool ("unknown", "failed", empty) counts as missing: it is kept only when no feed
    identifies the block. ``feed`` is the earliest feed holding the height. Returns the merged
    blocks and overlap figures.
    """
    if _one_row_per_height(blocks):  # one feed per height: nothing to merge
        report = {"rows": blocks.height, "blocks": blocks.height, "heights_in_several_feeds": 0}
        return blocks.sort("height").rechunk(), {**report, "heights_with_conflicting_hashes": 0}
    ranked = blocks.with_columns(
        _feed_rank(feed_order).alias("feed_rank"),
        pl.when(is_identifying_label(pl.col("label")))
        .then(0)
        .when(pl.col("label").is_not_null())
        .then(1)
        .otherwise(2)
        .alias("label_rank"),
    ).sort("height", "feed_rank")
    dated = ["time", "date", "date_source"]  # from one row: a header time beats an estimate
    labelled = ["label", "label_scheme"]  # from one row: the earliest identifying label
    fields = [c for c in blocks.columns if c not in ("height", "feed", *dated, *labelled)]
    by_dating = [pl.col("time").is_null(), pl.col("feed_rank")]
    by_label = [pl.col("label_rank"), pl.col("feed_rank")]
    merged = ranked.group_by("height").agg(
        pl.col("feed").first(),
        *[pl.col(c).sort_by(by_dating).first() for c in dated],
        *[pl.col(c).sort_by(by_label).first() for c in labelled],
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


def _address_pools(rows: pl.DataFrame, lookup: PoolLookup) -> pl.DataFrame:
    """``row, address_pool``: the pool paid by the first coinbase output with a known address."""
    outputs = (
        rows.select("row", pl.col("coinbase_addresses").alias("address"))
        .drop_nulls("address")
        .with_columns(pl.int_ranges(pl.col("address").list.len()).alias("output_index"))
        .explode("address", "output_index")
        .drop_nulls("address")
    )
    return (
        outputs.join(lookup.addresses, on="address", how="inner")
        .sort("row", "output_index", "pool_order")
        .group_by("row")
        .agg(pl.col("pool").first().alias("address_pool"))
    )


def _ranked_tags(lookup: PoolLookup) -> pl.DataFrame:
    """Every tag, literal and regex, with its ``rank`` among all: the longest first, then the
    pool listed first (so the best tag found in a coinbase is the one of lowest rank)."""
    columns = ["tag", "tag_key", "case_sensitive", "regex", "tag_len", "pool", "pool_order"]
    regex_tags = lookup.regex_tags.with_columns(
        pl.lit(None, pl.String).alias("tag_key"), pl.lit(False).alias("case_sensitive")
    )
    return (
        pl.concat(
            [
                lookup.literal_tags.with_columns(pl.lit(False).alias("regex")).select(columns),
                regex_tags.with_columns(pl.lit(True).alias("regex")).select(columns),
            ],
            how="vertical_relaxed",
        )
        .sort("tag_len", "pool_order", descending=[True, False])
        .with_row_index("rank")
    )


def _literal_ranks(texts: pl.LazyFrame, tags: pl.DataFrame) -> list[pl.LazyFrame]:
    """``row, rank``: the best of the literal ``tags`` found in each of ``texts``."""
    found = []
    # One Aho-Corasick pass for the tags matched ignoring ASCII case, one for the case-sensitive
    # (EDI's). The tags go in as written: a tag lower-cased beforehand would no longer match its
    # own non-ASCII capitals ("ÄPool"); tag_key only looks up the rank of a match.
    for case_sensitive, key in ((False, "tag_key"), (True, "tag")):
        tags_of_case = tags.filter(pl.col("case_sensitive") == case_sensitive)
        patterns = tags_of_case["tag"].unique().sort().to_list()
        if not patterns:
            continue
        best = tags_of_case.group_by(key).agg(pl.col("rank").min())
        match = pl.element() if case_sensitive else pl.element().str.to_lowercase()
        rank = match.replace_strict(best[key], best["rank"], default=None)
        matches = pl.col("text").str.extract_many(
            patterns, ascii_case_insensitive=not case_sensitive, overlapping=True
        )
        found.append(
            texts.select("row", matches.list.eval(rank).list.min().alias("rank")).drop_nulls()
        )
    return found


def _regex_ranks(texts: pl.LazyFrame, tags: pl.DataFrame) -> list[pl.LazyFrame]:
    """``row, rank`` for each of the regex ``tags`` found in ``texts``."""
    return [
        texts.filter(pl.col("text").str.contains(f"(?i){tag}")).select(
            "row", pl.lit(rank, pl.UInt32).alias("rank")
        )
        for tag, rank in tags.select("tag", "rank").iter_rows()
    ]


def _tag_pools(rows: pl.DataFrame, lookup: PoolLookup) -> pl.DataFrame:
    """``row, tag_pool``: the pool of the longest registry tag found in the coinbase.

    Literal tags without NUL or U+FFFD are searched in the coinbase's text from
    ``nul_repaired_utf8_from_hex`` (the same matches as in its lossy text, for less); the others
    in its text from ``lossy_utf8_from_hex``, decoded only for them.
    """
    coinbases = rows.select("row", "coinbase_hex").drop_nulls("coinbase_hex")

    def texts(decode: Callable[[pl.Series], pl.Series]) -> pl.LazyFrame:
        return coinbases.with_columns(decode(coinbases["coinbase_hex"]).alias("text")).lazy()

    tags = _ranked_tags(lookup)
    plain = ~pl.col("regex") & ~pl.col("tag").str.contains_any(["\x00", "\ufffd"])
    plain_tags = tags.filter(plain)
    other_tags = tags.filter(~plain)
    found = []
    if plain_tags.height:
        found += _literal_ranks(texts(nul_repaired_utf8_from_hex), plain_tags)
    if other_tags.height:
        decoded = texts(lossy_utf8_from_hex)
        found += _literal_ranks(decoded, other_tags.filter(~pl.col("regex")))
        found += _regex_ranks(decoded, other_tags.filter("regex"))
    if not found:
        return pl.DataFrame(schema={"row": pl.UInt32, "tag_pool": pl.String})
    # one lazy query, so that Polars runs the searches in parallel (eagerly, each took one core)
    best = pl.concat(found).group_by("row").agg(pl.col("rank").min()).collect()
    return best.join(tags.select("rank", pl.col("pool").alias("tag_pool")), on="rank").drop("rank")


def _label_pools(rows: pl.DataFrame, lookup: PoolLookup) -> pl.DataFrame:
    """``row, label_pool, label_matched`` for labels that identify a pool.

    A label meaning "no pool identified", or one the registry maps to a pool of that name (a
    registry's own "Unknown" entry), gives no row.
    """
    labelled = rows.select("row", "label").filter(is_identifying_label(pl.col("label")))
    return (
        labelled.with_columns(normalise_key(pl.col("label")).alias("key"))
        .join(lookup.name_keys, on="key", how="left")
        .filter(pl.col("pool").is_null() | is_identifying_label(pl.col("pool")))
        .select(
            "row",
            pl.coalesce("pool", "label").alias("label_pool"),
            pl.col("pool").is_not_null().alias("label_matched"),
        )
    )


def block_evidence(blocks: pl.DataFrame, lookup: PoolLookup, feed_order: list[str]) -> pl.DataFrame:
    """Per height, the strongest evidence of each kind across the feeds' rows.

    ``address_pool``, ``tag_pool`` and ``label_pool`` (with ``label`` and ``label_matched``) each
    come from the earliest feed whose row identifies a pool that way, with that feed in
    ``address_feed``/``tag_feed``/``label_feed``; ``conflict`` marks heights whose evidence names
    different pools. Rows that identify nothing are ignored, so they never hide a feed that does.
    """
    rows = blocks.with_row_index("row").with_columns(_feed_rank(feed_order).alias("feed_rank"))
    evidence = (
        rows.select("row", "height", "feed", "feed_rank", "label")
        .join(_address_pools(rows, lookup), on="row", how="left")
        .join(_tag_pools(rows, lookup), on="row", how="left")
        .join(_label_pools(rows, lookup), on="row", how="left")
        .sort("height", "feed_rank")
    )

    if _one_row_per_height(blocks):  # nothing to combine
        per_height = evidence.select(
            "height",
            "address_pool",
            _feed_if("address_pool", "address_feed"),
            "tag_pool",
            _feed_if("tag_pool", "tag_feed"),
            "label_pool",
            _feed_if("label_pool", "label_feed"),
            "label_matched",
            "label",
            pl.lit(False).alias("feeds_disagree"),
        )
    else:
        per_height = _combine_feeds(evidence)
    return per_height.with_columns(
        (
            pl.col("feeds_disagree")
            | (
                pl.col("address_pool").is_not_null()
                & pl.col("tag_pool").is_not_null()
                & (pl.col("address_pool") != pl.col("tag_pool"))
            )
        ).alias("conflict")
    ).drop("feeds_disagree")


def _feed_if(column: str, alias: str) -> pl.Expr:
    return pl.when(pl.col(column).is_not_null()).then(pl.col("feed")).alias(alias)


def _combine_feeds(evidence: pl.DataFrame) -> pl.DataFrame:
    """One row per height from the feeds' evidence rows, sorted by height and feed rank."""

    def from_identifying(column: str, alias: str) -> pl.Expr:
        return pl.col(column).filter(pl.col("label_pool").is_not_null()).first().alias(alias)

    def pools_named(column: str) -> pl.Expr:
        return normalise_key(pl.col(column)).drop_nulls().n_unique()

    return evidence.group_by("height").agg(
        pl.col("address_pool").drop_nulls().first(),
        pl.col("feed").filter(pl.col("address_pool").is_not_null()).first().alias("address_feed"),
        pl.col("tag_pool").drop_nulls().first(),
        pl.col("feed").filter(pl.col("tag_pool").is_not_null()).first().alias("tag_feed"),
        pl.col("label_pool").drop_nulls().first(),
        from_identifying("feed", "label_feed"),
        from_identifying("label_matched", "label_matched"),
        # the identifying label, else what the first labelled feed wrote ("unknown")
        pl.coalesce(from_identifying("label", "label"), pl.col("label").drop_nulls().first()),
        (
            (pools_named("address_pool") > 1)
            | (pools_named("tag_pool") > 1)
            | (pools_named("label_pool") > 1)
        ).alias("feeds_disagree"),
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


def attribute(
    blocks: pl.DataFrame,
    lookup: PoolLookup,
    owners: pl.DataFrame,
    feed_order: list[str] | None = None,
) -> pl.DataFrame:
    """One row per height of ``blocks`` with pool, owner, method, deciding feed and conflict.

    ``blocks`` are the feeds' rows (one or several per height); ``feed_order`` is their precedence
    (the feeds' order of appearance when omitted). Dates, hash and ``feed`` come from
    ``merge_feeds``; the pool from the strongest evidence (``block_evidence``).
    """
    order = feed_order if feed_order is not None else blocks["feed"].unique(maintain_order=True)
    # only the columns the output takes from the merged blocks, and those merge_feeds ranks by
    needed = ["height", "hash", "time", "date", "date_source", "label", "label_scheme", "feed"]
    merged, _ = merge_feeds(blocks.select(needed), list(order))
    evidence = block_evidence(blocks, lookup, list(order))
    joined = merged.drop("label").join(evidence, on="height", how="left")
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
        pl.coalesce("address_feed", "tag_feed", "label_feed").alias("evidence_feed"),
    )
    attributed = (
        attributed.join(lookup.pools.select("pool", "pool_id"), on="pool", how="left")
        .join(owners_on_date(attributed, owners), on="height", how="left")
        .with_columns(pl.coalesce("owner", "pool").alias("owner"))
    )
    return attributed.select(list(ATTRIBUTION_COLUMNS)).sort("height")
