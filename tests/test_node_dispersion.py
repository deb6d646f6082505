"""Node distributions and dispersion: hand-worked shares and metrics under the three overlay
policies, the curated organisation and hosting seeds, spatial spread, published distributions,
and a run on the real Bitnodes export."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.nodes.dispersion import (
    DIMENSIONS,
    EARTH_RADIUS_KM,
    LOCATED_DIMENSIONS,
    _unit_vectors,
    distribution_dispersion,
    great_circle_km,
    hosting_asns,
    mean_pairwise_exact_km,
    mean_pairwise_sampled_km,
    node_dispersion,
    node_distribution,
    spatial_spread,
    standard_distance_km,
    unknown_hosting_operators,
)
from pipelines.schemas.nodes import (
    DISTRIBUTION_SCHEMA,
    HOSTING_PROVIDERS,
    NODE_ORGANIZATIONS,
    NODE_SCHEMA,
    conform_nodes,
)
from pipelines.sources.node_files import read_bitnodes_export
from pipelines.sources.seeds import read_hosting_providers, read_node_organizations
from pipelines.validation import validate_frame
from tests.conftest import needs_shared_data
from tests.test_ipdb import BITNODES_EXPORT

DAY = date(2024, 5, 1)
TIME = datetime(2024, 5, 1, 12, tzinfo=UTC)
QUARTER_CIRCLE_KM = EARTH_RADIUS_KM * math.pi / 2  # 10,007.5 km
# the repo's curated operator seeds, as the node tables are given them
OPERATOR_SEEDS = (read_node_organizations(), read_hosting_providers())


def nodes(rows: list[dict], day: date = DAY, when: datetime = TIME) -> pl.DataFrame:
    """One snapshot's node rows from partial dicts."""
    columns = sorted({k for row in rows for k in row})
    frame = pl.DataFrame(rows, schema={k: NODE_SCHEMA[k] for k in columns})
    return conform_nodes(
        frame.with_columns(pl.lit(day).alias("snapshot_date"), pl.lit(when).alias("snapshot_time")),
        "test",
    )


def ip(country: str | None, asn: int | None, org: str | None, **extra: object) -> dict:
    return {"network": "ipv4", "country_code": country, "asn": asn, "organization": org, **extra}


# 10 nodes: 5 DE (Hetzner's two ASes), 3 US (Amazon, Comcast, an unlisted ISP), 2 onion
TEN = (
    [ip("DE", 24940, "Hetzner Online GmbH", user_agent="/Satoshi:27.0.0/")] * 3
    + [ip("DE", 213230, "Hetzner Online GmbH", user_agent="/Satoshi:27.0.0/")] * 2
    + [ip("US", 16509, "AMAZON-02", user_agent="/Satoshi:26.1.0/Knots:20240801/")]
    + [ip("US", 7922, "COMCAST-7922", user_agent="/Satoshi:0.21.1/")]
    + [ip("US", 64500, "Example ISP", user_agent="/btcwire:0.5.0/btcd:0.24.0/")]
    + [{"network": "onion", "user_agent": "/Satoshi:27.0.0/"}] * 2
)


def shares(table: pl.DataFrame, dimension: str, policy: str) -> dict[str, float]:
    rows = table.filter(pl.col("dimension") == dimension, pl.col("overlay_policy") == policy)
    return dict(zip(rows["entity"], rows["share"], strict=True))


def metric_row(table: pl.DataFrame, dimension: str, policy: str) -> dict:
    rows = table.filter(pl.col("dimension") == dimension, pl.col("overlay_policy") == policy)
    assert rows.height == 1
    return rows.row(0, named=True)


@pytest.fixture(scope="module")
def ten() -> pl.DataFrame:
    return nodes(TEN)


