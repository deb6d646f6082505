"""Several pool registries, normalised to one pool entity per pool (pure functions over frames).

A registry row's pool is its name's curated alias (``dbt_like_sql/seeds/pool_label_aliases.csv``)
or else its name as the registry of highest precedence writes it, names being compared loosely
(case and punctuation ignored: mempool's "Huobi.pool" and EDI's "Huobi Pool" are one pool).

Every name, coinbase tag and payout address a registry gives a pool is a *claim*. A tag (compared
lower-cased, since most registries' tags are matched ignoring ASCII case) or an address claimed
for two different pools is a *conflict*; the claim of the registry of highest precedence decides
(within one registry, the pool listed first), and only the deciding pool's claims are used.
"""

from __future__ import annotations

import polars as pl

from pipelines.schemas.mining import POOL_ENTITIES, POOL_IDENTIFIERS
from pipelines.text import normalise_key


def _entries(registry: pl.DataFrame, aliases: pl.DataFrame) -> pl.DataFrame:
    """Registry rows with a name, in precedence order, each with its name key and pool entity."""
    alias_map = aliases.select(
        normalise_key(pl.col("alias")).alias("key"), pl.col("pool").alias("canonical")
    ).unique("key", keep="first")
    rows = (
        registry.filter(pl.col("name").is_not_null())
        .with_row_index("row")
        .sort("precedence", "row")
        .drop("row")
        .with_row_index("registry_order")
        .with_columns(normalise_key(pl.col("name")).alias("key"))
    )
    first_names = rows.group_by("key").agg(
        pl.col("name").sort_by("registry_order").first().alias("first_name")
    )
    return (
        rows.join(alias_map, on="key", how="left")
        .join(first_names, on="key", how="left")
        .with_columns(pl.coalesce("canonical", "first_name").alias("pool"))
        .drop("canonical", "first_name")
        .sort("registry_order")
    )


def _pool_entities(entries: pl.DataFrame) -> pl.DataFrame:
    # the entity's own record (name == pool) before aliased duplicates, within a registry
    preference = [pl.col("precedence"), pl.col("name") != pl.col("pool"), pl.col("registry_order")]

    def first(column: str, where: pl.Expr) -> pl.Expr:
        return pl.col(column).sort_by(preference).filter(where.sort_by(preference)).first()

    with_id = pl.col("id").is_not_null()
    with_link = pl.col("link").is_not_null() & (pl.col("link") != "")
    return (
        entries.group_by("pool")
        .agg(
            first("id", with_id).alias("pool_id"),
            first("registry", with_id).alias("pool_id_registry"),
            first("link", with_link).alias("website"),
            pl.col("registry")
            .sort_by("registry_order")
            .unique(maintain_order=True)
            .alias("registries"),
            pl.col("registry_order").min().alias("pool_order"),
        )
        .with_columns(pl.col("website").fill_null(""))
        .select(list(POOL_ENTITIES.descriptions))
        .sort("pool_order")
    )


def _claims(entries: pl.DataFrame, pool_order: pl.DataFrame) -> pl.DataFrame:
    base = ["registry", "precedence", pl.col("name").alias("registry_pool"), "pool"]
    names = entries.select(
        pl.lit("name").alias("kind"),
        pl.col("name").alias("identifier"),
        pl.col("key").alias("identifier_key"),
        pl.lit(None, pl.String).alias("tag_matching"),
        *base,
    )
    tags = (
        entries.select(pl.col("tags").alias("identifier"), "tag_matching", *base)
        .explode("identifier")
        .filter(pl.col("identifier").is_not_null() & (pl.col("identifier") != ""))
        .select(
            pl.lit("tag").alias("kind"),
            "identifier",
            pl.col("identifier").str.to_lowercase().alias("identifier_key"),
            "tag_matching",
            "registry",
            "precedence",
            "registry_pool",
            "pool",
        )
    )
    addresses = (
        entries.select(pl.col("addresses").alias("identifier"), *base)
        .explode("identifier")
        .drop_nulls("identifier")
        .select(
            pl.lit("address").alias("kind"),
            "identifier",
            pl.col("identifier").alias("identifier_key"),
            pl.lit(None, pl.String).alias("tag_matching"),
            "registry",
            "precedence",
            "registry_pool",
            "pool",
        )
    )
    claims = (
        pl.concat([names, tags, addresses])
        .unique(maintain_order=True)
        .join(pool_order, on="pool", how="left")
    )
    deciding = (
        claims.sort("precedence", "pool_order")
        .group_by("kind", "identifier_key")
        .agg(
            pl.col("pool").first().alias("decided_pool"),
            pl.col("registry").first().alias("decided_by"),
            (pl.col("pool").n_unique() > 1).alias("conflict"),
        )
    )
    return (
        claims.join(deciding, on=["kind", "identifier_key"], how="left")
        .with_columns((pl.col("pool") == pl.col("decided_pool")).alias("chosen"))
        .sort("kind", "identifier_key", "precedence", "pool_order", "identifier")
        .select(list(POOL_IDENTIFIERS.descriptions))
    )


def resolve_registries(
    registry: pl.DataFrame, aliases: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(entities, identifiers)`` of the stacked registries (``raw.pool_registry``) and the
    alias table (``alias, pool``): one row per pool entity, and one per claim (see the module)."""
    entries = _entries(registry, aliases)
    entities = _pool_entities(entries)
    return entities, _claims(entries, entities.select("pool", "pool_order"))
