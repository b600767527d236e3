"""Service levels from tickets measured against the SLA policy (`sla.ticket_levels`):
response and resolution times by week, SLA achievement by group, the open backlog by
age, open tickets about to breach, tickets per 1,000 orders, CSAT by group and reason
counts. Every function takes the levels frame and returns a frame; none reads the store.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crm_core.voice.nps import CSAT_SATISFIED_MIN, MIN_ANSWERS, period_labels, wilson_interval
from crm_core.voice.sla import BREACHED, MET, PENDING, STAGES

BACKLOG_BANDS: tuple[tuple[str, float, float], ...] = (
    ("under_4h", 0.0, 4.0),
    ("4h_to_24h", 4.0, 24.0),
    ("1d_to_3d", 24.0, 72.0),
    ("over_3d", 72.0, np.inf),
)
"""Open tickets' age bands in calendar hours: [from, to)."""
SLA_GROUPS: tuple[str, ...] = ("priority", "tier", "ticket_type", "channel", "agent")
ACHIEVEMENT_COLUMNS: tuple[str, ...] = (
    "group",
    "stage",
    "tickets",
    "met",
    "breached",
    "pending",
    "achievement",
    "achievement_low",
    "achievement_high",
)
TIMES_COLUMNS: tuple[str, ...] = (
    "period",
    "period_start",
    "stage",
    "tickets",
    "median_hours",
    "p90_hours",
)
AT_RISK_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "customer_id",
    "ticket_type",
    "priority",
    "tier",
    "channel",
    "agent",
    "created_at",
    "stage",
    "due_at",
    "hours_left",
)
BREACHED_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "customer_id",
    "ticket_type",
    "priority",
    "tier",
    "agent",
    "created_at",
    "first_response_hours",
    "first_response_target_hours",
    "resolution_hours",
    "resolution_target_hours",
    "is_open",
)
CSAT_COLUMNS: tuple[str, ...] = (
    "group",
    "rated",
    "csat_share",
    "csat_low",
    "csat_high",
    "csat_mean",
    "ranked",
)


