"""Campaign settings and constants: the conversion window (default and per campaign) and
the gross margin rate (admins set it)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    select,
)

from crm_core.auth import EDIT_CAMPAIGNS, EDIT_SHOP_SETTINGS, Actor, require
from crm_core.errors import InputError
from crm_core.store import (
    models,
)
from crm_core.store.settings import read_setting, write_setting

DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 365
DEFAULT_GROSS_MARGIN = 0.30
GROSS_MARGIN_KEY = "gross_margin_rate"
CAMPAIGN_EDITS_KEY = "campaign_edits"
"""Counts edits of campaigns (cost) that leave the data version as it is: part of the
keys of cached campaign lists."""
CAMPAIGN_WINDOWS_KEY = "campaign_windows"
PRE_PERIOD_DAYS = 90
"""CUPED's covariate: each recipient's paid spend in the 90 days before the reference time."""
ALPHA = 0.05
MIN_GROUP_PER_ARM = 30
"""Groups (segments, tags) with fewer customers than this in either arm are not ranked."""
CHANNELS: tuple[str, ...] = ("sms", "email", "wecom")
CONTROL = models.CONTROL_VARIANT

VERDICT_GAIN = "gain"
VERDICT_NONE = "no_effect"
VERDICT_LOSS = "loss"
VERDICT_NO_CONTROL = "no_control"
VERDICTS: tuple[str, ...] = (VERDICT_GAIN, VERDICT_NONE, VERDICT_LOSS, VERDICT_NO_CONTROL)


def gross_margin_rate(bind: Engine | Connection) -> float:
    """The shop's gross margin rate (share of revenue, 0-1) that turns incremental revenue
    into incremental margin; DEFAULT_GROSS_MARGIN until an admin sets it."""
    stored = read_setting(bind, GROSS_MARGIN_KEY)
    return DEFAULT_GROSS_MARGIN if stored is None else float(stored)


def check_margin_rate(rate: Any) -> float:
    """`rate` as a share in [0, 1]; InputError otherwise."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise InputError("campaigns.error.margin", value=rate)
    return value


def save_gross_margin_rate(engine: Engine, rate: float, *, actor: Actor) -> float:
    """Store the gross margin rate (0-1). PermissionDenied unless `actor` may edit the
    shop's settings."""
    require(actor, EDIT_SHOP_SETTINGS)
    value = check_margin_rate(rate)
    with engine.begin() as conn:
        write_setting(conn, GROSS_MARGIN_KEY, value)
    return value


def check_window(days: Any) -> int:
    """`days` as a whole number of days in 1..MAX_WINDOW_DAYS; InputError otherwise."""
    try:
        value = int(days)
        whole = value == float(days)
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole or not 1 <= value <= MAX_WINDOW_DAYS:
        raise InputError("campaigns.error.window", value=days, most=MAX_WINDOW_DAYS)
    return value


def campaign_windows(bind: Engine | Connection) -> dict[str, int]:
    """Conversion windows (days) set for single campaigns; others use DEFAULT_WINDOW_DAYS."""
    stored = read_setting(bind, CAMPAIGN_WINDOWS_KEY) or {}
    return {str(key): int(value) for key, value in stored.items()}


def save_campaign_window(engine: Engine, campaign_id: str, days: int, *, actor: Actor) -> None:
    """Set one campaign's conversion window (days). PermissionDenied unless `actor` may
    edit campaigns; InputError for an unknown campaign or a window outside 1-365."""
    require(actor, EDIT_CAMPAIGNS)
    value = check_window(days)
    with engine.begin() as conn:
        known = conn.execute(
            select(models.campaigns.c.campaign_id).where(
                models.campaigns.c.campaign_id == campaign_id
            )
        ).first()
        if known is None:
            raise InputError("campaigns.error.unknown", campaign_id=campaign_id)
        windows = campaign_windows(conn)
        windows[campaign_id] = value
        write_setting(conn, CAMPAIGN_WINDOWS_KEY, windows)


def window_of(windows: Mapping[str, int], campaign_id: str, view_window: int | None) -> int:
    """The window a view uses for a campaign: the view's own when given, else the
    campaign's stored one, else DEFAULT_WINDOW_DAYS."""
    if view_window is not None:
        return check_window(view_window)
    return int(windows.get(campaign_id, DEFAULT_WINDOW_DAYS))
