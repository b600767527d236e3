"""The demo shop's calendar: the history's days, the Chinese retail rhythm of orders and
signups, and the mapping of drawn times onto clock timestamps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crm_core.demo.reference import HOUR_WEIGHTS, SPRING_FESTIVALS

HISTORY_YEARS = 3  # the history: the years that end on end_date
SECONDS_PER_DAY = 86_400


class Calendar:
    """The history's days and the shop's rhythm.

    Times are drawn as `tau`: days since the first day's midnight, in a time scale in
    which a day's share of orders is spread evenly. `seconds(tau)` maps tau onto clock
    time monotonically (day by day, through the hour-of-day distribution), so anything
    drawn after something else in tau also happens after it on the clock.
    """

    def __init__(self, end_date: dt.date) -> None:
        same_day = (
            end_date.replace(day=28) if (end_date.month, end_date.day) == (2, 29) else end_date
        )
        start = same_day.replace(year=end_date.year - HISTORY_YEARS) + dt.timedelta(days=1)
        self.start_date = start
        self.end_date = end_date
        self.days = (end_date - start).days + 1
        self.start = np.datetime64(start, "us")
        dates = np.datetime64(start, "D") + np.arange(self.days)
        self.day_multiplier = self._order_multiplier(dates)
        self.promo_day = self.day_multiplier >= 1.9
        self.grid = np.arange(self.days + 1, dtype=float)
        self.order_cum = np.concatenate([[0.0], np.cumsum(self.day_multiplier)])
        growth = np.exp(np.log(1.6) * np.arange(self.days) / 365.0)  # signups +60 % a year
        signup_rate = growth * (1.0 + 0.3 * (self.day_multiplier - 1.0))
        self.signup_cum = np.concatenate([[0.0], np.cumsum(signup_rate)])
        self.hour_cdf = np.concatenate([[0.0], np.cumsum(HOUR_WEIGHTS / HOUR_WEIGHTS.sum())])
        self.hour_seconds = np.arange(25) * 3600.0

    @staticmethod
    def _order_multiplier(dates: np.ndarray) -> np.ndarray:
        """Relative order volume of each day (1 = an ordinary weekday)."""
        month = dates.astype("datetime64[M]").astype(int) % 12 + 1
        day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
        weekday = (dates.astype(int) + 3) % 7  # 0 = Monday
        m = np.ones(len(dates))
        m *= np.where(weekday >= 5, 1.08, 1.0)
        m *= np.where((month >= 7) & (month <= 8), 0.92, 1.0)  # summer lull
        m = np.where((month == 10) & (day >= 20), m * 1.15, m)  # 11.11 warm-up
        m = np.where((month == 11) & (day <= 3), m * 2.0, m)  # 11.11 first wave
        m = np.where((month == 11) & (day > 3) & (day <= 10), m * 1.4, m)
        m = np.where((month == 11) & (day == 11), m * 7.0, m)  # Singles' Day
        m = np.where((month == 11) & (day == 12), m * 1.6, m)
        m = np.where((month == 11) & (day > 12) & (day <= 20), m * 0.8, m)
        m = np.where((month == 12) & (day == 12), m * 2.2, m)  # 12.12
        m = np.where((month == 5) & (day >= 25), m * 1.1, m)
        m = np.where((month == 6) & (day < 18), m * 1.35, m)  # 618 presale
        m = np.where((month == 6) & (day == 18), m * 4.5, m)  # 618
        m = np.where((month == 3) & (day == 8), m * 1.9, m)  # Women's Day
        festivals = np.array(SPRING_FESTIVALS, dtype="datetime64[D]")
        nearest = np.searchsorted(festivals, dates)
        next_festival = festivals[np.minimum(nearest, len(festivals) - 1)]
        prev_festival = festivals[np.maximum(nearest - 1, 0)]
        to_next = (next_festival - dates).astype(int)
        since_prev = (dates - prev_festival).astype(int)
        m = np.where((to_next > 10) & (to_next <= 30), m * 1.45, m)  # New-Year goods
        m = np.where((to_next > 0) & (to_next <= 10), m * 0.85, m)  # couriers stop
        m = np.where((since_prev >= 0) & (since_prev <= 7), m * 0.45, m)  # holiday
        m = np.where((since_prev > 7) & (since_prev <= 14), m * 0.8, m)
        return m

    def sample_orders(self, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
        """tau in [lo, hi) with density proportional to the daily order volume."""
        c_lo = np.interp(lo, self.grid, self.order_cum)
        c_hi = np.interp(hi, self.grid, self.order_cum)
        return np.interp(c_lo + u * (c_hi - c_lo), self.order_cum, self.grid)

    def sample_signups(self, u: np.ndarray) -> np.ndarray:
        """Signup tau over the whole history, growing with the shop."""
        return np.interp(u * self.signup_cum[-1], self.signup_cum, self.grid)

    def day_of(self, tau: np.ndarray) -> np.ndarray:
        """The day number (0-based, within the history) of each tau."""
        return np.clip(np.floor(tau).astype(np.int64), 0, self.days - 1)

    def seconds(self, tau: np.ndarray) -> np.ndarray:
        """Whole seconds since the first day's midnight for tau (NaN stays NaN)."""
        day = np.floor(tau)
        within = np.interp(tau - day, self.hour_cdf, self.hour_seconds)
        return np.floor(day * SECONDS_PER_DAY + np.minimum(within, SECONDS_PER_DAY - 1))

    @property
    def end_seconds(self) -> float:
        """Seconds from the start to the end of end_date (exclusive)."""
        return float(self.days * SECONDS_PER_DAY)

    def timestamps(self, seconds: np.ndarray) -> pd.Series:
        """Clock timestamps from seconds since the start; NaN becomes NaT."""
        missing = np.isnan(seconds)
        whole = np.where(missing, 0, seconds).astype(np.int64)
        values = self.start + whole.astype("timedelta64[s]")
        values[missing] = np.datetime64("NaT")
        return pd.Series(values, dtype="datetime64[us]")

    def tau_of_date(self, date: dt.date) -> float:
        """tau of the midnight that starts `date`."""
        return float((date - self.start_date).days)