def sla_achievement(levels: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Per group of column `by` (or one row 'all') and stage: tickets, met, breached,
    pending, achievement = met / (met + breached) [%] with its Wilson 95% interval (NaN
    when nothing was decided yet)."""
    rows = []
    keys = levels[by].fillna("").astype(str) if by else pd.Series("all", index=levels.index)
    for stage in STAGES:
        status = levels[f"{stage}_status"]
        counts = (
            pd.DataFrame(
                {
                    "tickets": np.ones(len(levels), dtype=np.int64),
                    "met": (status == MET).to_numpy(dtype=np.int64),
                    "breached": (status == BREACHED).to_numpy(dtype=np.int64),
                    "pending": (status == PENDING).to_numpy(dtype=np.int64),
                },
                index=levels.index,
            )
            .groupby(keys, sort=True)
            .sum()
        )
        decided = counts["met"] + counts["breached"]
        low, high = wilson_interval(counts["met"], decided)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = 100.0 * counts["met"] / decided.where(decided > 0)
        part = counts.reset_index(names="group")
        part.insert(1, "stage", stage)
        part["achievement"] = share.to_numpy(dtype=np.float64)
        part["achievement_low"] = 100.0 * low
        part["achievement_high"] = 100.0 * high
        rows.append(part)
    if not rows or all(part.empty for part in rows):
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in ACHIEVEMENT_COLUMNS})
    return pd.concat(rows, ignore_index=True)[list(ACHIEVEMENT_COLUMNS)]


def response_times(levels: pd.DataFrame, period: str = "week") -> pd.DataFrame:
    """Median and 90th percentile of the time to first response and to resolution [hours
    in the policy's clock], per period of creation, over the tickets that reached that
    stage: TIMES_COLUMNS."""
    if levels.empty:
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in TIMES_COLUMNS})
    labels = period_labels(levels["created_at"], period)
    parts = []
    for stage in STAGES:
        reached = levels[f"{stage}_reached"]
        hours = levels.loc[reached, f"{stage}_hours"]
        grouped = hours.groupby(labels[reached.to_numpy()], sort=True)
        part = pd.DataFrame(
            {
                "tickets": grouped.size(),
                "median_hours": grouped.median(),
                "p90_hours": grouped.quantile(0.9),
            }
        )
        part["stage"] = stage
        part["period"] = [
            p.start_time.strftime("%Y-%m-%d") if period == "week" else str(p) for p in part.index
        ]
        part["period_start"] = part.index.start_time.date
        parts.append(part.reset_index(drop=True))
    return pd.concat(parts, ignore_index=True)[list(TIMES_COLUMNS)]


def open_backlog(levels: pd.DataFrame) -> pd.DataFrame:
    """Open tickets per age band (BACKLOG_BANDS) and priority: band, priority, tickets."""
    open_tickets = levels[levels["is_open"]]
    bands = pd.cut(
        open_tickets["age_hours"],
        bins=[low for _, low, _ in BACKLOG_BANDS] + [np.inf],
        labels=[name for name, _, _ in BACKLOG_BANDS],
        right=False,
    )
    counts = (
        pd.DataFrame({"band": bands, "priority": open_tickets["priority"].astype(str)})
        .groupby(["band", "priority"], observed=False)
        .size()
        .rename("tickets")
        .reset_index()
    )
    counts["band"] = counts["band"].astype(str)
    return counts


def tickets_at_risk(levels: pd.DataFrame, moment: dt.datetime, within_hours: float) -> pd.DataFrame:
    """Open tickets whose first response or resolution target runs out within
    `within_hours` calendar hours after `moment` and has not yet: AT_RISK_COLUMNS, the
    soonest due first (a ticket due at both stages is listed at the earlier one).
    hours_left is calendar hours from `moment` to due_at."""
    at = pd.Timestamp(moment)
    horizon = at + pd.Timedelta(hours=within_hours)
    parts = []
    for stage in STAGES:
        due = levels[f"{stage}_due_at"]
        risky = (levels[f"{stage}_status"] == PENDING) & (due > at) & (due <= horizon)
        part = levels.loc[risky, [c for c in AT_RISK_COLUMNS if c in levels.columns]].copy()
        part["stage"] = stage
        part["due_at"] = due[risky]
        parts.append(part)
    risky = pd.concat(parts, ignore_index=True)
    risky = risky.sort_values(["due_at", "ticket_id"]).drop_duplicates("ticket_id", keep="first")
    risky["hours_left"] = (risky["due_at"] - at).dt.total_seconds() / 3600.0
    return risky[list(AT_RISK_COLUMNS)].reset_index(drop=True)


def breached_tickets(levels: pd.DataFrame) -> pd.DataFrame:
    """The tickets that breached a target, newest first: BREACHED_COLUMNS (times and
    targets in hours of the policy's clock)."""
    breached = (levels["first_response_status"] == BREACHED) | (
        levels["resolution_status"] == BREACHED
    )
    return (
        levels.loc[breached, list(BREACHED_COLUMNS)]
        .sort_values(["created_at", "ticket_id"], ascending=[False, True])
        .reset_index(drop=True)
    )


def tickets_per_thousand_orders(levels: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """Tickets created per 1,000 paid orders, per month and ticket type, for the months of
    `monthly` (the frame of `overview.monthly_revenue`: month, paid_orders): period
    (2026-10), ticket_type, tickets, orders, per_thousand (NaN in a month without orders)."""
    month_starts = pd.DatetimeIndex(monthly["month"])
    numbers = month_starts.year * 12 + month_starts.month - 1
    orders = pd.Series(monthly["paid_orders"].to_numpy(dtype=np.int64), index=numbers)
    created = pd.DatetimeIndex(levels["created_at"])
    month = pd.Series(created.year * 12 + created.month - 1, index=levels.index)
    inside = month.isin(orders.index).to_numpy()
    counts = (
        pd.DataFrame({"month": month[inside], "ticket_type": levels.loc[inside, "ticket_type"]})
        .groupby(["month", "ticket_type"], sort=True)
        .size()
        .rename("tickets")
        .reset_index()
    )
    counts["orders"] = counts["month"].map(orders).fillna(0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["per_thousand"] = np.where(
            counts["orders"] > 0, 1000.0 * counts["tickets"] / counts["orders"], np.nan
        )
    counts.insert(
        0, "period", [f"{number // 12:04d}-{number % 12 + 1:02d}" for number in counts["month"]]
    )
    counts["ticket_type"] = counts["ticket_type"].astype(str)
    return counts.drop(columns="month")


def csat_by(levels: pd.DataFrame, by: str, min_rated: int = MIN_ANSWERS) -> pd.DataFrame:
    """CSAT of rated tickets per group of column `by`: CSAT_COLUMNS (share of 4-5 [%]
    with its Wilson interval, mean 1-5); groups under `min_rated` ratings are not
    ranked. Ranked groups first, best share first."""
    rated = levels[levels["csat"].notna() & levels[by].notna()]
    if rated.empty:
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in CSAT_COLUMNS})
    scores = rated["csat"].astype(np.float64)
    grouped = scores.groupby(rated[by].astype(str), sort=True)
    frame = pd.DataFrame(
        {
            "rated": grouped.size(),
            "satisfied": (scores >= CSAT_SATISFIED_MIN).groupby(rated[by].astype(str)).sum(),
            "csat_mean": grouped.mean(),
        }
    )
    low, high = wilson_interval(frame["satisfied"], frame["rated"])
    frame["csat_share"] = 100.0 * frame["satisfied"] / frame["rated"]
    frame["csat_low"], frame["csat_high"] = 100.0 * low, 100.0 * high
    frame["ranked"] = frame["rated"] >= min_rated
    frame = frame.reset_index(names="group")
    best = np.where(frame["ranked"], -frame["csat_share"], 0.0)
    frame = frame.iloc[np.lexsort((-frame["rated"].to_numpy(), best, ~frame["ranked"].to_numpy()))]
    return frame[list(CSAT_COLUMNS)].reset_index(drop=True)


def reason_counts(
    levels: pd.DataFrame, ticket_types: tuple[str, ...] = ("return", "quality")
) -> pd.DataFrame:
    """How often each reason was given on tickets of `ticket_types` (for the product
    team): ticket_type, reason, tickets, share [% of that type's tickets with a reason]."""
    chosen = levels[levels["ticket_type"].isin(ticket_types) & levels["reason"].notna()]
    counts = (
        chosen.groupby(["ticket_type", "reason"], sort=True).size().rename("tickets").reset_index()
    )
    totals = counts.groupby("ticket_type")["tickets"].transform("sum")
    counts["share"] = 100.0 * counts["tickets"] / totals
    return counts.sort_values(["ticket_type", "tickets"], ascending=[True, False]).reset_index(
        drop=True
    )


EXPERIENCE_DAYS = 90
EXPERIENCES: tuple[str, ...] = ("complaint", "breached", "within_sla", "no_ticket")
"""Service experience of an answer, first that applies: a complaint ticket, a ticket
that breached its SLA, a ticket within it, no ticket, in the EXPERIENCE_DAYS days up to
the answer."""


def service_experience(
    answers: pd.DataFrame, levels: pd.DataFrame, days: int = EXPERIENCE_DAYS
) -> pd.Series:
    """Each answer's service experience (EXPERIENCES) from the customer's tickets created
    in the `days` days up to the moment of the answer; a ticket's SLA status is the one
    `levels` measured (at the view's as-of moment)."""
    tickets = pd.DataFrame(
        {
            "customer_id": levels["customer_id"].astype(str).to_numpy(),
            "created_at": levels["created_at"].to_numpy(dtype="datetime64[s]"),
            "rank": np.select(
                [
                    levels["is_complaint"].to_numpy(dtype=bool),
                    (
                        (levels["first_response_status"] == BREACHED)
                        | (levels["resolution_status"] == BREACHED)
                    ).to_numpy(),
                ],
                [0, 1],
                default=2,
            ),
        }
    )
    asked = pd.DataFrame(
        {
            "row": np.arange(len(answers)),
            "customer_id": answers["customer_id"].astype(str).to_numpy(),
            "responded_at": answers["responded_at"].to_numpy(dtype="datetime64[s]"),
        }
    )
    pairs = asked.merge(tickets, on="customer_id", how="inner")
    window = np.timedelta64(days, "D")
    inside = (pairs["created_at"] <= pairs["responded_at"]) & (
        pairs["created_at"] > pairs["responded_at"] - window
    )
    best = pairs[inside].groupby("row")["rank"].min()
    rank = np.full(len(answers), 3)
    rank[best.index.to_numpy()] = best.to_numpy()
    return pd.Series(
        np.asarray(EXPERIENCES, dtype=object)[rank], index=answers.index, name="experience"
    )
