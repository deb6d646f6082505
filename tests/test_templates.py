"""Template builders: the curated seed, its checks, the block mapping and the template groupings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.mining.attribution import build_lookup
from pipelines.mining.concentration import (
    daily_counts,
    days_covered,
    mining_concentration,
    window_counts,
)
from pipelines.mining.templates import template_builders, unknown_pool_names, with_template_builders
from pipelines.schemas.mining import POOL_TEMPLATE_BUILDERS, TEMPLATE_COLUMNS
from pipelines.sources.pool_registry import combine_registries, parse_pools_v2
from pipelines.sources.seeds import read_pool_label_aliases, read_pool_template_builders
from pipelines.validation import validate_frame
from tests.conftest import SHARED_DATA, needs_shared_data
from tests.test_attribution import registry_frame

HEADER = "pool,template_builder,valid_from,valid_to,confidence,source,note\n"
# Binance Pool: observed from 2024-04-17 to 2024-06-30; Braiins Pool: partial, open-ended.
SEED_ROWS = [
    "Binance Pool,AntPool,2024-04-17,2024-06-30,observed,https://a.example,seen",
    "Braiins Pool,AntPool,2024-04-17,,partial,https://b.example,possibly",
]


def write_seed(tmp_path: Path, rows: list[str]) -> Path:
    """A template-builder CSV with the seed's header; rows[0] is CSV line 2."""
    path = tmp_path / "pool_template_builders.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path


def blocks(rows: list[tuple[date, str]]) -> pl.DataFrame:
    """Attributed blocks (height, date, pool) in the given order."""
    return pl.DataFrame(
        {"height": range(len(rows)), "date": [d for d, _ in rows], "pool": [p for _, p in rows]},
        schema={"height": pl.Int64, "date": pl.Date, "pool": pl.String},
    )


# --- the mapping --------------------------------------------------------------------------------


def test_builder_by_date_and_confidence(tmp_path: Path) -> None:
    """Own template before valid_from and after valid_to; the boundary days are inside;
    partial rows only in the inclusive variant; unknown stays unknown; others build their own."""
    seed = read_pool_template_builders(write_seed(tmp_path, SEED_ROWS))
    attributed = blocks(
        [
            (date(2024, 4, 16), "Binance Pool"),  # the day before the first observation
            (date(2024, 4, 17), "Binance Pool"),  # valid_from itself
            (date(2024, 6, 30), "Binance Pool"),  # valid_to itself (inclusive)
            (date(2024, 7, 1), "Binance Pool"),  # the day after
            (date(2024, 5, 1), "Braiins Pool"),  # partial
            (date(2024, 4, 16), "Braiins Pool"),  # partial, before valid_from
            (date(2024, 5, 1), "unknown"),
            (date(2024, 5, 1), "F2Pool"),  # no row
            (date(2024, 5, 1), "AntPool"),  # the builder itself
        ]
    )
    mapped = template_builders(attributed, seed)
    assert mapped.columns == ["height", *TEMPLATE_COLUMNS]
    assert mapped.rows() == [
        (0, "Binance Pool", "Binance Pool"),
        (1, "AntPool", "AntPool"),
        (2, "AntPool", "AntPool"),
        (3, "Binance Pool", "Binance Pool"),
        (4, "Braiins Pool", "AntPool"),
        (5, "Braiins Pool", "Braiins Pool"),
        (6, "unknown", "unknown"),
        (7, "F2Pool", "F2Pool"),
        (8, "AntPool", "AntPool"),
    ]


def test_with_template_builders_appends_columns_and_keeps_rows(tmp_path: Path) -> None:
    """Every block keeps its row and columns; the two builder columns come last."""
    seed = read_pool_template_builders(write_seed(tmp_path, SEED_ROWS))
    attributed = blocks([(date(2024, 5, 1), "Binance Pool"), (date(2024, 5, 1), "F2Pool")])
    attributed = attributed.with_columns(pl.col("pool").alias("owner"))
    out = with_template_builders(attributed, seed)
    assert out.columns == [*attributed.columns, *TEMPLATE_COLUMNS]
    assert out.select(attributed.columns).equals(attributed)
    assert out["template_builder_observed"].to_list() == ["AntPool", "F2Pool"]


# --- the template groupings ---------------------------------------------------------------------


def day_metrics(attributed: pl.DataFrame, seed: pl.DataFrame, day: date) -> dict[str, tuple]:
    """grouping → (blocks, entities, hhi, nakamoto) of ``day``'s window, unknown as an entity."""
    frame = with_template_builders(attributed, seed).with_columns(pl.col("pool").alias("owner"))
    anchor = date(2018, 1, 1)
    table = mining_concentration(
        window_counts(daily_counts(frame), anchor), days_covered(frame, anchor)
    )
    found = table.filter(
        (pl.col("window") == "day")
        & (pl.col("window_start") == day)
        & (pl.col("unknown_policy") == "entity")
    )
    return {
        r["grouping"]: (r["blocks"], r["entities"], pytest.approx(r["hhi"]), r["nakamoto"])
        for r in found.iter_rows(named=True)
    }


