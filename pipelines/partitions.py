"""Partitions of the day-stamped raw tables: one Dagster partition per UTC year.

A year is the unit Dagster tracks (materializations, checks, UI status). Dagster records every
partition of a run as its own event, at about 10 ms each, so a run over the whole history
records 18 events instead of 211 months (2 s) or 6,400 days (minutes). Inside a year the lake
keeps one file per month (``month=YYYY-MM``, ``Lake.replace_days``), and runs still choose days:
the tags ``observatory/from_day`` and ``observatory/to_day`` bound the days a run reads and
replaces inside its years (without them, a year's every day up to yesterday); ``run_tags``
builds both from a range of days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import dagster as dg

GENESIS = date(2009, 1, 3)  # the first block's UTC day
YEAR_FORMAT = "%Y"
FROM_DAY = "observatory/from_day"
TO_DAY = "observatory/to_day"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

# One partition per UTC year from the genesis block's year to the current one (partial: its
# days up to yesterday; today is never complete).
YEARLY = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start="2009", fmt=YEAR_FORMAT, timezone="UTC", end_offset=1
)


def year_key(day: date) -> str:
    return day.strftime(YEAR_FORMAT)


def year_days(key: str) -> tuple[date, date]:
    """The first and last day of the year ``key`` (``YYYY``)."""
    year = int(key)
    return date(year, 1, 1), date(year, 12, 31)


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def run_tags(start: date, end: date) -> dict[str, str]:
    """Tags of a run over the days ``start``..``end``: its year partitions and its days."""
    return {
        RANGE_START: year_key(start),
        RANGE_END: year_key(end),
        FROM_DAY: start.isoformat(),
        TO_DAY: end.isoformat(),
    }


def days_of(keys: list[str], tags: Mapping[str, str]) -> tuple[date, date]:
    """The days a run of the year partitions ``keys`` covers: its day tags if set, clipped to
    its years (which also bound them), else every day of its years from the genesis block to
    yesterday."""
    start, end = year_days(min(keys))[0], year_days(max(keys))[1]
    start = max(start, date.fromisoformat(tags.get(FROM_DAY, GENESIS.isoformat())))
    end = min(end, date.fromisoformat(tags[TO_DAY]) if TO_DAY in tags else yesterday())
    return start, end


def run_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The days the run of ``context`` covers (``days_of`` its partition range and tags)."""
    keys = context.partition_key_range
    return days_of([keys.start, keys.end], context.run.tags)
