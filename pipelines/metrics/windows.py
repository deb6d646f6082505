"""Time windows for aggregating dated events (e.g. blocks per day) into days, weeks, months...

Windows are inclusive date ranges: ``day``; ``week`` (ISO, Monday to Sunday); calendar ``month``
and ``year``; ``30d``, fixed 30-day windows [anchor + 30·i, anchor + 30·i + 29] for every integer
i, so dates before the anchor fall in windows with negative i.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

WINDOWS = ("day", "week", "month", "year", "30d")
ANCHOR = date(2018, 1, 1)  # a Monday; start of the first 30d window of the series
_EPOCH = date(1970, 1, 1)  # pl.Date is stored as days since this day


def _check(window: str) -> None:
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; valid windows: {', '.join(WINDOWS)}")


def window_bounds(dates: pl.Expr, window: str, anchor: date = ANCHOR) -> tuple[pl.Expr, pl.Expr]:
    """Inclusive (window_start, window_end), as pl.Date, of the ``window`` holding each date."""
    _check(window)
    day = dates.cast(pl.Date)
    if window == "day":
        return day, day
    if window == "week":
        start = day - pl.duration(days=day.dt.weekday() - 1)  # weekday: Monday 1 .. Sunday 7
        return start, start + pl.duration(days=6)
    if window == "month":
        return day.dt.month_start(), day.dt.month_end()
    if window == "year":
        year = day.dt.year()
        return pl.date(year, 1, 1), pl.date(year, 12, 31)
    anchor_days = (anchor - _EPOCH).days
    index = (day.cast(pl.Int32) - anchor_days) // 30  # floor division: negative before anchor
    start = (index * 30 + anchor_days).cast(pl.Date)
    return start, start + pl.duration(days=29)


def window_label(window: str, start: pl.Expr) -> pl.Expr:
    """Readable label from a window's start: day "2024-01-05", week (ISO year and week)
    "2024-W01", month "2024-01", year "2024", 30d its middle day (start + 14 days) "2024-01-15"."""
    _check(window)
    formats = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m", "year": "%Y"}
    if window == "30d":
        return (start + pl.duration(days=14)).dt.strftime("%Y-%m-%d")
    return start.dt.strftime(formats[window])


def assign_windows(
    frame: pl.DataFrame | pl.LazyFrame,
    date_col: str = "date",
    windows: Iterable[str] = WINDOWS,
    anchor: date = ANCHOR,
) -> pl.LazyFrame:
    """Each input row once per window kind, with ``window``, ``window_start``, ``window_end``
    and ``window_label`` added: one row per (row, window kind), so the output has
    len(windows) × the input rows. Group by (window, window_start, ...) to aggregate."""
    kinds = tuple(windows)
    if not kinds:
        raise ValueError("no windows given")
    lazy = frame.lazy()
    parts = []
    for window in kinds:
        start, end = window_bounds(pl.col(date_col), window, anchor)
        parts.append(
            lazy.with_columns(
                pl.lit(window).alias("window"), start.alias("window_start"), end.alias("window_end")
            ).with_columns(window_label(window, pl.col("window_start")).alias("window_label"))
        )
    return pl.concat(parts, how="vertical")