def test_antpool_and_binance_become_one_template(tmp_path: Path) -> None:
    """AntPool 3 + Binance Pool 2 + F2Pool 5 blocks on one day.

    Pools: shares .3/.2/.5 → HHI 900 + 400 + 2500 = 3800; F2Pool's 50% alone → Nakamoto 1.
    Templates: AntPool 5, F2Pool 5 → HHI 2500 + 2500 = 5000, two entities, Nakamoto 1.
    """
    seed = read_pool_template_builders(write_seed(tmp_path, SEED_ROWS))
    day = date(2024, 5, 1)
    pools = ["AntPool"] * 3 + ["Binance Pool"] * 2 + ["F2Pool"] * 5
    attributed = blocks([(day, pool) for pool in pools])
    metrics = day_metrics(attributed, seed, day)
    assert metrics["pool"] == (10, 3, 3800.0, 1)
    assert metrics["template_observed"] == (10, 2, 5000.0, 1)
    assert metrics["template_inclusive"] == (10, 2, 5000.0, 1)


def test_partial_sharing_counts_only_in_inclusive(tmp_path: Path) -> None:
    """AntPool 3 + Braiins Pool 3 (partial) + F2Pool 4 blocks on one day.

    Pools and observed templates: .3/.3/.4 → HHI 900 + 900 + 1600 = 3400; .4 < .5, .4 + .3 ≥ .5
    → Nakamoto 2. Inclusive templates: AntPool 6, F2Pool 4 → HHI 3600 + 1600 = 5200, Nakamoto 1.
    """
    seed = read_pool_template_builders(write_seed(tmp_path, SEED_ROWS))
    day = date(2024, 5, 1)
    pools = ["AntPool"] * 3 + ["Braiins Pool"] * 3 + ["F2Pool"] * 4
    attributed = blocks([(day, pool) for pool in pools])
    metrics = day_metrics(attributed, seed, day)
    assert metrics["pool"] == (10, 3, 3400.0, 2)
    assert metrics["template_observed"] == (10, 3, 3400.0, 2)
    assert metrics["template_inclusive"] == (10, 2, 5200.0, 1)


# --- the seed's checks --------------------------------------------------------------------------


def test_overlapping_rows_and_chains_are_errors(tmp_path: Path) -> None:
    """Two builders for one pool on a shared day, and a builder that is itself a proxy."""
    seed = read_pool_template_builders(
        write_seed(
            tmp_path,
            [
                "PoolX,AntPool,2024-01-01,2024-06-30,observed,https://a.example,",  # line 2
                "PoolX,F2Pool,2024-06-30,,partial,https://b.example,",  # line 3: shares 06-30
                "PoolY,PoolZ,2024-01-01,,observed,https://c.example,",  # line 4: PoolZ is a proxy
                "PoolZ,AntPool,2024-03-01,,observed,https://d.example,",  # line 5
            ],
        )
    )
    assert seed.columns == list(POOL_TEMPLATE_BUILDERS.descriptions)
    assert seed["overlap_error"].to_list() == [
        "PoolX: row 2 overlaps rows 3",
        "PoolX: row 3 overlaps rows 2",
        None,
        None,
    ]
    assert seed["chain_error"].to_list() == [
        None,
        None,
        "PoolY: builder PoolZ is itself mapped to a builder in row 5",
        None,
    ]
    outcome = validate_frame("pool_template_builders", seed)
    assert not outcome.success
    assert {f.column for f in outcome.failed} == {"overlap_error", "chain_error"}


def test_bad_confidence_and_missing_date_fail_the_suite(tmp_path: Path) -> None:
    """Confidence must be observed or partial; a row without valid_from is never valid."""
    seed = read_pool_template_builders(
        write_seed(
            tmp_path,
            [
                "PoolX,AntPool,2024-01-01,,maybe,https://a.example,",
                "PoolY,AntPool,,,observed,https://b.example,",
            ],
        )
    )
    outcome = validate_frame("pool_template_builders", seed)
    assert not outcome.success
    assert {f.column for f in outcome.failed} == {"confidence", "valid_from"}


def test_unknown_names_are_listed_with_the_registry_name_to_use() -> None:
    """A name the attribution never gives is an error; a known alias names its registry pool."""
    registry = registry_frame(
        [
            {"id": 1, "name": "AntPool", "addresses": [], "tags": []},
            {"id": 2, "name": "Braiins Pool", "addresses": [], "tags": []},
        ]
    )
    aliases = pl.DataFrame({"alias": ["SlushPool"], "pool": ["Braiins Pool"]})
    seed = pl.DataFrame(
        {
            "pool": ["Braiins Pool", "SlushPool", "NoSuchPool"],
            "template_builder": ["AntPool", "AntPool", "Antpool"],
        }
    )
    unknown = unknown_pool_names(seed, build_lookup(registry, aliases))
    assert unknown.rows() == [
        (3, "pool", "SlushPool", "Braiins Pool"),
        (4, "pool", "NoSuchPool", None),
        (4, "template_builder", "Antpool", "AntPool"),
    ]


# --- the repo's seed ----------------------------------------------------------------------------


def test_seed_passes_its_suite() -> None:
    """The curated seed parses, cites https sources and passes every expectation."""
    seed = read_pool_template_builders()
    assert seed.height > 0
    assert seed["source"].str.starts_with("https://").all()
    outcome = validate_frame("pool_template_builders", seed)
    assert outcome.success, outcome.summary()


@needs_shared_data
def test_seed_names_are_pools_of_the_shared_registry() -> None:
    """Every pool and builder of the seed is a name the attribution gives blocks."""
    path = SHARED_DATA / "pools" / "mempool-pools-v2.json"
    registry = parse_pools_v2(path.read_bytes(), origin=str(path))
    lookup = build_lookup(
        combine_registries([("mempool", "mempool_pools_v2", "regex_like", registry)]),
        read_pool_label_aliases(),
    )
    assert unknown_pool_names(read_pool_template_builders(), lookup).is_empty()
