"""Concentration metrics: hand-worked examples, intervals (with a coverage simulation), and the
vectorised Polars tables agreeing with the scalar functions."""

from __future__ import annotations

import math
from dataclasses import asdict, fields

import numpy as np
import polars as pl
import pytest

from pipelines.metrics.concentration import (
    Concentration,
    concentration,
    concentration_ratio,
    concentration_table,
    effective_entities,
    entropy_bits,
    entropy_normalized,
    gini,
    hhi,
    hhi_interval,
    nakamoto,
    nakamoto_interval,
    ordered_sum,
    share_table,
    tau,
    theil,
    wilson_interval,
)

METRICS = [f.name for f in fields(Concentration)]


def test_worked_example_50_30_20() -> None:
    counts = [50, 30, 20]
    assert hhi(counts) == pytest.approx(3800)  # 50² + 30² + 20² = 2500 + 900 + 400
    assert nakamoto(counts) == 1  # the largest has 50% ≥ 50%
    assert tau(counts, 0.33) == 1  # 50% ≥ 33%
    assert tau(counts, 0.66) == 2  # 50% < 66% ≤ 80%
    assert concentration_ratio(counts, 1) == pytest.approx(0.5)
    assert concentration_ratio(counts, 3) == 1.0
    assert concentration_ratio(counts, 5) == 1.0  # fewer than 5 entities
    # ascending [20, 30, 50]: 2·(1·20 + 2·30 + 3·50) / (3·100) − 4/3 = 460/300 − 4/3 = 0.2
    assert gini(counts) == pytest.approx(0.2)
    # −(.5·log2 .5 + .3·log2 .3 + .2·log2 .2) = .5 + .521090 + .464386 = 1.485475
    assert entropy_bits(counts) == pytest.approx(1.485475, abs=1e-6)
    assert entropy_normalized(counts) == pytest.approx(1.485475 / math.log2(3), abs=1e-6)
    # ln 3 − H·ln 2 = 1.098612 − 1.029653 = 0.068959
    assert theil(counts) == pytest.approx(math.log(3) - 1.4854753 * math.log(2), abs=1e-6)
    assert effective_entities(counts) == pytest.approx(1 / 0.38)  # 2.6316
    # Var = (4/100)·(Σs³ − (Σs²)²) = 0.04·(0.16 − 0.38²) = 0.000624, sd = 0.024980;
    # half-width = 1.959964 · 10,000 · 0.024980 = 489.60
    low, high = hhi_interval(counts)
    assert (low, high) == (pytest.approx(3310.40, abs=0.01), pytest.approx(4289.60, abs=0.01))
    # S1 = 50/100: Wilson (0.4038, 0.5962) straddles 0.5; S2 = 80/100: Wilson low 0.711 ≥ 0.5
    assert nakamoto_interval(counts) == (1, 2)


def test_worked_example_equal_shares() -> None:
    counts = [25, 25, 25, 25]
    assert hhi(counts) == pytest.approx(2500)  # 4 · 25²
    assert nakamoto(counts) == 2  # 25% < 50% = 25% + 25%
    assert (tau(counts, 0.33), tau(counts, 0.66)) == (2, 3)
    assert concentration_ratio(counts, 3) == pytest.approx(0.75)
    assert gini(counts) == pytest.approx(0.0, abs=1e-12)
    assert entropy_bits(counts) == pytest.approx(2.0)
    assert entropy_normalized(counts) == pytest.approx(1.0)
    assert theil(counts) == pytest.approx(0.0, abs=1e-12)
    assert effective_entities(counts) == pytest.approx(4.0)
    # Σs³ − (Σs²)² = 4/64 − (1/4)² = 0: the delta method degenerates at equal shares
    assert hhi_interval(counts) == (2500.0, 2500.0)


def test_single_entity() -> None:
    result = concentration([7])
    assert (result.total, result.entities, result.hhi) == (7, 1, 10_000)
    assert (result.hhi_ci_low, result.hhi_ci_high) == (10_000, 10_000)
    assert (result.nakamoto, result.nakamoto_ci_low, result.nakamoto_ci_high) == (1, 1, 1)
    assert (result.tau_033, result.tau_066, result.cr1, result.cr5) == (1, 1, 1.0, 1.0)
    assert (result.gini, result.entropy_bits, result.theil) == (0.0, 0.0, 0.0)
    assert result.entropy_normalized is None
    assert result.effective_entities == 1.0


def test_zeros_are_ignored() -> None:
    assert concentration([0, 50, 0, 30, 20]) == concentration([50, 30, 20])
    assert concentration([0, 50, 0, 30, 20]).entities == 3


def test_fractional_counts() -> None:
    # shares 0.5, 0.25, 0.25: HHI = 2500 + 625 + 625
    assert hhi([0.5, 0.25, 0.25]) == pytest.approx(3750)
    assert gini([0.5, 0.25, 0.25]) == pytest.approx(gini([2, 1, 1]))


