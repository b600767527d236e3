"""Customer lifetime value: the BG/NBD model of repeat purchases (Fader, Hardie & Lee
2005, "Counting your customers the easy way") and the Gamma-Gamma model of spend per
purchase (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"), fitted by
maximum likelihood in log space with NumPy/SciPy, vectorised over customers.

Times are in weeks. A customer's purchases are counted by distinct purchase day (several
orders on one day are one purchase, their amounts summed):

- frequency (x): repeat purchase days in the calibration period (purchase days - 1);
- recency_weeks (t_x): weeks from the first to the last purchase day;
- age_weeks (T): weeks from the first purchase day to the calibration end;
- monetary_value: the mean amount of the repeat purchase days (NaN without repeats),
  in shop currency.

The models follow scikit-learn's conventions: settings in __init__, `fit` returns self,
learned values end in an underscore.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from numpy.typing import ArrayLike
from scipy import optimize, special
from sqlalchemy import Engine, select

from crm_core import asof
from crm_core.errors import InputError
from crm_core.store import models, raw_value, read_frame

DAYS_PER_WEEK = 7.0
MIN_BUYERS = 500
MIN_HISTORY_DAYS = 180
SUMMARY_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "frequency",
    "recency_weeks",
    "age_weeks",
    "monetary_value",
)


def customer_time_order(codes: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Positions that sort rows by customer code, then time (integer ticks: days or
    seconds), then their original order: one integer key and a stable sort, far faster
    than a lexsort of the columns."""
    codes = np.asarray(codes, dtype=np.int64)
    if not len(codes):
        return np.zeros(0, dtype=np.intp)
    ticks = np.asarray(ticks, dtype=np.int64) - int(ticks.min())
    return np.argsort(codes * (int(ticks.max()) + 1) + ticks, kind="stable")


def run_edges(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) positions of each run of equal values in a sorted array."""
    if not len(codes):
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    change = codes[1:] != codes[:-1]
    return np.flatnonzero(np.r_[True, change]), np.flatnonzero(np.r_[change, True])


def purchase_summary(
    purchases: pd.DataFrame, calibration_end: dt.date, *, check: bool = False
) -> pd.DataFrame:
    """Per customer with a purchase on or before `calibration_end`: SUMMARY_COLUMNS (see
    the module docstring). `purchases` has customer_id, ordered_at (a time or a day) and
    amount; rows without a time are left out, a missing amount counts as 0. With
    `check`, InputError when the data cannot support a fit (fewer than MIN_BUYERS
    customers or under MIN_HISTORY_DAYS days from the first purchase to the calibration
    end)."""
    moments = pd.to_datetime(purchases["ordered_at"]).to_numpy(dtype="datetime64[D]")
    end_day = np.datetime64(calibration_end, "D").astype(np.int64)
    inside = ~np.isnat(moments) & (moments <= np.datetime64(calibration_end, "D"))
    day = moments.astype(np.int64)[inside]
    customer_ids = purchases["customer_id"].astype(str)  # Arrow-backed text factorises fast
    codes, ids = pd.factorize(customer_ids[inside], sort=True)
    amount = np.nan_to_num(pd.to_numeric(purchases["amount"]).to_numpy(dtype=np.float64)[inside])
    if check:
        history = int(end_day - day.min()) if len(day) else 0
        if len(ids) < MIN_BUYERS or history < MIN_HISTORY_DAYS:
            raise InputError(
                "predict.error.too_little", buyers=len(ids), days=history,
                least_buyers=MIN_BUYERS, least_days=MIN_HISTORY_DAYS,
            )  # fmt: skip
    if not len(day):
        return pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype=str),
                "frequency": pd.Series([], dtype=np.int64),
                **{name: pd.Series([], dtype=float) for name in SUMMARY_COLUMNS[2:]},
            }
        )
    # one row per customer and purchase day, in customer then day order
    order = customer_time_order(codes, day)
    codes, day, amount = codes[order], day[order], amount[order]
    starts = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])])
    day_code, day_of, day_amount = codes[starts], day[starts], np.add.reduceat(amount, starts)
    # then one row per customer
    firsts, lasts = run_edges(day_code)
    frequency = (lasts - firsts).astype(np.int64)  # purchase days - 1
    repeat_total = np.add.reduceat(day_amount, firsts) - day_amount[firsts]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_total / frequency, np.nan)
    first_day, last_day = day_of[firsts], day_of[lasts]
    return pd.DataFrame(
        {
            "customer_id": np.asarray(ids, dtype=object)[day_code[firsts]].astype(str),
            "frequency": frequency,
            "recency_weeks": (last_day - first_day) / DAYS_PER_WEEK,
            "age_weeks": (end_day - first_day) / DAYS_PER_WEEK,
            "monetary_value": monetary,
        }
    )


def paid_orders_statement(until: dt.date) -> sa.Select:
    """customer_id, ordered_at, amount of the paid orders up to the end of `until`."""
    od = models.orders
    return select(
        od.c.customer_id, raw_value(od.c.ordered_at).label("ordered_at"), od.c.amount
    ).where(od.c.status == "paid", od.c.ordered_at < asof.end_of(until))


def paid_purchases(engine: Engine, until: dt.date) -> pd.DataFrame:
    """Paid orders up to the end of `until`: customer_id, ordered_at, amount (shop
    currency; refunds are not subtracted): what `purchase_summary` reads."""
    with engine.connect() as conn:
        return read_frame(
            conn, paid_orders_statement(until), times=("ordered_at",), numbers=("amount",)
        )


def _distinct_rows(*columns: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the distinct rows of the columns, each row's position among them, how many rows
    share each): one integer key per row from each column's codes, then a 1-D unique
    (np.unique over rows of floats sorts far slower)."""
    arrays = [np.asarray(c, dtype=np.float64) for c in columns]
    key = np.zeros(len(arrays[0]), dtype=np.int64)
    for values in arrays:
        codes, uniques = pd.factorize(values)
        key = key * (len(uniques) + 1) + codes
    _, first, inverse, counts = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    rows = np.column_stack([values[first] for values in arrays])
    return rows, inverse.reshape(-1), counts.astype(np.float64)