def test_country_shares_under_the_three_policies(ten: pl.DataFrame) -> None:
    dist = node_distribution(ten, *OPERATOR_SEEDS)
    assert dist.columns == [
        "snapshot_date",
        "snapshot_time",
        "source",
        "dimension",
        "overlay_policy",
        "entity",
        "nodes",
        "share",
    ]
    assert shares(dist, "country", "entity") == pytest.approx(
        {"DE": 0.5, "US": 0.3, "overlay": 0.2}
    )
    assert shares(dist, "country", "excluded") == pytest.approx({"DE": 0.625, "US": 0.375})
    assert shares(dist, "country", "proportional") == pytest.approx({"DE": 0.625, "US": 0.375})
    proportional = dist.filter(
        pl.col("dimension") == "country", pl.col("overlay_policy") == "proportional"
    )
    assert proportional["nodes"].to_list() == [6.25, 3.75]  # 5·10/8, 3·10/8: fractional, sum 10
    assert shares(dist, "continent", "excluded") == pytest.approx({"EU": 0.625, "NA": 0.375})
    # sorted by group, then share descending
    country = dist.filter(pl.col("dimension") == "country", pl.col("overlay_policy") == "entity")
    assert country["entity"].to_list() == ["DE", "US", "overlay"]


def test_country_metrics_under_the_three_policies(ten: pl.DataFrame) -> None:
    table = node_dispersion(ten, *OPERATOR_SEEDS)
    entity = metric_row(table, "country", "entity")
    assert entity["nodes"] == 10 and entity["entities"] == 3
    assert entity["hhi"] == pytest.approx(3800)  # 50² + 30² + 20²
    assert entity["nakamoto"] == 1 and entity["cr1"] == pytest.approx(0.5)
    excluded = metric_row(table, "country", "excluded")
    assert excluded["nodes"] == 8 and excluded["entities"] == 2
    assert excluded["hhi"] == pytest.approx(5312.5)  # 62.5² + 37.5² = 3906.25 + 1406.25
    assert excluded["effective_entities"] == pytest.approx(10_000 / 5312.5)
    # −(.625·log2 .625 + .375·log2 .375) = .423795 + .530639
    assert excluded["entropy_bits"] == pytest.approx(0.954434, abs=1e-6)
    proportional = metric_row(table, "country", "proportional")
    assert proportional["nodes"] == pytest.approx(10)
    for name in ("entities", "hhi", "nakamoto", "gini", "entropy_bits", "theil", "cr3"):
        assert proportional[name] == pytest.approx(excluded[name])
    assert table["overlay_share"].to_list() == pytest.approx([0.2] * table.height)
    assert set(table["unknown_share"]) == {0.0}


def test_non_located_dimensions_have_only_the_entity_policy(ten: pl.DataFrame) -> None:
    dist = node_distribution(ten, *OPERATOR_SEEDS)
    policies = dict(
        dist.group_by("dimension").agg(pl.col("overlay_policy").unique().sort()).iter_rows()
    )
    assert set(policies) == set(DIMENSIONS)
    for dimension in DIMENSIONS:
        expected = ["entity", "excluded", "proportional"]
        assert policies[dimension] == (expected if dimension in LOCATED_DIMENSIONS else ["entity"])
    assert shares(dist, "network", "entity") == pytest.approx({"ipv4": 0.8, "onion": 0.2})
    # the onion nodes run Bitcoin Core 27 too: one entity, not split by network
    assert shares(dist, "client", "entity") == pytest.approx(
        {"Bitcoin Core": 0.8, "Bitcoin Knots": 0.1, "btcd": 0.1}
    )
    assert shares(dist, "client_version", "entity") == pytest.approx(
        {
            "Bitcoin Core 27": 0.7,
            "Bitcoin Core 0.21": 0.1,
            "Bitcoin Knots 26": 0.1,
            "btcd 0.24": 0.1,
        }
    )


def test_organization_merges_an_operators_ases_and_keeps_unlisted_names(ten: pl.DataFrame) -> None:
    dist = node_distribution(ten, *OPERATOR_SEEDS)
    assert shares(dist, "asn", "excluded") == pytest.approx(
        {"AS24940": 3 / 8, "AS213230": 2 / 8, "AS16509": 1 / 8, "AS7922": 1 / 8, "AS64500": 1 / 8}
    )
    assert shares(dist, "organization", "excluded") == pytest.approx(
        {"Hetzner": 5 / 8, "Amazon": 1 / 8, "Comcast": 1 / 8, "Example ISP": 1 / 8}
    )
    assert metric_row(node_dispersion(ten, *OPERATOR_SEEDS), "organization", "excluded")[
        "hhi"
    ] == pytest.approx(10_000 * (25 + 1 + 1 + 1) / 64)


