"""How node counts are spread over countries, networks, operators and software, per snapshot.

From node rows (``NODE_SCHEMA``, any number of snapshots) ``node_distribution`` gives each
entity's nodes and share and ``node_dispersion`` the concentration metrics of
``pipelines.metrics.concentration`` per (snapshot_date, snapshot_time, source, dimension,
overlay_policy). Dimensions:

- ``country``, ``continent`` (MaxMind's codes, from ``pipelines.countries``);
- ``asn`` (``"AS24940"``);
- ``organization``: the operator of the AS from the curated ``organizations``
  (``raw.node_organizations``; e.g. Hetzner's AS24940 and AS213230 are one ``"Hetzner"``); an AS
  without a row keeps the AS organisation name the row carries, else ``"AS<n>"``;
- ``hosting``: the operator's ``kind`` in the curated ``hosting_providers``
  (``raw.hosting_providers``: ``cloud`` or ``datacenter``), ``other`` for operators not listed;
- ``network`` (ipv4, ipv6, onion, i2p, cjdns), ``client`` and ``client_version``
  (``pipelines.nodes.clients``).

An IP node without the field is the entity ``"unknown"``, counted like any other entity (its
share is ``unknown_share``). Overlay nodes (onion, i2p, cjdns) have no location, so the first
five dimensions are computed under three ``overlay_policy`` values:

- ``entity``: all overlay nodes are one entity, ``"overlay"``;
- ``excluded``: overlay nodes are left out;
- ``proportional``: overlay nodes are shared out over the other entities in proportion to their
  counts (entity e gets n_e·N/L, N all nodes, L the non-overlay ones), so counts are fractional
  and add up to N. Its shares, and so every metric, equal ``excluded``'s; only the counts differ.

For ``network``, ``client`` and ``client_version`` overlay nodes are ordinary rows (an onion node
has a network and a client), so only ``entity`` is computed. ``overlay_share`` is the overlay
nodes' share of the snapshot in every row.

Spatial spread (``country`` rows, every policy alike, from the nodes with coordinates):
``standard_distance_km`` is the root mean square great-circle distance to the geographic
centroid (the normalised mean of the nodes' 3D unit vectors; null when that mean is ~0), and
``mean_pairwise_km`` the mean great-circle distance over all pairs of distinct nodes. The mean
of chord lengths follows from sums of unit vectors, but that of arcs does not, so it is computed
exactly over distinct locations with their node counts as weights (nodes share coordinates
heavily) when there are at most ``exact_max_locations`` of them, in chunks, and otherwise
estimated from ``sample_pairs`` uniformly drawn pairs (seeded) with its standard error
``mean_pairwise_se_km`` (0 when exact).

``distribution_dispersion`` gives the same tables for published distributions
(``DISTRIBUTION_SCHEMA``), where entities named ``"overlay:…"`` (e.g. ``"overlay:tor"``) are
the overlay under the same three policies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from pipelines.countries import countries_frame
from pipelines.metrics.concentration import concentration_table, ordered_sum, share_table
from pipelines.nodes.clients import client_columns
from pipelines.schemas.nodes import OVERLAY_NETWORKS

KEYS = ["snapshot_date", "snapshot_time", "source"]
GROUP = [*KEYS, "dimension", "overlay_policy"]
LOCATED_DIMENSIONS = ("country", "continent", "asn", "organization", "hosting")
DIMENSIONS = (*LOCATED_DIMENSIONS, "network", "client", "client_version")
POLICIES = ("entity", "excluded", "proportional")
OVERLAY = "overlay"
OVERLAY_PREFIX = "overlay:"
UNKNOWN = "unknown"
OTHER = "other"
EARTH_RADIUS_KM = 6371.0
EXACT_MAX_LOCATIONS = 20_000
SAMPLE_PAIRS = 1_000_000
METRICS = [
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
]
SPATIAL_SCHEMA: dict[str, pl.DataType] = {
    "located_nodes": pl.Int64(),
    "standard_distance_km": pl.Float64(),
    "mean_pairwise_km": pl.Float64(),
    "mean_pairwise_se_km": pl.Float64(),
}


class DispersionTables(NamedTuple):
    distribution: pl.DataFrame
    dispersion: pl.DataFrame


def hosting_asns(organizations: pl.DataFrame, hosting_providers: pl.DataFrame) -> list[int]:
    """AS numbers of the curated hosting operators (cloud or datacenter), ascending."""
    hosting = hosting_providers.select("organization")
    asns = organizations.join(hosting, on="organization", how="semi")["asn"]
    return asns.unique().sort().to_list()


def unknown_hosting_operators(
    organizations: pl.DataFrame, hosting_providers: pl.DataFrame
) -> pl.DataFrame:
    """The hosting providers whose ``organization`` no row of ``organizations`` names: they
    would match no node (an operator is matched by the name the AS table gives it)."""
    return hosting_providers.join(
        organizations.select("organization"), on="organization", how="anti"
    )


# --- node rows → counts per entity ------------------------------------------------------------


def _node_entities(
    nodes: pl.LazyFrame, organizations: pl.DataFrame, hosting_providers: pl.DataFrame
) -> pl.LazyFrame:
    """Per node: the snapshot keys, whether it is an overlay node, and its entity per dimension."""
    operators = organizations.select("asn", pl.col("organization").alias("_operator"))
    hosting = hosting_providers.select(
        pl.col("organization").alias("_org"), pl.col("kind").alias("_kind")
    )
    continents = countries_frame().select(
        pl.col("alpha2").alias("country_code"), pl.col("continent").alias("_continent")
    )
    overlay = pl.col("network").is_in(OVERLAY_NETWORKS)

    def located(entity: pl.Expr) -> pl.Expr:
        return pl.when(overlay).then(pl.lit(OVERLAY)).otherwise(entity.fill_null(UNKNOWN))

    client, _, client_major = client_columns("user_agent")
    return (
        nodes.select(*KEYS, "network", "country_code", "asn", "organization", "user_agent")
        .join(operators.lazy(), on="asn", how="left")
        .join(continents.lazy(), on="country_code", how="left")
        .with_columns(
            pl.coalesce("_operator", "organization", pl.format("AS{}", "asn")).alias("_org")
        )
        .join(hosting.lazy(), on="_org", how="left")
        .select(
            *KEYS,
            overlay.fill_null(False).alias("overlay"),
            located(pl.col("country_code")).alias("country"),
            located(pl.col("_continent")).alias("continent"),
            located(pl.format("AS{}", "asn")).alias("asn"),
            located(pl.col("_org")).alias("organization"),
            located(
                pl.when(pl.col("_org").is_not_null()).then(pl.col("_kind").fill_null(OTHER))
            ).alias("hosting"),
            pl.col("network").fill_null(UNKNOWN),
            client.alias("client"),
            client_major.alias("client_version"),
        )
    )


def _node_counts(
    nodes: pl.DataFrame | pl.LazyFrame, organizations: pl.DataFrame, hosting_providers: pl.DataFrame
) -> pl.LazyFrame:
    """Nodes per (snapshot keys, dimension, entity, overlay), as Float64."""
    return (
        _node_entities(nodes.lazy(), organizations, hosting_providers)
        .group_by([*KEYS, "overlay", *DIMENSIONS])
        .agg(pl.len().alias("nodes"))
        .unpivot(
            on=list(DIMENSIONS),
            index=[*KEYS, "overlay", "nodes"],
            variable_name="dimension",
            value_name="entity",
        )
        .group_by([*KEYS, "dimension", "entity", "overlay"])
        .agg(pl.col("nodes").sum().cast(pl.Float64))
    )


# --- counts → policies → tables ----------------------------------------------------------------


def _with_policies(counts: pl.LazyFrame, located: pl.Expr) -> pl.LazyFrame:
    """Nodes per (``GROUP``, entity) under each overlay policy; only ``entity`` where ``located``
    is false (there an entity may hold overlay and other nodes: they are summed)."""
    by = [*KEYS, "dimension"]
    nodes, overlay = pl.col("nodes"), pl.col("overlay")
    total = ordered_sum(nodes).over(by)
    placed = ordered_sum(pl.when(overlay).then(0.0).otherwise(nodes)).over(by)
    return (
        pl.concat(
            [
                counts.with_columns(pl.lit("entity").alias("overlay_policy")),
                counts.filter(located & ~overlay).with_columns(
                    pl.lit("excluded").alias("overlay_policy")
                ),
                counts.with_columns((nodes * total / placed).alias("nodes"))
                .filter(located & ~overlay)
                .with_columns(pl.lit("proportional").alias("overlay_policy")),
            ],
            how="diagonal",
        )
        .group_by([*GROUP, "entity"])
        .agg(ordered_sum(nodes))
    )


def _overlay_share(counts: pl.LazyFrame) -> pl.LazyFrame:
    """The overlay nodes' share per (snapshot keys, dimension)."""
    nodes = pl.col("nodes")
    return counts.group_by([*KEYS, "dimension"]).agg(
        (
            ordered_sum(pl.when(pl.col("overlay")).then(nodes).otherwise(0.0)) / ordered_sum(nodes)
        ).alias("overlay_share")
    )


