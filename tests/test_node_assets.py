"""The node assets as Dagster runs them: quarantine, gossip kept apart, the operator seeds and
their checks, dispersion tables."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.defs.node_dispersion import node_tables
from pipelines.defs.node_reference import (
    hosting_providers,
    hosting_providers_expectations,
    hosting_providers_name_node_organizations,
    node_organizations,
    node_organizations_expectations,
)
from pipelines.defs.node_snapshots import (
    node_distributions,
    node_distributions_expectations,
    node_snapshots,
    node_snapshots_expectations,
)
from pipelines.lake import Lake
from pipelines.partitions import run_tags
from pipelines.resources import ObservatoryResource
from tests.conftest import FIXTURES, write_config

NODES = FIXTURES / "nodes"
# The export is of 2023-11-14; the address lists are of 2024-07-25 and 2024-07-26.
RANGE = run_tags(date.fromisoformat("2023-11-14"), date.fromisoformat("2024-07-26"))


def run(tmp_path: Path) -> tuple[dg.ExecuteInProcessResult, Lake]:
    config = write_config(
        tmp_path,
        {
            "nodes.export": {
                "kind": "bitnodes_export",
                "location": str(NODES / "bitnodes-export-1700000000.json"),
            },
            "nodes.gossip": {"kind": "address_list", "location": str(NODES / "addresses")},
            "nodes.published": {"kind": "edi_distributions", "location": str(NODES / "edi")},
        },
    )
    result = dg.materialize(
        [
            node_snapshots,
            node_snapshots_expectations,
            node_distributions,
            node_distributions_expectations,
            node_organizations,
            node_organizations_expectations,
            hosting_providers,
            hosting_providers_expectations,
            hosting_providers_name_node_organizations,
            node_tables,
        ],
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        tags=RANGE,
        raise_on_error=False,
    )
    return result, Lake(tmp_path / "warehouse" / "lake")


def test_malformed_rows_are_quarantined_and_the_snapshot_kept(tmp_path: Path) -> None:
    result, lake = run(tmp_path)
    assert result.success
    export = lake.read("raw", "node_snapshots", ("month", "2023-11"))
    rejects = lake.read("raw", "node_rejects", ("feed", "export"))
    problems = {(r["record"], r["field"]) for r in rejects.iter_rows(named=True)}
    assert ("row 6", "port") in problems  # "83x3"
    assert any(record == "row 7" for record, _ in problems)  # 192.0.2.300 is no IPv4 address
    assert export.height >= 9  # the good rows of the snapshot are all there
    onion = export.filter(pl.col("network") == "onion")
    assert onion.height == 3 and onion["latitude"].null_count() == 3  # no place at 0,0
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {
        "node_snapshots_expectations": True,
        "node_distributions_expectations": True,
        "node_organizations_expectations": True,
        "hosting_providers_expectations": True,
        "hosting_providers_name_node_organizations": True,
    }


def test_gossip_is_kept_apart_and_measured_separately(tmp_path: Path) -> None:
    _, lake = run(tmp_path)
    nodes = lake.read("intermediate", "nodes")
    gossip = nodes.filter(pl.col("source") == "gossip")
    assert set(gossip["reachability"]) == {"gossip"}
    assert set(nodes.filter(pl.col("source") == "export")["reachability"]) == {"crawled"}
    dispersion = lake.read("intermediate", "node_dispersion")
    per_source = dispersion.group_by("source").agg(pl.col("snapshot_date").n_unique())
    assert dict(per_source.iter_rows()) == {"export": 1, "gossip": 2, "published": 2}
    # the fixtures use documentation ranges (192.0.2.0/24, 2001:db8::/32), which no registry
    # allocates and no one uses: the offline database is asked and rightly answers nothing
    assert gossip["country_code"].null_count() == gossip.height


def test_enrichment_fills_only_missing_fields(tmp_path: Path) -> None:
    result, lake = run(tmp_path)
    nodes = lake.read("intermediate", "nodes").filter(pl.col("source") == "export")
    recorded = nodes.filter(pl.col("address") == "192.0.2.10")
    assert set(recorded["country_code"]) == {"RU"} and set(recorded["location_source"]) == {
        "source"
    }
    # the default database, and its agreement with the export's own geography, in the metadata
    (materialization,) = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["intermediate", "nodes"])
    ]
    metadata = materialization.materialization.metadata
    assert metadata["offline_databases"].value == "dbip_city_lite 2023-04"
    checks = metadata["agreement_with_source_geography"].value["dbip_city_lite 2023-04"]
    assert checks["country_rows"] > 0 and checks["country_found"] == 0  # documentation ranges
    assert "| database | rows |" in metadata["agreement_summary"].value


def test_overlay_policies_and_shares(tmp_path: Path) -> None:
    _, lake = run(tmp_path)
    distribution = lake.read("intermediate", "node_distribution").filter(
        (pl.col("source") == "export") & (pl.col("dimension") == "country")
    )
    totals = distribution.group_by("overlay_policy").agg(pl.col("share").sum())
    assert all(abs(total - 1) < 1e-9 for total in totals["share"])
    entity = distribution.filter(pl.col("overlay_policy") == "entity")
    assert "overlay" in set(entity["entity"])
    excluded = distribution.filter(pl.col("overlay_policy") == "excluded")
    assert "overlay" not in set(excluded["entity"])