def _compressed(*columns: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows of the columns, how many customers share each): the likelihood is a
    sum over customers, and many share their (x, t_x, T)."""
    rows, _, counts = _distinct_rows(*columns)
    return rows, counts


def _fit(
    negative: Callable[[np.ndarray], tuple[float, np.ndarray]], start: np.ndarray, name: str
) -> np.ndarray:
    """Log-parameters minimising `negative` (which returns the value and its gradient):
    L-BFGS-B, polished by Nelder-Mead when it stops short; InputError when neither
    converges."""
    first = optimize.minimize(negative, start, jac=True, method="L-BFGS-B",
                              options={"maxiter": 1000})  # fmt: skip
    best = first
    if not first.success:
        polish = {"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-10}
        second = optimize.minimize(
            lambda theta: negative(theta)[0], first.x, method="Nelder-Mead", options=polish
        )
        best = min((first, second), key=lambda result: result.fun)
        if not second.success:
            raise InputError("predict.error.no_convergence", model=name)
    if not np.all(np.isfinite(best.x)) or not np.isfinite(best.fun):
        raise InputError("predict.error.no_convergence", model=name)
    return best.x


@dataclass
class BetaGeoModel:
    """BG/NBD: purchases while alive follow a Poisson process with rate ~ Gamma(r, alpha);
    after each purchase the customer drops out with probability p ~ Beta(a, b)."""

    r_: float = np.nan
    alpha_: float = np.nan
    a_: float = np.nan
    b_: float = np.nan
    log_likelihood_: float = np.nan

    @staticmethod
    def log_likelihood(
        params: ArrayLike, x: ArrayLike, t_x: ArrayLike, age: ArrayLike
    ) -> np.ndarray:
        """Each customer's log-likelihood under (r, alpha, a, b) (FHL 2005, eq. 7)."""
        r, alpha, a, b = (float(v) for v in params)
        x, t_x, age = (np.asarray(v, dtype=np.float64) for v in (x, t_x, age))
        common = (
            special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
            + special.gammaln(a + b) + special.gammaln(b + x)
            - special.gammaln(b) - special.gammaln(a + b + x)
        )  # fmt: skip
        alive = -(r + x) * np.log(alpha + age)
        with np.errstate(divide="ignore", invalid="ignore"):
            dropped = (
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x)
            )
        return common + np.where(x > 0, np.logaddexp(alive, dropped), alive)

    @staticmethod
    def _log_likelihood_and_gradient(
        params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """The weighted sum of log-likelihoods and its gradient in (r, alpha, a, b)."""
        r, alpha, a, b = (float(v) for v in params)
        repeat = x > 0
        alive = -(r + x) * np.log(alpha + age)
        with np.errstate(divide="ignore", invalid="ignore"):
            dropped = (
                np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x)
            )
        mixed = np.where(repeat, np.logaddexp(alive, dropped), alive)
        share = np.where(repeat, np.exp(dropped - mixed), 0.0)  # weight of the dropped term
        values = (
            special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
            + special.gammaln(a + b) + special.gammaln(b + x)
            - special.gammaln(b) - special.gammaln(a + b + x) + mixed
        )  # fmt: skip
        d_r = (
            special.digamma(r + x) - special.digamma(r) + np.log(alpha)
            - (1 - share) * np.log(alpha + age) - share * np.log(alpha + t_x)
        )  # fmt: skip
        d_alpha = (
            r / alpha - (1 - share) * (r + x) / (alpha + age) - share * (r + x) / (alpha + t_x)
        )
        d_a = special.digamma(a + b) - special.digamma(a + b + x) + share / a
        d_b = (
            special.digamma(a + b) + special.digamma(b + x) - special.digamma(b)
            - special.digamma(a + b + x) - share / np.where(repeat, b + x - 1, 1.0)
        )  # fmt: skip
        gradient = np.array([np.dot(weights, d) for d in (d_r, d_alpha, d_a, d_b)])
        return float(np.dot(weights, values)), gradient

    def fit(self, summary: pd.DataFrame) -> BetaGeoModel:
        """Fit to a `purchase_summary` frame by maximum likelihood."""
        rows, weights = _compressed(
            summary["frequency"], summary["recency_weeks"], summary["age_weeks"]
        )
        x, t_x, age = rows.T

        def negative(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            value, gradient = self._log_likelihood_and_gradient(params, x, t_x, age, weights)
            if not np.isfinite(value):
                return 1e300, np.zeros(4)
            return -value, -gradient * params  # d/d(log p) = p d/dp

        log_params = _fit(
            negative, np.log([1.0, max(float(np.mean(age)), 1.0), 1.0, 1.0]), "BG/NBD"
        )
        self.r_, self.alpha_, self.a_, self.b_ = (float(v) for v in np.exp(log_params))
        self.log_likelihood_ = -negative(log_params)[0]
        return self

    @property
    def params_(self) -> tuple[float, float, float, float]:
        return self.r_, self.alpha_, self.a_, self.b_

    def probability_alive(self, x: ArrayLike, t_x: ArrayLike, age: ArrayLike) -> np.ndarray:
        """P(still a customer at the end of the calibration period) (FHL 2005, eq. 11)."""
        r, alpha, a, b = self.params_
        x, t_x, age = (np.asarray(v, dtype=np.float64) for v in (x, t_x, age))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (
                np.log(a)
                - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * np.log((alpha + age) / (alpha + t_x))
            )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)

    def expected_purchases(
        self, weeks: ArrayLike, x: ArrayLike, t_x: ArrayLike, age: ArrayLike
    ) -> np.ndarray:
        """Expected purchases in the next `weeks` weeks (one horizon, or one per
        customer) given (x, t_x, T) (FHL 2005, eq. 10)."""
        r, alpha, a, b = self.params_
        x, t_x, age = (np.asarray(v, dtype=np.float64) for v in (x, t_x, age))
        t = np.asarray(weeks, dtype=np.float64)
        hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + age + t))
        head = (a + b + x - 1) / (a - 1)
        body = 1.0 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyper
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.where(
                x > 0,
                a / np.maximum(b + x - 1, 1e-300) * ((alpha + age) / (alpha + t_x)) ** (r + x),
                0.0,
            )
        return head * body / (1.0 + tail)

    def probability_no_purchase(
        self, weeks: ArrayLike, x: ArrayLike, t_x: ArrayLike, age: ArrayLike
    ) -> np.ndarray:
        """P(no purchase in the next `weeks` weeks) given (x, t_x, T): dropped out, or
        alive with no purchase, ((alpha + T) / (alpha + T + t))^(r + x), since a customer
        alive at T has the purchase rate Gamma(r + x, alpha + T) and drops out only right
        after a purchase."""
        r, alpha, _, _ = self.params_
        x, age = np.asarray(x, dtype=np.float64), np.asarray(age, dtype=np.float64)
        alive = self.probability_alive(x, t_x, age)
        quiet = ((alpha + age) / (alpha + age + np.asarray(weeks, dtype=np.float64))) ** (r + x)
        return 1.0 - alive + alive * quiet

    def expected_purchases_new(self, weeks: ArrayLike) -> np.ndarray:
        """Expected purchases of a new customer in `weeks` weeks from the first purchase
        (FHL 2005, eq. 9): the tracking chart's cumulative curve."""
        r, alpha, a, b = self.params_
        t = np.asarray(weeks, dtype=np.float64)
        hyper = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyper)