def _distribution(policied: pl.LazyFrame) -> pl.DataFrame:
    shares = share_table(policied, group_by=GROUP, entity="entity", count="nodes")
    return shares.select(*GROUP, "entity", "nodes", "share")


def _dispersion(policied: pl.LazyFrame, overlay_share: pl.LazyFrame) -> pl.DataFrame:
    metrics = concentration_table(
        policied, group_by=GROUP, entity="entity", count="nodes", unknown_entity=UNKNOWN
    ).rename({"total": "nodes"})
    return (
        metrics.join(overlay_share.collect(), on=[*KEYS, "dimension"], how="left", nulls_equal=True)
        .select(*GROUP, "nodes", *METRICS, "overlay_share", "unknown_share")
        .sort(GROUP, nulls_last=True)
    )


def _node_policies(counts: pl.LazyFrame) -> pl.LazyFrame:
    return _with_policies(counts, located=pl.col("dimension").is_in(LOCATED_DIMENSIONS))


def node_distribution(
    nodes: pl.DataFrame | pl.LazyFrame, organizations: pl.DataFrame, hosting_providers: pl.DataFrame
) -> pl.DataFrame:
    """Nodes and share per (snapshot keys, dimension, overlay_policy, entity); sorted by the
    group, then share descending, then entity."""
    return _distribution(_node_policies(_node_counts(nodes, organizations, hosting_providers)))


