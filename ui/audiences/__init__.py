"""Session keys, cached loaders and small shared widgets of the Audiences and Exports
pages; each tab of the Audiences page is a module beside this one (builder, tags,
triggers, policy).

The audience facts are assembled by crm_core (`crm_core.outreach.audiences.audience_facts`)
from the RFM page's prepared facts (`ui.rfm.load_facts`, one shared read-only object
per key), the tag facts and the stored tag definitions, and kept with `st.cache_resource`
keyed on the run's data key (database URL, data version), the as-of date, the window,
the scheme, the tags' JSON, the SLA policy and the newest prediction run with its
settings, with the engine left out of the key; what customers bought (for the cross-sell
filters) is `ui.baskets.purchase_history`, read only when a filter asks. So moving a filter
re-evaluates the audience on cached arrays only. `AudienceFacts` keeps its own lazily
computed arrays (address validity, category codes), which is why it is cached as a
resource and not copied per run. Contact counts change with every export, so their key
also holds the newest export id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core.asof import WINDOW_DAYS
from crm_core.customers.baskets import PurchaseHistory
from crm_core.customers.segments import Scheme
from crm_core.customers.tags import Tag, load_tags, stored_tag_facts
from crm_core.i18n import translate
from crm_core.outreach.audiences import (
    PURPOSES,
    AudienceFacts,
    audience_facts,
    contact_counts,
    export_marker,
)
from crm_core.outreach.policy import CONTACT_CHANNELS, channel_label
from crm_core.predict.runs import RunScores
from crm_core.voice.recovery import ServiceInputs, load_service_inputs
from crm_core.voice.sla import SlaPolicy, load_sla_policy, policy_text
from ui.baskets import purchase_history
from ui.context import RunContext, t
from ui.predict import run_scores
from ui.rfm import load_facts
from ui.schemes import scheme_keys

PREFIX = "crm.audiences."
KEY_SCHEME, KEY_VERSION = scheme_keys("audiences")

KEY_INCLUDE_SEGMENTS = PREFIX + "include_segments"
KEY_EXCLUDE_SEGMENTS = PREFIX + "exclude_segments"
KEY_INCLUDE_TAGS = PREFIX + "include_tags"
KEY_TAGS_MODE = PREFIX + "tags_mode"
KEY_EXCLUDE_TAGS = PREFIX + "exclude_tags"
KEY_PROVINCES = PREFIX + "provinces"
KEY_CHANNELS = PREFIX + "channels"
KEY_RANGE = PREFIX + "range."
KEY_RISK_LEVELS = PREFIX + "churn_risk_levels"
KEY_CROSS_SELL = PREFIX + "cross_sell"
KEY_ITEM_LEVEL = PREFIX + "item_level"
KEY_BOUGHT = PREFIX + "bought_items."
KEY_WITHIN = PREFIX + "bought_within_days"
KEY_NOT_BOUGHT = PREFIX + "not_bought_items."
KEY_NEXT_BEST = PREFIX + "next_best_categories"
KEY_CONTACT_CHANNEL = PREFIX + "contact_channel"
KEY_COLUMNS = PREFIX + "columns"
KEY_FORMAT = PREFIX + "format"
KEY_DOWNLOAD = PREFIX + "download"
KEY_PURPOSE = PREFIX + "purpose"
KEY_HOLDOUT = PREFIX + "holdout"
KEY_TRIGGER_PURPOSE = PREFIX + "trigger.purpose"
KEY_TAG_PICK = PREFIX + "tag.pick"
KEY_TAG_NAME = PREFIX + "tag.name"
KEY_TAG_RULE = PREFIX + "tag.rule"
KEY_TAG_SAVE = PREFIX + "tag.save"
KEY_TAG_DELETE = PREFIX + "tag.delete"
KEY_TAG_NOTICE = PREFIX + "tag.notice"
KEY_TAG_COMBINE = PREFIX + "tag.builder.combine"
KEY_TAG_ROWS = PREFIX + "tag.builder.rows"
KEY_TAG_ROW = PREFIX + "tag.builder.row"
KEY_TAG_ADD_ROW = PREFIX + "tag.builder.add"
KEY_TRIGGER_CHANNEL = PREFIX + "trigger.channel"
KEY_TRIGGER_FORM = PREFIX + "trigger.form"
KEY_TRIGGER_DOWNLOAD = PREFIX + "trigger.download."
KEY_TRIGGER_NOTICE = PREFIX + "trigger.notice"
KEY_POLICY_FORM = PREFIX + "policy.form"
KEY_POLICY_NOTICE = PREFIX + "policy.notice"
KEY_EXPORT_PICK = "crm.exports.pick"
KEY_EXPORT_FORMAT = "crm.exports.format"
KEY_EXPORT_DOWNLOAD = "crm.exports.download"

CACHE_ENTRIES = 4
NO_CHANNEL = "none"
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel (XLSX)"}
ALL_HISTORY = next(name for name, days in WINDOW_DAYS.items() if days is None)
DataKey = tuple[str, int]


def labels(keys: Mapping[object, str]) -> Callable[[object], str]:
    """A format_func from a dict built in this run (AppTest calls it outside the run)."""
    return lambda option: keys.get(option, str(option))


def show_notice(key: str) -> None:
    """The success message a form left in the session before its rerun (shown once)."""
    notice = st.session_state.pop(key, None)
    if notice:
        st.success(notice, icon=":material/check:")


def channel_radio(key: str, language: str) -> str | None:
    """The contact channel picker (SMS, e-mail, WeCom, none); None for none."""
    options = [*CONTACT_CHANNELS, NO_CHANNEL]
    chosen = st.radio(
        t("audiences.contact_channel"),
        options=options,
        format_func=labels(
            {c: channel_label(None if c == NO_CHANNEL else c, language) for c in options}
        ),
        key=key,
        horizontal=True,
        help=t("audiences.contact_channel_help"),
    )
    return None if chosen == NO_CHANNEL else chosen


def purpose_radio(key: str, language: str) -> str:
    """Whether a download is for sending (counts toward the frequency cap) or for review."""
    return st.radio(
        t("audiences.purpose"),
        options=list(PURPOSES),
        format_func=labels({p: translate(f"audiences.purpose.{p}", language) for p in PURPOSES}),
        key=key,
        help=t("audiences.purpose_help"),
    )


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _tag_facts(_engine: Engine, data_key: DataKey, as_of: dt.date) -> pd.DataFrame:
    return stored_tag_facts(_engine, as_of)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _service_inputs(
    _engine: Engine, data_key: DataKey, as_of: dt.date, policy_key: str, _policy: SlaPolicy
) -> ServiceInputs:
    return load_service_inputs(_engine, as_of, _policy)


def service_inputs(ctx: RunContext, as_of: dt.date) -> tuple[str, ServiceInputs]:
    """(the stored SLA policy as JSON text, the window's tickets and low ratings with it),
    cached per data version, as-of date and policy."""
    policy = load_sla_policy(ctx.engine)
    key = policy_text(policy)
    return key, _service_inputs(ctx.engine, ctx.data_key, as_of, key, policy)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES * 2, ttl=3600)
def _audience_facts(
    _engine: Engine,
    data_key: DataKey,
    as_of: dt.date,
    window_days: int | None,
    scheme_key: tuple[str, int | None],
    scheme_id: int | None,
    tags_key: str,
    policy_key: str,
    prediction_key: str,
    _ctx: RunContext,
    _scheme: Scheme,
    _tags: list[Tag],
    _service: ServiceInputs,
    _predictions: RunScores | None,
    _purchases: PurchaseHistory,
) -> AudienceFacts:
    return audience_facts(
        load_facts(_ctx, as_of),
        _tag_facts(_engine, data_key, as_of),
        _tags,
        _scheme,
        as_of=as_of,
        window_days=window_days,
        scheme_id=scheme_id,
        service=_service,
        predictions=_predictions,
        purchases=_purchases,
    )


def tags_json(tags: list[Tag]) -> str:
    """The tag definitions as one JSON text (the part of a cache key that says which tags)."""
    return json.dumps([dataclasses.asdict(tag) for tag in tags], ensure_ascii=False, sort_keys=True)


def current_tags(ctx: RunContext) -> list[Tag]:
    """The stored tag definitions (read on every run: they are a small JSON value)."""
    return load_tags(ctx.engine)


def load_audience_facts(
    ctx: RunContext, scheme: Scheme, scheme_id: int | None, *, all_history: bool = False
) -> AudienceFacts:
    """The audience facts on the run's as-of date over its window (or all history, as
    the trigger lists need), under `scheme` (cached; see the module docstring)."""
    window_ctx = dataclasses.replace(ctx, window=ALL_HISTORY) if all_history else ctx
    tags = current_tags(ctx)
    policy_key, service = service_inputs(ctx, ctx.as_of)
    prediction_key, predictions = run_scores(ctx, ctx.as_of)
    return _audience_facts(
        ctx.engine,
        ctx.data_key,
        ctx.as_of,
        window_ctx.window_days,
        (scheme.to_json(), scheme.version),
        scheme_id,
        tags_json(tags),
        policy_key,
        prediction_key,
        window_ctx,
        scheme,
        tags,
        service,
        predictions,
        purchase_history(ctx),
    )


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=600)
def _contacts(
    _engine: Engine,
    data_key: DataKey,
    as_of: dt.date,
    window_days: int | None,
    cap_days: int,
    marker: int,
    ignore_exports: tuple[int, ...],
    _customer_ids: pd.Series,
) -> np.ndarray:
    return contact_counts(_engine, _customer_ids, as_of, cap_days, ignore_exports)


def contacts(
    ctx: RunContext, facts: AudienceFacts, cap_days: int, ignore_exports: tuple[int, ...] = ()
) -> np.ndarray:
    """Marketing contacts per row of `facts` in the `cap_days` days ending on their as-of
    date (refreshed after every export), earlier downloads of the list on screen
    (`ignore_exports`) left out, as its download leaves them out."""
    return _contacts(
        ctx.engine,
        ctx.data_key,
        facts.as_of,
        facts.window_days,
        cap_days,
        export_marker(ctx.engine),
        ignore_exports,
        facts.customer_ids,
    )
