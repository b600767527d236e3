"""Demo campaigns: the plan, each block's touches and the purchases they cause, and the
campaigns and campaign_touches frames.

Campaigns on SMS, e-mail and WeCom target broad, win-back, new-customer, VIP and
women's-day audiences with A/B variants and a holdout control group (never sent); treated
customers buy a little more during the campaign (those orders carry the campaign_id), so
campaign analyses find a real effect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_core.demo.blocks import Blocks, customers_of
from crm_core.demo.customers import Customers
from crm_core.demo.helpers import KEY_STRIDE, STR_DTYPE, concat, random_stream, strings
from crm_core.demo.reference import (
    AUDIENCE_SHARE,
    AUDIENCE_ZH,
    CLICK_RATE,
    CONTACT_CHANNEL_ZH,
    COST_PER_CONTACT,
    OPEN_RATE,
    REGULAR_CAMPAIGNS,
    RESPONSE_RATE,
    SPRING_FESTIVALS,
)
from crm_core.demo.timeline import SECONDS_PER_DAY, Calendar


@dataclass
class CampaignPlan:
    """The campaigns of the history (arrays indexed by campaign number)."""

    campaign_id: list[str]
    name: list[str]
    description: list[str]
    channel: list[str]
    audience: list[str]
    start: np.ndarray  # tau of the start (midnight)
    end: np.ndarray  # tau of the end (exclusive)
    has_b: np.ndarray  # A/B test (else only variant A)
    lift_b: np.ndarray  # response rate of B relative to A
    control_share: np.ndarray
    fixed_cost: np.ndarray  # CNY: creative work and set-up


def plan_campaigns(seed: int, cal: Calendar) -> CampaignPlan:
    """The campaigns that start after the history's first 60 days and end within it, by
    start: a regular one each month, 11.11, 618 and Women's Day campaigns, and one before
    each Spring Festival; about half are A/B tests, each holds out 10 or 20 % as control."""
    rng = random_stream(seed, 3)
    rows: list[tuple[dt.date, int, str, str, str, str]] = []  # start, days, audience, ...
    year, month = cal.start_date.year, cal.start_date.month
    month_number = 0
    while (year, month) <= (cal.end_date.year, cal.end_date.month):
        audience, channel, theme, offer = REGULAR_CAMPAIGNS[month_number % len(REGULAR_CAMPAIGNS)]
        rows.append(
            (
                dt.date(year, month, 10),
                10,
                audience,
                channel,
                f"{year}年{month}月{theme}（{CONTACT_CHANNEL_ZH[channel]}）",
                offer,
            )
        )
        if month == 11:
            rows.append(
                (dt.date(year, 11, 1), 11, "broad", "sms", f"{year}双11预热短信", "满300减50")
            )
            rows.append(
                (dt.date(year, 11, 3), 9, "broad", "wecom", f"{year}双11企微社群福利", "社群专享券")
            )
        if month == 6:
            rows.append(
                (dt.date(year, 6, 8), 11, "broad", "sms", f"{year} 618年中大促短信", "满200减30")
            )
        if month == 3:
            rows.append(
                (dt.date(year, 3, 1), 8, "female", "email", f"{year}女王节邮件", "女装满199减40")
            )
        month_number += 1
        month = month % 12 + 1
        year += month == 1
    for festival in SPRING_FESTIVALS:
        rows.append(
            (festival - dt.timedelta(days=28), 18, "broad", "wecom",
             f"{festival.year}年货节企微专享", "年货满减")
        )  # fmt: skip
    first_allowed = cal.start_date + dt.timedelta(days=60)
    rows = sorted(
        (
            r
            for r in rows
            if r[0] >= first_allowed and r[0] + dt.timedelta(days=r[1]) <= cal.end_date
        ),
        key=lambda r: (r[0], r[3]),
    )
    count = len(rows)
    has_b = rng.random(count) < 0.5
    lift_b = rng.uniform(0.8, 1.5, count)
    control_share = np.where(rng.random(count) < 0.7, 0.10, 0.20)
    fixed_cost = np.round(rng.uniform(500.0, 3000.0, count), -1)
    ids, descriptions = [], []
    per_month: dict[tuple[int, int], int] = {}
    for number, (start, _, audience, _, _, offer) in enumerate(rows):
        key = (start.year, start.month)
        per_month[key] = per_month.get(key, 0) + 1
        ids.append(f"CMP{start.year}{start.month:02d}{per_month[key]:02d}")
        test = "A/B测试文案A与文案B" if has_b[number] else "单一文案"
        descriptions.append(
            f"目标：{AUDIENCE_ZH[audience]}；优惠：{offer}；{test}；"
            f"随机留出{int(control_share[number] * 100)}%对照组不发送"
        )
    return CampaignPlan(
        campaign_id=ids,
        name=[r[4] for r in rows],
        description=descriptions,
        channel=[r[3] for r in rows],
        audience=[r[2] for r in rows],
        start=np.array([cal.tau_of_date(r[0]) for r in rows]),
        end=np.array([cal.tau_of_date(r[0]) + r[1] for r in rows]),
        has_b=has_b,
        lift_b=lift_b,
        control_share=control_share,
        fixed_cost=fixed_cost,
    )


def block_campaigns(
    rng: np.random.Generator,
    cal: Calendar,
    plan: CampaignPlan,
    people: Customers,
    lo: int,
    hi: int,
    paid_keys: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(touches, extra purchases) of the block's customers: each campaign's audience,
    its control group and variants, opens and clicks (hours after sending), and the
    purchases the campaign adds for treated customers. `paid_keys`: the block's sorted
    paid-order keys (customer * stride + tau)."""
    nb = hi - lo
    signup = people.signup[lo:hi]
    first_paid = np.searchsorted(paid_keys, np.arange(nb) * KEY_STRIDE)
    touches: dict[str, list[np.ndarray]] = {k: [] for k in ("campaign", "customer", "variant")}
    touches.update({k: [] for k in ("sent", "opened", "clicked")})
    extra: dict[str, list[np.ndarray]] = {"customer": [], "tau": [], "campaign": []}
    gender = people.gender[lo:hi]
    reachable = {
        "sms": ~people.opt_out["sms"][lo:hi],
        "email": people.has_email[lo:hi] & ~people.opt_out["email"][lo:hi],
        "wecom": people.has_wecom[lo:hi] & ~people.opt_out["wecom"][lo:hi],
    }
    everyone = np.arange(nb)
    for number, channel in enumerate(plan.channel):
        start, end = plan.start[number], plan.end[number]
        before = np.searchsorted(paid_keys, everyone * KEY_STRIDE + start)
        paid_before = before - first_paid
        last_paid = np.where(paid_before > 0, paid_keys[np.maximum(before - 1, 0)], np.nan)
        last_paid -= everyone * KEY_STRIDE
        audience = plan.audience[number]
        if audience == "winback":
            rule = (start - last_paid >= 60) & (start - last_paid <= 365)
        elif audience == "new":
            rule = (start - signup <= 45) & (paid_before <= 1)
        elif audience == "vip":
            rule = paid_before >= 5
        elif audience == "female":
            rule = gender == 0
        else:
            rule = np.ones(nb, dtype=bool)
        chosen = np.flatnonzero(
            rule
            & reachable[channel]
            & (signup < start)
            & (rng.random(nb) < AUDIENCE_SHARE[audience])
        )
        k = len(chosen)
        control = rng.random(k) < plan.control_share[number]
        variant = np.where(control, 2, np.where(plan.has_b[number] & (rng.random(k) < 0.5), 1, 0))
        sent = np.where(control, np.nan, start + rng.uniform(0.35, 0.6, k))
        lift = np.where(variant == 1, plan.lift_b[number], 1.0)
        responds = ~control & (rng.random(k) < RESPONSE_RATE[channel] * lift)
        response_tau = sent + rng.exponential(2.0, k)
        responds &= response_tau < min(end, cal.days)
        opened = ~control & (rng.random(k) < OPEN_RATE[channel] * lift)
        if channel == "sms":
            clicked = ~control & (rng.random(k) < CLICK_RATE[channel] * lift)
        else:
            clicked = opened & (rng.random(k) < CLICK_RATE[channel] * lift)
        clicked |= responds & (rng.random(k) < 0.6)
        opened |= clicked & (OPEN_RATE[channel] > 0)
        open_hours = rng.exponential(3.0, k)
        click_hours = open_hours + rng.exponential(0.3, k)
        touches["campaign"].append(np.full(k, number))
        touches["customer"].append(chosen)
        touches["variant"].append(variant)
        touches["sent"].append(sent)
        touches["opened"].append(np.where(opened, open_hours, np.nan))
        touches["clicked"].append(np.where(clicked, click_hours, np.nan))
        extra["customer"].append(chosen[responds])
        extra["tau"].append(response_tau[responds])
        extra["campaign"].append(np.full(int(responds.sum()), number))

    touch_floats = ("sent", "opened", "clicked")
    return (
        {k: concat(v, float if k in touch_floats else np.int64) for k, v in touches.items()},
        {k: concat(v, float if k == "tau" else np.int64) for k, v in extra.items()},
    )