@dataclass
class GammaGammaModel:
    """Gamma-Gamma: a customer's purchase amounts are Gamma(p, nu) with nu ~ Gamma(q,
    gamma) across customers; fitted on repeat buyers' mean repeat amount."""

    p_: float = np.nan
    q_: float = np.nan
    gamma_: float = np.nan
    log_likelihood_: float = np.nan

    @staticmethod
    def log_likelihood(params: ArrayLike, x: ArrayLike, mean_value: ArrayLike) -> np.ndarray:
        """Each repeat buyer's log-likelihood of the mean amount `mean_value` of `x`
        purchases (Fader & Hardie 2013, eq. 3)."""
        p, q, gamma = (float(v) for v in params)
        x, m = (np.asarray(v, dtype=np.float64) for v in (x, mean_value))
        return (
            special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q)
            + q * np.log(gamma) + p * x * np.log(x) + (p * x - 1) * np.log(m)
            - (p * x + q) * np.log(gamma + m * x)
        )  # fmt: skip

    def fit(self, summary: pd.DataFrame) -> GammaGammaModel:
        """Fit on the repeat buyers with a positive mean repeat amount of a
        `purchase_summary` frame."""
        chosen = (summary["frequency"] > 0) & (summary["monetary_value"] > 0)
        rows, weights = _compressed(
            summary.loc[chosen, "frequency"], summary.loc[chosen, "monetary_value"]
        )
        x, m = rows.T

        def negative(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            p, q, gamma = params = np.exp(log_params)
            value = np.dot(weights, self.log_likelihood(params, x, m))
            if not np.isfinite(value):
                return 1e300, np.zeros(3)
            common = special.digamma(p * x + q) - np.log(gamma + m * x)
            d_p = x * (common - special.digamma(p * x) + np.log(x) + np.log(m))
            d_q = common - special.digamma(q) + np.log(gamma)
            d_gamma = q / gamma - (p * x + q) / (gamma + m * x)
            gradient = np.array([np.dot(weights, d) for d in (d_p, d_q, d_gamma)])
            return -float(value), -gradient * params

        log_params = _fit(negative, np.log([1.0, 1.0, max(float(np.mean(m)), 1.0)]), "Gamma-Gamma")
        self.p_, self.q_, self.gamma_ = (float(v) for v in np.exp(log_params))
        self.log_likelihood_ = -negative(log_params)[0]
        return self

    def expected_average_value(self, x: ArrayLike, mean_value: ArrayLike) -> np.ndarray:
        """E[amount per purchase | x purchases with mean m] (Fader & Hardie 2013, eq. 5);
        the population mean p * gamma / (q - 1) for customers without repeats."""
        p, q, gamma = self.p_, self.q_, self.gamma_
        x = np.asarray(x, dtype=np.float64)
        m = np.nan_to_num(np.asarray(mean_value, dtype=np.float64))
        return np.where(x > 0, (gamma + m * x) * p / (p * x + q - 1), p * gamma / (q - 1))


WEEKS_PER_MONTH = 52.0 / 12.0
PREDICTION_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "probability_alive",
    "purchases_30d",
    "purchases_90d",
    "purchases_365d",
    "next_order_date",
    "expected_order_value",
    "clv_12m",
)
NEXT_ORDER_LIMIT_WEEKS = 104.0
"""The expected date of the next order is left empty when it lies further out."""
BISECTION_STEPS = 16
"""Halvings of the two-year span: a precision of 104 / 2**16 weeks (about 0.01 day)."""


