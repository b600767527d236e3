"""Marketing contacts read from the store, and an audience with the contact policy
applied (the rules themselves are in `crm_core.outreach.policy`).

The frequency cap counts campaign touches and the members of earlier marketing exports
(`contact_counts`), read from the store when asked, so an export made a moment ago
counts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Select, func, literal, select, union_all

from crm_core import asof
from crm_core.outreach.audiences.facts import AudienceFacts
from crm_core.outreach.audiences.selection import Audience, select_members
from crm_core.outreach.policy import ContactPolicy, PolicyResult, apply_policy
from crm_core.store import models


def contacts_statement(as_of: dt.date, window_days: int) -> Select:
    """The Core statement behind `recent_contacts`."""
    start, end = asof.window_start(as_of, window_days), asof.end_of(as_of)
    first_day = start.date()
    ct = models.campaign_touches
    ex = models.exports
    em = models.export_members
    touches = select(
        ct.c.customer_id.label("customer_id"),
        literal(1).label("touches"),
        literal(0).label("exports"),
    ).where(
        ct.c.sent_at >= start,
        ct.c.sent_at < end,
        ct.c.is_control == False,  # noqa: E712 (SQL comparison)
    )
    exported = (
        select(
            em.c.customer_id.label("customer_id"),
            literal(0).label("touches"),
            literal(1).label("exports"),
        )
        .select_from(em.join(ex, ex.c.id == em.c.export_id))
        .where(
            ex.c.is_marketing == True,  # noqa: E712 (SQL comparison)
            ex.c.as_of >= first_day,
            ex.c.as_of <= as_of,
        )
    )
    contacts = union_all(touches, exported).subquery("contacts")
    return (
        select(
            contacts.c.customer_id,
            func.sum(contacts.c.touches).label("touches"),
            func.sum(contacts.c.exports).label("exports"),
        )
        .group_by(contacts.c.customer_id)
        .order_by(contacts.c.customer_id)
    )


def recent_contacts(engine: Engine | Connection, as_of: dt.date, window_days: int) -> pd.DataFrame:
    """Marketing contacts per customer in the `window_days` days ending on `as_of`:
    customer_id, touches (campaign messages sent, control rows excluded), exports
    (marketing exports with an as-of date in the window that list the customer);
    only customers with at least one."""
    statement = contacts_statement(as_of, window_days)
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(statement).all()
    else:
        rows = engine.execute(statement).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "touches", "exports"])
    frame["customer_id"] = pd.array(frame["customer_id"], dtype="str")
    for name in ("touches", "exports"):
        frame[name] = frame[name].astype(np.int64)
    return frame


def contact_counts(
    engine: Engine | Connection, customer_ids: pd.Series, as_of: dt.date, window_days: int
) -> np.ndarray:
    """Marketing contacts (touches + exports) of each customer in `customer_ids` (int64,
    aligned)."""
    contacts = recent_contacts(engine, as_of, window_days)
    positions = pd.Index(contacts["customer_id"]).get_indexer(customer_ids)
    totals = (contacts["touches"] + contacts["exports"]).to_numpy(dtype=np.int64)
    counts = np.zeros(len(positions), dtype=np.int64)
    found = positions >= 0
    counts[found] = totals[positions[found]]
    return counts


def export_marker(engine: Engine) -> int:
    """The newest export id (0 when none): part of cache keys of contact counts."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(models.exports.c.id))).scalar() or 0)


def preview_audience(
    engine: Engine | Connection,
    facts: AudienceFacts,
    audience: Audience,
    channel: str | None,
    policy: ContactPolicy,
) -> PolicyResult:
    """The audience's members with the policy applied, contacts read from the store now."""
    members = select_members(facts, audience)
    contacts = contact_counts(engine, facts.customer_ids, facts.as_of, policy.cap_window_days)
    return apply_policy(facts, members, channel, policy, contacts)