def node_dispersion(
    nodes: pl.DataFrame | pl.LazyFrame,
    organizations: pl.DataFrame,
    hosting_providers: pl.DataFrame,
    *,
    exact_max_locations: int = EXACT_MAX_LOCATIONS,
    sample_pairs: int = SAMPLE_PAIRS,
    seed: int = 0,
) -> pl.DataFrame:
    """Concentration metrics per (snapshot keys, dimension, overlay_policy), with
    ``overlay_share``, ``unknown_share`` and, on ``country`` rows, the spatial spread."""
    return _node_dispersion(
        nodes,
        _node_counts(nodes, organizations, hosting_providers).cache(),
        exact_max_locations=exact_max_locations,
        sample_pairs=sample_pairs,
        seed=seed,
    )


def node_tables(
    nodes: pl.DataFrame | pl.LazyFrame,
    organizations: pl.DataFrame,
    hosting_providers: pl.DataFrame,
    **spatial: int,
) -> DispersionTables:
    """``node_distribution`` and ``node_dispersion`` of ``nodes``, counting the nodes once."""
    counts = _node_counts(nodes, organizations, hosting_providers).collect().lazy()
    return DispersionTables(
        _distribution(_node_policies(counts)), _node_dispersion(nodes, counts, **spatial)
    )


