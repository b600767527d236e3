"""The Overview: headline KPIs for a period and the monthly trend charts' data.

Every figure is computed in the database (SQLAlchemy Core; the same statements run on
SQLite and PostgreSQL) and only aggregates come back: one row of sums for the KPIs, one
row per month or per cohort cell for the charts. The as-of date is always explicit.

Periods. A period of `period_days` days ending at `as_of` covers the calendar days
as_of - period_days + 1 ... as_of, both included (timestamps from the first day's 00:00 up
to, not including, the next day after as_of). The previous period is the same number of
days immediately before it.

KPI definitions (the `kpi` keys of `kpis()`; units in brackets). "Paid order" means an
order with status 'paid'; a 'refunded' row is money given back and never a purchase;
'unpaid' and 'cancelled' orders count nowhere except as evidence that a customer exists.

- customers [count]: customer records, not merged into another record, known at the
  period end: signed up (signup_at) or placed any order (any status) on or before the last
  day of the period. A record with neither a signup date nor any order is not counted.
- active_customers [count]: customers with at least one paid order in the 90 days ending
  at the period end (the last day of the period and the 89 days before it).
- orders [count]: paid orders dated in the period.
- net_revenue [money, shop currency]: amounts of paid orders dated in the period minus
  amounts of refunds recorded ('refunded' rows dated) in the period.
- average_order_value [money]: amount of paid orders in the period / number of paid
  orders in the period (before refunds); empty when the period has no paid order.
- repeat_purchase_rate [share 0-1]: of the customers with at least one paid order on or
  before the period end (all history), the share with two or more.
- new_customer_repurchase_30d [share 0-1]: new customers are those whose first-ever paid
  order falls on a day from (period start - 30 days) to (period end - 30 days), so the
  30 days after it lie before the period end and are fully observed. The share of them who
  placed another paid order on the day of their first paid order or within the 30
  calendar days after it. Empty when there is no such new customer.
- nps [points, -100 to 100]: Net Promoter Score of the survey responses in the period
  that carry an NPS answer (0-10), counting only each customer's last response in the
  period: % promoters (9-10) minus % detractors (0-6). Empty when there is no response.

Changes: `change` = current - previous (for shares this is in share points, e.g. 0.012 =
1.2 percentage points); `relative_change` = change / |previous|, empty when previous is
zero or empty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    distinct,
    exists,
    extract,
    func,
    literal_column,
    or_,
    select,
)

from crm_core import models
from crm_core.errors import InputError

ACTIVE_WINDOW_DAYS = 90
REPURCHASE_WINDOW_DAYS = 30
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6
MAX_PERIOD_DAYS = 3660
MAX_MONTHS = 240

KPI_UNITS: dict[str, str] = {
    "customers": "count",
    "active_customers": "count",
    "orders": "count",
    "net_revenue": "money",
    "average_order_value": "money",
    "repeat_purchase_rate": "share",
    "new_customer_repurchase_30d": "share",
    "nps": "points",
}
KPI_COLUMNS = ["kpi", "unit", "current", "previous", "change", "relative_change"]

PAID = "paid"
REFUNDED = "refunded"


@dataclass(frozen=True)
class Period:
    """Calendar days `first_day` ... `last_day`, both included."""

    first_day: dt.date
    last_day: dt.date

    @property
    def starts_at(self) -> dt.datetime:
        """The first instant of the period (00:00 of first_day)."""
        return dt.datetime.combine(self.first_day, dt.time())

    @property
    def ends_before(self) -> dt.datetime:
        """The first instant after the period (00:00 of the day after last_day)."""
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time())

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def periods(as_of: dt.date, period_days: int = 30) -> tuple[Period, Period]:
    """(current, previous): the `period_days` days ending at `as_of` and the same number
    of days right before them."""
    if not isinstance(period_days, int) or not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise InputError("overview.error.period_days", value=period_days, max=MAX_PERIOD_DAYS)
    length = dt.timedelta(days=period_days)
    current = Period(as_of - length + dt.timedelta(days=1), as_of)
    previous = Period(current.first_day - length, current.first_day - dt.timedelta(days=1))
    return current, previous


def _shift(period: Period, days: int) -> Period:
    delta = dt.timedelta(days=days)
    return Period(period.first_day + delta, period.last_day + delta)


def _as_date(as_of: dt.date | dt.datetime) -> dt.date:
    return as_of.date() if isinstance(as_of, dt.datetime) else as_of


def _number(value: object) -> float:
    """A database number (int, Decimal, float or None) as float; None becomes NaN."""
    return float("nan") if value is None else float(value)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else float("nan")


def _in(column: ColumnElement, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.starts_at, column < period.ends_before)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


def _sum_if(condition: ColumnElement[bool], value: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, value), else_=0))


# --- KPIs -------------------------------------------------------------------------------


def _order_flows(conn: Connection, current: Period, previous: Period) -> dict[str, dict]:
    """orders, paid amount, refunds and active customers of both periods in one pass over
    the orders dated in the widest window they need."""
    o = models.orders
    paid = o.c.status == PAID
    refund = o.c.status == REFUNDED
    columns = []
    for name, period in (("current", current), ("previous", previous)):
        active_window = Period(
            period.last_day - dt.timedelta(days=ACTIVE_WINDOW_DAYS - 1), period.last_day
        )
        columns += [
            _count_if(and_(paid, _in(o.c.ordered_at, period))).label(f"{name}_orders"),
            _sum_if(and_(paid, _in(o.c.ordered_at, period)), o.c.amount).label(f"{name}_paid"),
            _sum_if(and_(refund, _in(o.c.ordered_at, period)), o.c.amount).label(f"{name}_refunds"),
            func.count(
                distinct(case((and_(paid, _in(o.c.ordered_at, active_window)), o.c.customer_id)))
            ).label(f"{name}_active"),
        ]
    window_start = min(
        previous.starts_at,
        previous.ends_before - dt.timedelta(days=ACTIVE_WINDOW_DAYS),
    )
    row = (
        conn.execute(
            select(*columns).where(
                o.c.status.in_((PAID, REFUNDED)),
                o.c.ordered_at >= window_start,
                o.c.ordered_at < current.ends_before,
            )
        )
        .mappings()
        .one()
    )
    out = {}
    for name in ("current", "previous"):
        orders = _number(row[f"{name}_orders"] or 0)
        paid_amount = _number(row[f"{name}_paid"] or 0)
        out[name] = {
            "active_customers": _number(row[f"{name}_active"] or 0),
            "orders": orders,
            "net_revenue": paid_amount - _number(row[f"{name}_refunds"] or 0),
            "average_order_value": _share(paid_amount, orders),
        }
    return out


def _customer_base(conn: Connection, current: Period, previous: Period) -> dict[str, dict]:
    """customers known and repeat-purchase rate at both period ends, from one per-customer
    aggregate of the order history up to the current period end."""
    o = models.orders
    c = models.customers
    paid = o.c.status == PAID
    history = (
        select(
            o.c.customer_id,
            func.min(o.c.ordered_at).label("first_order_at"),
            _count_if(and_(paid, o.c.ordered_at < current.ends_before)).label("paid_current"),
            _count_if(and_(paid, o.c.ordered_at < previous.ends_before)).label("paid_previous"),
        )
        .where(o.c.ordered_at < current.ends_before)
        .group_by(o.c.customer_id)
        .subquery("history")
    )
    columns = []
    for name, period in (("current", current), ("previous", previous)):
        known = and_(
            c.c.merged_into.is_(None),
            or_(
                c.c.signup_at < period.ends_before,
                history.c.first_order_at < period.ends_before,
            ),
        )
        paid_count = history.c[f"paid_{name}"]
        columns += [
            _count_if(known).label(f"{name}_customers"),
            _count_if(paid_count >= 1).label(f"{name}_buyers"),
            _count_if(paid_count >= 2).label(f"{name}_repeaters"),
        ]
    row = (
        conn.execute(
            select(*columns).select_from(
                c.outerjoin(history, history.c.customer_id == c.c.customer_id)
            )
        )
        .mappings()
        .one()
    )
    return {
        name: {
            "customers": _number(row[f"{name}_customers"] or 0),
            "repeat_purchase_rate": _share(
                _number(row[f"{name}_repeaters"] or 0), _number(row[f"{name}_buyers"] or 0)
            ),
        }
        for name in ("current", "previous")
    }


def _day_seconds(column: ColumnElement) -> ColumnElement:
    """Seconds from 1970-01-01 to 00:00 of the column's calendar day (portable: SQLAlchemy
    compiles extract('epoch') for both dialects); differences are whole days * 86400."""
    return extract("epoch", func.date(column))


def _new_customer_repurchase(
    conn: Connection, current: Period, previous: Period
) -> dict[str, dict]:
    """30-day repurchase rate of the new customers of both periods (see module docstring)."""
    o = models.orders
    cohorts = {
        name: _shift(period, -REPURCHASE_WINDOW_DAYS)
        for name, period in (("current", current), ("previous", previous))
    }
    first_paid_at = func.min(o.c.ordered_at)
    first = (
        select(o.c.customer_id, first_paid_at.label("first_paid_at"))
        .where(o.c.status == PAID)
        .group_by(o.c.customer_id)
        .having(
            and_(
                first_paid_at >= cohorts["previous"].starts_at,
                first_paid_at < cohorts["current"].ends_before,
            )
        )
        .subquery("first")
    )
    within = _day_seconds(o.c.ordered_at) <= _day_seconds(first.c.first_paid_at) + literal_column(
        str(REPURCHASE_WINDOW_DAYS * 86400)
    )
    follow_up = (
        select(
            first.c.customer_id,
            func.min(first.c.first_paid_at).label("first_paid_at"),
            _count_if(within).label("paid_within"),
        )
        .select_from(first.join(o, o.c.customer_id == first.c.customer_id))
        .where(o.c.status == PAID, o.c.ordered_at < current.ends_before)
        .group_by(first.c.customer_id)
        .subquery("follow_up")
    )
    columns = []
    for name, cohort in cohorts.items():
        in_cohort = _in(follow_up.c.first_paid_at, cohort)
        columns += [
            _count_if(in_cohort).label(f"{name}_new"),
            _count_if(and_(in_cohort, follow_up.c.paid_within >= 2)).label(f"{name}_repurchased"),
        ]
    row = conn.execute(select(*columns)).mappings().one()
    return {
        name: {
            "new_customer_repurchase_30d": _share(
                _number(row[f"{name}_repurchased"] or 0), _number(row[f"{name}_new"] or 0)
            )
        }
        for name in cohorts
    }


def _nps(conn: Connection, period: Period) -> float:
    """NPS of each customer's last NPS answer in `period`; NaN without answers."""
    s = models.survey_responses
    ranked = (
        select(
            s.c.nps,
            func.row_number()
            .over(
                partition_by=s.c.customer_id,
                order_by=(s.c.responded_at.desc(), s.c.response_id.desc()),
            )
            .label("rank"),
        )
        .where(s.c.nps.is_not(None), _in(s.c.responded_at, period))
        .subquery("ranked")
    )
    row = conn.execute(
        select(
            func.count().label("respondents"),
            _count_if(ranked.c.nps >= NPS_PROMOTER_MIN).label("promoters"),
            _count_if(ranked.c.nps <= NPS_DETRACTOR_MAX).label("detractors"),
        ).where(ranked.c.rank == 1)
    ).one()
    respondents = _number(row.respondents or 0)
    if not respondents:
        return float("nan")
    return 100.0 * (_number(row.promoters or 0) - _number(row.detractors or 0)) / respondents


