"""What the Campaigns page's tabs share: session keys, cached loaders and the words and
number formats of campaign results.

The campaign list and one campaign's recipients are cached per (store, data version,
as-of date, window, margin rate, stored windows): a new import, a new campaign or a
changed cost bumps the data version; a changed window or margin is part of the key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core.customers.segments import Scheme
from crm_core.i18n import translate
from crm_core.outreach.audiences import AudienceFacts
from crm_core.outreach.campaigns import (
    CAMPAIGN_EDITS_KEY,
    VERDICTS,
    campaign_recipients,
    campaign_summary,
    campaign_windows,
    gross_margin_rate,
    window_of,
)
from crm_core.outreach.policy import channel_label
from crm_core.store.settings import read_setting
from ui.audiences import load_audience_facts
from ui.context import DataKey, RunContext

PREFIX = "crm.campaigns."
KEY_WINDOW = PREFIX + "window"
KEY_OWN_WINDOW = PREFIX + "own_window"
KEY_CHANNELS = PREFIX + "channels"
KEY_PERIOD = PREFIX + "period"
KEY_PERIOD_BOUNDS = PREFIX + "period.bounds"
KEY_PICK = PREFIX + "pick"
KEY_PICK_NEXT = PREFIX + "pick.next"
KEY_LIST_FORMAT = PREFIX + "list.format"
KEY_LIST_DOWNLOAD = PREFIX + "list.download"
KEY_REPORT_FORMAT = PREFIX + "report.format"
KEY_REPORT_DOWNLOAD = PREFIX + "report.download"
KEY_GROUPS_BY = PREFIX + "groups.by"
KEY_BUILD_AUDIENCE = PREFIX + "groups.build"
KEY_AB_MODE = PREFIX + "ab.mode"
KEY_AB_COUNTS = PREFIX + "ab.counts"
KEY_AB_CONTROL = PREFIX + "ab.control"
KEY_AB_FILE = PREFIX + "ab.file"
KEY_AB_VARIANT = PREFIX + "ab.variant"
KEY_AB_OUTCOME = PREFIX + "ab.outcome"
KEY_PLAN_FORM = PREFIX + "plan.form"
KEY_CREATE_FORM = PREFIX + "create.form"
KEY_COST_FORM = PREFIX + "cost.form"
KEY_WINDOW_FORM = PREFIX + "window.form"
KEY_MARGIN_FORM = PREFIX + "margin.form"
KEY_NOTICE = PREFIX + "notice"
CACHE_ENTRIES = 8


def channel_names(language: str, channels: list[str]) -> dict[str, str]:
    return {channel: channel_label(channel, language) for channel in channels}


def verdict_names(language: str) -> dict[str, str]:
    return {v: translate(f"campaigns.verdict.{v}", language) for v in VERDICTS}


def arm_name(arm: str, language: str) -> str:
    """'control' in the user's language; a variant keeps its own name ('A', 'B')."""
    return translate("campaigns.arm.control", language) if arm == "control" else str(arm)


def percent(share: float, digits: int = 2) -> str:
    """A share (0-1) as '12.34%'; an em dash when missing."""
    return "—" if share is None or not math.isfinite(share) else f"{share * 100:.{digits}f}%"


def points(share: float, digits: int = 2) -> str:
    """A difference of shares as '+1.23 pp'; an em dash when missing."""
    return "—" if share is None or not math.isfinite(share) else f"{share * 100:+.{digits}f} pp"


def money(amount: float, digits: int = 0) -> str:
    return "—" if amount is None or not math.isfinite(amount) else f"{amount:,.{digits}f}"


def roi_text(ratio: float) -> str:
    """ROI the way the case studies write it: '1 : 2.10'."""
    return "—" if ratio is None or not math.isfinite(ratio) else f"1 : {ratio:.2f}"


def interval_text(low: float, high: float, as_points: bool = True, digits: int = 2) -> str:
    """'[-1.33, -0.31] pp' (or money without a unit)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "—"
    if as_points:
        return f"[{low * 100:+.{digits}f}, {high * 100:+.{digits}f}] pp"
    return f"[{low:,.{digits}f}, {high:,.{digits}f}]"


def settings_token(engine: Engine) -> str:
    """The stored windows, margin rate and count of cost edits as one string (part of
    the cache keys)."""
    return json.dumps(
        {
            "windows": campaign_windows(engine),
            "margin": gross_margin_rate(engine),
            "edits": read_setting(engine, CAMPAIGN_EDITS_KEY),
        },
        sort_keys=True,
    )


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _summary(
    _engine: Engine, data_key: DataKey, as_of: dt.date, window: int | None, token: str
) -> pd.DataFrame:
    return campaign_summary(_engine, as_of, window_days=window)


def load_summary(ctx: RunContext, window: int | None) -> pd.DataFrame:
    """The campaign list as of the run's date (cached)."""
    return _summary(ctx.engine, ctx.data_key, ctx.as_of, window, settings_token(ctx.engine))


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _recipients(
    _engine: Engine, data_key: DataKey, campaign_id: str, as_of: dt.date, window: int
) -> pd.DataFrame:
    return campaign_recipients(_engine, campaign_id, as_of, window, 2 * window)


def load_recipients(
    ctx: RunContext, campaign_id: str, view_window: int | None
) -> tuple[pd.DataFrame, int]:
    """One campaign's recipients in the window the view uses (cached), and that window."""
    window = window_of(campaign_windows(ctx.engine), campaign_id, view_window)
    return _recipients(ctx.engine, ctx.data_key, campaign_id, ctx.as_of, window), window


def facts_on(
    ctx: RunContext, as_of: dt.date, scheme: Scheme, scheme_id: int | None
) -> AudienceFacts:
    """Segments and tags of every customer as of `as_of`, over all purchase history (the
    Audiences page's cached facts, on another day)."""
    return load_audience_facts(
        dataclasses.replace(ctx, as_of=as_of), scheme, scheme_id, all_history=True
    )
