"""The ``observatory`` command as a user runs it: in fresh processes, against a tmp data home."""

import json
import re
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import (
    FIXTURES,
    SAMPLE_POOL_ENTITIES,
    SAMPLE_SOURCES,
    run_cli,
    write_config,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home built once by ``observatory run`` from the sample registry."""
    folder = tmp_path_factory.mktemp("cli")
    config = write_config(folder, SAMPLE_SOURCES)
    result = run_cli("run", "--config", str(config), "--from", "2023-12-30", "--to", "2024-01-05")
    assert result.returncode == 0, result.stderr
    return config


def test_run_shows_progress_and_records_the_run(built: Path, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(built.parent / "warehouse" / "dagster"))
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert sorted(run.tags["observatory/phase"] for run in runs) == ["build", "ingest"]
        for run in runs:
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.tags["observatory/launched_by"] == "cli"
        # a range of years is planned in one event per asset, its years materialized each
        (ingest,) = [run for run in runs if run.tags["observatory/phase"] == "ingest"]
        planned = [
            entry.dagster_event.event_specific_data
            for entry in instance.all_logs(
                ingest.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
            )
            if entry.dagster_event.asset_key == dg.AssetKey(["raw", "blocks"])
        ]
        assert [sorted(p.partitions_subset.get_partition_keys()) for p in planned] == [
            ["2023", "2024"]
        ]
        blocks = instance.fetch_materializations(dg.AssetKey(["raw", "blocks"]), limit=10).records
        assert sorted(r.partition_key for r in blocks) == ["2023", "2024"]
        materialized = instance.get_latest_materialization_event(dg.AssetKey(["marts", "dim_pool"]))
        rows = materialized.asset_materialization.metadata["dagster/row_count"].value
        assert rows == SAMPLE_POOL_ENTITIES


def test_sql_formats(built: Path) -> None:
    query = "select pool_id, pool_name from dim_pool where pool_id <= 2 order by pool_id"
    as_json = run_cli("sql", query, "--format", "json", "--config", str(built))
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"pool_id": 1, "pool_name": "BlockFills"},
        {"pool_id": 2, "pool_name": "ULTIMUSPOOL"},
    ]
    as_csv = run_cli("sql", query, "--format", "csv", "--config", str(built))
    assert as_csv.stdout.splitlines() == ["pool_id,pool_name", "1,BlockFills", "2,ULTIMUSPOOL"]
    as_table = run_cli("sql", query, "--config", str(built))
    assert "BlockFills" in as_table.stdout and "2 rows" in as_table.stdout


def test_sql_is_read_only_and_reports_errors(built: Path) -> None:
    write = run_cli("sql", "drop table dim_pool", "--config", str(built))
    assert write.returncode == 1 and "read-only" in write.stderr
    typo = run_cli("sql", "select * from dim_pools", "--config", str(built))
    assert typo.returncode == 1 and "SQL error" in typo.stderr and "dim_pools" in typo.stderr


def test_tables_lists_descriptions_counts_and_columns(built: Path) -> None:
    text = run_cli("tables", "--config", str(built))
    assert text.returncode == 0, text.stderr
    assert f"dim_pool (table, {SAMPLE_POOL_ENTITIES} rows)" in text.stdout
    assert "pool_id_registry VARCHAR — the registry pool_id comes from" in text.stdout
    listed = json.loads(run_cli("tables", "--format", "json", "--config", str(built)).stdout)
    names = {t["name"]: t for t in listed}
    assert {"dim_pool", "staging.stg_pools", "raw.pool_registry"} <= set(names)
    assert names["staging.stg_pools"]["kind"] == "view"
    assert names["dim_pool"]["description"].startswith("One row per known mining pool")
    # A mart passing a lake table through is a view with the contract's column descriptions.
    shares, lake_shares = names["pool_shares"], names["intermediate.pool_shares"]
    assert (shares["kind"], shares["rows"]) == ("view", lake_shares["rows"])
    assert shares["columns"] == lake_shares["columns"]


def test_scoreboard_has_every_domain_and_the_trends_query_answers(built: Path) -> None:
    domains = run_cli(
        "sql",
        "select distinct domain from decentralization_scoreboard order by 1",
        "--format",
        "csv",
        "--config",
        str(built),
    )
    assert domains.stdout.splitlines() == [
        "domain",
        "ai_compute",
        "ai_models",
        "bitcoin_mining",
        "bitcoin_nodes",
        "hashrate_geography",
    ]
    verdicts = run_cli(
        "sql",
        "select * from decentralization_trends where verdict <> 'no significant trend'",
        "--format",
        "json",
        "--config",
        str(built),
    )
    assert verdicts.returncode == 0, verdicts.stderr
    assert all(
        r["verdict"] in ("centralizing", "decentralizing") for r in json.loads(verdicts.stdout)
    )


def test_report_is_written_and_linked_from_the_asset(built: Path, monkeypatch) -> None:
    report = built.parent / "warehouse" / "report" / "index.html"
    page = report.read_text()
    assert "decentralization_trends" in page or "Verdict" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?:", page)  # nothing fetched
    monkeypatch.setenv("DAGSTER_HOME", str(built.parent / "warehouse" / "dagster"))
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["report", "decentralization_report"])
        )
        metadata = event.asset_materialization.metadata
        assert metadata["path"].value == str(report)
        assert metadata["open"].value == report.as_uri()


@pytest.mark.parametrize("command", [[], ["run"], ["sql"], ["tables"], ["ui"]])
def test_help_everywhere(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_config_errors_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sources.pool_registry.m]\nkind = "yaml"\nlocation = "x"\n')
    result = run_cli("run", "--config", str(bad))
    assert result.returncode == 1
    assert "kind: 'yaml' is not a valid kind; valid kinds: mempool_pools_v2" in result.stderr


def test_run_plan_errors(built: Path) -> None:
    selection = run_cli("run", "--config", str(built), "--select", "key:nothing/here")
    assert selection.returncode == 1 and "matched no asset" in selection.stderr
    dates = run_cli(
        "run", "--config", str(built), "--select", "key:raw/pool_registry", "--from", "2024-01-01"
    )
    assert (
        dates.returncode == 1 and "--from/--to apply to the day-stamped raw tables" in dates.stderr
    )
    backwards = run_cli("run", "--config", str(built), "--from", "2024-01-05", "--to", "2024-01-01")
    assert backwards.returncode == 1 and "is after --to" in backwards.stderr


def test_sql_before_any_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    result = run_cli("sql", "select 1", "--config", str(config))
    assert result.returncode == 1 and "run `observatory run` first" in result.stderr


def test_failed_run_exits_non_zero_with_a_summary(tmp_path: Path) -> None:
    pools = json.loads((FIXTURES / "pools-v2-sample.json").read_text())
    (tmp_path / "dup.json").write_text(json.dumps(pools + pools[:1]))
    registry = {**SAMPLE_SOURCES["pool_registry.mempool"], "location": str(tmp_path / "dup.json")}
    sources = {**SAMPLE_SOURCES, "pool_registry.mempool": registry}
    config = write_config(tmp_path, sources)
    result = run_cli("run", "--config", str(config), "--from", "2024-01-01", "--to", "2024-01-02")
    assert result.returncode == 1
    assert "FAILED" in result.stderr
    assert "failed check raw/pool_registry:pool_registry_expectations" in result.stderr
    assert "not run (upstream failed)" in result.stderr and "marts/dim_pool" in result.stderr