def _node_dispersion(
    nodes: pl.DataFrame | pl.LazyFrame,
    counts: pl.LazyFrame,
    *,
    exact_max_locations: int = EXACT_MAX_LOCATIONS,
    sample_pairs: int = SAMPLE_PAIRS,
    seed: int = 0,
) -> pl.DataFrame:
    table = _dispersion(_node_policies(counts), _overlay_share(counts))
    spread = spatial_spread(
        nodes, exact_max_locations=exact_max_locations, sample_pairs=sample_pairs, seed=seed
    )
    is_country = pl.col("dimension") == "country"
    return (
        table.join(spread, on=KEYS, how="left", nulls_equal=True)
        .with_columns(pl.col("located_nodes").fill_null(0))
        .with_columns(pl.when(is_country).then(pl.col(c)).alias(c) for c in SPATIAL_SCHEMA)
        .sort(GROUP, nulls_last=True)
    )


def distribution_dispersion(dists: pl.DataFrame | pl.LazyFrame) -> DispersionTables:
    """Distribution and dispersion tables for published distributions (``DISTRIBUTION_SCHEMA``).

    Entities starting with ``"overlay:"`` are summed into the overlay entity and the three
    policies apply to every dimension. A distribution published without the overlay
    (``includes_overlay`` false) is reported under ``excluded`` alone (``overlay_share`` null),
    and only when the same (date, source, dimension) was not also published with it: that one
    gives all three policies (EDI's "without Tor" files spread Tor proportionally, so their
    shares equal ``excluded``'s). ``snapshot_time`` is null; there are no spatial measures.
    """
    dists = dists.lazy().with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("snapshot_time"))
    by = [*KEYS, "dimension"]
    overlay = pl.col("entity").str.to_lowercase().str.starts_with(OVERLAY_PREFIX)
    with_overlay = (
        dists.filter(pl.col("includes_overlay"))
        .with_columns(overlay.alias("overlay"))
        .with_columns(pl.when("overlay").then(pl.lit(OVERLAY)).otherwise("entity").alias("entity"))
        .group_by([*by, "entity", "overlay"])
        .agg(ordered_sum(pl.col("nodes").cast(pl.Float64)))
    )
    without_overlay = (
        dists.filter(~pl.col("includes_overlay"))
        .join(with_overlay.select(by).unique(), on=by, how="anti", nulls_equal=True)
        .group_by([*by, "entity"])
        .agg(ordered_sum(pl.col("nodes").cast(pl.Float64)))
        .with_columns(pl.lit("excluded").alias("overlay_policy"))
    )
    policied = pl.concat(
        [
            _with_policies(with_overlay, located=pl.lit(True)),
            without_overlay.select(*GROUP, "entity", "nodes"),
        ]
    )
    dispersion = _dispersion(policied, _overlay_share(with_overlay)).with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in SPATIAL_SCHEMA.items()
    )
    return DispersionTables(_distribution(policied), dispersion)


# --- spatial spread ----------------------------------------------------------------------------


