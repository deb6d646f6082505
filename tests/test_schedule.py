"""The nightly schedule: 02:00 UTC, yesterday's partition for daily-partitioned assets."""

from datetime import UTC, datetime

import dagster as dg

from pipelines.defs.schedules import nightly_at_0200_utc, nightly_job
from pipelines.partitions import FROM_DAY, TO_DAY, YEARLY


def evaluate(defs: dg.Definitions, when: datetime) -> dg.RunRequest:
    context = dg.build_schedule_context(
        scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    return nightly_at_0200_utc(context)


def test_cron_and_timezone() -> None:
    assert nightly_at_0200_utc.cron_schedule == "0 2 * * *"
    assert nightly_at_0200_utc.execution_timezone == "UTC"
    assert nightly_at_0200_utc.default_status == dg.DefaultScheduleStatus.RUNNING


def test_real_definitions_run_everything_for_yesterday() -> None:
    from pipelines.definitions import defs

    request = evaluate(defs, datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    assert request.run_key == "nightly-2026-11-25"
    assert request.tags["observatory/data_day"] == "2026-11-25"
    job = defs.resolve_job_def("nightly")
    assert set(job.asset_layer.executable_asset_keys) == set(
        defs.resolve_asset_graph().materializable_asset_keys
    )


def test_yearly_partitioned_assets_get_the_previous_utc_day() -> None:
    """The run is of yesterday's year, and its day tags bound it to yesterday."""

    @dg.asset(partitions_def=YEARLY)
    def blocks() -> None: ...

    @dg.asset(deps=[blocks])
    def mart() -> None: ...

    defs = dg.Definitions(
        assets=[blocks, mart], jobs=[nightly_job], schedules=[nightly_at_0200_utc]
    )
    request = evaluate(defs, datetime(2026, 1, 1, 2, 0, tzinfo=UTC))
    assert request.partition_key == "2025"
    assert request.tags[FROM_DAY] == request.tags[TO_DAY] == "2025-12-31"
