"""Blocked dates in the words an owner would use: "from 10 Dec to 13 Dec, the 13th is free again".

A blocked period is half-open like a stay: `end` is the first night that is free again, which
"10 Dec - 13 Dec" leaves the reader to guess. Saying which day is free again removes the guess.
The year is left out when it is the current one, and both years are shown when the range
crosses a New Year.
"""

import datetime as dt

from django.utils import timezone


def ordinal(day: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _day_month(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


def blocked_dates_in_words(start: dt.date, end: dt.date, *, this_year: int) -> str:
    """The half-open range [start, end) in plain words.

    >>> blocked_dates_in_words(dt.date(2026, 12, 10), dt.date(2026, 12, 13), this_year=2026)
    'from 10 Dec to 13 Dec, the 13th is free again'

    The year follows the last date when it is not `this_year`; a range across a New Year names
    both. One night reads "the night of 10 Dec only". Raises ValueError when `end` is not after
    `start` (the database refuses such a period).
    """
    if end <= start:
        raise ValueError("a blocked period ends after it starts")
    free_again = f"the {ordinal(end.day)} is free again"
    if start.year != end.year:
        return f"from {_day_month(start)} {start.year} to {_day_month(end)} {end.year}, {free_again}"
    year = "" if end.year == this_year else f" {end.year}"
    if end - start == dt.timedelta(days=1):
        return f"the night of {_day_month(start)}{year} only, {free_again}"
    return f"from {_day_month(start)} to {_day_month(end)}{year}, {free_again}"


def blocked_period_in_words(period) -> str:
    """A BlockedPeriod's dates in words, the year left out when it is this year in Nairobi."""
    return blocked_dates_in_words(period.start, period.end, this_year=timezone.localdate().year)
