"""Cached loaders, session keys and threshold widgets of the RFM page.

The prepared facts (a million customers) are kept with `st.cache_resource`, keyed on
(database URL, data version, as-of date, window): one shared read-only object per key,
so a slider move neither copies nor unpickles the frame (`st.cache_data` would hand out
a fresh copy on every access) and the database is never queried again for it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import streamlit as st

from crm_core.customers.features import customer_features
from crm_core.customers.rfm import AXES, RfmFacts, prepare_facts
from crm_core.customers.segments import (
    SCORE_FIELDS,
    Scheme,
    align_customers,
    customer_codes,
    evaluate_scheme,
)
from crm_core.figures.rfm import histogram_counts
from ui.data import data_key, get_engine

KEY_SCHEME = "crm.rfm.scheme"
KEY_VERSION = "crm.rfm.version"
KEY_EARLIER = "crm.rfm.earlier_as_of"
KEY_PENDING = "crm.rfm.pending_selection"
KEY_DRAFT = "crm.rfm.draft"
KEY_DRAFT_BASE = "crm.rfm.draft_base"
KEY_MODE = "crm.rfm.mode"
KEY_GRID_VALUE = "crm.rfm.grid_value"
KEY_GRID_CHART = "crm.rfm.grid_chart"
KEY_SEGMENT_TABLE = "crm.rfm.segment_table"
KEY_MEMBERS = "crm.rfm.members"
KEY_MEMBERS_PICK = "crm.rfm.members_pick"
KEY_EDITOR = "crm.rfm.editor"
KEY_EDITOR_ERROR = "crm.rfm.editor_error"
KEY_SAVE_NAME = "crm.rfm.save_name"
KEY_SAVE_NOTE = "crm.rfm.save_note"
KEY_SAVED_NOTICE = "crm.rfm.saved_notice"
CUT_PREFIX = "crm.rfm.cut."
THRESHOLD_PREFIX = "crm.rfm.threshold."
SLIDER_SUFFIX = ".slider"

FACTS_CACHE_ENTRIES = 3
MONEY_FIELDS = frozenset({"monetary", "purchase_amount", "avg_order_value", "refunds", "spend_12m"})


@st.cache_resource(show_spinner=False, max_entries=FACTS_CACHE_ENTRIES, ttl=3600)
def _facts(url: str, version: int, as_of: dt.date, window_days: int | None) -> RfmFacts:
    return prepare_facts(customer_features(get_engine(), as_of, window_days))


def load_facts(as_of: dt.date, window_days: int | None) -> RfmFacts:
    """The prepared facts of the store on `as_of` (aggregated in the database once per key)."""
    url, version = data_key()
    return _facts(url, version, as_of, window_days)


@st.cache_resource(show_spinner=False, max_entries=FACTS_CACHE_ENTRIES, ttl=3600)
def _histograms(
    url: str, version: int, as_of: dt.date, window_days: int | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    facts = _facts(url, version, as_of, window_days)
    return {
        axis: histogram_counts(facts.index[axis].distinct, facts.index[axis].counts)
        for axis in AXES
    }


def histograms(as_of: dt.date, window_days: int | None) -> dict[str, tuple]:
    """Per axis, (bin edges, customers per bin) of the metric (computed once per load)."""
    url, version = data_key()
    return _histograms(url, version, as_of, window_days)


@st.cache_resource(show_spinner=False, max_entries=FACTS_CACHE_ENTRIES, ttl=3600)
def _alignment(
    url: str, version: int, earlier: dt.date, as_of: dt.date, window_days: int | None
) -> np.ndarray:
    before = _facts(url, version, earlier, window_days)
    after = _facts(url, version, as_of, window_days)
    return align_customers(before.features["customer_id"], after.features["customer_id"])


def alignment(earlier: dt.date, as_of: dt.date, window_days: int | None) -> np.ndarray:
    """For each customer on `as_of`, its row in the facts of `earlier` (or -1)."""
    url, version = data_key()
    return _alignment(url, version, earlier, as_of, window_days)


@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def _baseline_codes(
    url: str, version: int, as_of: dt.date, window_days: int | None, scheme_json: str
) -> np.ndarray:
    facts = _facts(url, version, as_of, window_days)
    return customer_codes(facts, evaluate_scheme(facts, Scheme.from_json(scheme_json)))


def baseline_codes(as_of: dt.date, window_days: int | None, scheme: Scheme) -> np.ndarray:
    """Segment codes of every customer under the saved scheme (computed once per scheme
    and facts, not on every slider move)."""
    url, version = data_key()
    return _baseline_codes(url, version, as_of, window_days, scheme.to_json())


def cut_key(axis: str, index: int) -> str:
    return f"{CUT_PREFIX}{axis}.{index}"


def threshold_key(key: str) -> str:
    return f"{THRESHOLD_PREFIX}{key}"


def keep_cuts_in_order(axis: str, moved: int, count: int) -> None:
    """After cut-point `moved` of `axis` changed, push the others so that the four stay
    non-decreasing (like the handles of one multi-handle slider)."""
    value = float(st.session_state[cut_key(axis, moved)])
    for index in range(count):
        key = cut_key(axis, index)
        if key not in st.session_state or index == moved:
            continue
        current = float(st.session_state[key])
        if (index > moved and current < value) or (index < moved and current > value):
            st.session_state[key] = value


def reset_tuning_widgets() -> None:
    """Forget every threshold and cut-point widget value (a new draft starts)."""
    for key in list(st.session_state.keys()):
        if str(key).startswith((CUT_PREFIX, THRESHOLD_PREFIX)):
            del st.session_state[key]


def slider_range(facts: RfmFacts, field_name: str, value: float) -> tuple[float, float, bool]:
    """(low, high, integral) of a slider for a threshold on `field_name`: the field's
    observed range up to its 99.5th percentile (computed once per facts load), widened
    to include 0 and `value`."""
    if field_name in SCORE_FIELDS:
        high = 55.0 if field_name in ("rf", "r_fm") else 555.0 if field_name == "rfm" else 5.0
        return 1.0, high, True
    if field_name == "monetary_rank_pct":
        return 0.0, 100.0, False
    integral = float(value).is_integer() and field_name not in MONEY_FIELDS
    span = facts.value_span(field_name) if field_name in facts.column_names else None
    if span is None:
        return math.floor(min(0.0, value)), math.ceil(max(1.0, value * 2)), integral
    low = math.floor(min(span[0], 0.0, value))
    return low, math.ceil(max(span[1], value, low + 1)), integral


def paired_input(
    label: str,
    key: str,
    low: float,
    high: float,
    integral: bool,
    on_change: Callable[[], None] | None = None,
    help_text: str | None = None,
) -> float:
    """A slider to drag and a number input to type, kept in step; the number input
    (`key`, set by the caller beforehand) holds the value, which may lie outside the
    slider's range. Returns the value."""
    slider_key = key + SLIDER_SUFFIX
    value = st.session_state[key]
    step = 1.0 if integral or high - low > 100 else 0.1
    clipped = min(max(float(value), float(low)), float(high))
    st.session_state[slider_key] = round(clipped) if step == 1.0 else clipped

    def slider_moved() -> None:
        st.session_state[key] = float(st.session_state[slider_key])
        if on_change:
            on_change()

    def number_typed() -> None:
        if on_change:
            on_change()

    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        st.slider(
            label,
            min_value=float(low),
            max_value=float(high),
            step=step,
            key=slider_key,
            format="%d" if step == 1.0 else "%.1f",
            on_change=slider_moved,
            help=help_text,
        )
    with right:
        st.number_input(
            label,
            key=key,
            step=1.0 if integral else 0.01,
            format="%.0f" if integral else "%.2f",
            on_change=number_typed,
            label_visibility="hidden",
        )
    return float(st.session_state[key])
