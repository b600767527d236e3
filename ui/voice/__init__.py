"""What the Customer voice and Service pages share: session keys, cached loaders and the
groups answers and tickets are broken down by.

Survey answers and tickets are read once per (store, data version, as-of date); the
tickets measured against the SLA policy once per policy and as-of moment as well. The
customers' segments, tags, channel, region and SLA tier come from the Audiences page's
cached facts over all purchase history."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core import asof
from crm_core.customers.segments import resolve_scheme_ref, scheme_choices
from crm_core.i18n import translate
from crm_core.outreach.audiences import AudienceFacts
from crm_core.voice.groups import AnswerGroups, answer_groups, tiers_of
from crm_core.voice.nps import survey_answers
from crm_core.voice.sla import (
    SlaPolicy,
    load_sla_policy,
    policy_text,
    service_tickets,
    ticket_levels,
)
from ui.audiences import ALL_HISTORY, load_audience_facts
from ui.context import DataKey, RunContext
from ui.schemes import PickedScheme

PREFIX = "crm.voice."
KEY_PERIOD = PREFIX + "period"
KEY_RANGE = PREFIX + "range"
KEY_DIMENSION = PREFIX + "dimension"
KEY_TEXT_DIMENSION = PREFIX + "text.dimension"
KEY_TEXT_GROUPS = PREFIX + "text.groups"
KEY_TEXT_BANDS = PREFIX + "text.bands"
KEY_TEXT_WORD = PREFIX + "text.word"
KEY_PERIOD_FORMAT = PREFIX + "periods.format"
KEY_PERIOD_DOWNLOAD = PREFIX + "periods.download"
KEY_GROUP_FORMAT = PREFIX + "groups.format"
KEY_GROUP_DOWNLOAD = PREFIX + "groups.download"
KEY_TEXT_FORMAT = PREFIX + "text.format"
KEY_TEXT_DOWNLOAD = PREFIX + "text.download"
SERVICE_PREFIX = "crm.service."
KEY_SINCE = SERVICE_PREFIX + "since"
KEY_HORIZON = SERVICE_PREFIX + "horizon"
KEY_SLA_BY = SERVICE_PREFIX + "sla.by"
KEY_CSAT_BY = SERVICE_PREFIX + "csat.by"
KEY_RISK_FORMAT = SERVICE_PREFIX + "risk.format"
KEY_RISK_DOWNLOAD = SERVICE_PREFIX + "risk.download"
KEY_BREACHED_FORMAT = SERVICE_PREFIX + "breached.format"
KEY_BREACHED_DOWNLOAD = SERVICE_PREFIX + "breached.download"
KEY_POLICY_FORM = SERVICE_PREFIX + "policy.form"
KEY_NOTICE = SERVICE_PREFIX + "notice"
CACHE_ENTRIES = 4

BANDS: tuple[str, ...] = ("promoter", "passive", "detractor")


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _answers(_engine: Engine, data_key: DataKey, as_of: dt.date) -> pd.DataFrame:
    return survey_answers(_engine, as_of)


def load_answers(ctx: RunContext) -> pd.DataFrame:
    """Every survey answer up to the run's as-of date (cached; treat as read-only)."""
    return _answers(ctx.engine, ctx.data_key, ctx.as_of)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _tickets(_engine: Engine, data_key: DataKey, as_of: dt.date) -> pd.DataFrame:
    return service_tickets(_engine, as_of)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _levels(
    _engine: Engine,
    data_key: DataKey,
    as_of: dt.date,
    moment: dt.datetime,
    policy_key: str,
    _policy: SlaPolicy,
    _tiers: pd.Series,
) -> pd.DataFrame:
    return ticket_levels(_tickets(_engine, data_key, as_of), _policy, _tiers, moment)


def whole_history_facts(ctx: RunContext, picked: PickedScheme | None = None) -> AudienceFacts:
    """The Audiences page's cached facts over all purchase history (under the picked
    scheme, else the first scheme the pages offer): segments, tags, channel, region,
    SLA tier."""
    if picked is None:
        first = scheme_choices(ctx.engine)[0]
        scheme, scheme_id = resolve_scheme_ref(ctx.engine, first.name)
    else:
        scheme, scheme_id = picked.scheme, picked.scheme_id
    return load_audience_facts(dataclasses.replace(ctx, window=ALL_HISTORY), scheme, scheme_id)


def view_moment(ctx: RunContext) -> dt.datetime:
    """The moment the service views look from: now (to the minute) when the as-of date
    is today, else the last second of the as-of date."""
    now = dt.datetime.now().replace(second=0)
    return asof.reference_moment(ctx.as_of, now)


def load_levels(ctx: RunContext, facts: AudienceFacts) -> tuple[SlaPolicy, pd.DataFrame]:
    """(the stored SLA policy, every ticket up to the as-of date measured against it at
    `view_moment`), cached."""
    policy = load_sla_policy(ctx.engine)
    key = policy_text(policy)
    levels = _levels(
        ctx.engine, ctx.data_key, ctx.as_of, view_moment(ctx), key, policy, tiers_of(facts)
    )
    return policy, levels


def value_label(value: object, language: str) -> str:
    """A ticket field's value (type, priority, status, channel) in `language`."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return "—"
    return translate(f"data.value.{value}", language)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _answer_groups(
    data_key: DataKey,
    as_of: dt.date,
    since: dt.date,
    scheme_key: tuple[str, int | None],
    policy_key: str,
    moment: dt.datetime,
    _answers: pd.DataFrame,
    _facts: AudienceFacts,
    _levels: pd.DataFrame,
) -> AnswerGroups:
    return answer_groups(_answers, _facts, _levels)


def load_answer_groups(
    ctx: RunContext,
    picked: PickedScheme,
    since: dt.date,
    answers: pd.DataFrame,
    facts: AudienceFacts,
    levels: pd.DataFrame,
    policy: SlaPolicy,
) -> AnswerGroups:
    """The groups of the answers from `since` (cached per data version, as-of date,
    first day, scheme and the SLA policy `levels` were measured with)."""
    return _answer_groups(
        ctx.data_key,
        ctx.as_of,
        since,
        (picked.option, picked.version),
        policy_text(policy),
        view_moment(ctx),
        answers,
        facts,
        levels,
    )
