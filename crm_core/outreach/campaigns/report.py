"""One campaign: its recipients read with their orders, per-arm figures, comparisons,
CUPED, sample-ratio checks, cumulative conversion, funnel, and uplift by group."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Engine,
    and_,
    case,
    func,
    literal,
    select,
)

from crm_core import asof
from crm_core.errors import InputError
from crm_core.outreach.audiences import AudienceFacts
from crm_core.outreach.campaigns.results import (
    Incremental,
    attributed_revenue,
    campaign_revenue,
    incremental_figures,
    list_campaigns,
    reference_time,
    roi_ratio,
    verdict,
    with_rates,
)
from crm_core.outreach.campaigns.settings import (
    ALPHA,
    CONTROL,
    MIN_GROUP_PER_ARM,
    PRE_PERIOD_DAYS,
    VERDICT_NO_CONTROL,
    campaign_windows,
    check_margin_rate,
    gross_margin_rate,
    window_of,
)
from crm_core.outreach.experiments import (
    CupedTest,
    SampleRatioCheck,
    cuped_test,
    holm_adjust,
    sample_ratio_check,
    two_proportion_test,
    welch_test,
)
from crm_core.store import (
    float_value,
    models,
    plus_days,
    rows_frame,
    snapshot_read,
    without_jit,
)

RECIPIENT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "arm",
    "is_control",
    "reference",
    "sent",
    "opened",
    "clicked",
    "responded",
    "orders",
    "revenue",
    "first_order_days",
    "pre_spend",
)


def campaign_recipients(
    engine: Engine,
    campaign_id: str,
    as_of: dt.date,
    window_days: int,
    horizon_days: int | None = None,
) -> pd.DataFrame:
    """One row per recipient of a campaign (RECIPIENT_COLUMNS): arm, reference time,
    whether sent / opened / clicked, paid orders and revenue in the window, days from the
    reference time to the first paid order within `horizon_days` (default twice the
    window; NaN when none; fractional days) and paid spend in the PRE_PERIOD_DAYS before
    the reference time (CUPED's covariate). Orders after `as_of` are not seen."""
    ct, cp, od = models.campaign_touches, models.campaigns, models.orders
    horizon = max(horizon_days or 2 * window_days, window_days)
    reference = reference_time()
    seen_until = asof.end_of(as_of)

    window_end = plus_days(reference, literal(window_days))
    amount = float_value(od.c.amount)
    in_window = and_(od.c.ordered_at >= reference, od.c.ordered_at < window_end)
    # one index range per recipient, from the pre-period's start to the horizon's end
    joined = ct.join(cp, cp.c.campaign_id == ct.c.campaign_id).outerjoin(
        od,
        and_(
            od.c.customer_id == ct.c.customer_id,
            od.c.status == "paid",
            od.c.ordered_at >= plus_days(reference, literal(-PRE_PERIOD_DAYS)),
            od.c.ordered_at < plus_days(reference, literal(horizon)),
            od.c.ordered_at < seen_until,
        ),
    )
    statement = (
        select(
            ct.c.customer_id,
            func.max(ct.c.variant),
            func.max(case((ct.c.is_control, 1), else_=0)),
            func.max(reference),
            func.max(case((ct.c.sent_at.is_not(None), 1), else_=0)),
            func.max(case((ct.c.opened_at.is_not(None), 1), else_=0)),
            func.max(case((ct.c.clicked_at.is_not(None), 1), else_=0)),
            func.max(case((ct.c.responded.is_(True), 1), else_=0)),
            # ordered_at, not order_id: PostgreSQL then reads each recipient's orders
            # from ix_orders_customer_status_time alone (index-only, one probe each)
            # instead of hashing every paid order of the store
            func.count(case((in_window, od.c.ordered_at))),
            func.coalesce(func.sum(case((in_window, amount))), 0.0),
            func.min(case((od.c.ordered_at >= reference, od.c.ordered_at))),
            func.coalesce(func.sum(case((od.c.ordered_at < reference, amount))), 0.0),
        )
        .select_from(joined)
        .where(ct.c.campaign_id == campaign_id)
        .group_by(ct.c.customer_id)
        .order_by(ct.c.customer_id)
    )
    with snapshot_read(engine, [ct, cp, od]) as conn:
        without_jit(conn)
        rows = conn.execute(statement).all()
    frame = rows_frame(
        rows,
        columns=[
            "customer_id",
            "variant",
            "is_control",
            "reference",
            "sent",
            "opened",
            "clicked",
            "responded",
            "orders",
            "revenue",
            "first_order",
            "pre_spend",
        ],
    )
    frame["customer_id"] = pd.array(frame["customer_id"], dtype="str")
    frame["is_control"] = frame["is_control"].astype(bool)
    frame["arm"] = np.where(frame["is_control"], CONTROL, frame["variant"].astype(str))
    frame["reference"] = pd.to_datetime(frame["reference"])
    for name in ("sent", "opened", "clicked", "responded"):
        frame[name] = frame[name].astype(bool)
    frame["orders"] = pd.to_numeric(frame["orders"]).astype(np.int64)
    for name in ("revenue", "pre_spend"):
        frame[name] = pd.to_numeric(frame[name]).astype(float)
    first = pd.to_datetime(frame["first_order"])
    frame["first_order_days"] = (first - frame["reference"]) / pd.Timedelta(days=1)
    return frame[list(RECIPIENT_COLUMNS)]


ARM_COLUMNS: tuple[str, ...] = (
    "arm",
    "is_control",
    "recipients",
    "sent",
    "opened",
    "clicked",
    "converters",
    "orders",
    "responders",
    "conversion_rate",
    "revenue",
    "revenue_per_recipient",
    "average_order_value",
    "open_rate",
    "click_rate",
)

COMPARISON_COLUMNS: tuple[str, ...] = (
    "arm",
    "against",
    "rate",
    "against_rate",
    "difference",
    "ci_low",
    "ci_high",
    "z",
    "p_value",
    "p_holm",
    "revenue_difference",
    "revenue_ci_low",
    "revenue_ci_high",
    "revenue_p_value",
)


@dataclass(frozen=True)
class CampaignReport:
    """Everything the one-campaign view shows.

    arms: ARM_COLUMNS per variant and the control (rates as shares, money in shop
    currency); comparisons: COMPARISON_COLUMNS, each variant against the control (or,
    without a control, against the first variant), Holm-adjusted when there are
    several; incremental: None without a control; cuped: the revenue-per-recipient test
    with each recipient's spend in the 90 days before as covariate; srm: arm sizes
    against the planned split (None when the plan is not known); cumulative: day
    (whole days since the reference time, 0..horizon), side (treated / control),
    conversion_rate (share who bought by the end of that day)."""

    campaign: dict[str, Any]
    window_days: int
    window_complete: bool
    attributed_orders: int
    attributed_revenue: float
    arms: pd.DataFrame
    comparisons: pd.DataFrame
    incremental: Incremental | None
    cuped: CupedTest | None
    srm: SampleRatioCheck | None
    variant_srm: SampleRatioCheck | None
    cumulative: pd.DataFrame
    verdict: str = field(default=VERDICT_NO_CONTROL)

    @property
    def responders(self) -> int:
        """Treated touches marked as responded in an imported file."""
        return int(self.arms.loc[~self.arms["is_control"], "responders"].sum())

    @property
    def reported_revenue(self) -> float:
        """Responders x the campaign's revenue per response (NaN when it has none)."""
        return self.responders * float(self.campaign.get("revenue_per_response", math.nan))

    @property
    def revenue_and_basis(self) -> tuple[float, str]:
        """The revenue ROI is measured on and its basis (see `campaign_revenue`)."""
        return campaign_revenue(
            self.attributed_orders, self.attributed_revenue, self.reported_revenue
        )

    @property
    def roi(self) -> float:
        """Revenue per unit of cost (the x of 'ROI 1 : x')."""
        return roi_ratio(self.revenue_and_basis[0], float(self.campaign["cost"]))


def campaign_record(engine: Engine, campaign_id: str) -> dict[str, Any]:
    """The stored campaign as a dict (CAMPAIGN_COLUMNS); InputError when unknown."""
    campaigns = list_campaigns(engine)
    found = campaigns.loc[campaigns["campaign_id"] == campaign_id]
    if found.empty:
        raise InputError("campaigns.error.unknown", campaign_id=campaign_id)
    return found.iloc[0].to_dict()


def planned_control_share(engine: Engine, campaign: Mapping[str, Any]) -> float | None:
    """The control share planned for the campaign: the holdout share of the export it was
    created from; None when it was imported (the plan is not in the store)."""
    export_id = campaign.get("export_id")
    if export_id is None or pd.isna(export_id):
        return None
    with engine.connect() as conn:
        filters = conn.execute(
            select(models.exports.c.filters).where(models.exports.c.id == int(export_id))
        ).scalar()
    holdout = (filters or {}).get("holdout") or {}
    share = holdout.get("share")
    return float(share) if share else None


def arms_from_recipients(recipients: pd.DataFrame) -> pd.DataFrame:
    """ARM_COLUMNS per arm from `campaign_recipients`' rows (treated variants first,
    the control last)."""
    grouped = recipients.assign(
        converted=recipients["orders"] > 0, revenue_squares=recipients["revenue"] ** 2
    ).groupby("arm", sort=True)
    arms = grouped.agg(
        is_control=("is_control", "max"),
        recipients=("customer_id", "size"),
        sent=("sent", "sum"),
        opened=("opened", "sum"),
        clicked=("clicked", "sum"),
        converters=("converted", "sum"),
        orders=("orders", "sum"),
        revenue=("revenue", "sum"),
        revenue_squares=("revenue_squares", "sum"),
        responders=("responded", "sum"),
    ).reset_index()
    arms = arms.sort_values(["is_control", "arm"]).reset_index(drop=True)
    return with_rates(arms)


def compare_arms(recipients: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Each treated variant against the control (z-test of conversion, Welch's test of
    revenue per recipient); without a control, each variant against the first. p_holm:
    Holm's adjustment over the comparisons made (equal to p for one)."""
    arms = sorted(recipients["arm"].unique().tolist())
    has_control = CONTROL in arms
    treated_arms = [a for a in arms if a != CONTROL]
    baseline = CONTROL if has_control else (treated_arms[0] if treated_arms else None)
    others = [a for a in treated_arms if a != baseline]
    rows = []
    base = recipients.loc[recipients["arm"] == baseline]
    for name in others:
        arm = recipients.loc[recipients["arm"] == name]
        conversion = two_proportion_test(
            int((arm["orders"] > 0).sum()), len(arm), int((base["orders"] > 0).sum()), len(base),
            alpha,
        )  # fmt: skip
        revenue = welch_test(arm["revenue"].to_numpy(), base["revenue"].to_numpy(), alpha)
        rows.append(
            {
                "arm": name,
                "against": baseline,
                "rate": conversion.treated_rate,
                "against_rate": conversion.control_rate,
                "difference": conversion.difference,
                "ci_low": conversion.ci_low,
                "ci_high": conversion.ci_high,
                "z": conversion.z,
                "p_value": conversion.p_value,
                "revenue_difference": revenue.difference,
                "revenue_ci_low": revenue.ci_low,
                "revenue_ci_high": revenue.ci_high,
                "revenue_p_value": revenue.p_value,
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in COMPARISON_COLUMNS if c != "p_holm"])
    frame.insert(
        COMPARISON_COLUMNS.index("p_holm"),
        "p_holm",
        holm_adjust(frame["p_value"].to_numpy(dtype=float)) if len(frame) else [],
    )
    return frame


def cumulative_conversion(recipients: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Share of each side (treated / control) that bought by the end of each whole day
    since the reference time, days 0..horizon_days - 1 (day 0: the first 24 hours)."""
    days = np.arange(horizon_days)
    rows = []
    for side, members in (
        ("treated", recipients.loc[~recipients["is_control"]]),
        ("control", recipients.loc[recipients["is_control"]]),
    ):
        if members.empty:
            continue
        first = np.floor(members["first_order_days"].to_numpy(dtype=float))
        counts = np.bincount(first[np.isfinite(first)].astype(np.int64), minlength=horizon_days)[
            :horizon_days
        ]
        rows.append(
            pd.DataFrame(
                {
                    "day": days,
                    "side": side,
                    "conversion_rate": np.cumsum(counts) / len(members),
                }
            )
        )
    if not rows:
        return pd.DataFrame(columns=["day", "side", "conversion_rate"])
    return pd.concat(rows, ignore_index=True)


def campaign_report(
    engine: Engine,
    campaign_id: str,
    as_of: dt.date,
    *,
    window_days: int | None = None,
    margin_rate: float | None = None,
    planned_share: float | None = None,
    recipients: pd.DataFrame | None = None,
) -> CampaignReport:
    """The one-campaign view (see CampaignReport). `window_days` overrides the
    campaign's window; `planned_share` the planned control share (default: the holdout
    share of the export it came from); `recipients` reuses rows already read."""
    campaign = campaign_record(engine, campaign_id)
    stored_windows = campaign_windows(engine)
    window = window_of(stored_windows, campaign_id, window_days)
    rate = gross_margin_rate(engine) if margin_rate is None else check_margin_rate(margin_rate)
    horizon = 2 * window
    if recipients is None:
        recipients = campaign_recipients(engine, campaign_id, as_of, window, horizon)
    arms = arms_from_recipients(recipients)
    treated = recipients.loc[~recipients["is_control"]]
    control = recipients.loc[recipients["is_control"]]
    cost = float(campaign["cost"])
    incremental = cuped = None
    if len(treated) and len(control):
        uplift = two_proportion_test(
            int((treated["orders"] > 0).sum()), len(treated),
            int((control["orders"] > 0).sum()), len(control),
        )  # fmt: skip
        revenue_test = welch_test(treated["revenue"].to_numpy(), control["revenue"].to_numpy())
        incremental = incremental_figures(uplift, revenue_test, len(treated), cost, rate)
        cuped = cuped_test(
            treated["revenue"].to_numpy(),
            treated["pre_spend"].to_numpy(),
            control["revenue"].to_numpy(),
            control["pre_spend"].to_numpy(),
        )
    share = planned_share if planned_share is not None else planned_control_share(engine, campaign)
    srm = (
        sample_ratio_check([len(treated), len(control)], [1.0 - share, share])
        if share and len(recipients)
        else None
    )
    variant_counts = treated.groupby("arm").size()
    variant_srm = (
        sample_ratio_check(variant_counts.tolist(), [1.0] * len(variant_counts))
        if len(variant_counts) > 1
        else None
    )
    attributed = attributed_revenue(
        engine, as_of, {**stored_windows, campaign_id: window}, [campaign_id]
    ).set_index("campaign_id")
    last = recipients["reference"].max() if len(recipients) else campaign["started_at"]
    return CampaignReport(
        campaign=campaign,
        window_days=window,
        window_complete=bool(
            pd.Timestamp(last) + pd.Timedelta(days=window) <= pd.Timestamp(asof.end_of(as_of))
        ),
        attributed_orders=int(attributed["attributed_orders"].get(campaign_id, 0)),
        attributed_revenue=float(attributed["attributed_revenue"].get(campaign_id, 0.0)),
        arms=arms[list(ARM_COLUMNS)],
        comparisons=compare_arms(recipients),
        incremental=incremental,
        cuped=cuped,
        srm=srm,
        variant_srm=variant_srm,
        cumulative=cumulative_conversion(recipients, horizon),
        verdict=verdict(incremental.uplift if incremental else None),
    )


FUNNEL_STEPS: tuple[str, ...] = ("sent", "opened", "clicked", "converters")


def funnel(arms: pd.DataFrame) -> pd.DataFrame:
    """Sent -> opened -> clicked -> converted for the treated arms together and each
    variant: arm, step (FUNNEL_STEPS), customers."""
    treated = arms.loc[~arms["is_control"]]
    rows = []
    for name, part in [("all", treated), *((a, treated.loc[treated["arm"] == a]) for a in
                                            treated["arm"])]:  # fmt: skip
        if name != "all" and len(treated) < 2:
            continue
        for step in FUNNEL_STEPS:
            rows.append({"arm": name, "step": step, "customers": int(part[step].sum())})
    return pd.DataFrame(rows, columns=["arm", "step", "customers"])


# --- who responded ----------------------------------------------------------------------


GROUP_COLUMNS: tuple[str, ...] = (
    "group",
    "treated",
    "control",
    "treated_rate",
    "control_rate",
    "uplift",
    "ci_low",
    "ci_high",
    "p_value",
    "ranked",
    "significant_gain",
)


def uplift_by_group(
    recipients: pd.DataFrame,
    groups: pd.Series | pd.DataFrame,
    *,
    min_per_arm: int = MIN_GROUP_PER_ARM,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Uplift per group (GROUP_COLUMNS). `groups`: a Series of one group name per
    recipient (aligned with `recipients`, e.g. the segment), or a boolean DataFrame with
    one column per group (e.g. tags; a recipient may be in several). A group with fewer
    than `min_per_arm` recipients in either side is not ranked (ranked False, no
    significance); ranked groups come first, by uplift."""
    converted = (recipients["orders"] > 0).to_numpy()
    control = recipients["is_control"].to_numpy(dtype=bool)
    if isinstance(groups, pd.DataFrame):
        members = {str(name): groups[name].to_numpy(dtype=bool) for name in groups.columns}
    else:
        values = groups.astype("string").fillna("").to_numpy()
        members = {str(name): values == name for name in pd.unique(values) if name != ""}
    rows = []
    for name, inside in members.items():
        n_t = int((inside & ~control).sum())
        n_c = int((inside & control).sum())
        if n_t == 0 and n_c == 0:
            continue
        test = two_proportion_test(
            int((inside & ~control & converted).sum()), n_t,
            int((inside & control & converted).sum()), n_c, alpha,
        )  # fmt: skip
        ranked = n_t >= min_per_arm and n_c >= min_per_arm
        rows.append(
            {
                "group": name,
                "treated": n_t,
                "control": n_c,
                "treated_rate": test.treated_rate,
                "control_rate": test.control_rate,
                "uplift": test.difference,
                "ci_low": test.ci_low,
                "ci_high": test.ci_high,
                "p_value": test.p_value,
                "ranked": ranked,
                "significant_gain": bool(
                    ranked and np.isfinite(test.p_value) and test.p_value < alpha
                    and test.difference > 0
                ),
            }
        )  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(GROUP_COLUMNS))
    if frame.empty:
        return frame
    frame["_order"] = np.where(frame["ranked"], -frame["uplift"].fillna(-np.inf), np.inf)
    return (
        frame.sort_values(["ranked", "_order", "group"], ascending=[False, True, True])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def responding_segments(by_segment: pd.DataFrame) -> list[str]:
    """The segments whose uplift is a significant gain (ranked groups only)."""
    return by_segment.loc[by_segment["significant_gain"], "group"].astype(str).tolist()


def segment_facts_date(campaign: Mapping[str, Any]) -> dt.date:
    """The as-of date of the segments and tags a campaign's response is broken down by:
    the day before it started (what the customer was when chosen, not after)."""
    return pd.Timestamp(campaign["started_at"]).date() - dt.timedelta(days=1)


def recipient_groups(
    recipients: pd.DataFrame, facts: AudienceFacts
) -> tuple[pd.Series, pd.DataFrame]:
    """Each recipient's segment name (empty when the facts do not know the customer) and
    tags (a boolean column per tag) from audience facts, aligned with `recipients`: what
    `uplift_by_group` breaks a campaign down by."""
    positions = facts.positions(recipients["customer_id"])
    known = positions >= 0
    names = np.asarray(facts.assignment.names, dtype=object)
    segments = np.full(len(recipients), "", dtype=object)
    segments[known] = names[facts.assignment.codes[positions[known]]]
    values = np.zeros((len(recipients), len(facts.tags.names)), dtype=bool)
    values[known] = facts.tags.values[positions[known]]
    tags = pd.DataFrame(values, columns=facts.tags.names, index=recipients.index)
    return pd.Series(segments, index=recipients.index, name="segment"), tags
