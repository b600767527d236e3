"""Business hours: elapsed working time between two moments and the moment a working-time
target runs out, vectorised over arrays of shop-local timestamps.

A day is a working day when its weekday is one of `weekdays` (Monday = 0) or it is a
listed make-up working day (调休上班), and it is not a listed holiday. On a working day
the hours from `day_start` to `day_end` count; nothing else counts. So a ticket opened on
Friday 17:00 and answered on Monday 10:00 took 2 business hours with the default 9:00-18:00
Monday-Friday calendar.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from crm_core.errors import InputError

SECONDS_PER_DAY = 86_400
DAY = np.timedelta64(1, "D")
MAX_EXTENSIONS = 12  # a target beyond the last listed working day gives NaT


def _seconds(moment: dt.time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and hours: weekdays (0 = Monday), the working hours of a working day
    (day_start to day_end, shop local time), holidays (dates off even on a weekday) and
    make-up working days (dates worked even on a weekend)."""

    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    day_start: dt.time = dt.time(9, 0)
    day_end: dt.time = dt.time(18, 0)
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    workdays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.weekdays and not self.workdays:
            raise InputError("voice.error.no_working_day")
        if any(day not in range(7) for day in self.weekdays):
            raise InputError("voice.error.weekday")
        if self.day_end <= self.day_start:
            raise InputError(
                "voice.error.working_hours",
                start=f"{self.day_start:%H:%M}",
                end=f"{self.day_end:%H:%M}",
            )
        both = sorted(self.holidays & self.workdays)
        if both:
            raise InputError("voice.error.holiday_and_workday", day=both[0].isoformat())

    @property
    def hours_per_day(self) -> float:
        """Working hours of one working day."""
        return (_seconds(self.day_end) - _seconds(self.day_start)) / 3600.0

    def working_days(self, days: np.ndarray) -> np.ndarray:
        """True per datetime64[D] day that is a working day."""
        weekday = (days.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01: Thu
        working = np.isin(weekday, np.array(self.weekdays, dtype=np.int64))
        if self.workdays:
            working |= np.isin(days, _day_array(self.workdays))
        if self.holidays:
            working &= ~np.isin(days, _day_array(self.holidays))
        return working


def _day_array(days: Iterable[dt.date]) -> np.ndarray:
    return np.array(sorted(days), dtype="datetime64[D]")


class BusinessClock:
    """Working seconds on a `WorkCalendar` over a span of days: `elapsed(start, end)` and
    `deadline(start, seconds)`; the span grows when a moment falls outside it."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self._open = _seconds(calendar.day_start)
        self._close = _seconds(calendar.day_end)
        self._first = np.datetime64("1970-01-01", "D")
        self._cumulative = np.zeros(1)  # working seconds before each day of the span
        self._working = np.zeros(0, dtype=bool)

    def _cover(self, first: np.datetime64, last: np.datetime64) -> None:
        """Make the span cover the days first..last (and keep what it covered)."""
        if len(self._working):
            first = min(first, self._first)
            last = max(last, self._first + len(self._working) - 1)
            if first == self._first and last < self._first + len(self._working):
                return
        days = np.arange(first, last + DAY, DAY)
        self._first = first
        self._working = self.calendar.working_days(days)
        per_day = np.where(self._working, self._close - self._open, 0).astype(np.float64)
        self._cumulative = np.concatenate([[0.0], np.cumsum(per_day)])

    def _position(self, moments: np.ndarray) -> np.ndarray:
        """Working seconds from the span's start to each moment (NaN for NaT)."""
        missing = np.isnat(moments)
        days = moments.astype("datetime64[D]")
        index = np.where(missing, 0, (days - self._first).astype(np.int64))
        of_day = (moments - days).astype("timedelta64[s]").astype(np.float64)
        within = np.clip(of_day - self._open, 0.0, self._close - self._open)
        seconds = self._cumulative[index] + np.where(self._working[index], within, 0.0)
        return np.where(missing, np.nan, seconds)

    def _cover_moments(self, *arrays: np.ndarray) -> None:
        present = [a[~np.isnat(a)] for a in arrays]
        present = [a for a in present if len(a)]
        if not present:
            self._cover(np.datetime64("2000-01-01", "D"), np.datetime64("2000-01-01", "D"))
            return
        first = min(a.min() for a in present).astype("datetime64[D]")
        last = max(a.max() for a in present).astype("datetime64[D]")
        self._cover(first, last)

    def elapsed(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Working seconds from each start to its end (NaN where either is missing; 0 when
        end is before start)."""
        start = np.asarray(start, dtype="datetime64[s]")
        end = np.asarray(end, dtype="datetime64[s]")
        self._cover_moments(start, end)
        return np.maximum(self._position(end) - self._position(start), 0.0)

    def deadline(self, start: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """The first moment at which `seconds` working seconds have passed since each start
        (datetime64[s]; NaT where start or seconds is missing). A target that runs out
        exactly at the end of a working day ends then, not at the next day's start."""
        start = np.asarray(start, dtype="datetime64[s]")
        seconds = np.broadcast_to(np.asarray(seconds, dtype=np.float64), start.shape)
        missing = np.isnat(start) | np.isnan(seconds)
        self._cover_moments(start)
        goal = np.where(missing, 0.0, self._position(start) + np.where(missing, 0.0, seconds))
        per_day = self._close - self._open
        week_share = max(len(self.calendar.weekdays), 1) / 7.0
        for _ in range(MAX_EXTENSIONS):
            short = float(goal.max(initial=0.0)) - self._cumulative[-1]
            if short <= 0:
                break
            more = int(short / per_day / week_share) + 31
            self._cover(self._first, self._first + len(self._working) - 1 + more)
        beyond = goal > self._cumulative[-1]
        missing = missing | beyond
        goal = np.where(beyond, 0.0, goal)
        ends = self._cumulative[1:]
        index = np.searchsorted(ends, goal, side="left")
        index = np.minimum(index, len(self._working) - 1)
        offset = goal - self._cumulative[index]
        day = self._first + index.astype("timedelta64[D]")
        at = day.astype("datetime64[s]") + (self._open + np.round(offset)).astype("timedelta64[s]")
        at = np.maximum(at, start)
        return np.where(missing, np.datetime64("NaT", "s"), at)


MAX_LISTED_DAYS = 3660


def parse_day_list(text: str) -> list[dt.date]:
    """Days written one per line or separated by commas or spaces, as YYYY-MM-DD or as a
    range YYYY-MM-DD..YYYY-MM-DD (both ends included), sorted without repeats; InputError
    naming the first entry that is not a day or a range."""
    days: set[dt.date] = set()
    for token in re.split(r"[\s,，;；]+", text or ""):
        if not token:
            continue
        first, _, last = token.partition("..")
        try:
            start = dt.date.fromisoformat(first)
            end = dt.date.fromisoformat(last) if last else start
        except ValueError:
            raise InputError("voice.error.day_list", entry=token) from None
        if end < start or (end - start).days > MAX_LISTED_DAYS:
            raise InputError("voice.error.day_list", entry=token)
        days.update(start + dt.timedelta(days=offset) for offset in range((end - start).days + 1))
    return sorted(days)
