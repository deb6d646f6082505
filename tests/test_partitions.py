"""Yearly Dagster partitions of the day-stamped tables, and the days and months a run covers."""

from datetime import UTC, date, datetime

import pytest

from pipelines.lake import months
from pipelines.partitions import (
    FROM_DAY,
    TO_DAY,
    YEARLY,
    days_of,
    run_tags,
    year_days,
    yesterday,
)


def test_one_partition_per_year_from_the_genesis_year() -> None:
    keys = YEARLY.get_partition_keys()
    assert keys[0] == "2009" and keys[-1] == str(datetime.now(UTC).year)  # this year: partial
    assert year_days("2024") == (date(2024, 1, 1), date(2024, 12, 31))


def test_run_tags_name_the_years_and_days() -> None:
    tags = run_tags(date(2023, 12, 30), date(2024, 1, 2))
    assert tags["dagster/asset_partition_range_start"] == "2023"
    assert tags["dagster/asset_partition_range_end"] == "2024"
    assert (tags[FROM_DAY], tags[TO_DAY]) == ("2023-12-30", "2024-01-02")


@pytest.mark.parametrize(
    ("keys", "tags", "expected"),
    [
        (
            ["2023", "2024"],
            {FROM_DAY: "2023-12-30", TO_DAY: "2024-01-02"},
            ("2023-12-30", "2024-01-02"),
        ),
        # day tags outside the run's years are clipped to them
        (["2024"], {FROM_DAY: "2023-06-01", TO_DAY: "2025-02-01"}, ("2024-01-01", "2024-12-31")),
        # no tags: the whole years, from the genesis block
        (["2009", "2010"], {}, ("2009-01-03", "2010-12-31")),
    ],
)
def test_days_of_a_run(keys: list[str], tags: dict[str, str], expected: tuple[str, str]) -> None:
    assert days_of(keys, tags) == tuple(date.fromisoformat(d) for d in expected)


def test_days_of_an_untagged_run_of_this_year_stop_at_yesterday() -> None:
    assert days_of([str(yesterday().year)], {})[1] == yesterday()


def test_months_of_a_span_of_days() -> None:
    assert months(date(2023, 11, 30), date(2024, 2, 1)) == [
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
    ]
    assert months(date(2024, 2, 29), date(2024, 2, 29)) == ["2024-02"]
