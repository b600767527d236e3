"""The campaign list: arm totals aggregated in the database, last-touch attributed
revenue, and the incremental figures with their intervals."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    func,
    literal,
    select,
    true,
)

from crm_core import asof
from crm_core.errors import InputError
from crm_core.outreach.campaigns.settings import (
    ALPHA,
    CONTROL,
    DEFAULT_WINDOW_DAYS,
    VERDICT_GAIN,
    VERDICT_LOSS,
    VERDICT_NO_CONTROL,
    VERDICT_NONE,
    campaign_windows,
    check_margin_rate,
    gross_margin_rate,
    window_of,
)
from crm_core.outreach.experiments import (
    MeanTest,
    ProportionTest,
    two_proportion_test,
    welch_test_from_moments,
)
from crm_core.store import (
    data_version,
    float_value,
    models,
    plus_days,
    rows_frame,
    snapshot_read,
    without_jit,
)
from crm_core.store.settings import read_setting, write_setting

CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "name",
    "channel",
    "started_at",
    "ended_at",
    "cost",
    "revenue_per_response",
    "description",
    "export_id",
)


def list_campaigns(bind: Engine | Connection, as_of: dt.date | None = None) -> pd.DataFrame:
    """The stored campaigns (CAMPAIGN_COLUMNS; cost in shop currency), newest start
    first; with `as_of`, only those started by the end of that day."""
    cp = models.campaigns
    statement = select(*(cp.c[name] for name in CAMPAIGN_COLUMNS)).order_by(
        cp.c.started_at.desc(), cp.c.campaign_id
    )
    if as_of is not None:
        statement = statement.where(cp.c.started_at < asof.end_of(as_of))
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            rows = conn.execute(statement).all()
    else:
        rows = bind.execute(statement).all()
    frame = pd.DataFrame(rows, columns=list(CAMPAIGN_COLUMNS))
    frame["cost"] = pd.to_numeric(frame["cost"], errors="coerce").astype(float).fillna(0.0)
    frame["revenue_per_response"] = pd.to_numeric(
        frame["revenue_per_response"], errors="coerce"
    ).astype(float)
    for name in ("started_at", "ended_at"):
        frame[name] = pd.to_datetime(frame[name])
    frame["export_id"] = pd.array(frame["export_id"], dtype="Int64")
    return frame


def _window_expression(windows: Mapping[str, int]) -> Any:
    """Each touch's window (days) as SQL: a CASE over the campaigns whose window is not
    the default (bound parameters), else the default."""
    ct = models.campaign_touches
    special = {cid: days for cid, days in windows.items() if days != DEFAULT_WINDOW_DAYS}
    if not special:
        return literal(DEFAULT_WINDOW_DAYS)
    return case(special, value=ct.c.campaign_id, else_=literal(DEFAULT_WINDOW_DAYS))


def reference_time() -> Any:
    ct, cp = models.campaign_touches, models.campaigns
    return func.coalesce(ct.c.sent_at, cp.c.started_at)


def _windows_for(
    bind: Engine | Connection, campaign_ids: Sequence[str], view_window: int | None
) -> dict[str, int]:
    stored = campaign_windows(bind)
    return {cid: window_of(stored, cid, view_window) for cid in campaign_ids}


ARM_COUNT_COLUMNS: tuple[str, ...] = (
    "recipients",
    "sent",
    "opened",
    "clicked",
    "converters",
    "orders",
    "revenue",
    "revenue_squares",
    "responders",
)


def arm_totals(
    engine: Engine,
    as_of: dt.date,
    windows: Mapping[str, int],
) -> pd.DataFrame:
    """One row per campaign and arm (variant; the holdout is CONTROL): campaign_id, arm,
    is_control and ARM_COUNT_COLUMNS: recipients, touches sent, opened, clicked,
    converters, their orders and revenue in the window (shop currency), the sum of
    squared revenue per recipient (for Welch's test) and responders (touches the shop's
    own file marked as responded, e.g. iFood's Response column). One aggregation in the database:
    each touch joined to its customer's paid orders in the touch's window, up to the
    end of `as_of`."""
    ct, cp, od = models.campaign_touches, models.campaigns, models.orders
    reference = reference_time()
    window_end = plus_days(reference, _window_expression(windows))
    seen_until = asof.end_of(as_of)
    joined = ct.join(cp, cp.c.campaign_id == ct.c.campaign_id).outerjoin(
        od,
        and_(
            od.c.customer_id == ct.c.customer_id,
            od.c.status == "paid",
            od.c.ordered_at >= reference,
            od.c.ordered_at < window_end,
            od.c.ordered_at < seen_until,
        ),
    )
    per_touch = (
        select(
            ct.c.campaign_id,
            ct.c.customer_id,
            func.max(ct.c.variant).label("variant"),
            func.max(case((ct.c.is_control, 1), else_=0)).label("is_control"),
            func.max(case((ct.c.sent_at.is_not(None), 1), else_=0)).label("sent"),
            func.max(case((ct.c.opened_at.is_not(None), 1), else_=0)).label("opened"),
            func.max(case((ct.c.clicked_at.is_not(None), 1), else_=0)).label("clicked"),
            func.max(case((ct.c.responded.is_(True), 1), else_=0)).label("responded"),
            # ordered_at, not order_id: a column of ix_orders_customer_status_time, so
            # PostgreSQL reads the orders from that index alone
            func.count(od.c.ordered_at).label("orders"),
            func.coalesce(func.sum(float_value(od.c.amount)), 0.0).label("revenue"),
        )
        .select_from(joined)
        .where(cp.c.started_at < seen_until)
        .group_by(ct.c.campaign_id, ct.c.customer_id)
    )
    touch = per_touch.subquery("touch")
    arm = case((touch.c.is_control == 1, literal(CONTROL)), else_=touch.c.variant)
    statement = (
        select(
            touch.c.campaign_id,
            arm.label("arm"),
            func.max(touch.c.is_control).label("is_control"),
            func.count().label("recipients"),
            func.sum(touch.c.sent).label("sent"),
            func.sum(touch.c.opened).label("opened"),
            func.sum(touch.c.clicked).label("clicked"),
            func.sum(case((touch.c.orders > 0, 1), else_=0)).label("converters"),
            func.sum(touch.c.orders).label("orders"),
            func.sum(touch.c.revenue).label("revenue"),
            func.sum(touch.c.revenue * touch.c.revenue).label("revenue_squares"),
            func.sum(touch.c.responded).label("responders"),
        )
        .group_by(touch.c.campaign_id, arm)
        .order_by(touch.c.campaign_id, arm)
    )
    with snapshot_read(engine, [ct, cp, od]) as conn:
        without_jit(conn)
        rows = conn.execute(statement).all()
    frame = rows_frame(rows, columns=["campaign_id", "arm", "is_control", *ARM_COUNT_COLUMNS])
    return _typed_arms(frame)


def _typed_arms(frame: pd.DataFrame) -> pd.DataFrame:
    frame["is_control"] = frame["is_control"].astype(bool)
    for name in ARM_COUNT_COLUMNS:
        kind = float if name.startswith("revenue") else np.int64
        frame[name] = pd.to_numeric(frame[name]).fillna(0).astype(kind)
    return frame


def attributed_revenue(
    engine: Engine,
    as_of: dt.date,
    windows: Mapping[str, int],
    campaign_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Last-touch attributed paid orders per campaign up to the end of `as_of`:
    campaign_id, attributed_orders, attributed_revenue (shop currency). An order with a
    campaign_id goes to that campaign; an order without one goes to the campaign of the
    customer's latest treated touch at or before it, when the order falls inside that
    touch's window (two touches at the same moment: the larger campaign id). With
    `campaign_ids`, only those campaigns (the orders of their recipients are read, each
    checked for a later touch of any campaign). Two aggregations in the database."""
    ct, cp, od = models.campaign_touches, models.campaigns, models.orders
    seen_until = asof.end_of(as_of)
    tagged = (
        select(
            od.c.campaign_id,
            func.count().label("orders"),
            func.sum(float_value(od.c.amount)).label("revenue"),
        )
        .where(
            od.c.campaign_id.is_not(None),
            od.c.status == "paid",
            od.c.ordered_at < seen_until,
        )
        .group_by(od.c.campaign_id)
    )
    reference = reference_time()
    a_later_touch = _later_touch(od.c.customer_id).exists()
    by_touch = (
        select(
            ct.c.campaign_id,
            func.count().label("orders"),
            func.sum(float_value(od.c.amount)).label("revenue"),
        )
        .select_from(
            ct.join(cp, cp.c.campaign_id == ct.c.campaign_id).join(
                od,
                and_(
                    od.c.customer_id == ct.c.customer_id,
                    od.c.status == "paid",
                    od.c.campaign_id.is_(None),
                    od.c.ordered_at >= reference,
                    od.c.ordered_at < plus_days(reference, _window_expression(windows)),
                    od.c.ordered_at < seen_until,
                ),
            )
        )
        .where(ct.c.is_control == False, ~a_later_touch)  # noqa: E712 (SQL comparison)
        .group_by(ct.c.campaign_id)
    )
    if campaign_ids is not None:
        wanted = list(campaign_ids)
        tagged = tagged.where(od.c.campaign_id.in_(wanted))
        by_touch = by_touch.where(ct.c.campaign_id.in_(wanted))
        if engine.dialect.name == "postgresql":
            by_touch = _by_touch_per_recipient(windows, seen_until, wanted)
    with snapshot_read(engine, [ct, cp, od]) as conn:
        without_jit(conn)
        rows = [*conn.execute(tagged).all(), *conn.execute(by_touch).all()]
    both = pd.DataFrame(rows, columns=["campaign_id", "orders", "revenue"])
    both["orders"] = pd.to_numeric(both["orders"]).astype(np.int64)
    both["revenue"] = pd.to_numeric(both["revenue"]).astype(float)
    totals = both.groupby("campaign_id", as_index=False)[["orders", "revenue"]].sum()
    return totals.rename(columns={"orders": "attributed_orders", "revenue": "attributed_revenue"})


def _later_touch(customer_id: Any) -> Any:
    """SELECT 1 for a treated touch of the customer `customer_id` names whose reference
    time is after the touch being credited (campaign_touches ct) and not after the order
    (orders): that later touch takes the order (ties go to the larger campaign id)."""
    ct, cp, od = models.campaign_touches, models.campaigns, models.orders
    reference = reference_time()
    later, later_campaign = ct.alias("later"), cp.alias("later_campaign")
    later_reference = func.coalesce(later.c.sent_at, later_campaign.c.started_at)
    return (
        select(literal(1))
        .select_from(
            later.join(later_campaign, later_campaign.c.campaign_id == later.c.campaign_id)
        )
        .where(
            later.c.customer_id == customer_id,
            later.c.is_control == False,  # noqa: E712 (SQL comparison)
            later_reference <= od.c.ordered_at,
            (later_reference > reference)
            | ((later_reference == reference) & (later.c.campaign_id > ct.c.campaign_id)),
        )
    )


def _by_touch_per_recipient(
    windows: Mapping[str, int], seen_until: dt.datetime, wanted: list[str]
) -> Any:
    """PostgreSQL: `attributed_revenue`'s by-touch aggregation for a few campaigns, with
    each recipient's orders and the later-touch check read per recipient (a LATERAL
    subquery that OFFSET 0 keeps from being flattened). Written as a plain join, the
    planner estimates the window's rows badly and hashes every paid order of the store
    and every treated touch (1M customers, 105k recipients: 5-8 s, this way 0.6 s)."""
    ct, cp, od = models.campaign_touches, models.campaigns, models.orders
    reference = reference_time()
    a_later_touch = _later_touch(ct.c.customer_id).correlate(od, ct, cp).exists()
    orders = (
        select(od.c.ordered_at, float_value(od.c.amount).label("amount"))
        .where(
            od.c.customer_id == ct.c.customer_id,
            od.c.status == "paid",
            od.c.campaign_id.is_(None),
            od.c.ordered_at >= reference,
            od.c.ordered_at < plus_days(reference, _window_expression(windows)),
            od.c.ordered_at < seen_until,
            ~a_later_touch,
        )
        .correlate(ct, cp)
        .offset(0)
        .lateral("attributed_order")
    )
    return (
        select(
            ct.c.campaign_id,
            func.count().label("orders"),
            func.sum(orders.c.amount).label("revenue"),
        )
        .select_from(ct.join(cp, cp.c.campaign_id == ct.c.campaign_id).join(orders, true()))
        .where(ct.c.is_control == False, ct.c.campaign_id.in_(wanted))  # noqa: E712
        .group_by(ct.c.campaign_id)
    )


# --- statistics per campaign ------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95 % interval (same unit as the estimate)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Incremental:
    """What the campaign caused, measured against its holdout: conversions (customers),
    revenue and margin (shop currency), ROI (ratio: 0.5 = margin 50 % above cost)."""

    uplift: ProportionTest
    revenue_per_recipient: MeanTest
    conversions: Interval
    revenue: Interval
    margin: Interval
    roi: Interval
    margin_rate: float
    cost: float


def _nan_interval() -> Interval:
    return Interval(math.nan, math.nan, math.nan)


def _scaled(value: float, low: float, high: float, factor: float) -> Interval:
    return Interval(value * factor, low * factor, high * factor)


def _variance(total: float, squares: float, n: int) -> float:
    """Sample variance (ddof 1) from a sum and a sum of squares over n values."""
    if n < 2:
        return math.nan
    mean = total / n
    return max((squares - n * mean * mean) / (n - 1), 0.0)


def incremental_from_totals(
    treated: Mapping[str, float], control: Mapping[str, float], cost: float, margin_rate: float
) -> Incremental | None:
    """The incremental figures from two arms' totals (keys recipients, converters,
    revenue, revenue_squares); None without a control group or treated recipients."""
    n_t, n_c = int(treated["recipients"]), int(control["recipients"])
    if n_t == 0 or n_c == 0:
        return None
    uplift = two_proportion_test(int(treated["converters"]), n_t, int(control["converters"]), n_c)
    revenue_test = welch_test_from_moments(
        n_t,
        treated["revenue"] / n_t,
        _variance(treated["revenue"], treated["revenue_squares"], n_t),
        n_c,
        control["revenue"] / n_c,
        _variance(control["revenue"], control["revenue_squares"], n_c),
    )
    return incremental_figures(uplift, revenue_test, n_t, cost, margin_rate)


def incremental_figures(
    uplift: ProportionTest, revenue_test: MeanTest, n_t: int, cost: float, margin_rate: float
) -> Incremental:
    conversions = _scaled(uplift.difference, uplift.ci_low, uplift.ci_high, n_t)
    revenue = _scaled(revenue_test.difference, revenue_test.ci_low, revenue_test.ci_high, n_t)
    margin = _scaled(revenue.value, revenue.low, revenue.high, margin_rate)
    if cost > 0:
        roi = Interval(
            (margin.value - cost) / cost, (margin.low - cost) / cost, (margin.high - cost) / cost
        )
    else:
        roi = _nan_interval()
    return Incremental(uplift, revenue_test, conversions, revenue, margin, roi, margin_rate, cost)


def verdict(test: ProportionTest | None, alpha: float = ALPHA) -> str:
    """VERDICT_NO_CONTROL without a test; VERDICT_GAIN / VERDICT_LOSS when the z-test's
    p < alpha (by the uplift's sign); else VERDICT_NONE."""
    if test is None or not test.control_n or not test.treated_n:
        return VERDICT_NO_CONTROL
    if np.isfinite(test.p_value) and test.p_value < alpha:
        return VERDICT_GAIN if test.difference > 0 else VERDICT_LOSS
    return VERDICT_NONE


def roi_ratio(revenue: float, cost: float) -> float:
    """Attributed revenue per unit of cost (the x of 'ROI 1 : x'); NaN without a cost."""
    return revenue / cost if cost > 0 else math.nan


def with_rates(arms: pd.DataFrame) -> pd.DataFrame:
    arms = arms.copy()
    n = arms["recipients"].replace(0, np.nan)
    arms["conversion_rate"] = arms["converters"] / n
    arms["revenue_per_recipient"] = arms["revenue"] / n
    arms["average_order_value"] = arms["revenue"] / arms["orders"].replace(0, np.nan)
    arms["open_rate"] = arms["opened"] / n
    arms["click_rate"] = arms["clicked"] / n
    return arms


def _pooled_treated(arms: pd.DataFrame) -> dict[str, float]:
    treated = arms.loc[~arms["is_control"]]
    return {name: float(treated[name].sum()) for name in ARM_COUNT_COLUMNS}


def _control_totals(arms: pd.DataFrame) -> dict[str, float]:
    control = arms.loc[arms["is_control"]]
    return {name: float(control[name].sum()) for name in ARM_COUNT_COLUMNS}


AGGREGATES_KEY = "campaign_results.aggregates"
"""Settings key of the stored campaign aggregates (see `stored_aggregates`)."""
AGGREGATES_KEPT = 6
"""How many (data version, as-of date, windows) results are kept: the newest."""
AGGREGATES_FORMAT = 1
"""The layout of a stored result; a new layout makes the stored ones unused."""


def _aggregates_key(version: int, as_of: dt.date, windows: Mapping[str, int]) -> str:
    return json.dumps(
        {
            "format": AGGREGATES_FORMAT,
            "version": version,
            "as_of": as_of.isoformat(),
            "windows": dict(sorted(windows.items())),
        },
        sort_keys=True,
    )


def stored_aggregates(
    engine: Engine, as_of: dt.date, windows: Mapping[str, int]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.Timestamp]]:
    """`arm_totals`, `attributed_revenue` and the latest reference time of each
    campaign's touches (for window_complete) of every campaign, computed once per (data
    version, as-of date, windows) and kept in the store, so a restart, another user or
    the command line reads them instead of joining every touch to its orders again (on
    1M customers and 2.5M touches that join takes most of a minute on SQLite). The
    newest AGGREGATES_KEPT results are kept."""
    version = data_version(engine)
    key = _aggregates_key(version, as_of, windows)
    stored = read_setting(engine, AGGREGATES_KEY) or {}
    if key in stored:
        found = stored[key]
        arms = pd.DataFrame(found["arms"], columns=["campaign_id", "arm", "is_control",
                                                     *ARM_COUNT_COLUMNS])  # fmt: skip
        attributed = pd.DataFrame(
            found["attributed"],
            columns=["campaign_id", "attributed_orders", "attributed_revenue"],
        )
        last = {cid: pd.Timestamp(at) for cid, at in found["last_reference"].items()}
        return _typed_arms(arms), attributed, last
    arms = arm_totals(engine, as_of, windows)
    attributed = attributed_revenue(engine, as_of, windows)
    last = {cid: pd.Timestamp(at) for cid, at in _last_reference(engine, as_of).items()}
    with engine.begin() as conn:
        current = read_setting(conn, AGGREGATES_KEY) or {}
        newest = sorted(current.items(), key=lambda item: item[1]["saved"])
        kept = dict(newest[-(AGGREGATES_KEPT - 1) :])
        kept[key] = {
            "arms": json.loads(arms.to_json(orient="values")),
            "attributed": json.loads(attributed.to_json(orient="values")),
            "last_reference": {cid: at.isoformat() for cid, at in last.items()},
            "saved": max([entry["saved"] for entry in kept.values()] + [0]) + 1,
        }
        write_setting(conn, AGGREGATES_KEY, kept)
    return arms, attributed, last


