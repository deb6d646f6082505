"""Several registries as one: pool entities, claims, conflicts and precedence (hand-made pair)."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl
import pytest

from pipelines.mining.attribution import UNKNOWN, attribute, build_lookup
from pipelines.mining.pool_entities import resolve_registries
from pipelines.sources.pool_registry import SCHEMA, combine_registries
from pipelines.sql_models import SQL_ROOT as SQL
from tests.test_attribution import OWNERS, blocks, coinbase

# Registry "a" is mempool-style (regex-like tags, ASCII case ignored), "b" EDI-style (literal,
# case-sensitive). They agree on Alpha (spelled "alpha" by b) and, through the alias, on Gamma;
# they disagree on the tag /shared/ and the address 1Shared (Alpha in a, Beta in b).
A = [
    {"id": 1, "name": "Alpha", "addresses": ["1Shared", "1Alpha"], "tags": ["/alpha/", "/shared/"]},
    {"id": 2, "name": "Gamma", "addresses": [], "tags": ["/gamma/"]},
    {"id": 3, "name": "Via", "addresses": [], "tags": ["/Via/"]},
]
B = [
    {"id": None, "name": "alpha", "addresses": [], "tags": ["/alpha/", "AlphaBare"]},
    {"id": None, "name": "Beta", "addresses": ["1Shared", "1Beta"], "tags": ["/SHARED/", "/beta/"]},
    {"id": None, "name": "Gamma Pool", "addresses": [], "tags": ["/gamma/"]},
    {"id": None, "name": "Tat", "addresses": [], "tags": ["/Via/Tat Pool/"]},
]
ALIASES = pl.DataFrame({"alias": ["Gamma Pool"], "pool": ["Gamma"]})


def registry(rows: list[dict[str, Any]]) -> pl.DataFrame:
    full = [
        {**row, "link": "", "n_addresses": len(row["addresses"]), "n_tags": len(row["tags"])}
        for row in rows
    ]
    return pl.DataFrame(full, schema=SCHEMA)


def stacked(order: str = "ab") -> pl.DataFrame:
    registries = {
        "a": ("a", "mempool_pools_v2", "regex_like", registry(A)),
        "b": ("b", "edi_pools", "literal", registry(B)),
    }
    return combine_registries([registries[name] for name in order])


def test_entities_merge_spellings_and_aliases() -> None:
    entities, _ = resolve_registries(stacked(), ALIASES)
    got = {row["pool"]: row for row in entities.iter_rows(named=True)}
    assert sorted(got) == ["Alpha", "Beta", "Gamma", "Tat", "Via"]
    assert got["Alpha"]["registries"] == ["a", "b"]  # "alpha" in b is the same pool
    assert got["Gamma"]["registries"] == ["a", "b"]  # through the alias
    assert (got["Alpha"]["pool_id"], got["Alpha"]["pool_id_registry"]) == (1, "a")
    assert (got["Beta"]["pool_id"], got["Beta"]["pool_id_registry"]) == (None, None)
    # the name comes from the registry of highest precedence
    flipped, _ = resolve_registries(stacked("ba"), ALIASES)
    assert "alpha" in flipped["pool"].to_list() and "Alpha" not in flipped["pool"].to_list()


def test_conflicts_are_reported_and_precedence_decides() -> None:
    _, identifiers = resolve_registries(stacked(), ALIASES)
    conflicting = identifiers.filter("conflict").select(
        "kind", "identifier", "registry", "pool", "chosen", "decided_pool", "decided_by"
    )
    assert conflicting.sort("kind", "registry").rows() == [
        ("address", "1Shared", "a", "Alpha", True, "Alpha", "a"),
        ("address", "1Shared", "b", "Beta", False, "Alpha", "a"),
        ("tag", "/shared/", "a", "Alpha", True, "Alpha", "a"),
        ("tag", "/SHARED/", "b", "Beta", False, "Alpha", "a"),
    ]
    # agreement (same pool, or aliased) is no conflict
    agreeing = identifiers.filter(pl.col("identifier").is_in(["/alpha/", "/gamma/"]))
    assert agreeing["conflict"].to_list() == [False] * 4 and agreeing["chosen"].all()

    _, flipped = resolve_registries(stacked("ba"), ALIASES)
    decided = flipped.filter("conflict").group_by("kind").agg(pl.col("decided_pool").first())
    assert dict(decided.rows()) == {"address": "Beta", "tag": "Beta"}


def attributed(order: str, texts: list[str], addresses: list[str] | None = None) -> list[str]:
    lookup = build_lookup(stacked(order), ALIASES)
    rows = [
        {
            "height": h,
            "coinbase_hex": coinbase(h, text),
            "coinbase_addresses": [addresses[h]] if addresses else None,
        }
        for h, text in enumerate(texts)
    ]
    return attribute(blocks(rows), lookup, OWNERS)["pool"].to_list()


def test_precedence_decides_blocks_and_the_deciders_matching_rule_applies() -> None:
    texts = ["xx/shared/xx", "xx/SHARED/xx", "nothing", "nothing"]
    addresses = ["", "", "1Shared", "1Beta"]
    assert attributed("ab", texts, addresses) == ["Alpha", "Alpha", "Alpha", "Beta"]
    # b decides: its literal, case-sensitive /SHARED/ does not match /shared/
    assert attributed("ba", texts, addresses) == [UNKNOWN, "Beta", "Beta", "Beta"]


def test_longest_tag_wins_across_registries() -> None:
    """b's /Via/Tat Pool/ beats a's /Via/ although a has precedence: no split of one tag."""
    assert attributed("ab", ["/Via/Tat Pool/", "/Via/"]) == ["Tat", "Via"]


@pytest.mark.parametrize(("text", "pool"), [("xAlphaBarex", "Alpha"), ("xalphabarex", UNKNOWN)])
def test_literal_registry_tags_are_case_sensitive(text: str, pool: str) -> None:
    assert attributed("ab", [text]) == [pool]


def test_dim_pool_and_conflict_marts_show_provenance() -> None:
    """The SQL models over the resolved registries: each tag's and address's registries, and
    the conflicts with their decision."""
    entities, identifiers = resolve_registries(stacked(), ALIASES)
    raw = stacked()
    con = duckdb.connect()
    for schema, name, frame in [
        ("raw", "pool_registry", raw),
        ("intermediate", "pool_entities", entities),
        ("intermediate", "pool_identifiers", identifiers),
    ]:
        con.execute(f"create schema if not exists {schema}")
        con.register(f"_{name}", frame)
        con.execute(f"create table {schema}.{name} as select * from _{name}")
    con.execute("create schema staging")
    for relation, file in [
        ("view staging.stg_pools", "staging/stg_pools.sql"),
        ("table dim_pool", "marts/dim_pool.sql"),
        ("table pool_registry_conflicts", "marts/pool_registry_conflicts.sql"),
    ]:
        con.execute(f"create {relation} as {(SQL / file).read_text().rstrip().rstrip(';')}")
    alpha = con.sql(
        "select t.tag, t.tag_matching, t.registries from dim_pool, unnest(coinbase_tags) as u(t) "
        "where pool_name = 'Alpha'"
    ).fetchall()
    assert alpha == [
        ("/alpha/", "literal", ["b"]),
        ("/alpha/", "regex_like", ["a"]),
        ("/shared/", "regex_like", ["a"]),
        ("AlphaBare", "literal", ["b"]),
    ]
    addresses = con.sql(
        "select pool_name, a.address, a.registries from dim_pool, unnest(payout_addresses) as u(a) "
        "order by 2"
    ).fetchall()
    assert addresses == [
        ("Alpha", "1Alpha", ["a"]),
        ("Beta", "1Beta", ["b"]),
        ("Alpha", "1Shared", ["a"]),
    ]
    ((names,),) = con.sql(
        "select registry_names from dim_pool where pool_name = 'Gamma'"
    ).fetchall()
    assert names == [
        {"registry": "a", "name": "Gamma", "id": 2},
        {"registry": "b", "name": "Gamma Pool", "id": None},
    ]
    conflicts = con.sql(
        "select kind, identifier, registry, pool, chosen, decided_pool from pool_registry_conflicts"
    ).fetchall()
    assert conflicts == [
        ("address", "1Shared", "a", "Alpha", True, "Alpha"),
        ("address", "1Shared", "b", "Beta", False, "Alpha"),
        ("tag", "/shared/", "a", "Alpha", True, "Alpha"),
        ("tag", "/SHARED/", "b", "Beta", False, "Alpha"),
    ]
    for check in (SQL / "tests").glob("pool_registry_conflicts__*.sql"):
        assert con.sql(check.read_text()).fetchall() == [], check.name