def kpis(engine: Engine, as_of: dt.date, period_days: int = 30) -> pd.DataFrame:
    """The headline KPIs of the period ending at `as_of` against the previous period.

    One row per KPI in KPI_UNITS order, columns: kpi (key), unit (count / money / share /
    points), current, previous (float; NaN when undefined, e.g. NPS without responses),
    change (current - previous) and relative_change (change / |previous|; NaN when
    previous is 0 or NaN). Definitions: see the module docstring.
    """
    current, previous = periods(_as_date(as_of), period_days)
    values: dict[str, dict[str, float]] = {"current": {}, "previous": {}}
    with engine.connect() as conn:
        for part in (
            _customer_base(conn, current, previous),
            _order_flows(conn, current, previous),
            _new_customer_repurchase(conn, current, previous),
        ):
            for name in values:
                values[name].update(part[name])
        values["current"]["nps"] = _nps(conn, current)
        values["previous"]["nps"] = _nps(conn, previous)
    frame = pd.DataFrame(
        {
            "kpi": list(KPI_UNITS),
            "unit": list(KPI_UNITS.values()),
            "current": [values["current"][k] for k in KPI_UNITS],
            "previous": [values["previous"][k] for k in KPI_UNITS],
        }
    )
    frame["change"] = frame["current"] - frame["previous"]
    previous_size = frame["previous"].abs().replace(0.0, np.nan)
    frame["relative_change"] = frame["change"] / previous_size
    return frame[KPI_COLUMNS]