def test_hosting_classifies_operators(ten: pl.DataFrame) -> None:
    dist = node_distribution(ten, *OPERATOR_SEEDS)
    assert shares(dist, "hosting", "excluded") == pytest.approx(
        {"datacenter": 5 / 8, "cloud": 1 / 8, "other": 2 / 8}
    )
    assert shares(dist, "hosting", "entity") == pytest.approx(
        {"datacenter": 0.5, "cloud": 0.1, "other": 0.2, "overlay": 0.2}
    )


def test_unknown_fields_are_the_unknown_entity_and_snapshots_are_separate() -> None:
    later = datetime(2024, 5, 2, 12, tzinfo=UTC)
    frame = pl.concat(
        [
            nodes(TEN),
            nodes(
                [ip("FR", None, None), ip(None, 64501, None), ip(None, None, None)],
                day=date(2024, 5, 2),
                when=later,
            ),
        ]
    )
    dist = node_distribution(frame.lazy(), *OPERATOR_SEEDS).filter(
        pl.col("snapshot_date") == date(2024, 5, 2)
    )
    assert shares(dist, "country", "entity") == pytest.approx({"FR": 1 / 3, "unknown": 2 / 3})
    assert shares(dist, "organization", "entity") == pytest.approx(
        {"AS64501": 1 / 3, "unknown": 2 / 3}
    )
    assert shares(dist, "hosting", "entity") == pytest.approx({"other": 1 / 3, "unknown": 2 / 3})
    assert shares(dist, "continent", "entity") == pytest.approx({"EU": 1 / 3, "unknown": 2 / 3})
    table = node_dispersion(frame, *OPERATOR_SEEDS)
    assert table.select("snapshot_date", "snapshot_time").unique().height == 2
    assert table["snapshot_date"].is_sorted()
    second = table.filter(pl.col("snapshot_date") == date(2024, 5, 2))
    assert metric_row(second, "country", "excluded")["unknown_share"] == pytest.approx(2 / 3)
    assert set(second["overlay_share"]) == {0.0}
    # no overlay: the three policies give the same numbers
    rows = second.filter(pl.col("dimension") == "country").drop("overlay_policy").unique()
    assert rows.height == 1


def test_dispersion_columns_and_spatial_measures_only_on_country_rows(ten: pl.DataFrame) -> None:
    table = node_dispersion(ten, *OPERATOR_SEEDS)
    assert table.columns == [
        "snapshot_date",
        "snapshot_time",
        "source",
        "dimension",
        "overlay_policy",
        "nodes",
        "entities",
        "hhi",
        "nakamoto",
        "tau_033",
        "tau_066",
        "cr1",
        "cr3",
        "cr5",
        "gini",
        "entropy_bits",
        "entropy_normalized",
        "theil",
        "effective_entities",
        "overlay_share",
        "unknown_share",
        "located_nodes",
        "standard_distance_km",
        "mean_pairwise_km",
        "mean_pairwise_se_km",
    ]
    assert table.height == 3 * len(LOCATED_DIMENSIONS) + 3
    spatial = table.filter(pl.col("located_nodes").is_not_null())
    assert set(spatial["dimension"]) == {"country"} and spatial.height == 3
    assert set(spatial["located_nodes"]) == {0}  # TEN has no coordinates


# --- spatial spread -----------------------------------------------------------------------------


def test_two_points_on_the_equator_a_quarter_circle_apart() -> None:
    vectors = _unit_vectors(np.array([0.0, 0.0]), np.array([0.0, 90.0]))
    weights = np.ones(2)
    assert mean_pairwise_exact_km(vectors, weights) == pytest.approx(10_007.5, abs=0.1)
    # the centroid is (0°, 45°), each point 45° from it
    assert standard_distance_km(vectors, weights) == pytest.approx(QUARTER_CIRCLE_KM / 2)
    mean, error = mean_pairwise_sampled_km(vectors, weights, pairs=1000)
    assert mean == pytest.approx(QUARTER_CIRCLE_KM) and error == pytest.approx(0, abs=1e-9)