def weeks_to_one_purchase(
    model: BetaGeoModel, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Weeks until a customer's expected purchases reach one, found by bisection for all
    customers at once; NaN when that takes more than NEXT_ORDER_LIMIT_WEEKS."""
    limit = np.full(len(x), NEXT_ORDER_LIMIT_WEEKS)
    reached = model.expected_purchases(limit, x, t_x, age) >= 1.0
    x, t_x, age = x[reached], t_x[reached], age[reached]  # only those ever get there
    low, high = np.zeros(len(x)), np.full(len(x), NEXT_ORDER_LIMIT_WEEKS)
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2.0
        above = model.expected_purchases(middle, x, t_x, age) >= 1.0
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    weeks = np.full(len(reached), np.nan)
    weeks[reached] = high
    return weeks


def customer_predictions(
    summary: pd.DataFrame,
    beta_geo: BetaGeoModel,
    gamma_gamma: GammaGammaModel,
    *,
    calibration_end: dt.date,
    margin: float,
    monthly_discount: float,
) -> pd.DataFrame:
    """Per customer of a `purchase_summary` frame: PREDICTION_COLUMNS.

    probability_alive (0-1); purchases_30d/90d/365d: expected purchase days in the next
    30, 90 and 365 days; next_order_date: the day the expected purchases reach one (empty
    beyond two years); expected_order_value: Gamma-Gamma's expected amount per purchase
    (shop currency); clv_12m: expected margin of the next 12 months, each month's
    expected purchases x expected_order_value x `margin`, discounted by
    (1 + `monthly_discount`) per month (shop currency)."""
    x = summary["frequency"].to_numpy(dtype=np.float64)
    t_x = summary["recency_weeks"].to_numpy(dtype=np.float64)
    age = summary["age_weeks"].to_numpy(dtype=np.float64)
    rows, inverse, _ = _distinct_rows(x, t_x, age)
    ux, ut, ua = rows.T
    value = gamma_gamma.expected_average_value(x, summary["monetary_value"].to_numpy())
    months = np.arange(0, 13)
    cumulative = np.stack(
        [beta_geo.expected_purchases(m * WEEKS_PER_MONTH, ux, ut, ua) for m in months]
    )
    per_month = np.diff(cumulative, axis=0)[:, inverse]
    discount = (1.0 + monthly_discount) ** -months[1:]
    clv = (per_month * discount[:, None]).sum(axis=0) * value * margin
    weeks = weeks_to_one_purchase(beta_geo, ux, ut, ua)[inverse]
    start = pd.Timestamp(calibration_end)
    next_order = start + pd.to_timedelta(np.ceil(weeks * DAYS_PER_WEEK), unit="D")
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "probability_alive": beta_geo.probability_alive(ux, ut, ua)[inverse],
            "purchases_30d": beta_geo.expected_purchases(30 / DAYS_PER_WEEK, ux, ut, ua)[inverse],
            "purchases_90d": beta_geo.expected_purchases(90 / DAYS_PER_WEEK, ux, ut, ua)[inverse],
            "purchases_365d": beta_geo.expected_purchases(365 / DAYS_PER_WEEK, ux, ut, ua)[inverse],
            "next_order_date": pd.DatetimeIndex(next_order).date,
            "expected_order_value": value,
            "clv_12m": clv,
        }
    )


def holdout_tracking(
    purchases: pd.DataFrame,
    model: BetaGeoModel,
    calibration_end: dt.date,
    holdout_end: dt.date,
) -> pd.DataFrame:
    """Repeat purchases per week after the calibration end, actual against predicted (the
    tracking chart of Fader, Hardie & Lee): week (1 = the 7 days after calibration_end),
    week_start, actual (repeat purchase days of the customers whose first purchase falls
    in the calibration period), predicted (the model's expected repeat purchases of the
    same customers in that week), cumulative_actual, cumulative_predicted."""
    days = _purchase_days(purchases)
    end = pd.Timestamp(calibration_end)
    first = days.groupby("customer_id")["day"].transform("min")
    cohort = days[first <= end]
    firsts = cohort.groupby("customer_id")["day"].min()
    weeks = int((pd.Timestamp(holdout_end) - end).days // DAYS_PER_WEEK)
    later = cohort[(cohort["day"] > end) & (cohort["day"] <= end + pd.Timedelta(weeks=weeks))]
    week = ((later["day"] - end).dt.days - 1) // 7 + 1
    actual = np.bincount(week.to_numpy(dtype=np.int64), minlength=weeks + 1)[1 : weeks + 1]
    age = ((end - firsts).dt.days / DAYS_PER_WEEK).to_numpy()
    ages, counts = np.unique(age, return_counts=True)
    edges = np.arange(weeks + 1, dtype=np.float64)
    totals = np.array([np.dot(counts, model.expected_purchases_new(ages + w)) for w in edges])
    predicted = np.diff(totals)
    return pd.DataFrame(
        {
            "week": np.arange(1, weeks + 1),
            "week_start": (end + pd.to_timedelta(edges[:-1] * 7 + 1, unit="D")).date,
            "actual": actual,
            "predicted": predicted,
            "cumulative_actual": np.cumsum(actual),
            "cumulative_predicted": np.cumsum(predicted),
        }
    )


def conditional_expectations(
    purchases: pd.DataFrame,
    model: BetaGeoModel,
    calibration_end: dt.date,
    holdout_end: dt.date,
    most: int = 7,
) -> pd.DataFrame:
    """Mean holdout purchases by number of calibration repeat purchases, actual against
    predicted (the conditional-expectation chart): frequency (0..`most`, the last
    meaning `most` or more), customers, actual, predicted."""
    summary = purchase_summary(purchases, calibration_end)
    days = _purchase_days(purchases)
    end, stop = pd.Timestamp(calibration_end), pd.Timestamp(holdout_end)
    inside = days[(days["day"] > end) & (days["day"] <= stop)]
    holdout = inside.groupby("customer_id").size()
    weeks = (stop - end).days / DAYS_PER_WEEK
    actual = holdout.reindex(summary["customer_id"]).fillna(0).to_numpy()
    predicted = model.expected_purchases(
        weeks, summary["frequency"], summary["recency_weeks"], summary["age_weeks"]
    )
    group = np.minimum(summary["frequency"].to_numpy(), most)
    table = (
        pd.DataFrame({"frequency": group, "actual": actual, "predicted": predicted})
        .groupby("frequency")
        .agg(
            customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
        )
        .reset_index()
    )
    return table


def _purchase_days(purchases: pd.DataFrame) -> pd.DataFrame:
    """customer_id, day: one row per customer and purchase day."""
    return pd.DataFrame(
        {
            "customer_id": purchases["customer_id"].astype(str).to_numpy(),
            "day": pd.to_datetime(purchases["ordered_at"]).dt.normalize().to_numpy(),
        }
    ).drop_duplicates()