def has_nps_responses(engine: Engine) -> bool:
    """Whether the store holds any survey response with an NPS answer."""
    s = models.survey_responses
    with engine.connect() as conn:
        return bool(conn.execute(select(exists().where(s.c.nps.is_not(None)))).scalar())


# --- months -----------------------------------------------------------------------------


def month_number(day: dt.date) -> int:
    """Months since year 0: year * 12 + month - 1 (consecutive months differ by 1)."""
    return day.year * 12 + day.month - 1


def month_start(number: int) -> dt.date:
    """The first day of the month `number` (see month_number)."""
    return dt.date(number // 12, number % 12 + 1, 1)


def _month_number_sql(column: ColumnElement) -> ColumnElement:
    """month_number of a timestamp column, in SQL (extract compiles on both dialects;
    constants are inlined so the expression can be grouped by on PostgreSQL)."""
    return (
        extract("year", column) * literal_column("12")
        + extract("month", column)
        - literal_column("1")
    )


def _month_window(as_of: dt.date, months: int) -> tuple[int, int, dt.datetime, dt.datetime]:
    """(first month number, last month number, first instant, end instant) of the
    `months` calendar months ending with the month of `as_of` (cut at the end of as_of)."""
    if not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise InputError("overview.error.months", value=months, max=MAX_MONTHS)
    last = month_number(as_of)
    first = last - months + 1
    starts_at = dt.datetime.combine(month_start(first), dt.time())
    ends_before = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    return first, last, starts_at, ends_before


def _month_starts(numbers: pd.Series | np.ndarray) -> pd.Series:
    """First days of the months `numbers` (see month_number) as datetime64[ns]."""
    numbers = np.asarray(numbers, dtype="int64")
    return pd.Series(
        pd.to_datetime({"year": numbers // 12, "month": numbers % 12 + 1, "day": 1}),
        dtype="datetime64[ns]",
    )


def _month_frame(first: int, last: int) -> pd.DataFrame:
    numbers = np.arange(first, last + 1)
    return pd.DataFrame({"month_number": numbers, "month": _month_starts(numbers)})


def monthly_revenue(engine: Engine, as_of: dt.date, months: int = 24) -> pd.DataFrame:
    """Revenue per calendar month for the `months` months ending with as_of's month.

    Columns: month (first day, datetime64), paid_revenue (amount of paid orders dated in
    the month), refunds (refund amounts recorded in the month), net_revenue (paid_revenue
    - refunds), paid_orders (count), is_partial (True for as_of's month when as_of is not
    its last day: only the days up to as_of are counted). Money in shop currency; months
    without orders are 0.
    """
    as_of = _as_date(as_of)
    first, last, starts_at, ends_before = _month_window(as_of, months)
    o = models.orders
    month = _month_number_sql(o.c.ordered_at).label("month_number")
    per_order = (
        select(month, o.c.status, o.c.amount)
        .where(
            o.c.status.in_((PAID, REFUNDED)),
            o.c.ordered_at >= starts_at,
            o.c.ordered_at < ends_before,
        )
        .subquery("per_order")
    )
    paid = per_order.c.status == PAID
    stmt = select(
        per_order.c.month_number,
        _sum_if(paid, per_order.c.amount).label("paid_revenue"),
        _sum_if(per_order.c.status == REFUNDED, per_order.c.amount).label("refunds"),
        _count_if(paid).label("paid_orders"),
    ).group_by(per_order.c.month_number)
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(stmt).mappings().all())
    frame = _month_frame(first, last)
    if not rows.empty:
        rows = rows.astype(
            {"month_number": "int64", "paid_revenue": "float64", "refunds": "float64"}
        )
        frame = frame.merge(rows, on="month_number", how="left")
    for name in ("paid_revenue", "refunds", "paid_orders"):
        if name not in frame:
            frame[name] = 0.0
    frame = frame.fillna({"paid_revenue": 0.0, "refunds": 0.0, "paid_orders": 0})
    frame["paid_orders"] = frame["paid_orders"].astype("int64")
    frame["net_revenue"] = frame["paid_revenue"] - frame["refunds"]
    next_day = as_of + dt.timedelta(days=1)
    frame["is_partial"] = (frame["month_number"] == last) & (next_day.day != 1)
    return frame[["month", "paid_revenue", "refunds", "net_revenue", "paid_orders", "is_partial"]]


def _first_paid_months(starts_at: dt.datetime, ends_before: dt.datetime):
    """Subquery (customer_id, first_paid_at): customers whose first-ever paid order is in
    [starts_at, ends_before)."""
    o = models.orders
    first_paid_at = func.min(o.c.ordered_at)
    return (
        select(o.c.customer_id, first_paid_at.label("first_paid_at"))
        .where(o.c.status == PAID, o.c.ordered_at < ends_before)
        .group_by(o.c.customer_id)
        .having(first_paid_at >= starts_at)
        .subquery("first_paid")
    )


def new_vs_returning_by_month(engine: Engine, as_of: dt.date, months: int = 24) -> pd.DataFrame:
    """Buying customers per month, split into new and returning.

    Columns: month (first day, datetime64), active_customers (customers with a paid order
    in the month), new_customers (those whose first-ever paid order is in that month),
    returning_customers (active_customers - new_customers: they had bought in an earlier
    month). The month of as_of counts only the days up to as_of.
    """
    as_of = _as_date(as_of)
    first, last, starts_at, ends_before = _month_window(as_of, months)
    o = models.orders
    per_order = (
        select(_month_number_sql(o.c.ordered_at).label("month_number"), o.c.customer_id)
        .where(o.c.status == PAID, o.c.ordered_at >= starts_at, o.c.ordered_at < ends_before)
        .subquery("per_order")
    )
    active_stmt = select(
        per_order.c.month_number,
        func.count(distinct(per_order.c.customer_id)).label("active_customers"),
    ).group_by(per_order.c.month_number)
    first_paid = _first_paid_months(starts_at, ends_before)
    per_customer = select(
        _month_number_sql(first_paid.c.first_paid_at).label("month_number")
    ).subquery("per_customer")
    new_stmt = select(per_customer.c.month_number, func.count().label("new_customers")).group_by(
        per_customer.c.month_number
    )
    with engine.connect() as conn:
        active = pd.DataFrame(conn.execute(active_stmt).mappings().all())
        new = pd.DataFrame(conn.execute(new_stmt).mappings().all())
    frame = _month_frame(first, last)
    for part, name in ((active, "active_customers"), (new, "new_customers")):
        if part.empty:
            frame[name] = 0
            continue
        part = part.astype({"month_number": "int64", name: "int64"})
        frame = frame.merge(part, on="month_number", how="left")
        frame[name] = frame[name].fillna(0).astype("int64")
    frame["returning_customers"] = frame["active_customers"] - frame["new_customers"]
    return frame[["month", "active_customers", "new_customers", "returning_customers"]]


def cohort_retention(engine: Engine, as_of: dt.date, months: int = 12) -> pd.DataFrame:
    """Monthly cohorts of the last `months` months and their repeat buying.

    A cohort is the customers whose first-ever paid order falls in a calendar month
    (cohort_month); months_since 0 is that month itself. One row per cohort and months
    since that is observable by as_of (the as_of month counts only up to as_of), columns:
    cohort_month (datetime64), months_since (int), cohort_size (customers in the cohort),
    active_customers (cohort members with a paid order in month cohort_month +
    months_since), retention (active_customers / cohort_size, share 0-1; 1.0 at 0).
    """
    as_of = _as_date(as_of)
    first, last, starts_at, ends_before = _month_window(as_of, months)
    o = models.orders
    first_paid = _first_paid_months(starts_at, ends_before)
    cells = (
        select(
            _month_number_sql(first_paid.c.first_paid_at).label("cohort_number"),
            _month_number_sql(o.c.ordered_at).label("month_number"),
            o.c.customer_id,
        )
        .select_from(first_paid.join(o, o.c.customer_id == first_paid.c.customer_id))
        .where(o.c.status == PAID, o.c.ordered_at < ends_before)
        .subquery("cells")
    )
    stmt = select(
        cells.c.cohort_number,
        cells.c.month_number,
        func.count(distinct(cells.c.customer_id)).label("active_customers"),
    ).group_by(cells.c.cohort_number, cells.c.month_number)
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(stmt).mappings().all())
    grid = pd.MultiIndex.from_tuples(
        [(c, m) for c in range(first, last + 1) for m in range(c, last + 1)],
        names=["cohort_number", "month_number"],
    )
    frame = pd.DataFrame(index=grid).reset_index()
    if rows.empty:
        frame["active_customers"] = 0
    else:
        rows = rows.astype("int64")
        frame = frame.merge(rows, on=["cohort_number", "month_number"], how="left")
        frame["active_customers"] = frame["active_customers"].fillna(0).astype("int64")
    sizes = frame.loc[frame["cohort_number"] == frame["month_number"]].set_index("cohort_number")[
        "active_customers"
    ]
    frame["cohort_size"] = frame["cohort_number"].map(sizes).astype("int64")
    frame = frame.loc[frame["cohort_size"] > 0].reset_index(drop=True)
    frame["months_since"] = frame["month_number"] - frame["cohort_number"]
    frame["retention"] = frame["active_customers"] / frame["cohort_size"]
    frame["cohort_month"] = _month_starts(frame["cohort_number"]).to_numpy()
    return frame[["cohort_month", "months_since", "cohort_size", "active_customers", "retention"]]
