"""``observatory``: run the pipeline, query the serving database, list its tables, open the UI."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from pipelines.config import (
    COMPUTE_QUEUE,
    CONFIG_ENV_VAR,
    PROJECT_ROOT,
    WAREHOUSE_QUEUE,
    ConfigError,
    ObservatoryConfig,
    load_config,
)

console = Console(stderr=True, highlight=False, soft_wrap=True)
DAGSTER_YAML = """\
# Dagster instance of the observatory (written by `observatory`; edits are overwritten).
telemetry:
  enabled: false
"""
# One SQLite event log for all runs (the default per-run shards store events about twice as
# slowly), over one engine per process (pipelines/instance_storage.py).
SQLITE_STORAGE = """\
event_log_storage:
  module: pipelines.instance_storage
  class: SqliteEventLog
  config:
    base_dir: {history}
"""
# Runs, event logs and schedules in PostgreSQL (dagster-postgres), shared by the webserver, the
# daemon and run workers on other machines; the connection is read from the environment when
# the instance starts, so no password is written here. A DAGSTER_PG_URL names its driver:
# postgresql+psycopg2://user:password@host:port/db.
POSTGRES_URL_STORAGE = """\
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
"""
POSTGRES_STORAGE = """\
storage:
  postgres:
    postgres_db:
      hostname:
        env: DAGSTER_PG_HOST
      port:
        env: DAGSTER_PG_PORT
      username:
        env: DAGSTER_PG_USERNAME
      password:
        env: DAGSTER_PG_PASSWORD
      db_name:
        env: DAGSTER_PG_DB
      scheme: postgresql+psycopg2  # the driver dagster-postgres installs (SQLAlchemy 2.1's
                                   # default for postgresql:// is psycopg 3)
"""
PG_VARIABLES = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
)


def dagster_yaml(config: ObservatoryConfig, dagster_home: Path) -> str:
    """The instance settings for the config's ``[dagster] storage``."""
    if config.dagster_storage == "sqlite":
        return DAGSTER_YAML + SQLITE_STORAGE.format(history=dagster_home / "history")
    if os.environ.get("DAGSTER_PG_URL"):
        return DAGSTER_YAML + POSTGRES_URL_STORAGE
    missing = [name for name in PG_VARIABLES if not os.environ.get(name)]
    if missing:
        raise click.ClickException(
            f'{config.path}: [dagster] storage = "postgres" needs DAGSTER_PG_URL or '
            f"{', '.join(PG_VARIABLES)} in the environment; missing: {', '.join(missing)}"
        )
    return DAGSTER_YAML + POSTGRES_STORAGE


config_option = click.option(
    "--config",
    "config_file",
    envvar=CONFIG_ENV_VAR,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Config file (default: ${CONFIG_ENV_VAR}, then configs/default.toml: live sources).",
)


