"""The serving database published on object storage: versions, LATEST, pruning, rollback, pull."""

from pathlib import Path

import duckdb
import pytest

from pipelines.object_lake import ObjectLake
from pipelines.published import NotPublished, Publication
from pipelines.storage import StorageError


def database(folder: Path, value: int) -> Path:
    path = folder / f"db-{value}.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE TABLE t AS SELECT {value} AS v")
    return path


def value_of(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql("SELECT v FROM t").fetchall()[0][0]


@pytest.fixture
def publication(s3_url: str) -> Publication:
    return Publication(ObjectLake.open(s3_url))


def test_latest_moves_and_old_versions_are_pruned(publication, tmp_path: Path) -> None:
    with pytest.raises(NotPublished, match="nothing published"):
        publication.latest()
    published = [publication.publish(database(tmp_path, i), f"run{i}", 2) for i in range(3)]
    assert publication.latest() == published[-1]
    assert [v.name for v in publication.versions()] == [v.name for v in published[1:]]
    assert value_of(publication.pull(tmp_path / "cache")) == 2


def test_rollback_and_pull_follow_latest(publication, tmp_path: Path) -> None:
    first, second = (publication.publish(database(tmp_path, i), f"run{i}", 7) for i in (1, 2))
    cache = tmp_path / "cache"
    pulled = publication.pull(cache)
    assert value_of(pulled) == 2 and pulled.name == f"{second.name}.duckdb"
    assert publication.pull(cache) == pulled  # once per version
    assert publication.rollback(first.name) == first
    older = publication.pull(cache)
    assert value_of(older) == 1
    assert sorted(p.name for p in cache.iterdir()) == [older.name]  # the other copy removed
    with pytest.raises(NotPublished, match="no version 'nope'"):
        publication.rollback("nope")


def test_a_corrupted_copy_is_refused(publication, tmp_path: Path) -> None:
    version = publication.publish(database(tmp_path, 5), "run", 7)
    key = publication._key(f"{version.name}.duckdb")
    with publication.lake.fs.open_output_stream(key) as out:
        out.write(b"not the published bytes")
    with pytest.raises(StorageError, match="does not match the published"):
        publication.pull(tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())  # nothing half-downloaded left
