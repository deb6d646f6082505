"""Time windows: hand-checked bounds and labels for each window kind, and assign_windows."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from pipelines.metrics.windows import WINDOWS, assign_windows, window_bounds, window_label


def bounds(day: date, window: str, anchor: date = date(2018, 1, 1)) -> tuple[date, date, str]:
    """(window_start, window_end, window_label) of one date."""
    start, end = window_bounds(pl.col("date"), window, anchor)
    row = (
        pl.DataFrame({"date": [day]})
        .select(start.alias("start"), end.alias("end"))
        .with_columns(window_label(window, pl.col("start")).alias("label"))
        .row(0)
    )
    return row


@pytest.mark.parametrize(
    ("day", "window", "expected"),
    [
        (date(2024, 1, 5), "day", (date(2024, 1, 5), date(2024, 1, 5), "2024-01-05")),
        # 2024-01-05 is a Friday; its ISO week is Mon 2024-01-01 .. Sun 2024-01-07
        (date(2024, 1, 5), "week", (date(2024, 1, 1), date(2024, 1, 7), "2024-W01")),
        # ISO weeks at New Year: 2020 has 53 weeks; week 53 runs Mon 2020-12-28 .. Sun 2021-01-03
        (date(2020, 12, 31), "week", (date(2020, 12, 28), date(2021, 1, 3), "2020-W53")),
        (date(2021, 1, 3), "week", (date(2020, 12, 28), date(2021, 1, 3), "2020-W53")),
        (date(2021, 1, 4), "week", (date(2021, 1, 4), date(2021, 1, 10), "2021-W01")),
        # Mon 2018-12-31 already belongs to ISO year 2019
        (date(2018, 12, 31), "week", (date(2018, 12, 31), date(2019, 1, 6), "2019-W01")),
        (date(2024, 3, 3), "week", (date(2024, 2, 26), date(2024, 3, 3), "2024-W09")),
        (date(2024, 1, 5), "month", (date(2024, 1, 1), date(2024, 1, 31), "2024-01")),
        (date(2024, 2, 10), "month", (date(2024, 2, 1), date(2024, 2, 29), "2024-02")),  # leap
        (date(2023, 2, 10), "month", (date(2023, 2, 1), date(2023, 2, 28), "2023-02")),
        (date(2100, 2, 10), "month", (date(2100, 2, 1), date(2100, 2, 28), "2100-02")),  # no leap
        (date(2000, 2, 29), "month", (date(2000, 2, 1), date(2000, 2, 29), "2000-02")),  # leap
        (date(2024, 2, 29), "year", (date(2024, 1, 1), date(2024, 12, 31), "2024")),
        (date(2021, 1, 1), "year", (date(2021, 1, 1), date(2021, 12, 31), "2021")),
        # 30d windows from the anchor 2018-01-01: [anchor + 30i, anchor + 30i + 29]
        # 2017-12-31 is anchor − 1 day: i = −1, start = 2018-01-01 − 30 = 2017-12-02
        (date(2017, 12, 31), "30d", (date(2017, 12, 2), date(2017, 12, 31), "2017-12-16")),
        (date(2017, 12, 2), "30d", (date(2017, 12, 2), date(2017, 12, 31), "2017-12-16")),
        (date(2017, 12, 1), "30d", (date(2017, 11, 2), date(2017, 12, 1), "2017-11-16")),
        (date(2018, 1, 1), "30d", (date(2018, 1, 1), date(2018, 1, 30), "2018-01-15")),
        (date(2018, 1, 30), "30d", (date(2018, 1, 1), date(2018, 1, 30), "2018-01-15")),
        (date(2018, 1, 31), "30d", (date(2018, 1, 31), date(2018, 3, 1), "2018-02-14")),
        # 2020-02-29 is anchor + 789 days (730 to 2020-01-01, + 31 + 28); 789 // 30 = 26,
        # start = anchor + 780 = 2020-02-20, end = start + 29 = 2020-03-20 (10 Feb days + 20)
        (date(2020, 2, 29), "30d", (date(2020, 2, 20), date(2020, 3, 20), "2020-03-05")),
        # 2024-02-29 is anchor + 2250 = 75 · 30 days: the first day of a window
        (date(2024, 2, 29), "30d", (date(2024, 2, 29), date(2024, 3, 29), "2024-03-14")),
    ],
)
def test_window_bounds_and_labels(day: date, window: str, expected: tuple) -> None:
    assert bounds(day, window) == expected


def test_30d_anchor_is_configurable() -> None:
    anchor = date(2024, 1, 1)
    # 2024-01-31 = anchor + 30: the second window, running through leap day 2024-02-29
    assert bounds(date(2024, 1, 31), "30d", anchor) == (
        date(2024, 1, 31),
        date(2024, 2, 29),
        "2024-02-14",
    )
    assert bounds(date(2023, 12, 31), "30d", anchor) == (
        date(2023, 12, 2),
        date(2023, 12, 31),
        "2023-12-16",
    )
    assert bounds(date(2024, 1, 1), "30d", anchor)[0] == anchor


def test_30d_windows_tile_the_calendar() -> None:
    days = pl.date_range(date(2016, 1, 1), date(2026, 12, 31), eager=True).alias("date")
    start, end = window_bounds(pl.col("date"), "30d")
    windows = days.to_frame().select(start.alias("start"), end.alias("end")).unique().sort("start")
    assert (windows["end"] - windows["start"]).dt.total_days().unique().to_list() == [29]
    gaps = (windows["start"].shift(-1) - windows["end"]).dt.total_days().drop_nulls().unique()
    assert gaps.to_list() == [1]


def test_datetimes_are_treated_as_their_date() -> None:
    start, end = window_bounds(pl.col("date"), "week")
    frame = pl.DataFrame({"date": [datetime(2021, 1, 3, 23, 59)]})
    assert frame.select(start, end.alias("end")).row(0) == (date(2020, 12, 28), date(2021, 1, 3))


def test_unknown_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown window 'quarter'"):
        window_bounds(pl.col("date"), "quarter")
    with pytest.raises(ValueError, match="unknown window"):
        window_label("fortnight", pl.col("date"))


def test_assign_windows_replicates_each_row_once_per_window() -> None:
    frame = pl.DataFrame(
        {
            "date": [date(2021, 1, 3), date(2021, 1, 3), date(2021, 1, 4)],
            "entity": ["a", "b", "a"],
            "count": [3, 1, 2],
        }
    )
    out = assign_windows(frame)
    assert isinstance(out, pl.LazyFrame)
    result = out.collect()
    assert result.height == frame.height * len(WINDOWS)
    assert result.columns == [
        "date",
        "entity",
        "count",
        "window",
        "window_start",
        "window_end",
        "window_label",
    ]
    assert result.schema["window_start"] == pl.Date and result.schema["window_end"] == pl.Date
    totals = (
        result.group_by("window", "window_label", "entity")
        .agg(pl.col("count").sum())
        .sort("window", "window_label", "entity")
    )
    assert totals.rows() == [
        ("30d", "2020-12-30", "a", 5),  # 2021-01-03/04 are both in 2020-12-16 .. 2021-01-14
        ("30d", "2020-12-30", "b", 1),
        ("day", "2021-01-03", "a", 3),
        ("day", "2021-01-03", "b", 1),
        ("day", "2021-01-04", "a", 2),
        ("month", "2021-01", "a", 5),
        ("month", "2021-01", "b", 1),
        ("week", "2020-W53", "a", 3),
        ("week", "2020-W53", "b", 1),
        ("week", "2021-W01", "a", 2),
        ("year", "2021", "a", 5),
        ("year", "2021", "b", 1),
    ]


def test_assign_windows_subset_and_anchor() -> None:
    frame = pl.LazyFrame({"day": [date(2024, 1, 31)]})
    result = assign_windows(frame, date_col="day", windows=["30d"], anchor=date(2024, 1, 1))
    assert result.collect().select("window", "window_start", "window_end", "window_label").row(
        0
    ) == ("30d", date(2024, 1, 31), date(2024, 2, 29), "2024-02-14")
    with pytest.raises(ValueError, match="no windows"):
        assign_windows(frame, windows=[])