def touches_frame(
    cal: Calendar, blocks: Blocks, customer_ids: pd.Series, plan: CampaignPlan
) -> pd.DataFrame:
    """Touches in (campaign, customer) order, the primary key's."""
    campaign = blocks.take("touches", "campaign")
    customer = blocks.take("touches", "customer", offset_by="customer")
    order = np.lexsort((customer, campaign))
    sent = cal.seconds(blocks.take("touches", "sent", order))
    end = cal.end_seconds

    def after_send(hours: np.ndarray) -> np.ndarray:
        at = sent + np.round(hours * 3600.0)
        return np.where(at < end, at, np.nan)

    variant = blocks.take("touches", "variant", order)
    return pd.DataFrame(
        {
            "campaign_id": strings(campaign[order], plan.campaign_id),
            "customer_id": customers_of(customer_ids, customer[order]),
            "variant": strings(variant, ["A", "B", "control"]),
            "is_control": variant == 2,
            "sent_at": cal.timestamps(sent),
            "opened_at": cal.timestamps(after_send(blocks.take("touches", "opened", order))),
            "clicked_at": cal.timestamps(after_send(blocks.take("touches", "clicked", order))),
            "responded": blocks.take("touches", "responded", order).astype(bool),
        }
    )


def campaigns_frame(cal: Calendar, plan: CampaignPlan, touches: pd.DataFrame) -> pd.DataFrame:
    """Campaigns with their total cost: set-up plus cost per contact for every message sent."""
    sent = touches.loc[touches["sent_at"].notna(), "campaign_id"].value_counts()
    sent_count = sent.reindex(plan.campaign_id, fill_value=0).to_numpy()
    cost_per_contact = np.array([COST_PER_CONTACT[c] for c in plan.channel])
    return pd.DataFrame(
        {
            "campaign_id": pd.Series(plan.campaign_id, dtype=STR_DTYPE),
            "name": pd.Series(plan.name, dtype=STR_DTYPE),
            "channel": pd.Series(plan.channel, dtype=STR_DTYPE),
            "started_at": cal.timestamps(plan.start * SECONDS_PER_DAY),
            "ended_at": cal.timestamps(plan.end * SECONDS_PER_DAY - 1),
            "cost": np.round(plan.fixed_cost + cost_per_contact * sent_count, 2),
            "cost_per_contact": cost_per_contact,
            "revenue_per_response": np.full(len(plan.campaign_id), np.nan),
            "description": pd.Series(plan.description, dtype=STR_DTYPE),
            "export_id": pd.array([None] * len(plan.campaign_id), dtype="Int64"),
        }
    )
