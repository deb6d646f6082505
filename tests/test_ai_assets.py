"""The AI assets as Dagster runs them, from files and from a live-shaped server on 127.0.0.1."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.config import ConfigError, load_config
from pipelines.defs.ai import (
    ai_chip_owners,
    ai_chip_owners_expectations,
    ai_compute_tables,
    ai_model_tables,
    ai_models,
    ai_models_expectations,
)
from pipelines.http import SourceUnavailable
from pipelines.lake import Lake
from pipelines.resources import ObservatoryResource
from tests.conftest import FIXTURES, write_config
from tests.fakeserver import FakeServer

AI = FIXTURES / "ai"
NOTABLE = (AI / "notable_models.csv").read_bytes()
CHIPS = AI / "chip-owners"
ASSETS = [
    ai_models,
    ai_models_expectations,
    ai_chip_owners,
    ai_chip_owners_expectations,
    ai_model_tables,
    ai_compute_tables,
]


def sources(notable: str, chips: dict | None = None) -> dict:
    return {
        "ai_models.notable": {
            "kind": "epoch_models_csv",
            "location": notable,
            "dataset": "notable",
        },
        "ai_models.large_scale": {
            "kind": "epoch_models_csv",
            "location": str(AI / "large_scale_models.csv"),
            "dataset": "large_scale",
        },
        "ai_chip_owners": chips or {"kind": "epoch_chip_owners", "location": str(CHIPS)},
    }


def run(folder: Path, configured: dict) -> tuple[dg.ExecuteInProcessResult, Lake]:
    config = write_config(folder, configured, http={"max_attempts": 3, "backoff_seconds": 0.01})
    result = dg.materialize(
        ASSETS,
        resources={"observatory": ObservatoryResource(config_file=str(config))},
        raise_on_error=False,
    )
    return result, Lake(folder / "warehouse" / "lake")


def test_files_give_every_table_and_report_bad_values(tmp_path: Path) -> None:
    result, lake = run(tmp_path, sources(str(AI / "notable_models.csv")))
    assert result.success
    models = lake.read("raw", "ai_models")
    assert sorted(lake.partitions("raw", "ai_models")) == ["large_scale", "notable"]
    notable = models.filter(pl.col("dataset") == "notable")
    assert notable.height == 8  # every record, the multi-line ones included
    problems = lake.read("raw", "ai_model_problems")
    assert problems.height > 0 and set(problems["feed"]) <= {"notable", "large_scale"}
    for table in ("ai_concentration", "ai_openness", "ai_compute_owners"):
        assert lake.read("intermediate", table).height > 0
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"ai_models_expectations": True, "ai_chip_owners_expectations": True}


def test_rerun_gives_the_same_tables(tmp_path: Path) -> None:
    configured = sources(str(AI / "notable_models.csv"))
    run(tmp_path, configured)
    lake = Lake(tmp_path / "warehouse" / "lake")
    before = {t: lake.read("intermediate", t) for t in ("ai_concentration", "ai_openness")}
    result, _ = run(tmp_path, configured)
    assert result.success
    for table, frame in before.items():
        assert lake.read("intermediate", table).equals(frame), table


def test_live_csv_is_downloaded_with_retries(tmp_path: Path, fake_server: FakeServer) -> None:
    fake_server.route(
        "/data/notable_ai_models.csv",
        (503, {"Retry-After": "0"}, b"busy"),
        (200, {"Content-Type": "text/csv"}, NOTABLE),
    )
    result, lake = run(tmp_path, sources(fake_server.url("/data/notable_ai_models.csv")))
    assert result.success
    assert [r.path for r in fake_server.requests] == ["/data/notable_ai_models.csv"] * 2
    notable = lake.read("raw", "ai_models", ("feed", "notable"))
    assert notable.height == 8


def test_live_csv_missing_fails_naming_the_feed(tmp_path: Path, fake_server: FakeServer) -> None:
    fake_server.route("/data/notable_ai_models.csv", (404, {}, b"not found"))
    result, _ = run(tmp_path, sources(fake_server.url("/data/notable_ai_models.csv")))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "raw__ai_models"
    text = str(failure.step_failure_data.error)
    assert SourceUnavailable.__name__ in text and "notable" in text and "404" in text


def test_chip_owner_files_fetched_from_a_url(tmp_path: Path, fake_server: FakeServer) -> None:
    names = sorted(p.name for p in CHIPS.glob("*.csv"))
    for name in names:
        fake_server.route(f"/owners/{name}", (200, {}, (CHIPS / name).read_bytes()))
    chips = {
        "kind": "epoch_chip_owners",
        "location": fake_server.url("/owners"),
        "files": names,
    }
    result, lake = run(tmp_path, sources(str(AI / "notable_models.csv"), chips))
    assert result.success
    from_url = lake.read("raw", "ai_chip_owners")
    (tmp_path / "local").mkdir()
    _, local = run(tmp_path / "local", sources(str(AI / "notable_models.csv")))
    expected = local.read("raw", "ai_chip_owners")
    assert from_url.drop("feed").equals(expected.drop("feed"))


def test_chip_owner_url_without_files_is_a_config_error(tmp_path: Path) -> None:
    chips = {"kind": "epoch_chip_owners", "location": "https://example.org/owners"}
    config = write_config(tmp_path, sources(str(AI / "notable_models.csv"), chips))
    with pytest.raises(ConfigError, match=r"\[sources.ai_chip_owners\] files: list the CSV paths"):
        load_config(config)


def test_chip_owner_files_are_only_for_a_url(tmp_path: Path) -> None:
    chips = {"kind": "epoch_chip_owners", "location": str(CHIPS), "files": ["a.csv"]}
    config = write_config(tmp_path, sources(str(AI / "notable_models.csv"), chips))
    with pytest.raises(ConfigError, match=r"\[sources.ai_chip_owners\] files: only for a URL"):
        load_config(config)


@pytest.mark.parametrize("dataset", ["", "everything"])
def test_dataset_must_be_named(tmp_path: Path, dataset: str) -> None:
    configured = sources(str(AI / "notable_models.csv"))
    configured["ai_models.notable"]["dataset"] = dataset
    if not dataset:
        del configured["ai_models.notable"]["dataset"]
    with pytest.raises(ConfigError, match="dataset"):
        load_config(write_config(tmp_path, configured))
