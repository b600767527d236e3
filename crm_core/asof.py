"""The as-of time model: every figure is "as of the end of a day".

Timestamps are the shop's local time, naive. For an as-of date D:

- `end_of(D)`: the first instant after D (00:00 of D + 1); facts count what happened
  strictly before it.
- `window_start(D, days)`: the first instant of the `days` days ending with D
  (`end_of(D)` minus `days` days); a window is window_start <= t < end_of.
- `last_second(D)`: 23:59:59 of D, the moment a list drawn for a past day is drawn at.
- `reference_moment(D, now)`: `now` when D is today, else `last_second(D)`.

As-of dates are kept within SUPPORTED_FIRST..SUPPORTED_LAST (`clamp`), so no boundary
or window computed from one can overflow Python's dates, whatever a file held.
No function here reads the clock except where a caller passes `now`.
"""

from __future__ import annotations

import datetime as dt

WINDOW_DAYS: dict[str, int | None] = {"all": None, "12m": 365, "24m": 730}
"""The purchase windows a user picks: name -> days before the as-of date (None: all)."""


SUPPORTED_FIRST = dt.date(1900, 1, 1)
SUPPORTED_LAST = dt.date(9998, 12, 31)
"""The as-of dates figures are computed for; a later or earlier date is clamped."""


def clamp(as_of: dt.date) -> dt.date:
    """`as_of` moved into SUPPORTED_FIRST..SUPPORTED_LAST."""
    return min(max(as_of, SUPPORTED_FIRST), SUPPORTED_LAST)


def day_start(day: dt.date) -> dt.datetime:
    """00:00 of `day`."""
    return dt.datetime.combine(day, dt.time())


def end_of(as_of: dt.date) -> dt.datetime:
    """The first instant after the as-of day (00:00 of the next day)."""
    return day_start(clamp(as_of) + dt.timedelta(days=1))


def window_start(as_of: dt.date, days: int) -> dt.datetime:
    """The first instant of the `days` whole days that end with the as-of day (never
    before 1 January of year 1)."""
    end = end_of(as_of)
    return end - min(dt.timedelta(days=days), end - dt.datetime.min)


def last_second(as_of: dt.date) -> dt.datetime:
    """23:59:59 of the as-of day."""
    return dt.datetime.combine(clamp(as_of), dt.time(23, 59, 59))


def reference_moment(as_of: dt.date, now: dt.datetime) -> dt.datetime:
    """`now` (to the second) when the as-of date is today, else the last second of it."""
    now = now.replace(microsecond=0)
    return now if as_of == now.date() else last_second(as_of)