def test_threshold_reached_exactly_despite_rounding() -> None:
    # 0.6 / (0.6 + 0.4 + 0.1 + 0.1) computes to 0.4999999999999999: half, up to rounding
    assert nakamoto([0.6, 0.4, 0.1, 0.1]) == 1
    assert nakamoto([0.1] * 10) == 5
    assert nakamoto([1] * 10) == 5
    assert nakamoto([1] * 10, threshold=1.0) == 10


def test_unknown_share_and_labels() -> None:
    result = concentration([40, 30, 20, 10], ["a", "b", "unknown", "c"], unknown_label="unknown")
    assert result.unknown_share == pytest.approx(0.2)
    assert result.entities == 4  # unknown counts as an entity
    assert concentration([40, 30], ["a", "b"], unknown_label="unknown").unknown_share == 0.0
    assert concentration([40, 30]).unknown_share == 0.0
    # repeated labels are summed: a = 20, b = 20
    assert concentration([10, 10, 20], ["a", "a", "b"]) == concentration([20, 20])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hhi([]), "no positive counts"),
        (lambda: hhi([0, 0]), "no positive counts"),
        (lambda: hhi([3, -1]), "non-negative"),
        (lambda: hhi([3, float("nan")]), "finite"),
        (lambda: nakamoto([1, 2], threshold=0), "threshold"),
        (lambda: concentration_ratio([1, 2], 0), "k must be"),
        (lambda: concentration([1, 2], unknown_label="unknown"), "needs labels"),
        (lambda: concentration([1, 2], ["a"]), "labels"),
        (lambda: concentration([5, -1], ["a", "a"]), "non-negative"),
        (lambda: wilson_interval(11, 10), "successes"),
    ],
)
def test_invalid_input(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_wilson_interval() -> None:
    low, high = wilson_interval(50, 100)
    assert (low, high) == (pytest.approx(0.4038, abs=5e-5), pytest.approx(0.5962, abs=5e-5))
    # 0/10: centre = (z²/20)/(1 + z²/10) = 0.1388, upper = 2·0.1388 = 0.2775; lower exactly 0
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-5)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=5e-5) and high == 1.0
    assert wilson_interval(0, 0) == (None, None)
    assert wilson_interval(2.5, 10.0)[0] < 0.25 < wilson_interval(2.5, 10.0)[1]


def test_interval_coverage_simulation() -> None:
    """Multinomial samples of n = 1000 blocks from realistic pool shares: the 95% HHI interval
    covers the true HHI in 90-99% of draws, and the Nakamoto interval holds the true value ≥ 90%."""
    shares = [0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05]
    true_hhi = hhi(shares)  # 10,000 · 0.1788
    true_nakamoto = nakamoto(shares)  # 0.3 + 0.2 = 0.5
    assert (true_hhi, true_nakamoto) == (pytest.approx(1788), 2)
    draws = np.random.default_rng(20240105).multinomial(1000, shares, size=400)
    hhi_covered = nakamoto_covered = 0
    for draw in draws.tolist():
        low, high = hhi_interval(draw)
        hhi_covered += low <= true_hhi <= high
        low, high = nakamoto_interval(draw)
        nakamoto_covered += low <= true_nakamoto <= high
    assert 0.90 <= hhi_covered / len(draws) <= 0.99
    assert nakamoto_covered / len(draws) >= 0.90


