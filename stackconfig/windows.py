"""RDS backup and maintenance windows (RDS API reference, CreateDBInstance).

* ``PreferredBackupWindow``: ``hh24:mi-hh24:mi``, UTC, at least 30 minutes.
* ``PreferredMaintenanceWindow``: ``ddd:hh24:mi-ddd:hh24:mi``, days ``mon`` ... ``sun``,
  UTC, at least 30 minutes.
* The two must not overlap.

Both may wrap: a backup window past midnight, a maintenance window past Sunday.
"""

from __future__ import annotations

import re

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = 24 * 60
WEEK = 7 * DAY
MINIMUM_MINUTES = 30

_TIME = r"(\d{2}):(\d{2})"


def _minutes(hours: str, minutes: str) -> int:
    if int(hours) > 23:
        raise ValueError(f"hour {hours} is not allowed; allowed: 00-23")
    if int(minutes) > 59:
        raise ValueError(f"minute {minutes} is not allowed; allowed: 00-59")
    return int(hours) * 60 + int(minutes)


def _length(start: int, end: int, period: int) -> int:
    return (end - start) % period


def daily(text: str) -> tuple[int, int]:
    """A backup window as (start, end) minutes after midnight UTC; end may be below start (past midnight)."""
    match = re.fullmatch(f"{_TIME}-{_TIME}", text)
    if not match:
        raise ValueError("must be hh:mm-hh:mm in UTC, e.g. 03:00-04:00")
    start, end = _minutes(*match.groups()[:2]), _minutes(*match.groups()[2:])
    if _length(start, end, DAY) < MINIMUM_MINUTES:
        raise ValueError(f"lasts {_length(start, end, DAY)} minutes; RDS needs at least {MINIMUM_MINUTES}")
    return start, end


def weekly(text: str) -> tuple[int, int]:
    """A maintenance window as (start, end) minutes after Monday 00:00 UTC; end may be below start."""
    match = re.fullmatch(f"([a-z]{{3}}):{_TIME}-([a-z]{{3}}):{_TIME}", text)
    if not match:
        raise ValueError("must be ddd:hh:mm-ddd:hh:mm in UTC with lowercase days, e.g. sun:04:00-sun:05:00")
    start_day, start_hours, start_minutes, end_day, end_hours, end_minutes = match.groups()
    for day in (start_day, end_day):
        if day not in DAYS:
            raise ValueError(f"day {day!r} is not allowed; allowed: {', '.join(DAYS)}")
    start = DAYS.index(start_day) * DAY + _minutes(start_hours, start_minutes)
    end = DAYS.index(end_day) * DAY + _minutes(end_hours, end_minutes)
    if _length(start, end, WEEK) < MINIMUM_MINUTES:
        raise ValueError(f"lasts {_length(start, end, WEEK)} minutes; RDS needs at least {MINIMUM_MINUTES}")
    return start, end


def _intervals(start: int, end: int, period: int) -> list[tuple[int, int]]:
    """Half-open intervals within [0, period) covering a window that may wrap."""
    return [(start, end)] if start < end else [(start, period), (0, end)]


def overlap(backup: tuple[int, int], maintenance: tuple[int, int]) -> str | None:
    """The first day the daily backup window meets the weekly maintenance window, or None."""
    weekly_parts = _intervals(*maintenance, WEEK)
    for index, day in enumerate(DAYS):
        offset = index * DAY
        start, end = backup
        # A backup window past midnight runs into the next day.
        length = _length(start, end, DAY)
        first = offset + start
        backup_parts = _intervals(first % WEEK, (first + length) % WEEK, WEEK)
        for b_start, b_end in backup_parts:
            for m_start, m_end in weekly_parts:
                if b_start < m_end and m_start < b_end:
                    return day
    return None
