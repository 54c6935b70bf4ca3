"""Calendar arithmetic for filing limits and ages.

Months and years are calendar-correct: the day is kept where the target month has it
and clamped to the month's last day where it does not (2024-02-29 + 1 year = 2025-02-28,
2024-01-31 + 1 month = 2024-02-29).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

UNITS = {"day": "days", "days": "days", "month": "months", "months": "months",
         "year": "years", "years": "years"}


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if day.day <= 28:  # every month has the day: no need to look up the month's length
        return date(year, month, day.day)
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def shift(day: date, amount: int, unit: str) -> date | None:
    """``day`` moved by ``amount`` days, months or years (negative moves back); None when
    that is off the calendar (before year 1 or after 9999), which a rule reads as unknown."""
    unit = UNITS[unit]
    try:
        if unit == "days":
            return day + timedelta(days=amount)
        if unit == "months":
            return add_months(day, amount)
        return add_months(day, 12 * amount)
    except (OverflowError, ValueError):
        return None


def between_shifts(later: date, earlier: date, low: int, high: int, unit: str) -> bool | None:
    """Whether ``later`` is ``low`` to ``high`` days, months or years after ``earlier``;
    None (unknown) when either end is off the calendar."""
    start, end = shift(earlier, low, unit), shift(earlier, high, unit)
    if start is None or end is None:
        return None
    return start <= later <= end


def age_in_years(birth: date, on: date) -> int:
    """Completed years of age on a date (a person born on Feb 29 turns a year older on Mar 1
    in common years, as the day before their birthday has passed only then)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def age_in_days(birth: date, on: date) -> int:
    return (on - birth).days