WARM_UP_TOUCHES = 200_000
"""From how many touches `warm_up_aggregates` computes ahead: below it a first view
computes the list in about a second anyway."""


def warm_up_aggregates(engine: Engine, as_of: dt.date) -> bool:
    """Compute and keep the campaign list's aggregates (see `stored_aggregates`) for
    `as_of` with the stored windows, when the store holds WARM_UP_TOUCHES touches or
    more and they are not kept yet; returns whether it computed. For a thread that runs
    after new data arrives, so the first view of the Campaigns page reads them."""
    with engine.connect() as conn:
        touches = conn.execute(select(func.count()).select_from(models.campaign_touches)).scalar()
    if touches < WARM_UP_TOUCHES:
        return False
    ids = list_campaigns(engine, as_of)["campaign_id"].tolist()
    windows = _windows_for(engine, ids, None)
    key = _aggregates_key(data_version(engine), as_of, windows)
    if key in (read_setting(engine, AGGREGATES_KEY) or {}):
        return False
    stored_aggregates(engine, as_of, windows)
    return True


REVENUE_FROM_ORDERS = "orders"
REVENUE_FROM_RESPONSES = "responses"


def campaign_revenue(
    attributed_orders: int, attributed_revenue: float, reported_revenue: float
) -> tuple[float, str]:
    """The revenue a campaign's ROI is measured on, and its basis: the attributed
    revenue (REVENUE_FROM_ORDERS), or, for a campaign with no attributed orders whose
    file gave a revenue per response, responders x that revenue (REVENUE_FROM_RESPONSES)."""
    if attributed_orders == 0 and np.isfinite(reported_revenue):
        return float(reported_revenue), REVENUE_FROM_RESPONSES
    return float(attributed_revenue), REVENUE_FROM_ORDERS