def _unit_vectors(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(latitude), np.radians(longitude)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _arcs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle angles (radians) between every row of ``a`` and every row of ``b``."""
    return np.arccos(np.clip(a @ b.T, -1.0, 1.0))


def great_circle_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Row-wise great-circle distance (haversine, spherical Earth) between two points in degrees."""
    phi1, phi2 = lat1.radians(), lat2.radians()
    half_dphi, half_dlambda = (phi2 - phi1) / 2, (lon2 - lon1).radians() / 2
    h = half_dphi.sin() ** 2 + phi1.cos() * phi2.cos() * half_dlambda.sin() ** 2
    return 2 * EARTH_RADIUS_KM * h.sqrt().clip(upper_bound=1.0).arcsin()


def standard_distance_km(vectors: np.ndarray, weights: np.ndarray) -> float | None:
    """Root mean square great-circle distance of the weighted points to their centroid."""
    mean = weights @ vectors / weights.sum()
    norm = float(np.linalg.norm(mean))
    if norm < 1e-9:
        return None
    arcs = _arcs(vectors, (mean / norm)[None, :])[:, 0]
    return EARTH_RADIUS_KM * float(np.sqrt(weights @ arcs**2 / weights.sum()))


def mean_pairwise_exact_km(
    vectors: np.ndarray, weights: np.ndarray, chunk_cells: int = 1 << 22
) -> float | None:
    """Mean great-circle distance over all pairs of distinct nodes, ``weights[i]`` nodes at
    ``vectors[i]`` (distinct locations), in row chunks of about ``chunk_cells`` distances."""
    n = float(weights.sum())
    if n < 2:
        return None
    total, size = 0.0, len(vectors)
    step = max(1, chunk_cells // size)
    for start in range(0, size, step):
        stop = min(start + step, size)
        arcs = _arcs(vectors[start:stop], vectors[start:])
        arcs[:, : stop - start] = np.triu(arcs[:, : stop - start], k=1)  # each pair once
        total += float(weights[start:stop] @ arcs @ weights[start:])
    return EARTH_RADIUS_KM * total / (n * (n - 1) / 2)


def mean_pairwise_sampled_km(
    vectors: np.ndarray, weights: np.ndarray, pairs: int, seed: int = 0
) -> tuple[float, float] | tuple[None, None]:
    """(estimate, standard error) of the mean pairwise distance from ``pairs`` pairs of
    distinct nodes drawn uniformly with replacement; SE = sample SD / √pairs."""
    n = int(weights.sum())
    if n < 2:
        return None, None
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, pairs)
    second = rng.integers(0, n - 1, pairs)
    second += second >= first  # a different node
    bounds = np.cumsum(weights)
    a = vectors[np.searchsorted(bounds, first, side="right")]
    b = vectors[np.searchsorted(bounds, second, side="right")]
    arcs = EARTH_RADIUS_KM * np.arccos(np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0))
    error = float(arcs.std(ddof=1) / np.sqrt(pairs)) if pairs > 1 else float("nan")
    return float(arcs.mean()), error


def spatial_spread(
    nodes: pl.DataFrame | pl.LazyFrame,
    *,
    exact_max_locations: int = EXACT_MAX_LOCATIONS,
    sample_pairs: int = SAMPLE_PAIRS,
    seed: int = 0,
) -> pl.DataFrame:
    """Per snapshot: ``located_nodes`` (nodes with coordinates), ``standard_distance_km``,
    ``mean_pairwise_km`` and ``mean_pairwise_se_km`` (0 when computed exactly)."""
    locations = (
        nodes.lazy()
        .filter(pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null())
        .filter(~pl.col("network").is_in(OVERLAY_NETWORKS).fill_null(False))
        .group_by([*KEYS, "latitude", "longitude"])
        .agg(pl.len().alias("nodes"))
        .sort([*KEYS, "latitude", "longitude"], nulls_last=True)
        .collect()
    )
    rows = []
    for key, group in locations.group_by(KEYS, maintain_order=True):
        vectors = _unit_vectors(group["latitude"].to_numpy(), group["longitude"].to_numpy())
        weights = group["nodes"].to_numpy().astype(np.float64)
        if len(group) <= exact_max_locations:
            mean, error = mean_pairwise_exact_km(vectors, weights), 0.0
        else:
            mean, error = mean_pairwise_sampled_km(vectors, weights, sample_pairs, seed)
        rows.append(
            (
                *key,
                int(weights.sum()),
                standard_distance_km(vectors, weights),
                mean,
                error if mean is not None else None,
            )
        )
    schema = nodes.lazy().collect_schema()
    return pl.DataFrame(
        rows, schema={key: schema[key] for key in KEYS} | SPATIAL_SCHEMA, orient="row"
    )
