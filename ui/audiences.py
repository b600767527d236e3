"""Cached loaders and session keys of the Audiences and Exports pages.

Facts are the RFM page's prepared facts (`ui.rfm.load_facts`, one shared read-only
object per (store, data version, as-of date, window)); tag facts, tag matrices, segment
assignments and the assembled `AudienceFacts` are kept with `st.cache_resource` under
the same key plus the scheme's and tags' JSON, so moving a filter re-evaluates the
audience on cached arrays only. `AudienceFacts` keeps its own lazily computed arrays
(address validity, category codes), which is why it is cached as a resource and not
copied per run. Contact counts change with every export, so their key also holds the
newest export id.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import streamlit as st

from crm_core.customers.segments import Scheme
from crm_core.customers.tags import Tag, TagFields, TagMatrix, evaluate_tags, load_tags, tag_facts
from crm_core.outreach.audiences import (
    AudienceFacts,
    SegmentAssignment,
    assign_all_customers,
    contact_counts,
    export_marker,
)
from ui.data import data_key, get_engine
from ui.rfm import load_facts

PREFIX = "crm.audiences."
KEY_SCHEME = PREFIX + "scheme"
KEY_VERSION = PREFIX + "version"

KEY_INCLUDE_SEGMENTS = PREFIX + "include_segments"
KEY_EXCLUDE_SEGMENTS = PREFIX + "exclude_segments"
KEY_INCLUDE_TAGS = PREFIX + "include_tags"
KEY_TAGS_MODE = PREFIX + "tags_mode"
KEY_EXCLUDE_TAGS = PREFIX + "exclude_tags"
KEY_PROVINCES = PREFIX + "provinces"
KEY_CHANNELS = PREFIX + "channels"
KEY_RANGE = PREFIX + "range."
KEY_CONTACT_CHANNEL = PREFIX + "contact_channel"
KEY_COLUMNS = PREFIX + "columns"
KEY_FORMAT = PREFIX + "format"
KEY_DOWNLOAD = PREFIX + "download"
KEY_TAG_PICK = PREFIX + "tag.pick"
KEY_TAG_NAME = PREFIX + "tag.name"
KEY_TAG_RULE = PREFIX + "tag.rule"
KEY_TAG_SAVE = PREFIX + "tag.save"
KEY_TAG_DELETE = PREFIX + "tag.delete"
KEY_TAG_NOTICE = PREFIX + "tag.notice"
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


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _tag_facts(url: str, version: int, as_of: dt.date) -> pd.DataFrame:
    return tag_facts(get_engine(), as_of)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _tag_fields(url: str, version: int, as_of: dt.date, window_days: int | None) -> TagFields:
    features = load_facts(as_of, window_days).features
    return TagFields(features, _tag_facts(url, version, as_of), as_of)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _tag_matrix(
    url: str, version: int, as_of: dt.date, window_days: int | None, tags_json: str
) -> TagMatrix:
    tags = [Tag(**entry) for entry in json.loads(tags_json)]
    return evaluate_tags(_tag_fields(url, version, as_of, window_days), tags)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES * 2, ttl=3600)
def _assignment(
    url: str, version: int, as_of: dt.date, window_days: int | None, scheme_json: str
) -> SegmentAssignment:
    scheme = Scheme.from_json(scheme_json)
    return assign_all_customers(load_facts(as_of, window_days), scheme)


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES * 2, ttl=3600)
def _audience_facts(
    url: str,
    version: int,
    as_of: dt.date,
    window_days: int | None,
    scheme_json: str,
    scheme_version: int | None,
    scheme_id: int | None,
    tags_json: str,
) -> AudienceFacts:
    assignment = _assignment(url, version, as_of, window_days, scheme_json)
    if scheme_version is not None:
        scheme = Scheme.from_dict(assignment.scheme.to_dict(), version=scheme_version)
        assignment = SegmentAssignment(
            scheme, assignment.codes, assignment.r_score, assignment.f_score, assignment.m_score
        )
    return AudienceFacts(
        as_of=as_of,
        window_days=window_days,
        rfm=load_facts(as_of, window_days),
        fields=_tag_fields(url, version, as_of, window_days),
        tags=_tag_matrix(url, version, as_of, window_days, tags_json),
        assignment=assignment,
        scheme_id=scheme_id,
    )


def tags_json(tags: list[Tag]) -> str:
    return json.dumps(
        [
            {"name": t.name, "condition": t.condition, "kind": t.kind, "customised": t.customised}
            for t in tags
        ],
        ensure_ascii=False,
        sort_keys=True,
    )


def current_tags() -> list[Tag]:
    """The stored tag definitions (read on every run: they are a small JSON value)."""
    return load_tags(get_engine())


def audience_facts(
    as_of: dt.date, window_days: int | None, scheme: Scheme, scheme_id: int | None
) -> AudienceFacts:
    """The assembled facts for the audience builder (cached; see the module docstring)."""
    url, version = data_key()
    return _audience_facts(
        url,
        version,
        as_of,
        window_days,
        scheme.to_json(),
        scheme.version,
        scheme_id,
        tags_json(current_tags()),
    )


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=600)
def _contacts(
    url: str, version: int, as_of: dt.date, window_days: int | None, cap_days: int, marker: int
) -> np.ndarray:
    features = load_facts(as_of, window_days).features
    return contact_counts(get_engine(), features["customer_id"], as_of, cap_days)


def contacts(as_of: dt.date, window_days: int | None, cap_days: int) -> np.ndarray:
    """Marketing contacts per customer in the cap window (refreshed after every export)."""
    url, version = data_key()
    return _contacts(url, version, as_of, window_days, cap_days, export_marker(get_engine()))
