"""Marketing contacts read from the store, and an audience with the contact policy
applied (the rules themselves are in `crm_core.outreach.policy`).

The frequency cap counts campaign touches and the members of earlier marketing exports
(`contact_counts`), read from the store when asked, so an export made a moment ago
counts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Select, func, literal, select, union_all

from crm_core import asof
from crm_core.outreach.audiences.facts import AudienceFacts
from crm_core.outreach.audiences.selection import Audience, select_members
from crm_core.outreach.policy import ContactPolicy, PolicyResult, apply_policy
from crm_core.store import models, rows_frame


def contacts_statement(
    as_of: dt.date, window_days: int, ignore_exports: Sequence[int] = ()
) -> Select:
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
            em.c.is_control == False,  # noqa: E712 (held out: not contacted)
            ex.c.as_of >= first_day,
            ex.c.as_of <= as_of,
        )
    )
    if ignore_exports:
        exported = exported.where(ex.c.id.not_in(list(ignore_exports)))
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


def recent_contacts(
    engine: Engine | Connection,
    as_of: dt.date,
    window_days: int,
    ignore_exports: Sequence[int] = (),
) -> pd.DataFrame:
    """Marketing contacts per customer in the `window_days` days ending on `as_of`:
    customer_id, touches (campaign messages sent, control rows excluded), exports
    (marketing exports with an as-of date in the window that list the customer outside
    their holdout, except those in `ignore_exports`: earlier downloads of the list being
    made, see `same_list_exports`); only customers with at least one."""
    statement = contacts_statement(as_of, window_days, ignore_exports)
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(statement).all()
    else:
        rows = engine.execute(statement).all()
    frame = rows_frame(rows, ["customer_id", "touches", "exports"])
    frame["customer_id"] = pd.array(frame["customer_id"], dtype="str")
    for name in ("touches", "exports"):
        frame[name] = frame[name].astype(np.int64)
    return frame


def contact_counts(
    engine: Engine | Connection,
    customer_ids: pd.Series,
    as_of: dt.date,
    window_days: int,
    ignore_exports: Sequence[int] = (),
) -> np.ndarray:
    """Marketing contacts (touches + exports) of each customer in `customer_ids` (int64,
    aligned), earlier downloads of the same list (`ignore_exports`) left out."""
    contacts = recent_contacts(engine, as_of, window_days, ignore_exports)
    positions = pd.Index(contacts["customer_id"]).get_indexer(customer_ids)
    totals = (contacts["touches"] + contacts["exports"]).to_numpy(dtype=np.int64)
    counts = np.zeros(len(positions), dtype=np.int64)
    found = positions >= 0
    counts[found] = totals[positions[found]]
    return counts


LIST_IDENTITY: dict[str, tuple[str, ...]] = {
    "audience": ("source", "audience", "scheme", "prediction_run"),
    "trigger": ("source", "trigger", "settings", "scheme", "window_days"),
}
"""The parts of an export's filters that say which list it is (not how many it kept)."""


def list_signature(filters: Mapping[str, Any], channel: str | None) -> str | None:
    """What makes two downloads the same list (with the same as-of date): the source's
    identifying filters and the channel, as one string; None for a copy."""
    parts = LIST_IDENTITY.get(str(filters.get("source")))
    if parts is None:
        return None
    identity = {name: filters.get(name) for name in parts}
    return json.dumps({**identity, "channel": channel}, sort_keys=True, ensure_ascii=False)


def same_list_exports(
    engine: Engine | Connection, as_of: dt.date, signature: str | None
) -> tuple[int, ...]:
    """Ids of earlier marketing downloads of the list `signature` for the same as-of
    date: downloading a list again (another format, the same members) is the same
    contact, so its earlier downloads must not push its members over the cap."""
    if signature is None:
        return ()
    ex = models.exports
    stmt = select(ex.c.id, ex.c.filters, ex.c.channel).where(
        ex.c.as_of == as_of,
        ex.c.is_marketing == True,  # noqa: E712 (SQL comparison)
    )
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    else:
        rows = engine.execute(stmt).all()
    return tuple(
        int(row.id)
        for row in rows
        if list_signature(_as_dict(row.filters), row.channel) == signature
    )


def _as_dict(filters: Any) -> dict[str, Any]:
    return json.loads(filters) if isinstance(filters, str) else dict(filters or {})


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
    ignore_exports: Sequence[int] = (),
) -> PolicyResult:
    """The audience's members with the policy applied, contacts read from the store now
    (earlier downloads of this same list, `ignore_exports`, left out)."""
    members = select_members(facts, audience)
    contacts = contact_counts(
        engine, facts.customer_ids, facts.as_of, policy.cap_window_days, ignore_exports
    )
    return apply_policy(facts, members, channel, policy, contacts)
