"""Demo orders, drawn one block of customers at a time, and the orders frame.

Orders follow `OrderCountModel`: a few customers never buy, many buy once, the rest keep
buying at a heavy-tailed personal rate until they lapse. Order days follow the Chinese
retail calendar (11.11, 618, 12.12, Women's Day, the New-Year-goods season before the
Spring Festival and the quiet holiday itself) and hours follow the day's rhythm. amount
is the money paid after `discount`; most orders are paid, some stay unpaid or are
cancelled; refunds are separate rows (status 'refunded', amount = money returned,
`refund_of` = the paid order) a few days after the purchase.

`draw_block` draws a block's orders and then, from the same random stream, what depends
on them: campaign touches, tickets, survey answers and events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_core.demo.blocks import Blocks, chronological, customers_of, numbered, references
from crm_core.demo.campaigns import CampaignPlan, block_campaigns
from crm_core.demo.customers import Customers
from crm_core.demo.events import block_events
from crm_core.demo.helpers import KEY_STRIDE, choice, random_stream, sorted_keys, strings
from crm_core.demo.reference import (
    CANCELLED,
    CATEGORY_LOG_MEDIAN,
    CATEGORY_LOG_SD,
    CATEGORY_NAMES,
    CATEGORY_REFUND_P,
    CATEGORY_SHARES,
    ORDER_CHANNEL_WEIGHTS,
    PAID,
    REFUNDED,
    STATUSES,
    UNPAID,
)
from crm_core.demo.surveys import block_surveys
from crm_core.demo.tickets import block_tickets
from crm_core.demo.timeline import Calendar
from crm_core.store import models


def _priced_orders(
    rng: np.random.Generator,
    tau: np.ndarray,
    favourite: np.ndarray,
    customer_channel: np.ndarray,
    discount_p: np.ndarray,
) -> dict[str, np.ndarray]:
    """Category, list price, discount, paid amount and channel for orders at `tau`."""
    n = len(tau)
    category = np.where(rng.random(n) < 0.55, favourite, choice(rng, CATEGORY_SHARES, n))
    raw = np.exp(CATEGORY_LOG_MEDIAN[category] + CATEGORY_LOG_SD[category] * rng.normal(size=n))
    list_price = np.maximum(np.floor(raw), 9.0) + 0.9
    discounted = rng.random(n) < discount_p
    percent = np.array([0.05, 0.10, 0.15, 0.20, 0.30])[
        choice(rng, np.array([0.2, 0.35, 0.2, 0.15, 0.1]), n)
    ]
    coupon = np.array([5.0, 10.0, 20.0, 30.0, 50.0, 100.0])[
        choice(rng, np.array([0.2, 0.3, 0.25, 0.12, 0.1, 0.03]), n)
    ]
    off = np.where(rng.random(n) < 0.6, list_price * percent, np.minimum(coupon, 0.4 * list_price))
    discount = np.where(discounted, np.round(off, 2), 0.0)
    amount = np.round(list_price - discount, 2)
    channel = np.where(rng.random(n) < 0.7, customer_channel, choice(rng, ORDER_CHANNEL_WEIGHTS, n))
    return {"category": category, "amount": amount, "discount": discount, "channel": channel}


def draw_block(
    seed: int,
    block: int,
    people: Customers,
    lo: int,
    hi: int,
    cal: Calendar,
    plan: CampaignPlan,
) -> dict[str, dict[str, np.ndarray]]:
    """Orders, touches, events, tickets and surveys of customers lo..hi-1 (local indexes:
    customer = position in the block, order references = position in the block's orders)."""
    rng = random_stream(seed, 4, block)
    nb = hi - lo
    signup = people.signup[lo:hi]
    favourite = people.favourite[lo:hi]
    cust_channel = people.channel[lo:hi]
    counts = people.order_count[lo:hi]

    # Base orders: the first at first_order, the rest spread over the active life.
    customer = np.repeat(np.arange(nb), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(len(customer)) - np.repeat(starts, counts)
    first = people.first_order[lo:hi][customer]
    last = people.active_end[lo:hi][customer]
    tau = np.where(position == 0, first, cal.sample_orders(first, last, rng.random(len(customer))))
    promo = cal.promo_day[cal.day_of(tau)]
    priced = _priced_orders(
        rng, tau, favourite[customer], cust_channel[customer], np.where(promo, 0.75, 0.28)
    )
    recent = tau >= cal.days - 3
    status = np.where(
        rng.random(len(tau)) < np.where(recent, 0.12, 0.03),
        UNPAID,
        np.where(rng.random(len(tau)) < 0.055, CANCELLED, PAID),
    )
    campaign = np.full(len(tau), -1)

    order_sort = np.argsort(sorted_keys(customer, tau), kind="stable")
    customer, tau, status = customer[order_sort], tau[order_sort], status[order_sort]
    priced = {k: v[order_sort] for k, v in priced.items()}
    paid_keys = sorted_keys(customer, tau)[status == PAID]

    touch, extra = block_campaigns(rng, cal, plan, people, lo, hi, paid_keys)
    extra_customer, extra_tau = extra["customer"], extra["tau"]
    extra_priced = _priced_orders(
        rng,
        extra_tau,
        favourite[extra_customer],
        cust_channel[extra_customer],
        np.full(len(extra_tau), 0.9),
    )
    customer = np.concatenate([customer, extra_customer])
    tau = np.concatenate([tau, extra_tau])
    status = np.concatenate([status, np.full(len(extra_tau), PAID)])
    campaign = np.concatenate([campaign, extra["campaign"]])
    priced = {k: np.concatenate([v, extra_priced[k]]) for k, v in priced.items()}
    order_sort = np.argsort(sorted_keys(customer, tau), kind="stable")
    customer, tau, status, campaign = (
        customer[order_sort],
        tau[order_sort],
        status[order_sort],
        campaign[order_sort],
    )
    priced = {k: v[order_sort] for k, v in priced.items()}
    paid = status == PAID
    paid_keys = sorted_keys(customer, tau)[paid]

    touch_customer = touch["customer"]
    window_lo = np.searchsorted(
        paid_keys, touch_customer * KEY_STRIDE + plan.start[touch["campaign"]]
    )
    window_hi = np.searchsorted(
        paid_keys, touch_customer * KEY_STRIDE + plan.end[touch["campaign"]]
    )
    touch["responded"] = window_hi > window_lo

    # Refunds of paid orders: full or partial, a few days later.
    n_orders = len(tau)
    paid_index = np.flatnonzero(paid)
    refunded = paid_index[
        rng.random(len(paid_index)) < CATEGORY_REFUND_P[priced["category"][paid_index]]
    ]
    refund_tau = tau[refunded] + 1.5 + rng.exponential(4.0, len(refunded))
    keep = refund_tau < cal.days
    refunded, refund_tau = refunded[keep], refund_tau[keep]
    share = np.where(rng.random(len(refunded)) < 0.65, 1.0, rng.uniform(0.1, 0.7, len(refunded)))
    refund_amount = np.maximum(np.round(priced["amount"][refunded] * share, 2), 0.01)
    refund_amount = np.minimum(refund_amount, priced["amount"][refunded])

    orders = {
        "customer": np.concatenate([customer, customer[refunded]]).astype(np.int32),
        "tau": np.concatenate([tau, refund_tau]),
        "status": np.concatenate([status, np.full(len(refunded), REFUNDED)]).astype(np.int8),
        "category": np.concatenate([priced["category"], priced["category"][refunded]]).astype(
            np.int8
        ),
        "amount": np.concatenate([priced["amount"], refund_amount]),
        "discount": np.concatenate([priced["discount"], np.zeros(len(refunded))]),
        "channel": np.concatenate([priced["channel"], priced["channel"][refunded]]).astype(np.int8),
        "campaign": np.concatenate([campaign, np.full(len(refunded), -1)]).astype(np.int16),
        "refund_of": np.concatenate([np.full(n_orders, -1), refunded]).astype(np.int32),
    }

    tickets = block_tickets(rng, cal, customer, tau, paid, refunded, refund_tau, signup)
    surveys = block_surveys(rng, cal, customer, tau, paid, tickets, nb)
    events = block_events(rng, cal, people, lo, hi)
    return {
        "orders": orders,
        "touches": touch,
        "tickets": tickets,
        "surveys": surveys,
        "events": events,
    }


def orders_frame(
    cal: Calendar,
    blocks: Blocks,
    customer_ids: pd.Series,
    plan: CampaignPlan,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The orders in time order (ids O000000001... in that order), and each gathered
    order's number, for references."""
    seconds = cal.seconds(blocks.take("orders", "tau"))
    order, rank = chronological(seconds)
    seconds = seconds[order]
    count = len(seconds)
    refund_of = blocks.take("orders", "refund_of", order, "order")
    status = blocks.take("orders", "status", order)
    pay_delay = np.minimum(np.round(rng.lognormal(np.log(90.0), 1.0, count)), 3 * 3600.0)
    paid_seconds = np.where(
        status == PAID, np.minimum(seconds + pay_delay, cal.end_seconds - 1), np.nan
    )
    frame = pd.DataFrame(
        {
            "order_id": numbered("O", count, 9),
            "customer_id": customers_of(
                customer_ids, blocks.take("orders", "customer", order, "customer")
            ),
            "ordered_at": cal.timestamps(seconds),
            "amount": blocks.take("orders", "amount", order),
            "status": strings(status, list(STATUSES)),
            "channel": strings(blocks.take("orders", "channel", order), list(models.CHANNELS)),
            "discount": blocks.take("orders", "discount", order),
            "category": strings(blocks.take("orders", "category", order), CATEGORY_NAMES),
            "paid_at": cal.timestamps(paid_seconds),
            "refund_of": references("O", np.where(refund_of >= 0, rank[refund_of], 0), count, 9),
            "campaign_id": strings(blocks.take("orders", "campaign", order), plan.campaign_id),
        }
    )
    return frame, rank
