"""Node rejects: one writer per rejects table, and no rejects left behind by a dropped feed."""

from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.defs.node_snapshots import node_distributions, node_snapshots
from pipelines.lake import Lake
from pipelines.partitions import run_tags
from pipelines.resources import ObservatoryResource
from pipelines.schemas import contracts
from pipelines.warehouse import Warehouse, load_lake_tables
from tests.conftest import FIXTURES, write_config

NODES = FIXTURES / "nodes"
RANGE = run_tags(date.fromisoformat("2023-11-14"), date.fromisoformat("2024-07-26"))
FEEDS = {
    "nodes.export": {
        "kind": "bitnodes_export",
        "location": str(NODES / "bitnodes-export-1700000000.json"),
    },
    "nodes.gossip": {"kind": "address_list", "location": str(NODES / "addresses")},
    "nodes.published": {"kind": "edi_distributions", "location": str(NODES / "edi")},
}


def run(tmp_path: Path, feeds: dict, assets: list) -> Lake:
    config = write_config(tmp_path, feeds)
    result = dg.materialize(
        assets,
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        tags=RANGE,
    )
    assert result.success
    return Lake(tmp_path / "warehouse" / "lake")


def loaded_rows(tmp_path: Path, relation: str) -> int:
    """The rows of ``relation`` once the warehouse is loaded from the lake (as its steps do)."""
    lake = Lake(tmp_path / "warehouse" / "lake")
    warehouse = Warehouse(tmp_path / "warehouse")
    with warehouse.writer() as con:
        load_lake_tables(con, lake, contracts().values(), warehouse.pinned_path)
        return con.sql(f"select count(*) from {relation}").fetchall()[0][0]


def test_each_rejects_table_has_one_writer(tmp_path: Path) -> None:
    """Per-node feeds' rejects are raw.node_rejects (written by raw/node_snapshots), published
    distributions' are raw.node_distribution_rejects; whichever asset runs last, each database
    table holds what its lake table holds (raw.node_rejects used to be reloaded by one asset
    only, and to hold the distributions' rejects too)."""
    lake = run(tmp_path, FEEDS, [node_snapshots, node_distributions])
    assert sorted(lake.partitions("raw", "node_rejects")) == ["export", "gossip"]
    assert lake.partitions("raw", "node_distribution_rejects") == ["published"]
    for table in ("node_rejects", "node_distribution_rejects"):
        assert loaded_rows(tmp_path, f"raw.{table}") == lake.read("raw", table).height
    assert lake.read("raw", "node_rejects").height > 0  # the export has malformed rows


def test_a_dropped_node_feed_leaves_no_rejects_behind(tmp_path: Path) -> None:
    lake = run(tmp_path, FEEDS, [node_snapshots])
    assert sorted(lake.partitions("raw", "node_rejects")) == ["export", "gossip"]
    lake = run(tmp_path, {"nodes.gossip": FEEDS["nodes.gossip"]}, [node_snapshots])
    assert lake.partitions("raw", "node_rejects") == ["gossip"]
    assert loaded_rows(tmp_path, "raw.node_rejects") == lake.read("raw", "node_rejects").height