def random_groups(seed: int) -> pl.DataFrame:
    """Rows (window, g, entity, count) for groups of every kind: one entity, many ties,
    fractional counts, zeros, an unknown entity, repeated (group, entity) rows."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, int, str, float]] = []
    for g in range(400):
        kind = g % 6
        k = 1 if kind == 0 else int(rng.integers(2, 25))
        entities = [f"pool{j:02d}" for j in rng.permutation(40)[:k]]
        if kind == 1:
            counts = rng.integers(1, 4, size=k).tolist()  # many ties
        elif kind == 2:
            counts = rng.uniform(0.01, 10, size=k).tolist()  # fractional credits
        elif kind == 3:
            counts = rng.integers(0, 3, size=k).tolist()  # many zeros
            counts[0] = 1
        else:
            counts = rng.integers(1, 300, size=k).tolist()
        if kind == 4:
            entities[-1] = "unknown"
        if kind == 5:  # the same entity twice in a group: summed
            entities.append(entities[0])
            counts.append(int(rng.integers(1, 50)))
        window = ("day", "week")[g % 2]
        rows += [(window, g, e, c) for e, c in zip(entities, counts, strict=True)]
    rows += [("day", 10_000, "pool00", 0), ("day", 10_000, "pool01", 0)]  # all zero: left out
    return pl.DataFrame(rows, schema=["window", "g", "entity", "count"], orient="row").with_columns(
        pl.col("count").cast(pl.Float64)
    )


def assert_matches(row: dict, expected: Concentration) -> None:
    for name, value in asdict(expected).items():
        if value is None or isinstance(value, int):
            assert row[name] == value, name
        else:
            assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("integer_counts", [False, True])
def test_table_agrees_with_scalar_functions(integer_counts: bool) -> None:
    data = random_groups(7)
    if integer_counts:
        data = data.with_columns(pl.col("count").round().cast(pl.Int64))
    table = concentration_table(data.sample(fraction=1.0, shuffle=True, seed=1), ["window", "g"])
    assert table.columns == ["window", "g", *METRICS]
    assert table.height == 400  # the all-zero group is left out
    assert table.select("window", "g").rows() == sorted(table.select("window", "g").rows())
    groups = data.partition_by(["window", "g"], as_dict=True)
    for row in table.iter_rows(named=True):
        group = groups[(row["window"], row["g"])]
        expected = concentration(group["count"].to_list(), group["entity"].to_list(), "unknown")
        assert_matches(row, expected)
    assert table["unknown_share"].gt(0).any() and table["entities"].eq(1).any()


def test_table_worked_example_and_options() -> None:
    frame = pl.LazyFrame(
        {
            "day": [2, 2, 2, 1],
            "pool": ["a", "b", "unknown", "x"],
            "blocks": [50, 30, 20, 6],
        }
    )
    table = concentration_table(frame, ["day"], entity="pool", count="blocks")
    assert table["day"].to_list() == [1, 2]
    assert table.schema["total"] == pl.Int64 and table.schema["nakamoto"] == pl.Int64
    assert_matches(
        table.row(1, named=True), concentration([50, 30, 20], ["a", "b", "unknown"], "unknown")
    )
    assert table.row(1, named=True)["unknown_share"] == pytest.approx(0.2)
    assert table.row(1, named=True)["hhi"] == pytest.approx(3800)
    no_unknown = concentration_table(frame, ["day"], "pool", "blocks", unknown_entity=None)
    assert no_unknown["unknown_share"].to_list() == [0.0, 0.0]
    for bad in (-1.0, float("nan"), float("inf")):
        invalid = pl.DataFrame({"g": [1, 1], "entity": ["a", "b"], "count": [3.0, bad]})
        with pytest.raises(ValueError, match="negative or non-finite"):
            concentration_table(invalid, ["g"])
    with_nulls = pl.DataFrame({"g": [1, 1], "entity": ["a", "b"], "count": [3, None]})
    assert concentration_table(with_nulls, ["g"])["entities"].to_list() == [1]


def test_share_table() -> None:
    frame = pl.DataFrame(
        {
            "day": [2, 1, 1, 1, 3],
            "entity": ["z", "b", "a", "c", "q"],
            "count": [5, 30, 50, 30, 0],
            "note": ["n1", "n2", "n3", "n4", "n5"],
        }
    )
    out = share_table(frame, ["day"])
    assert out.columns == [*frame.columns, "share", "share_ci_low", "share_ci_high"]
    assert out.select("day", "entity", "note").rows() == [
        (1, "a", "n3"),  # share descending, ties by entity
        (1, "b", "n2"),
        (1, "c", "n4"),
        (2, "z", "n1"),
        (3, "q", "n5"),
    ]
    assert out["share"].to_list()[:4] == pytest.approx([50 / 110, 30 / 110, 30 / 110, 1.0])
    for row in out.head(4).iter_rows(named=True):
        total = 110 if row["day"] == 1 else 5
        expected = wilson_interval(row["count"], total)
        assert (row["share_ci_low"], row["share_ci_high"]) == pytest.approx(expected, rel=1e-12)
    assert out.row(4, named=True)["share"] is None  # all-zero group
    assert out.row(4, named=True)["share_ci_low"] is None
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="negative or non-finite"):
            share_table(frame.with_columns(pl.lit(bad).alias("count")), ["day"])


def test_ordered_sum_adds_in_ascending_order() -> None:
    values = [0.1, 1e16, 3.0, -1e16, 0.7, 2.5]
    expected = 0.0
    for value in sorted(values):  # one by one, smallest first
        expected += value
    frame = pl.DataFrame({"g": [1] * 6 + [2, 3], "v": [*values, None, 4.0]})
    out = frame.group_by("g").agg(ordered_sum(pl.col("v"))).sort("g")
    assert out["v"].to_list() == [expected, 0.0, 4.0]  # all null: 0, as sum() gives
    assert expected != sum(values)  # the order matters for these values
    window = frame.with_columns(ordered_sum(pl.col("v")).over("g").alias("total"))
    assert window["total"].to_list() == [expected] * 6 + [0.0, 4.0]


def _shuffled(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


def test_tables_do_not_depend_on_row_order() -> None:
    """Fractional counts (split credits, proportionally placed nodes) summed in any row order
    give the same bits: two runs of one build publish identical tables."""
    rng = np.random.default_rng(7)
    n = 60_000
    counts = pl.DataFrame(
        {
            "g": rng.integers(0, 500, n),
            "entity": rng.integers(0, 200, n).astype(str),
            "count": rng.random(n) / 3,
        }
    )
    tables = [concentration_table(_shuffled(counts, s), ["g"]) for s in range(3)]
    assert all(t.equals(tables[0]) for t in tables[1:])
    shares = [
        share_table(_shuffled(counts, s), ["g"]).sort("g", "entity", "count") for s in range(3)
    ]
    assert all(s.equals(shares[0]) for s in shares[1:])
