"""The nightly run: every asset, with yesterday's (UTC) partition for daily-partitioned ones."""

from datetime import UTC, timedelta

import dagster as dg

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Everything: ingest, validate, aggregate, build marts, publish the serving file.",
)


@dg.schedule(
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_at_0200_utc(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """At 02:00 UTC, materialise the previous day's partition and everything downstream."""
    day = (context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)).date().isoformat()
    job = context.repository_def.get_job(nightly_job.name)
    partitioned = job.partitions_def is not None
    return dg.RunRequest(
        run_key=f"nightly-{day}",
        partition_key=day if partitioned else None,
        tags={"observatory/data_day": day},
    )