def test_great_circle_between_known_places() -> None:
    """Paris-London 343.6 km and New York-Sydney 15,988.8 km by the haversine formula on a
    6,371 km sphere (published great-circle figures: 344 km and 15,989 km)."""
    places = pl.DataFrame(
        {
            "lat1": [48.8566, 40.7128, 0.0, 90.0, 52.52, None],
            "lon1": [2.3522, -74.0060, 0.0, 0.0, 13.405, 0.0],
            "lat2": [51.5074, -33.8688, 0.0, -90.0, 52.52, 0.0],
            "lon2": [-0.1278, 151.2093, 90.0, 0.0, 13.405, 0.0],
        }
    )
    km = places.select(great_circle_km(*map(pl.col, places.columns))).to_series().to_list()
    assert km[:5] == pytest.approx(
        [343.556, 15_988.756, QUARTER_CIRCLE_KM, 2 * QUARTER_CIRCLE_KM, 0.0], abs=1e-3
    )
    assert km[5] is None


def test_weights_count_nodes_sharing_a_location() -> None:
    """3 nodes at (0°, 0°) and 1 at (0°, 90°): 3 of the 6 pairs are a quarter circle apart."""
    vectors = _unit_vectors(np.array([0.0, 0.0]), np.array([0.0, 90.0]))
    weights = np.array([3.0, 1.0])
    assert mean_pairwise_exact_km(vectors, weights) == pytest.approx(QUARTER_CIRCLE_KM / 2)
    assert mean_pairwise_exact_km(vectors[:1], np.array([1.0])) is None
    # antipodal points have no centroid
    poles = _unit_vectors(np.array([90.0, -90.0]), np.array([0.0, 0.0]))
    assert standard_distance_km(poles, np.ones(2)) is None
    assert mean_pairwise_exact_km(poles, np.ones(2)) == pytest.approx(2 * QUARTER_CIRCLE_KM)


def test_exact_in_chunks_equals_brute_force_and_sampling_is_within_its_error() -> None:
    rng = np.random.default_rng(5)
    latitude = np.degrees(np.arcsin(rng.uniform(-1, 1, 300)))
    longitude = rng.uniform(-180, 180, 300)
    vectors = _unit_vectors(latitude, longitude)
    weights = rng.integers(1, 4, 300).astype(float)
    arcs = np.arccos(np.clip(vectors @ vectors.T, -1, 1))
    np.fill_diagonal(arcs, 0)
    n = weights.sum()
    brute = EARTH_RADIUS_KM * (weights @ arcs @ weights) / (n * (n - 1))
    assert mean_pairwise_exact_km(vectors, weights, chunk_cells=1000) == pytest.approx(brute)
    assert mean_pairwise_exact_km(vectors, weights) == pytest.approx(brute)
    mean, error = mean_pairwise_sampled_km(vectors, weights, pairs=200_000, seed=1)
    assert 0 < error < 20 and abs(mean - brute) < 4 * error


def test_spatial_spread_per_snapshot_exact_and_sampled() -> None:
    rows = [
        ip("EC", 1, "x", latitude=0.0, longitude=0.0),
        ip("EC", 1, "x", latitude=0.0, longitude=90.0),
    ]
    rows += [{"network": "onion"}, ip("EC", 1, "x")]  # neither has coordinates
    frame = nodes(rows)
    exact = spatial_spread(frame)
    assert exact.rows() == [
        (
            DAY,
            TIME,
            "test",
            2,
            pytest.approx(QUARTER_CIRCLE_KM / 2),
            pytest.approx(QUARTER_CIRCLE_KM),
            0.0,
        )
    ]
    sampled = spatial_spread(frame, exact_max_locations=1, sample_pairs=500)
    assert sampled["mean_pairwise_km"].item() == pytest.approx(QUARTER_CIRCLE_KM)
    table = node_dispersion(frame, *OPERATOR_SEEDS)
    country = table.filter(pl.col("dimension") == "country")
    assert country["mean_pairwise_km"].to_list() == [pytest.approx(QUARTER_CIRCLE_KM)] * 3


