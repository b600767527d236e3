"""Demo service tickets and the tickets frame.

Tickets (logistics, quality, return, consultation) come with refunds, after a few other
paid orders and as pre-sale questions; each has a priority, first-response and resolution
times (some late, some still open), CSAT 1-5 and a complaint flag that goes with quality
problems, low CSAT and slow answers; an agent (some agents' tickets are rated higher than
others'), a reason for logistics, quality and return tickets, and the status the service
system shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_core.demo.blocks import Blocks, chronological, customers_of, numbered, references
from crm_core.demo.helpers import choice, choice_rows, strings
from crm_core.demo.reference import (
    AGENT_SKILL,
    AGENTS,
    ANGRY_BY_TYPE,
    CLOSED_SHARE,
    COMPLAINT_BASE_BY_TYPE,
    CSAT_BASE_BY_TYPE,
    FIRST_RESPONSE_MEDIAN_HOURS,
    PRIORITIES,
    PRIORITY_BY_TYPE,
    REASONS_BY_TYPE,
    RESOLUTION_MEDIAN_HOURS,
    TICKET_TYPES,
)
from crm_core.demo.timeline import Calendar
from crm_core.store import models


def block_tickets(
    rng: np.random.Generator,
    cal: Calendar,
    customer: np.ndarray,
    tau: np.ndarray,
    paid: np.ndarray,
    refunded: np.ndarray,
    refund_tau: np.ndarray,
    signup: np.ndarray,
) -> dict[str, np.ndarray]:
    """Service tickets: about refunds, about other paid orders, and pre-sale questions."""
    nb = len(signup)
    # Most refunds come with a return or quality ticket opened before the refund.
    with_ticket = rng.random(len(refunded)) < 0.55
    r_orders = refunded[with_ticket]
    r_type = np.where(rng.random(len(r_orders)) < 0.6, 2, 1)
    r_created = tau[r_orders] + rng.uniform(0.3, 1.0, len(r_orders)) * (
        refund_tau[with_ticket] - tau[r_orders]
    )
    # A few other paid orders: mostly parcels that are late or questions after buying.
    refunded_mask = np.zeros(len(tau), dtype=bool)
    refunded_mask[refunded] = True
    candidates = np.flatnonzero(paid & ~refunded_mask)
    o_orders = candidates[rng.random(len(candidates)) < 0.025]
    o_type = choice(rng, np.array([0.55, 0.15, 0.05, 0.25]), len(o_orders))
    delay_days = np.select(
        [o_type == 0, o_type == 1, o_type == 2],
        [
            rng.uniform(1.0, 5.0, len(o_orders)),
            rng.uniform(3.0, 10.0, len(o_orders)),
            rng.uniform(2.0, 8.0, len(o_orders)),
        ],
        rng.uniform(0.05, 3.0, len(o_orders)),
    )
    o_created = tau[o_orders] + delay_days
    # Pre-sale consultations, from buyers and non-buyers alike.
    asks = rng.poisson(0.03, nb)
    p_customer = np.repeat(np.arange(nb), asks)
    p_created = signup[p_customer] + rng.random(len(p_customer)) * (cal.days - signup[p_customer])

    order_ref = np.concatenate([r_orders, o_orders, np.full(len(p_customer), -1)])
    ticket_customer = np.concatenate([customer[r_orders], customer[o_orders], p_customer])
    ticket_type = np.concatenate([r_type, o_type, np.full(len(p_customer), 3)])
    created = np.concatenate([r_created, o_created, p_created])
    keep = created < cal.days
    order_ref, ticket_customer, ticket_type, created = (
        order_ref[keep],
        ticket_customer[keep],
        ticket_type[keep],
        created[keep],
    )
    n = len(created)
    priority = choice_rows(rng, PRIORITY_BY_TYPE, ticket_type)
    channel = choice(rng, np.array([0.45, 0.10, 0.45]), n)
    first_response_hours = FIRST_RESPONSE_MEDIAN_HOURS[priority] * rng.lognormal(0.0, 1.0, n)
    never_answered = rng.random(n) < 0.02
    first_response_hours[never_answered] = np.nan
    resolve_hours = RESOLUTION_MEDIAN_HOURS[ticket_type] * rng.lognormal(0.0, 0.9, n)
    stuck = never_answered | (rng.random(n) < 0.03)
    resolution_hours = np.where(stuck, np.nan, first_response_hours + resolve_hours)
    slow = np.log2(np.maximum(np.nan_to_num(resolution_hours, nan=24.0), 24.0) / 24.0)
    latent = CSAT_BASE_BY_TYPE[ticket_type] - 0.35 * slow + rng.normal(0.0, 0.8, n)
    angry = rng.random(n) < ANGRY_BY_TYPE[ticket_type] * (1.0 + slow)
    csat = np.where(angry, rng.integers(1, 3, n), np.clip(np.round(latent), 1, 5))
    rated = ~np.isnan(resolution_hours) & (rng.random(n) < 0.65)
    csat = np.where(rated, csat, np.nan)
    complaint_p = (
        COMPLAINT_BASE_BY_TYPE[ticket_type]
        + np.where(rated & (csat <= 2), 0.45, 0.0)
        + np.where(priority == 3, 0.15, 0.0)
        + np.where(np.nan_to_num(first_response_hours, nan=48.0) > 24.0, 0.10, 0.0)
    )
    # Drawn from a child stream, so the draws above and the blocks after stay as they were.
    extra = rng.spawn(1)[0]
    rated_score = np.nan_to_num(csat, nan=3.0) - 3.0
    weights = np.exp(AGENT_SKILL[None, :] * rated_score[:, None])
    agent = choice_rows(extra, weights, np.arange(n))
    reasons = [REASONS_BY_TYPE[name] for name in TICKET_TYPES]
    reason = np.full(n, -1)
    offset = 0
    for code, options in enumerate(reasons):
        of_type = ticket_type == code
        if options:
            picked = np.minimum(
                (extra.random(of_type.sum()) * len(options)).astype(np.int64), len(options) - 1
            )
            reason[of_type] = offset + picked
        offset += len(options)
    return {
        "agent": agent,
        "reason": reason,
        "closed": extra.random(n) < CLOSED_SHARE,
        "customer": ticket_customer,
        "order_ref": order_ref,
        "type": ticket_type,
        "priority": priority,
        "channel": channel,
        "created": created,
        "first_response_hours": first_response_hours,
        "resolution_hours": resolution_hours,
        "csat": csat,
        "complaint": rng.random(n) < complaint_p,
    }


def tickets_frame(
    cal: Calendar, blocks: Blocks, customer_ids: pd.Series, order_rank: np.ndarray
) -> pd.DataFrame:
    """The tickets in time order (ids T00000001... in that order); times after the end
    of the history stay empty. `order_rank`: each gathered order's number."""
    created = cal.seconds(blocks.take("tickets", "created"))
    order, _ = chronological(created)
    created = created[order]
    end = cal.end_seconds

    def later(hours: np.ndarray) -> np.ndarray:
        at = created + np.round(hours * 3600.0)
        return np.where(at < end, at, np.nan)  # not yet answered/resolved by end_date

    resolved = later(blocks.take("tickets", "resolution_hours", order))
    first_response = later(blocks.take("tickets", "first_response_hours", order))
    csat = np.where(np.isnan(resolved), np.nan, blocks.take("tickets", "csat", order))
    closed = blocks.take("tickets", "closed", order).astype(bool)
    status = np.select(
        [~np.isnan(resolved) & closed, ~np.isnan(resolved), ~np.isnan(first_response)],
        [3, 2, 1],
        default=0,
    )
    reason_labels = [label for name in TICKET_TYPES for label in REASONS_BY_TYPE[name]]
    order_ref = blocks.take("tickets", "order_ref", order, "order")
    return pd.DataFrame(
        {
            "ticket_id": numbered("T", len(order), 8),
            "customer_id": customers_of(
                customer_ids, blocks.take("tickets", "customer", order, "customer")
            ),
            "ticket_type": strings(blocks.take("tickets", "type", order), list(TICKET_TYPES)),
            "priority": strings(blocks.take("tickets", "priority", order), list(PRIORITIES)),
            "channel": strings(blocks.take("tickets", "channel", order), list(models.CHANNELS)),
            "created_at": cal.timestamps(created),
            "first_response_at": cal.timestamps(first_response),
            "resolved_at": cal.timestamps(resolved),
            "csat": pd.array(csat, dtype="Int16"),
            "is_complaint": blocks.take("tickets", "complaint", order).astype(bool),
            "order_id": references(
                "O",
                np.where(order_ref >= 0, order_rank[order_ref], 0),
                len(order_rank),
                9,
            ),
            "status": strings(status, list(models.TICKET_STATUSES)),
            "agent": strings(
                np.where(np.isnan(first_response), -1, blocks.take("tickets", "agent", order)),
                list(AGENTS),
            ),
            "reason": strings(blocks.take("tickets", "reason", order), reason_labels),
        }
    )
