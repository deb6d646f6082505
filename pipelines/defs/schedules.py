"""The nightly run: every asset; day-stamped raw tables read and replace yesterday (UTC) only,
inside its year's partition."""

from datetime import UTC, timedelta

import dagster as dg

from pipelines.partitions import FROM_DAY, TO_DAY, year_key

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
    """At 02:00 UTC, materialise the previous day (in its year's partition) and everything
    downstream."""
    day = (context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)).date()
    job = context.repository_def.get_job(nightly_job.name)
    partitioned = job.partitions_def is not None
    return dg.RunRequest(
        run_key=f"nightly-{day.isoformat()}",
        partition_key=year_key(day) if partitioned else None,
        tags={
            "observatory/data_day": day.isoformat(),
            FROM_DAY: day.isoformat(),
            TO_DAY: day.isoformat(),
        },
    )