def test_exact_pairwise_for_20k_locations() -> None:
    """The exact mean over 20,000 distinct locations (2·10⁸ pairs); its speed is benchmarked by
    pipelines.benchmarks.nodes, not timed here."""
    rng = np.random.default_rng(0)
    vectors = _unit_vectors(
        np.degrees(np.arcsin(rng.uniform(-1, 1, 20_000))), rng.uniform(-180, 180, 20_000)
    )
    mean = mean_pairwise_exact_km(vectors, np.ones(20_000))
    assert mean == pytest.approx(QUARTER_CIRCLE_KM, rel=0.01)  # uniform on the sphere: π/2·R


# --- published distributions ---------------------------------------------------------------------


def distributions(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=DISTRIBUTION_SCHEMA, orient="row")


def test_published_distribution_with_tor_gives_the_three_policies() -> None:
    dists = distributions(
        [
            (DAY, "edi", "country", "overlay:tor", 2, True),
            (DAY, "edi", "country", "Germany", 5, True),
            (DAY, "edi", "country", "United States", 3, True),
            # the same day without Tor (proportional counts, rounded): superseded
            (DAY, "edi", "country", "Germany", 6, False),
            (DAY, "edi", "country", "United States", 4, False),
            # another day published only without Tor: 'excluded' alone
            (date(2024, 5, 2), "edi", "country", "Germany", 1, False),
            (date(2024, 5, 2), "edi", "country", "France", 1, False),
        ]
    )
    tables = distribution_dispersion(dists)
    first = tables.distribution.filter(pl.col("snapshot_date") == DAY)
    assert shares(first, "country", "entity") == pytest.approx(
        {"Germany": 0.5, "United States": 0.3, "overlay": 0.2}
    )
    assert shares(first, "country", "excluded") == pytest.approx(
        {"Germany": 0.625, "United States": 0.375}
    )
    assert shares(first, "country", "proportional") == pytest.approx(
        {"Germany": 0.625, "United States": 0.375}
    )
    table = tables.dispersion
    assert table.columns == node_dispersion(nodes(TEN), *OPERATOR_SEEDS).columns
    assert table["snapshot_time"].null_count() == table.height
    day_one = table.filter(pl.col("snapshot_date") == DAY)
    assert metric_row(day_one, "country", "excluded")["hhi"] == pytest.approx(5312.5)
    assert metric_row(day_one, "country", "entity")["hhi"] == pytest.approx(3800)
    assert day_one["overlay_share"].to_list() == pytest.approx([0.2] * day_one.height)
    day_two = table.filter(pl.col("snapshot_date") == date(2024, 5, 2))
    assert day_two["overlay_policy"].to_list() == ["excluded"]
    assert day_two["hhi"].item() == pytest.approx(5000) and day_two["overlay_share"].item() is None
    assert table["mean_pairwise_km"].null_count() == table.height


# --- the curated seeds --------------------------------------------------------------------------


def test_seeds_are_consistent() -> None:
    organizations = read_node_organizations()
    hosting = read_hosting_providers()
    assert organizations.schema == NODE_ORGANIZATIONS.schema
    assert hosting.schema == HOSTING_PROVIDERS.schema
    assert organizations["asn"].is_unique().all() and organizations["asn"].null_count() == 0
    assert organizations["source"].str.starts_with("https://").all()
    assert hosting["organization"].is_unique().all()
    assert set(hosting["kind"]) == {"cloud", "datacenter"}
    assert hosting["source"].str.starts_with("https://").all()
    # a provider is matched by the operator name the AS table gives
    assert set(hosting["organization"]) <= set(organizations["organization"])
    assert unknown_hosting_operators(organizations, hosting).is_empty()
    for provider in ("Amazon", "Google", "Microsoft", "Hetzner", "OVH", "DigitalOcean", "Vultr"):
        assert provider in set(hosting["organization"])
    hetzner = organizations.filter(pl.col("organization") == "Hetzner")["asn"]
    assert {24940, 213230} <= set(hetzner)
    assert validate_frame("node_organizations", organizations).success
    assert validate_frame("hosting_providers", hosting).success


