"""Attribution with the real registries (mempool, EDI, bitcoin-data) from ../shared/data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipelines.mining.attribution import PoolLookup, attribute, build_lookup, is_literal_tag
from pipelines.mining.pool_entities import resolve_registries
from pipelines.sources.block_files import read_bigquery_coinbase_ndjson
from pipelines.sources.pool_registry import combine_registries, parse_edi_pools, parse_pools_v2
from pipelines.sources.seeds import read_pool_label_aliases, read_pool_owners
from tests.conftest import SHARED_DATA, needs_shared_data
from tests.test_attribution import blocks

pytestmark = needs_shared_data
POOLS = SHARED_DATA / "pools"
N_BLOCKS = 20_000


@pytest.fixture(scope="module")
def registries() -> dict[str, tuple]:
    def read(name: str) -> bytes:
        return (POOLS / name).read_bytes()

    return {
        "mempool": (
            "mempool",
            "mempool_pools_v2",
            "regex_like",
            parse_pools_v2(read("mempool-pools-v2.json"), origin="mempool"),
        ),
        "edi": (
            "edi",
            "edi_pools",
            "literal",
            parse_edi_pools(
                read("edi-identifiers-bitcoin.json"),
                read("edi-addresses-bitcoin.json"),
                origin="edi",
                addresses_origin="edi-addresses",
            ),
        ),
        "bitcoin_data": (
            "bitcoin_data",
            "bitcoin_data_pools",
            "regex_like",
            parse_pools_v2(read("bitcoin-data-pool-list.json"), origin="bitcoin-data"),
        ),
    }


def lookup(registries: dict[str, tuple], *names: str) -> PoolLookup:
    return build_lookup(
        combine_registries([registries[n] for n in names]), read_pool_label_aliases()
    )


def synthetic_chain(registries: dict[str, tuple], seed: int = 11) -> pl.DataFrame:
    """Blocks whose coinbase carries one tag of one registry (mempool or EDI, half each), drawn
    uniformly over each registry's pools, amid realistic coinbase bytes: the BIP34 height push,
    an extranonce and binary padding (no ASCII letters, so no accidental tag). ``truth`` is the
    tag's pool in its own registry, normalised through the aliases."""
    rng = np.random.default_rng(seed)
    stacked = combine_registries([registries["mempool"], registries["edi"]])
    _, identifiers = resolve_registries(stacked, read_pool_label_aliases())
    tags = identifiers.filter(
        (pl.col("kind") == "tag")
        & (
            (pl.col("tag_matching") == "literal")
            | pl.col("identifier").map_elements(is_literal_tag, return_dtype=pl.Boolean)
        )
    )
    per_pool = {
        registry: group.group_by("registry_pool")
        .agg(pl.col("identifier").sort(), pl.col("pool").first())
        .sort("registry_pool")
        .rows()
        for (registry,), group in tags.group_by("registry")
    }
    rows = []
    for height in range(N_BLOCKS):
        pools = per_pool["mempool" if rng.random() < 0.5 else "edi"]
        _, pool_tags, pool = pools[rng.integers(len(pools))]
        tag = pool_tags[rng.integers(len(pool_tags))]
        padding = bytes(rng.integers(0x80, 0x100, rng.integers(0, 20)).astype(np.uint8))
        script = (
            b"\x03"
            + (700_000 + height).to_bytes(3, "little")
            + b"\x08"
            + rng.bytes(8).translate(NON_TEXT)
            + padding
            + tag.encode()
            + padding[::-1]
        )
        rows.append({"height": height, "coinbase_hex": script.hex(), "truth": pool})
    return pl.DataFrame(rows)


# extranonce bytes mapped away from printable ASCII (letters, digits and punctuation)
NON_TEXT = bytes(b if b < 0x20 or b >= 0x80 else b | 0x80 for b in range(256))


def accuracy(chain: pl.DataFrame, lookup: PoolLookup) -> float:
    attributed = attribute(blocks(chain.drop("truth").to_dicts()), lookup, read_pool_owners())
    joined = chain.join(attributed.select("height", "pool"), on="height")
    return float((joined["pool"] == joined["truth"]).mean())


def test_synthetic_chain_of_both_registries_tags(registries: dict[str, tuple]) -> None:
    """≥ 99% of blocks get their tag's pool with the three registries; mempool's alone leaves
    EDI's bare tags (AntPool, Poolin, Luxor, ...) unknown."""
    chain = synthetic_chain(registries)
    assert accuracy(chain, lookup(registries, "mempool", "edi", "bitcoin_data")) >= 0.99
    assert accuracy(chain, lookup(registries, "mempool")) < 0.95


def test_real_coinbases_keep_their_pools(registries: dict[str, tuple]) -> None:
    """The 13 real blocks of the BigQuery sample: the 6 that mempool's registry attributes keep
    their pool and method; bitcoin-data's payout addresses name DPOOL for 5 of the 7 others."""
    sample, _ = read_bigquery_coinbase_ndjson(POOLS / "bigquery-coinbase-sample.ndjson", "bq")
    owners = read_pool_owners()
    columns = ["height", "pool", "method"]
    alone = attribute(sample, lookup(registries, "mempool"), owners).select(columns)
    every = attribute(sample, lookup(registries, "mempool", "edi", "bitcoin_data"), owners)
    known = alone.filter(pl.col("pool") != "unknown")
    assert known.height == 6
    assert (
        known.join(every.select(columns), on="height")["pool"].to_list() == known["pool"].to_list()
    )
    assert known.join(every.select(columns), on=["height", "pool", "method"]).height == 6
    gained = every.join(known, on="height", how="anti")
    assert (
        gained.select("pool", "method").rows()
        == [("DPOOL", "address")] * 5 + [("unknown", "unknown")] * 2
    )