def _load(config_file: Path | None) -> ObservatoryConfig:
    try:
        return load_config(config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def prepare_environment(config: ObservatoryConfig) -> Path:
    """Point Dagster at the config and at the persistent instance under the data home."""
    dagster_home = config.data_home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(dagster_yaml(config, dagster_home))
    os.environ[CONFIG_ENV_VAR] = str(config.path)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    # One "planned" event per asset with the run's partition range, not one per partition (18
    # years each for blocks and node snapshots). Dagster's price: the years of a run that fails
    # are not marked failed (the run itself is).
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    return dagster_home


def _publication(config: ObservatoryConfig):
    """The published versions of the config's lake; None for a lake on local disk."""
    from pipelines.object_lake import ObjectLake, open_lake
    from pipelines.published import Publication

    lake = open_lake(config.lake_location)
    return Publication(lake) if isinstance(lake, ObjectLake) else None


def _pulled(config: ObservatoryConfig, publication) -> Path:
    """The local copy of the warehouse LATEST names (downloaded once per version)."""
    from pipelines.published import NotPublished
    from pipelines.storage import StorageError

    try:
        return publication.pull(config.data_home / "published")
    except (NotPublished, StorageError) as exc:
        raise click.ClickException(str(exc)) from exc


def _serving_connection(config_file: Path | None):
    """A read-only connection to the serving database of the chosen config: with the lake on
    object storage, the published version LATEST names; else the local serving file."""
    import duckdb

    from pipelines.warehouse import Warehouse, WarehouseNotBuilt

    config = _load(config_file)
    publication = _publication(config)
    if publication is not None:
        return duckdb.connect(str(_pulled(config, publication)), read_only=True)
    try:
        return Warehouse(config.data_home).reader()
    except WarehouseNotBuilt as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Decentralization Observatory: how concentrated Bitcoin mining, nodes and AI are."""


def _progress_poller(instance, run_id: str, stop: threading.Event) -> Callable[[], None]:
    """Print step and check events of ``run_id`` as the instance records them.

    A run over a range of yearly partitions records one materialization per year: those are
    summed into one line per asset instead of one per year.
    """
    from dagster import DagsterEventType

    wanted = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    started = time.time()
    state: dict = {"cursor": None, "partitions": {}}

    def stamp(entry) -> str:
        return f"[dim]{entry.timestamp - started:7.1f}s[/dim]"

    def flush_partitions(entry) -> None:
        for key, (count, rows) in state["partitions"].items():
            console.print(f"{stamp(entry)}   wrote   {key} ({count:,} partitions, {rows:,} rows)")
        state["partitions"] = {}

    def render(entry) -> None:
        event = entry.dagster_event
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            rows = mat.metadata.get("dagster/row_count")
            key = mat.asset_key.to_user_string()
            if mat.partition:
                # a range run gives every partition the range's metadata: keep the first
                count, total = state["partitions"].get(key, (0, rows.value if rows else 0))
                state["partitions"][key] = (count + 1, total)
                return
            count = f" ({rows.value:,} rows)" if rows is not None else ""
            console.print(f"{stamp(entry)}   wrote   {key}{count}")
            return
        flush_partitions(entry)
        if kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            verdict = "[green]passed[/green]" if ev.passed else "[red]FAILED[/red]"
            name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
            console.print(f"{stamp(entry)}   check   {name} {verdict}")
            return
        label = {
            DagsterEventType.STEP_START: "[cyan]start[/cyan]  ",
            DagsterEventType.STEP_SUCCESS: "[green]done[/green]   ",
            DagsterEventType.STEP_FAILURE: "[red]FAILED[/red] ",
            DagsterEventType.STEP_SKIPPED: "[yellow]skipped[/yellow]",
        }[kind]
        console.print(f"{stamp(entry)} {label} {event.step_key}")

    def poll() -> None:
        while True:
            done = stop.wait(0.5)
            while True:
                page = instance.get_records_for_run(
                    run_id, cursor=state["cursor"], of_type=wanted, limit=1000
                )
                for record in page.records:
                    render(record.event_log_entry)
                state["cursor"] = page.cursor
                if not page.has_more:
                    break
            if done:
                return

    return poll


@main.command()
@config_option
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC), inclusive.")
@click.option(
    "--select",
    "selection",
    help="Dagster asset selection, e.g. 'key:raw/pool_registry+' (default: every asset). "
    "The serving database is always republished at the end.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Rebuild every selected asset, even those whose inputs did not change.",
)
def run(config_file: Path | None, start, end, selection: str | None, force: bool) -> None:
    """Materialise what is out of date through Dagster, recorded in the instance the UI reads.

    Raw tables are re-read when their sources, the code or the config changed, when their source
    is live, or for days not read yet; everything else is rebuilt when an upstream table changed.
    """
    from pipelines.lease import LeaseTimeout
    from pipelines.runner import RunPlanError, execute
    from pipelines.storage import StorageError

    config = _load(config_file)
    prepare_environment(config)
    console.print(f"config {config.path}\ndata home {config.data_home}")
    try:
        outcome = execute(
            selection=selection,
            start=start.date() if start else None,
            end=end.date() if end else None,
            force=force,
            progress=_progress_poller,
        )
    except (RunPlanError, LeaseTimeout, StorageError) as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(outcome.summary())
    # Everything is on disk by now (lake files and the ledger renamed into place and fsynced, the
    # build database closed, Dagster's events written one by one): end without the interpreter
    # tearing down Dagster, Polars and DuckDB, which takes 1-3 s.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if outcome.success else 1)


@main.command()
@config_option
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--max-rows", default=100, show_default=True, help="Rows shown by --format table.")
def sql(config_file: Path | None, query: str, fmt: str, max_rows: int) -> None:
    """Run read-only SQL against the serving database."""
    import duckdb

    con = _serving_connection(config_file)
    try:
        relation = con.sql(query)
        frame = relation.pl() if relation is not None else None
    except duckdb.Error as exc:
        raise click.ClickException(f"SQL error: {exc}") from exc
    finally:
        con.close()
    if frame is None:
        return
    if fmt == "csv":
        click.echo(frame.write_csv(), nl=False)
    elif fmt == "json":
        buffer = io.StringIO()
        frame.write_json(buffer)
        click.echo(buffer.getvalue())
    else:
        table = Table(*frame.columns, show_lines=False)
        for row in frame.head(max_rows).iter_rows():
            table.add_row(*("∅" if v is None else str(v) for v in row))
        # a pipe or file gets the table whole rather than squeezed to 80 columns
        width = None if sys.stdout.isatty() else 10_000
        out = Console(highlight=False, width=width)
        out.print(table, crop=False)
        suffix = f" (first {max_rows} shown)" if frame.height > max_rows else ""
        out.print(f"{frame.height:,} rows{suffix}")


@main.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def tables(config_file: Path | None, fmt: str) -> None:
    """Every table and view of the serving database: description, row count and columns."""
    import json

    from pipelines.warehouse import describe_relations

    con = _serving_connection(config_file)
    try:
        relations = describe_relations(con)
    finally:
        con.close()
    if fmt == "json":
        click.echo(json.dumps(relations, indent=2))
        return
    out = Console(highlight=False, soft_wrap=True)
    for rel in relations:
        out.print(
            f"[bold]{rel['name']}[/bold] ({rel['kind']}, {rel['rows']:,} rows)"
            + (f"\n  {rel['description']}" if rel["description"] else "")
        )
        for col in rel["columns"]:
            note = f" — {col['description']}" if col["description"] else ""
            out.print(f"    {col['name']} [dim]{col['type']}[/dim]{note}")
        out.print()


@main.command()
@config_option
def pull(config_file: Path | None) -> None:
    """Download the published warehouse LATEST names (lake on object storage) and print its
    local path."""
    config = _load(config_file)
    publication = _publication(config)
    if publication is None:
        raise click.ClickException("the lake is on local disk: nothing is published to pull")
    click.echo(str(_pulled(config, publication)))


@main.command()
@config_option
@click.argument("version", required=False)
def rollback(config_file: Path | None, version: str | None) -> None:
    """Point serving/LATEST at an older published VERSION; without one, list the versions kept."""
    from pipelines.published import NotPublished
    from pipelines.storage import StorageError

    publication = _publication(_load(config_file))
    if publication is None:
        raise click.ClickException("the lake is on local disk: no published versions")
    try:
        if version is None:
            latest = publication.latest().name
            for kept in publication.versions():
                mark = "LATEST" if kept.name == latest else ""
                click.echo(f"{kept.name}  {kept.bytes:>12,} bytes  {kept.published_at}  {mark}")
            return
        chosen = publication.rollback(version)
    except (NotPublished, StorageError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"serving/LATEST now names {chosen.name}")


@main.command()
@config_option
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice([COMPUTE_QUEUE, WAREHOUSE_QUEUE]),
    help=f"Queues to take steps from (default both). {WAREHOUSE_QUEUE!r} holds the steps that "
    "write the DuckDB warehouse: serve it from one machine only.",
)
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    help="Steps at once (Polars and DuckDB already use every core inside a step).",
)
@click.option("--name", default=None, help="Worker name (default: observatory-<pid>@<host>).")
def worker(config_file: Path | None, queues: tuple[str, ...], concurrency: int, name: str | None):
    """A Celery worker that runs the steps of runs using [execution] executor = "celery"."""
    config = _load(config_file)
    if config.execution.executor != "celery":
        raise click.ClickException(
            f'{config.path}: [execution] executor is {config.execution.executor!r}, not "celery": '
            "no run would send steps to this worker"
        )
    from pipelines.execution import celery_urls

    try:
        celery_urls()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    prepare_environment(config)
    chosen = ",".join(queues or (COMPUTE_QUEUE, WAREHOUSE_QUEUE))
    node = f"{name or f'observatory-{os.getpid()}'}@%h"
    console.print(f"Celery worker {node} on queues {chosen} (concurrency {concurrency})")
    args = [sys.executable, "-m", "celery", "-A", "pipelines.worker", "worker"]
    args += ["-Q", chosen, "-n", node, "--concurrency", str(concurrency), "--loglevel", "INFO"]
    os.execv(sys.executable, args)


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True)
def ui(config_file: Path | None, host: str, port: int) -> None:
    """Dagster webserver and daemon, with the persistent instance under the data home."""
    config = _load(config_file)
    dagster_home = prepare_environment(config)
    console.print(f"Dagster UI on http://{host}:{port} (instance {dagster_home})")
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    args = [sys.executable, "-m", "dagster", "dev", "-w", workspace]
    os.execv(sys.executable, [*args, "-h", host, "-p", str(port)])


if __name__ == "__main__":
    main()