def test_seed_suites_catch_duplicate_ases_and_unknown_kinds(tmp_path: Path) -> None:
    organizations = tmp_path / "node_organizations.csv"
    organizations.write_text(
        "asn,organization,source\n24940,Hetzner,https://a.example\n24940,OVH,https://b.example\n"
    )
    outcome = validate_frame("node_organizations", read_node_organizations(organizations))
    assert [f.label() for f in outcome.failed] == ["expect_column_values_to_be_unique(asn)"]
    hosting = tmp_path / "hosting_providers.csv"
    hosting.write_text("organization,kind,source\nHetzner,hosting,http://a.example\n")
    outcome = validate_frame("hosting_providers", read_hosting_providers(hosting))
    assert {f.column for f in outcome.failed} == {"kind", "source"}


def test_seed_readers_name_the_file_and_line_of_a_malformed_row(tmp_path: Path) -> None:
    path = tmp_path / "node_organizations.csv"
    path.write_text("asn,organization,source\n24940,Hetzner,https://a.example\nAS1,X,https://b\n")
    with pytest.raises(ValueError, match=r"node_organizations.csv, line 3: asn 'AS1' is not"):
        read_node_organizations(path)
    path.write_text("asn,organization,source\n24940,Hetzner,https://a.example,extra\n")
    with pytest.raises(ValueError, match=r"node_organizations.csv, line 2: 4 fields, expected 3"):
        read_node_organizations(path)
    path.write_text("organization,asn,source\nHetzner,24940,https://a.example\n")
    with pytest.raises(ValueError, match=r"node_organizations.csv: header"):
        read_node_organizations(path)


def test_hosting_providers_without_an_operator_row_are_listed() -> None:
    organizations = pl.DataFrame({"asn": [24940], "organization": ["Hetzner"]})
    hosting = pl.DataFrame({"organization": ["Hetzner", "Hetzner Online GmbH"], "kind": ["x"] * 2})
    unknown = unknown_hosting_operators(organizations, hosting)
    assert unknown["organization"].to_list() == ["Hetzner Online GmbH"]


def test_hosting_asns_are_the_hosting_operators_ases() -> None:
    asns = hosting_asns(*OPERATOR_SEEDS)
    assert asns == sorted(set(asns))
    assert {24940, 213230, 16509, 14618, 14061, 16276} <= set(asns)  # Hetzner, Amazon, DO, OVH
    assert 7922 not in asns  # Comcast: an access network, not hosting


# --- the real Bitnodes export -------------------------------------------------------------------


@needs_shared_data
def test_real_export_dispersion() -> None:
    export = read_bitnodes_export(BITNODES_EXPORT, "bitnodes_export")[0]  # 1 duplicate dropped
    table = node_dispersion(export, *OPERATOR_SEEDS)
    dist = node_distribution(export, *OPERATOR_SEEDS)
    assert table["overlay_share"].to_list() == pytest.approx([7425 / 14409] * table.height)
    country = metric_row(table, "country", "excluded")
    assert country["nodes"] == 6984 and country["located_nodes"] == 6983  # 1 without coordinates
    assert country["mean_pairwise_se_km"] == 0.0
    assert 4000 < country["standard_distance_km"] < country["mean_pairwise_km"] < 8000
    organization = dist.filter(
        pl.col("dimension") == "organization", pl.col("overlay_policy") == "excluded"
    )
    assert organization["entity"][0] == "Hetzner" and organization["nodes"][0] == 929
    sampled = node_dispersion(
        export, *OPERATOR_SEEDS, exact_max_locations=100, sample_pairs=200_000
    )
    estimate = metric_row(sampled, "country", "entity")
    assert (
        abs(estimate["mean_pairwise_km"] - country["mean_pairwise_km"])
        < 4 * estimate["mean_pairwise_se_km"]
    )


def test_empty_input_gives_empty_tables() -> None:
    empty = nodes(TEN).head(0)
    assert node_distribution(empty, *OPERATOR_SEEDS).is_empty()
    assert (
        node_dispersion(empty, *OPERATOR_SEEDS).columns
        == node_dispersion(nodes(TEN), *OPERATOR_SEEDS).columns
    )
    assert node_dispersion(empty, *OPERATOR_SEEDS).is_empty()
    tables = distribution_dispersion(pl.DataFrame(schema=DISTRIBUTION_SCHEMA))
    assert tables.distribution.is_empty() and tables.dispersion.is_empty()
