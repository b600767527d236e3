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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    and_,
    case,
    exists,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)

from crm_core import asof
from crm_core.errors import InputError
from crm_core.store import float_value, models, snapshot_read, without_jit
from crm_core.store.frames import stored_frame

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
        return asof.day_start(self.first_day)

    @property
    def ends_before(self) -> dt.datetime:
        """The first instant after the period (00:00 of the day after last_day)."""
        return asof.end_of(self.last_day)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def periods(as_of: dt.date, period_days: int = 30) -> tuple[Period, Period]:
    """(current, previous): the `period_days` days ending at `as_of` and the same number
    of days right before them."""
    if not isinstance(period_days, int) or not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise InputError("overview.error.period_days", value=period_days, max=MAX_PERIOD_DAYS)
    length = dt.timedelta(days=period_days)
    as_of = asof.clamp(as_of)
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
    """Paid orders, their amount and refunds of both periods, from the orders dated in
    the two periods only (a range of the time-ordered covering index)."""
    o = models.orders
    paid = o.c.status == PAID
    refund = o.c.status == REFUNDED
    amount = float_value(o.c.amount)
    columns = []
    for name, period in (("current", current), ("previous", previous)):
        in_period = _in(o.c.ordered_at, period)
        columns += [
            _count_if(and_(paid, in_period)).label(f"{name}_orders"),
            _sum_if(and_(paid, in_period), amount).label(f"{name}_paid"),
            _sum_if(and_(refund, in_period), amount).label(f"{name}_refunds"),
        ]
    row = (
        conn.execute(
            select(*columns).where(
                o.c.ordered_at >= previous.starts_at,
                o.c.ordered_at < current.ends_before,
                o.c.status.in_((PAID, REFUNDED)),
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
            "orders": orders,
            "net_revenue": paid_amount - _number(row[f"{name}_refunds"] or 0),
            "average_order_value": _share(paid_amount, orders),
        }
    return out


def _day_seconds(column: ColumnElement) -> ColumnElement:
    """Seconds from 1970-01-01 to 00:00 of the column's calendar day (portable: SQLAlchemy
    compiles extract('epoch') for both dialects); differences are whole days * 86400."""
    return extract("epoch", func.date(column))


def _customer_history(conn: Connection, current: Period, previous: Period) -> dict[str, dict]:
    """customers, active customers, repeat-purchase rate and the new customers' 30-day
    repurchase rate of both periods in one statement: a single per-customer pass over the
    order history up to the current period end (the `history` CTE, shared by every KPI
    here), then for the new customers only their second paid order (one index probe
    each)."""
    o = models.orders
    c = models.customers
    paid = o.c.status == PAID
    before_previous_end = and_(paid, o.c.ordered_at < previous.ends_before)
    # The WHERE below keeps only orders before the current period end.
    history_columns = [
        o.c.customer_id,
        func.min(o.c.ordered_at).label("first_order_at"),
        func.min(case((paid, o.c.ordered_at))).label("first_paid_at"),
        _count_if(paid).label("paid_current"),
        _count_if(before_previous_end).label("paid_previous"),
        func.max(case((paid, o.c.ordered_at))).label("last_paid_current"),
        func.max(case((before_previous_end, o.c.ordered_at))).label("last_paid_previous"),
    ]
    cohorts = {
        name: _shift(period, -REPURCHASE_WINDOW_DAYS)
        for name, period in (("current", current), ("previous", previous))
    }
    history = (
        select(*history_columns)
        .where(o.c.ordered_at < current.ends_before)
        .group_by(o.c.customer_id)
        .cte("history")
    )

    base_columns = []
    for name, period in (("current", current), ("previous", previous)):
        # known as the RFM explorer counts them (customer_features): not merged, and not
        # signed up after the period unless they bought in it
        known = and_(
            c.c.merged_into.is_(None),
            or_(
                c.c.signup_at.is_(None),
                c.c.signup_at < period.ends_before,
                history.c.first_paid_at < period.ends_before,
            ),
        )
        active_since = asof.window_start(period.last_day, ACTIVE_WINDOW_DAYS)
        base_columns += [
            _count_if(known).label(f"{name}_customers"),
            _count_if(history.c[f"last_paid_{name}"] >= active_since).label(f"{name}_active"),
            _count_if(history.c[f"paid_{name}"] >= 1).label(f"{name}_buyers"),
            _count_if(history.c[f"paid_{name}"] >= 2).label(f"{name}_repeaters"),
        ]
    base = (
        select(*base_columns)
        .select_from(c.outerjoin(history, history.c.customer_id == c.c.customer_id))
        .subquery("base")
    )

    later = models.orders.alias("later")
    second_paid_at = (
        select(later.c.ordered_at)
        .where(
            later.c.customer_id == history.c.customer_id,
            later.c.status == PAID,
            later.c.ordered_at < current.ends_before,
        )
        .order_by(later.c.ordered_at)
        .limit(1)
        .offset(1)
        .scalar_subquery()
    )
    new = (
        select(
            history.c.first_paid_at,
            (
                _day_seconds(second_paid_at) - _day_seconds(history.c.first_paid_at)
                <= literal_column(str(REPURCHASE_WINDOW_DAYS * 86400))
            ).label("repurchased"),
        )
        .where(
            history.c.first_paid_at >= cohorts["previous"].starts_at,
            history.c.first_paid_at < cohorts["current"].ends_before,
        )
        .subquery("new")
    )
    repurchase_columns = []
    for name, cohort in cohorts.items():
        in_cohort = _in(new.c.first_paid_at, cohort)
        repurchase_columns += [
            _count_if(in_cohort).label(f"{name}_new"),
            _count_if(and_(in_cohort, new.c.repurchased)).label(f"{name}_repurchased"),
        ]
    repurchase = select(*repurchase_columns).subquery("repurchase")

    both = select(base, repurchase).select_from(base.join(repurchase, true()))
    row = conn.execute(both).mappings().one()
    return {
        name: {
            "customers": _number(row[f"{name}_customers"] or 0),
            "active_customers": _number(row[f"{name}_active"] or 0),
            "repeat_purchase_rate": _share(
                _number(row[f"{name}_repeaters"] or 0), _number(row[f"{name}_buyers"] or 0)
            ),
            "new_customer_repurchase_30d": _share(
                _number(row[f"{name}_repurchased"] or 0), _number(row[f"{name}_new"] or 0)
            ),
        }
        for name in ("current", "previous")
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
    tables = (models.customers, models.orders, models.survey_responses)  # the KPIs read
    with snapshot_read(engine, tables) as conn:  # every KPI from one state of the store
        without_jit(conn)
        for part in (
            _customer_history(conn, current, previous),
            _order_flows(conn, current, previous),
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
#
# Month bucketing stays portable: orders (millions of rows) are joined by range to a small
# derived table of the window's months (month_number, starts_at, ends_before; bound
# parameters), which reads the time-ordered covering index with no date function per
# row; per-customer rows (first paid order, cohort cells) use SQLAlchemy's extract().


def month_number(day: dt.date) -> int:
    """Months since year 0: year * 12 + month - 1 (consecutive months differ by 1)."""
    return day.year * 12 + day.month - 1


def month_start(number: int) -> dt.date:
    """The first day of the month `number` (see month_number)."""
    return dt.date(number // 12, number % 12 + 1, 1)


def _month_number_sql(column: ColumnElement) -> ColumnElement:
    """month_number of a timestamp column in SQL, for per-customer rows (extract compiles
    on both dialects; constants inlined so PostgreSQL can group by it)."""
    return (
        extract("year", column) * literal_column("12")
        + extract("month", column)
        - literal_column("1")
    )


@dataclass(frozen=True)
class _MonthWindow:
    """The `months` calendar months ending with as_of's month, cut at the end of as_of."""

    first: int
    last: int
    starts_at: dt.datetime
    ends_before: dt.datetime

    def table(self, name: str = "months"):
        """Derived table (month_number, starts_at, ends_before), one row per month."""
        rows = []
        for number in range(self.first, self.last + 1):
            month_ends = (
                self.ends_before
                if number == self.last
                else dt.datetime.combine(month_start(number + 1), dt.time())
            )
            rows.append(
                select(
                    literal(number, Integer).label("month_number"),
                    literal(dt.datetime.combine(month_start(number), dt.time()), DateTime).label(
                        "starts_at"
                    ),
                    literal(month_ends, DateTime).label("ends_before"),
                )
            )
        return union_all(*rows).subquery(name)


def _month_window(as_of: dt.date, months: int) -> _MonthWindow:
    if not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise InputError("overview.error.months", value=months, max=MAX_MONTHS)
    last = month_number(as_of)
    first = last - months + 1
    return _MonthWindow(
        first=first,
        last=last,
        starts_at=dt.datetime.combine(month_start(first), dt.time()),
        ends_before=asof.end_of(as_of),
    )


def _in_month(column: ColumnElement, months) -> ColumnElement[bool]:
    return and_(column >= months.c.starts_at, column < months.c.ends_before)


def _month_starts(numbers: pd.Series | np.ndarray) -> pd.Series:
    """First days of the months `numbers` (see month_number) as datetime64[ns]."""
    numbers = np.asarray(numbers, dtype="int64")
    return pd.Series(
        pd.to_datetime({"year": numbers // 12, "month": numbers % 12 + 1, "day": 1}),
        dtype="datetime64[ns]",
    )


def _per_month(window: _MonthWindow, rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per month of `window` (month_number, month, *columns), 0 where `rows`
    (month_number, *columns from the database) has no row."""
    numbers = np.arange(window.first, window.last + 1)
    frame = pd.DataFrame({"month_number": numbers, "month": _month_starts(numbers)})
    if rows.empty:
        rows = pd.DataFrame({name: pd.Series(dtype="float64") for name in columns})
        rows["month_number"] = pd.Series(dtype="int64")
    rows = rows.astype({"month_number": "int64", **dict.fromkeys(columns, "float64")})
    frame = frame.merge(rows, on="month_number", how="left")
    return frame.fillna(dict.fromkeys(columns, 0.0))


def monthly_revenue(engine: Engine, as_of: dt.date, months: int = 24) -> pd.DataFrame:
    """Revenue per calendar month for the `months` months ending with as_of's month.

    Columns: month (first day, datetime64), paid_revenue (amount of paid orders dated in
    the month), refunds (refund amounts recorded in the month), net_revenue (paid_revenue
    - refunds), paid_orders (count), is_partial (True for as_of's month when as_of is not
    its last day: only the days up to as_of are counted). Money in shop currency; months
    without orders are 0.
    """
    as_of = _as_date(as_of)
    window = _month_window(as_of, months)
    month = window.table()
    o = models.orders
    paid = o.c.status == PAID
    stmt = (
        select(
            month.c.month_number,
            _sum_if(paid, float_value(o.c.amount)).label("paid_revenue"),
            _sum_if(o.c.status == REFUNDED, float_value(o.c.amount)).label("refunds"),
            _count_if(paid).label("paid_orders"),
        )
        .select_from(month.join(o, _in_month(o.c.ordered_at, month)))
        .where(o.c.status.in_((PAID, REFUNDED)))
        .group_by(month.c.month_number)
    )
    with snapshot_read(engine, (models.orders,)) as conn:  # waits for its indexes
        without_jit(conn)
        rows = pd.DataFrame(conn.execute(stmt).mappings().all())
    frame = _per_month(window, rows, ["paid_revenue", "refunds", "paid_orders"])
    frame["paid_orders"] = frame["paid_orders"].astype("int64")
    frame["net_revenue"] = frame["paid_revenue"] - frame["refunds"]
    next_day = as_of + dt.timedelta(days=1)
    frame["is_partial"] = (frame["month_number"] == window.last) & (next_day.day != 1)
    return frame[["month", "paid_revenue", "refunds", "net_revenue", "paid_orders", "is_partial"]]


def _first_paid(window: _MonthWindow):
    """Subquery (customer_id, first_paid_at): customers whose first-ever paid order falls
    in the window."""
    o = models.orders
    first_paid_at = func.min(o.c.ordered_at)
    return (
        select(o.c.customer_id, first_paid_at.label("first_paid_at"))
        .where(o.c.status == PAID, o.c.ordered_at < window.ends_before)
        .group_by(o.c.customer_id)
        .having(first_paid_at >= window.starts_at)
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
    window = _month_window(as_of, months)
    o = models.orders
    month = window.table()
    # Distinct (month, customer) pairs first, then a count per month: both databases
    # hash or sort the pairs once instead of running a count(DISTINCT) per month.
    buyers = (
        select(month.c.month_number, o.c.customer_id)
        .select_from(month.join(o, _in_month(o.c.ordered_at, month)))
        .where(o.c.status == PAID)
        .distinct()
        .subquery("buyers")
    )
    active_stmt = select(buyers.c.month_number, func.count().label("active_customers")).group_by(
        buyers.c.month_number
    )
    first_paid = _first_paid(window)
    first_month = select(
        _month_number_sql(first_paid.c.first_paid_at).label("month_number")
    ).subquery("first_month")
    new_stmt = select(first_month.c.month_number, func.count().label("new_customers")).group_by(
        first_month.c.month_number
    )
    with snapshot_read(engine, (models.orders,)) as conn:  # waits for its indexes
        without_jit(conn)
        active = pd.DataFrame(conn.execute(active_stmt).mappings().all())
        new = pd.DataFrame(conn.execute(new_stmt).mappings().all())
    frame = _per_month(window, active, ["active_customers"])
    frame = frame.merge(
        _per_month(window, new, ["new_customers"])[["month_number", "new_customers"]],
        on="month_number",
    )
    frame = frame.astype({"active_customers": "int64", "new_customers": "int64"})
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
    window = _month_window(as_of, months)
    o = models.orders
    first_paid = _first_paid(window)
    cells = (
        select(
            _month_number_sql(first_paid.c.first_paid_at).label("cohort_number"),
            _month_number_sql(o.c.ordered_at).label("month_number"),
            o.c.customer_id,
        )
        .select_from(first_paid.join(o, o.c.customer_id == first_paid.c.customer_id))
        .where(
            o.c.status == PAID,
            o.c.ordered_at >= window.starts_at,
            o.c.ordered_at < window.ends_before,
        )
        .distinct()
        .subquery("cells")
    )
    stmt = select(
        cells.c.cohort_number,
        cells.c.month_number,
        func.count().label("active_customers"),
    ).group_by(cells.c.cohort_number, cells.c.month_number)
    with snapshot_read(engine, (models.orders,)) as conn:  # waits for its indexes
        without_jit(conn)
        rows = pd.DataFrame(conn.execute(stmt).mappings().all())
    grid = pd.MultiIndex.from_tuples(
        [(c, m) for c in range(window.first, window.last + 1) for m in range(c, window.last + 1)],
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


PERIOD_CHOICES: tuple[int, ...] = (30, 90, 365)
"""The Overview's periods in days; the first is where a session starts."""
TREND_MONTHS = 24
"""Months of the Overview's monthly charts."""
COHORT_MONTHS = 12
"""Cohorts (first paid months) of the retention heatmap."""
FIRST_VIEW_SIZES = {
    "kpis": PERIOD_CHOICES[0],
    "monthly_revenue": TREND_MONTHS,
    "new_vs_returning": TREND_MONTHS,
    "cohort_retention": COHORT_MONTHS,
}
"""The size of each Overview frame on a session's first view."""

OVERVIEW_FRAMES: dict[str, Callable[..., pd.DataFrame]] = {
    "kpis": kpis,
    "monthly_revenue": monthly_revenue,
    "new_vs_returning": new_vs_returning_by_month,
    "cohort_retention": cohort_retention,
}
"""The Overview's frames by name: each aggregates every order up to the as-of date."""


def stored_overview(engine: Engine, name: str, as_of: dt.date, size: int) -> pd.DataFrame:
    """The Overview frame `name` (OVERVIEW_FRAMES; `size` is its period in days or its
    months) on `as_of`, computed once per (data version, as-of date, size) and kept in
    the store (crm_core.store.frames), so a restart or another app process reads it."""
    compute = OVERVIEW_FRAMES[name]
    return stored_frame(
        engine,
        f"overview.{name}",
        {"as_of": as_of.isoformat(), "size": size},
        lambda: compute(engine, as_of, size),
    )
