"""From a download to a campaign: create the campaign and its touches from an export
(treated members and the held-out control), and edit its cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Engine,
    insert,
    select,
    update,
)

from crm_core.auth import EDIT_CAMPAIGNS, Actor, require
from crm_core.errors import InputError
from crm_core.outreach.campaigns.settings import CAMPAIGN_EDITS_KEY, CHANNELS, CONTROL
from crm_core.store import (
    bulk_insert,
    bump_data_version,
    models,
)
from crm_core.store.settings import read_setting, write_setting


def _money(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InputError("campaigns.error.cost", value=value) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise InputError("campaigns.error.cost", value=value)
    return amount.quantize(Decimal("0.01"))


CAMPAIGN_ID_MAX = 64
NAME_MAX = 128


def create_campaign_from_export(
    engine: Engine,
    export_id: int,
    *,
    campaign_id: str,
    name: str,
    started_at: dt.datetime,
    cost: float | Decimal = 0,
    channel: str | None = None,
    actor: Actor,
) -> str:
    """Create a campaign and its touches from a download: the file's members as variant
    'A' (sent at `started_at` unless an import later says otherwise), the held-out
    members as control. At most one campaign per export; the campaign id must be new.
    Returns the campaign id. PermissionDenied unless `actor` may edit campaigns."""
    require(actor, EDIT_CAMPAIGNS)
    campaign_id = str(campaign_id or "").strip()
    name = str(name or "").strip()
    if not campaign_id or len(campaign_id) > CAMPAIGN_ID_MAX:
        raise InputError("campaigns.error.campaign_id", most=CAMPAIGN_ID_MAX)
    if not name or len(name) > NAME_MAX:
        raise InputError("campaigns.error.name", most=NAME_MAX)
    amount = _money(cost)
    ex, em = models.exports, models.export_members
    cp, ct = models.campaigns, models.campaign_touches
    with engine.begin() as conn:
        record = conn.execute(select(ex.c.channel, ex.c.id).where(ex.c.id == export_id)).first()
        if record is None:
            raise InputError("audiences.error.export_unknown", export_id=export_id)
        channel = channel or record.channel
        if channel not in CHANNELS:
            raise InputError("campaigns.error.channel", channels=", ".join(CHANNELS))
        taken = conn.execute(
            select(cp.c.campaign_id).where(
                (cp.c.campaign_id == campaign_id) | (cp.c.export_id == export_id)
            )
        ).first()
        if taken is not None:
            key = (
                "campaigns.error.exists"
                if taken.campaign_id == campaign_id
                else "campaigns.error.export_used"
            )
            raise InputError(key, campaign_id=taken.campaign_id, export_id=export_id)
        customers = models.customers
        members = pd.DataFrame(
            conn.execute(
                select(em.c.customer_id, em.c.is_control)
                .select_from(em.join(customers, customers.c.customer_id == em.c.customer_id))
                .where(em.c.export_id == export_id)
                .order_by(em.c.customer_id)
            ).all(),
            columns=["customer_id", "is_control"],
        )
        conn.execute(
            insert(cp).values(
                campaign_id=campaign_id,
                name=name,
                channel=channel,
                started_at=started_at,
                cost=amount,
                export_id=export_id,
            )
        )
        control = members["is_control"].astype(bool).to_numpy()
        touches = pd.DataFrame(
            {
                "campaign_id": campaign_id,
                "customer_id": members["customer_id"].astype(str),
                "variant": np.where(control, CONTROL, models.FIRST_VARIANT),
                "is_control": control,
                "sent_at": pd.Series(
                    np.where(control, pd.NaT, pd.Timestamp(started_at)), dtype="datetime64[us]"
                ),
            }
        )
        bulk_insert(conn, ct, touches)
        bump_data_version(conn)
    return campaign_id


def export_campaign(engine: Engine, export_id: int) -> str | None:
    """The campaign created from export `export_id`, if any."""
    cp = models.campaigns
    with engine.connect() as conn:
        return conn.execute(select(cp.c.campaign_id).where(cp.c.export_id == export_id)).scalar()


def set_campaign_cost(engine: Engine, campaign_id: str, cost: float, *, actor: Actor) -> None:
    """Change a campaign's total cost (shop currency). PermissionDenied unless `actor`
    may edit campaigns. The data version stays (the orders did not change, so stored
    aggregates hold); CAMPAIGN_EDITS_KEY counts the edit for the caches of the list."""
    require(actor, EDIT_CAMPAIGNS)
    amount = _money(cost)
    cp = models.campaigns
    with engine.begin() as conn:
        done = conn.execute(
            update(cp).where(cp.c.campaign_id == campaign_id).values(cost=amount)
        ).rowcount
        if not done:
            raise InputError("campaigns.error.unknown", campaign_id=campaign_id)
        edits = int(read_setting(conn, CAMPAIGN_EDITS_KEY) or 0)
        write_setting(conn, CAMPAIGN_EDITS_KEY, edits + 1)
