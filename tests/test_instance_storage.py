"""The single-machine instance's event log: Dagster's consolidated SQLite storage, one engine."""

import multiprocessing
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as db
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry

from pipelines.cli import dagster_yaml
from pipelines.config import load_config
from pipelines.instance_storage import SqliteEventLog
from tests.conftest import write_config


def materialization(run_id: str, asset: str) -> EventLogEntry:
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name="job",
        event_specific_data=StepMaterializationData(dg.AssetMaterialization(asset_key=asset)),
    )
    return EventLogEntry(
        error_info=None,
        level=20,
        user_message="",
        run_id=run_id,
        timestamp=time.time(),
        dagster_event=event,
    )


def connections_made(storage: SqliteEventLog) -> list[int]:
    """A counter of the DBAPI connections ``storage`` opens from now on."""
    made = [0]
    db.event.listen(
        storage._pooled_engine(), "connect", lambda *_: made.__setitem__(0, made[0] + 1)
    )
    return made


def test_the_cli_instance_uses_it_and_another_instance_reads_its_runs(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    config = load_config(write_config(tmp_path, {}))
    (home / "dagster.yaml").write_text(dagster_yaml(config, home))

    @dg.asset
    def numbers() -> None:
        return None

    writer = dg.DagsterInstance.from_config(str(home))
    assert isinstance(writer.event_log_storage, SqliteEventLog)
    result = dg.materialize([numbers], instance=writer)
    reader = dg.DagsterInstance.from_config(str(home))
    assert reader.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == result.run_id
    assert (home / "history" / "event_log.db").is_file()


def test_events_share_one_connection(tmp_path: Path) -> None:
    storage = SqliteEventLog(base_dir=str(tmp_path))
    made = connections_made(storage)
    for i in range(40):
        storage.store_event(materialization("run", f"a{i % 4}"))
    assert len(storage.get_records_for_run("run").records) == 40
    assert made[0] <= 1  # the pool's connection, reused (Dagster's class opens one per event)


def test_a_table_is_remembered_once_found(tmp_path: Path) -> None:
    storage = SqliteEventLog(base_dir=str(tmp_path))
    assert storage.has_table("asset_keys")
    assert not storage.has_table("later")
    with storage.index_connection() as conn:
        conn.execute(db.text("CREATE TABLE later (x INTEGER)"))
    assert storage.has_table("later")  # a miss is not remembered
    made = connections_made(storage)
    assert storage.has_table("later") and storage.has_table("asset_keys")
    assert made[0] == 0


def _store_in_child(storage: SqliteEventLog) -> None:
    for i in range(5):
        storage.store_event(materialization("child", f"c{i}"))


def test_a_forked_child_makes_its_own_engine(tmp_path: Path) -> None:
    storage = SqliteEventLog(base_dir=str(tmp_path))
    storage.store_event(materialization("parent", "p"))  # the parent's engine exists before fork
    child = multiprocessing.get_context("fork").Process(target=_store_in_child, args=(storage,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    storage.store_event(materialization("parent", "q"))  # the parent's pool still works
    assert len(storage.get_records_for_run("child").records) == 5
    assert len(storage.get_records_for_run("parent").records) == 2
