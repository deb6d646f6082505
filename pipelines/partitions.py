"""Partitions of the day-stamped raw tables: one Dagster partition per UTC month.

A month is the unit Dagster tracks (materializations, checks, UI status): their number grows
by twelve a year, not by one a day per asset, so a run over the whole history records a few
hundred events instead of thousands. Runs still choose days: the tags ``observatory/from_day``
and ``observatory/to_day`` bound the days a run reads and replaces inside its months (without
them, a month's every day up to yesterday); ``run_tags`` builds both from a range of days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg

GENESIS = date(2009, 1, 3)  # the first block's UTC day
MONTH_FORMAT = "%Y-%m"
FROM_DAY = "observatory/from_day"
TO_DAY = "observatory/to_day"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

# One partition per UTC month from the genesis block's month to the current one (partial: its
# days up to yesterday; today is never complete).
MONTHLY = dg.MonthlyPartitionsDefinition(
    start_date="2009-01", fmt=MONTH_FORMAT, timezone="UTC", end_offset=1
)


def month_key(day: date) -> str:
    return day.strftime(MONTH_FORMAT)


def month_days(key: str) -> tuple[date, date]:
    """The first and last day of the month ``key`` (``YYYY-MM``)."""
    first = datetime.strptime(key, MONTH_FORMAT).date()
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def run_tags(start: date, end: date) -> dict[str, str]:
    """Tags of a run over the days ``start``..``end``: its month partitions and its days."""
    return {
        RANGE_START: month_key(start),
        RANGE_END: month_key(end),
        FROM_DAY: start.isoformat(),
        TO_DAY: end.isoformat(),
    }


def run_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The days a run of monthly partitions covers: its day tags if set, clipped to its months
    (which also bound them), else every day of its months from the genesis block to
    yesterday."""
    keys = context.partition_key_range
    start, end = month_days(keys.start)[0], month_days(keys.end)[1]
    tags = context.run.tags
    start = max(start, date.fromisoformat(tags.get(FROM_DAY, GENESIS.isoformat())))
    end = min(end, date.fromisoformat(tags[TO_DAY]) if TO_DAY in tags else yesterday())
    return start, end
