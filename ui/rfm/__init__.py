"""The RFM explorer's session keys, cached loaders and small shared helpers.

The prepared facts (a million customers) are kept with `st.cache_resource`, keyed on
the run's data key (database URL, data version), the as-of date and the window, with the
engine (`_engine`) left out of the key: one shared read-only object per key, so a slider
move neither copies nor unpickles the frame (`st.cache_data` would hand out a fresh copy
on every access) and the database is never queried again for it. The panels of the page
live in the modules beside this one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import streamlit as st
from sqlalchemy import Engine

from crm_core.customers.features import stored_customer_features
from crm_core.customers.rfm import AXES, RfmFacts, prepare_facts
from crm_core.customers.segments import Scheme, align_customers, scheme_codes
from crm_core.figures.rfm import histogram_counts
from crm_core.i18n import translate
from ui.context import RunContext, t
from ui.schemes import scheme_keys

KEY_SCHEME, KEY_VERSION = scheme_keys("rfm")
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
KEY_TAB = "crm.rfm.tab"
TABS: tuple[str, ...] = ("segments", "customers", "distributions", "moves", "migration", "rules")
"""The explorer's tabs below the grid, in order (titles: rfm.tab.<name>); only the open
one runs."""
KEY_EDITOR = "crm.rfm.editor"
KEY_EDITOR_ERROR = "crm.rfm.editor_error"
KEY_SAVE_NAME = "crm.rfm.save_name"
KEY_SAVE_NOTE = "crm.rfm.save_note"
KEY_SAVED_NOTICE = "crm.rfm.saved_notice"
CUT_PREFIX = "crm.rfm.cut."
THRESHOLD_PREFIX = "crm.rfm.threshold."
SLIDER_SUFFIX = ".slider"

FACTS_CACHE_ENTRIES = 3
DataKey = tuple[str, int]


@st.cache_resource(show_spinner=False, max_entries=FACTS_CACHE_ENTRIES, ttl=3600)
def _facts(_engine: Engine, data_key: DataKey, as_of: dt.date, window_days: int | None) -> RfmFacts:
    return prepare_facts(stored_customer_features(_engine, as_of, window_days))


def load_facts(ctx: RunContext, as_of: dt.date) -> RfmFacts:
    """The prepared facts of the store on `as_of` over the run's window (aggregated in
    the database once per key)."""
    return _facts(ctx.engine, ctx.data_key, as_of, ctx.window_days)


@st.cache_resource(show_spinner=False, max_entries=FACTS_CACHE_ENTRIES, ttl=3600)
def _histograms(
    _engine: Engine, data_key: DataKey, as_of: dt.date, window_days: int | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    facts = _facts(_engine, data_key, as_of, window_days)
    return {
        axis: histogram_counts(facts.index[axis].distinct, facts.index[axis].counts)
        for axis in AXES
    }


def histograms(ctx: RunContext) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per axis, (bin edges, customers per bin) of the metric on the run's as-of date
    (computed once per load)."""
    return _histograms(ctx.engine, ctx.data_key, ctx.as_of, ctx.window_days)


@st.cache_resource(show_spinner=False, max_entries=FACTS_CACHE_ENTRIES, ttl=3600)
def _alignment(
    _engine: Engine,
    data_key: DataKey,
    earlier: dt.date,
    as_of: dt.date,
    window_days: int | None,
) -> np.ndarray:
    before = _facts(_engine, data_key, earlier, window_days)
    after = _facts(_engine, data_key, as_of, window_days)
    return align_customers(before.features["customer_id"], after.features["customer_id"])


def alignment(ctx: RunContext, earlier: dt.date) -> np.ndarray:
    """For each customer on the run's as-of date, its row in the facts of `earlier`
    (or -1)."""
    return _alignment(ctx.engine, ctx.data_key, earlier, ctx.as_of, ctx.window_days)


@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def _baseline_codes(
    _engine: Engine,
    data_key: DataKey,
    as_of: dt.date,
    window_days: int | None,
    scheme_json: str,
) -> np.ndarray:
    facts = _facts(_engine, data_key, as_of, window_days)
    return scheme_codes(facts, Scheme.from_json(scheme_json))


def baseline_codes(ctx: RunContext, scheme: Scheme) -> np.ndarray:
    """Segment codes of every customer under the saved `scheme` on the run's as-of date
    (computed once per scheme and facts, not on every slider move)."""
    return _baseline_codes(ctx.engine, ctx.data_key, ctx.as_of, ctx.window_days, scheme.to_json())


def cut_key(axis: str, index: int) -> str:
    """The session key of cut-point `index` (0-3) of `axis`."""
    return f"{CUT_PREFIX}{axis}.{index}"


def threshold_key(key: str) -> str:
    """The session key of the rule threshold `key` (`Threshold.key`)."""
    return f"{THRESHOLD_PREFIX}{key}"


def reset_tuning_widgets() -> None:
    """Forget every threshold and cut-point widget value (a new draft starts)."""
    for key in list(st.session_state.keys()):
        if str(key).startswith((CUT_PREFIX, THRESHOLD_PREFIX)):
            del st.session_state[key]


def translator(pattern: str, language: str) -> Callable[[object], str]:
    """A format_func for widget options: `pattern` with {option} filled in, translated
    in `language` (AppTest calls format_func outside the run)."""
    return lambda option: translate(pattern.format(option=option), language)


def field_label(name: str) -> str:
    """The display name of a facts field (the field's own name when untranslated)."""
    key = f"rfm.field.{name}"
    text = t(key)
    return name if text == key else text


def open_tab(name: str) -> None:
    """Open tab `name` (one of TABS) at the next run, e.g. the customers after a click."""
    st.session_state[KEY_TAB] = t(f"rfm.tab.{name}")