SUMMARY_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "name",
    "channel",
    "started_at",
    "ended_at",
    "window_days",
    "window_complete",
    "cost",
    "treated",
    "control",
    "variants",
    "attributed_orders",
    "attributed_revenue",
    "responders",
    "response_rate",
    "reported_revenue",
    "revenue",
    "revenue_basis",
    "roi",
    "treated_rate",
    "control_rate",
    "uplift",
    "uplift_ci_low",
    "uplift_ci_high",
    "p_value",
    "verdict",
    "incremental_conversions",
    "incremental_revenue",
    "incremental_revenue_ci_low",
    "incremental_revenue_ci_high",
    "incremental_margin",
    "incremental_roi",
    "incremental_roi_ci_low",
    "incremental_roi_ci_high",
)


def campaign_summary(
    engine: Engine,
    as_of: dt.date,
    *,
    window_days: int | None = None,
    margin_rate: float | None = None,
) -> pd.DataFrame:
    """The campaign list: one row per campaign started by `as_of` (SUMMARY_COLUMNS),
    newest first. treated / control: recipients per side; variants: treated arms;
    responders: treated touches marked as responded in an imported file; reported_revenue:
    responders x the campaign's revenue per response (NaN when it has none); revenue:
    the attributed revenue, or the reported revenue for a campaign with no attributed
    orders but a revenue per response (revenue_basis says which: REVENUE_FROM_ORDERS /
    REVENUE_FROM_RESPONSES); roi: revenue / cost (ROI 1 : roi); uplift and its interval in share
    points (0.012 = 1.2 pp); window_complete: every touch's window ended by `as_of`.
    `window_days` overrides each campaign's window; `margin_rate` the stored rate."""
    campaigns = list_campaigns(engine, as_of)
    windows = _windows_for(engine, campaigns["campaign_id"].tolist(), window_days)
    rate = gross_margin_rate(engine) if margin_rate is None else check_margin_rate(margin_rate)
    arms, attributed, last_sent = stored_aggregates(engine, as_of, windows)
    attributed = attributed.set_index("campaign_id")
    rows = []
    arms_of = dict(tuple(arms.groupby("campaign_id", sort=False)))
    for campaign in campaigns.itertuples(index=False):
        cid = campaign.campaign_id
        its_arms = arms_of.get(cid, arms.iloc[0:0])
        treated, control = _pooled_treated(its_arms), _control_totals(its_arms)
        cost = float(campaign.cost)
        incremental = incremental_from_totals(treated, control, cost, rate)
        uplift = incremental.uplift if incremental else None
        attributed_sum = float(attributed["attributed_revenue"].get(cid, 0.0))
        attributed_count = int(attributed["attributed_orders"].get(cid, 0))
        responders = int(treated["responders"])
        reported = responders * campaign.revenue_per_response
        revenue, basis = campaign_revenue(attributed_count, attributed_sum, reported)
        window = windows[cid]
        reference_end = last_sent.get(cid, campaign.started_at)
        rows.append(
            {
                "campaign_id": cid,
                "name": campaign.name,
                "channel": campaign.channel,
                "started_at": campaign.started_at,
                "ended_at": campaign.ended_at,
                "window_days": window,
                "window_complete": bool(
                    pd.Timestamp(reference_end) + pd.Timedelta(days=window)
                    <= pd.Timestamp(asof.end_of(as_of))
                ),
                "cost": cost,
                "treated": int(treated["recipients"]),
                "control": int(control["recipients"]),
                "variants": int((~its_arms["is_control"]).sum()),
                "attributed_orders": attributed_count,
                "attributed_revenue": attributed_sum,
                "responders": responders,
                "response_rate": responders / treated["recipients"]
                if treated["recipients"]
                else math.nan,
                "reported_revenue": reported,
                "revenue": revenue,
                "revenue_basis": basis,
                "roi": roi_ratio(revenue, cost),
                "treated_rate": _rate(treated),
                "control_rate": _rate(control),
                "uplift": uplift.difference if uplift else math.nan,
                "uplift_ci_low": uplift.ci_low if uplift else math.nan,
                "uplift_ci_high": uplift.ci_high if uplift else math.nan,
                "p_value": uplift.p_value if uplift else math.nan,
                "verdict": verdict(uplift),
                "incremental_conversions": incremental.conversions.value
                if incremental
                else math.nan,
                "incremental_revenue": incremental.revenue.value if incremental else math.nan,
                "incremental_revenue_ci_low": incremental.revenue.low if incremental else math.nan,
                "incremental_revenue_ci_high": incremental.revenue.high
                if incremental
                else math.nan,
                "incremental_margin": incremental.margin.value if incremental else math.nan,
                "incremental_roi": incremental.roi.value if incremental else math.nan,
                "incremental_roi_ci_low": incremental.roi.low if incremental else math.nan,
                "incremental_roi_ci_high": incremental.roi.high if incremental else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _rate(totals: Mapping[str, float]) -> float:
    return totals["converters"] / totals["recipients"] if totals["recipients"] else math.nan


def _last_reference(engine: Engine, as_of: dt.date) -> dict[str, Any]:
    """The latest reference time of each campaign's touches (for window_complete)."""
    ct, cp = models.campaign_touches, models.campaigns
    statement = (
        select(ct.c.campaign_id, func.max(reference_time()))
        .select_from(ct.join(cp, cp.c.campaign_id == ct.c.campaign_id))
        .where(cp.c.started_at < asof.end_of(as_of))
        .group_by(ct.c.campaign_id)
    )
    with engine.connect() as conn:
        return {cid: latest for cid, latest in conn.execute(statement).all()}


def filter_summary(
    summary: pd.DataFrame,
    channels: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """The campaigns of `channels` that started between `start` and `end` (inclusive)."""
    keep = np.ones(len(summary), dtype=bool)
    if channels:
        keep &= summary["channel"].isin(list(channels)).to_numpy()
    started = pd.to_datetime(summary["started_at"])
    if start is not None:
        keep &= (started >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (started < pd.Timestamp(end) + pd.Timedelta(days=1)).to_numpy()
    return summary.loc[keep].reset_index(drop=True)


ARM_RESULT_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "arm",
    "recipients",
    "converters",
    "conversion_rate",
    "revenue",
    "revenue_per_recipient",
    "responders",
    "uplift",
    "uplift_ci_low",
    "uplift_ci_high",
    "p_value",
)


def arm_results(
    engine: Engine,
    as_of: dt.date,
    *,
    window_days: int | None = None,
    campaign_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per campaign and arm (ARM_RESULT_COLUMNS), campaigns newest first, the
    control last: conversion rate as a share, revenue in shop currency, and for each
    treated variant its uplift over the control (share points, unpooled 95 % interval)
    with the pooled z-test's p. Uplift is empty on control rows and without a control."""
    every_campaign = campaigns = list_campaigns(engine, as_of)
    if campaign_ids is not None:
        wanted = set(campaign_ids)
        unknown = sorted(wanted - set(campaigns["campaign_id"]))
        if unknown:
            raise InputError("campaigns.error.unknown", campaign_id=", ".join(unknown))
        campaigns = campaigns.loc[campaigns["campaign_id"].isin(wanted)]
    ids = campaigns["campaign_id"].tolist()
    windows = _windows_for(engine, every_campaign["campaign_id"].tolist(), window_days)
    arms = stored_aggregates(engine, as_of, windows)[0]
    arms = with_rates(arms.loc[arms["campaign_id"].isin(ids)])
    arms_of = dict(tuple(arms.groupby("campaign_id", sort=False)))
    rows = []
    for cid in ids:
        its_arms = arms_of.get(cid, arms.iloc[0:0]).sort_values(["is_control", "arm"])
        control = _control_totals(its_arms)
        for arm in its_arms.itertuples(index=False):
            test = None
            if not arm.is_control and control["recipients"] > 0:
                test = two_proportion_test(
                    int(arm.converters),
                    int(arm.recipients),
                    int(control["converters"]),
                    int(control["recipients"]),
                )
            rows.append(
                {
                    "campaign_id": cid,
                    "arm": arm.arm,
                    "recipients": int(arm.recipients),
                    "converters": int(arm.converters),
                    "conversion_rate": arm.conversion_rate,
                    "revenue": float(arm.revenue),
                    "revenue_per_recipient": arm.revenue_per_recipient,
                    "responders": int(arm.responders),
                    "uplift": test.difference if test else math.nan,
                    "uplift_ci_low": test.ci_low if test else math.nan,
                    "uplift_ci_high": test.ci_high if test else math.nan,
                    "p_value": test.p_value if test else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=list(ARM_RESULT_COLUMNS))
