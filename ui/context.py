"""One context per run: what every page needs, read once by app.py before the page runs.

app.py builds a `RunContext` at the start of every full run (engine, data version, as-of
date, purchase window, language, acting user) and puts it in the session; pages and the
cached loaders take it from `run_context()` instead of reading the store again, so one
rerun never mixes two data versions while an import commits. A fragment rerun keeps the
context of the full run it belongs to. Session keys live here only.

The as-of date and the language also live in the URL (`?as_of=2026-10-31&lang=zh-CN`),
so a manager can send a colleague a link to the same view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import streamlit as st
from sqlalchemy import Engine
from streamlit.errors import StreamlitAPIException

from crm_core.asof import WINDOW_DAYS
from crm_core.auth import Actor
from crm_core.errors import CrmError
from crm_core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate

KEY_USER = "crm.user"
KEY_LANGUAGE = "crm.language"
KEY_AS_OF = "crm.as_of"
KEY_AS_OF_CHOSEN = "crm.as_of.chosen"
KEY_WINDOW = "crm.window"
KEY_NOTICE = "crm.notice"
KEY_CONTEXT = "crm.context"
KEY_SESSION_COOKIE = "crm.session_cookie"

PARAM_AS_OF = "as_of"
PARAM_LANGUAGE = "lang"
PARAM_SCHEME = "scheme"
PARAM_VERSION = "version"
"""Query parameters of a shareable view: ?as_of=YYYY-MM-DD&lang=en|zh-CN&scheme=NAME&version=N."""

DEFAULT_WINDOW = "all"
ROUTER = "app.py"

DataKey = tuple[str, int]
"""(database URL, data version): the part of every cache key that says which data."""


@dataclass(frozen=True)
class RunContext:
    """What one run of the app shows: which store, at which data version, as of which
    day, over which purchase window, in which language, for whom."""

    engine: Engine
    data_version: int
    as_of: dt.date
    window: str
    language: str
    actor: Actor | None
    latest_order: dt.date | None

    @property
    def url(self) -> str:
        return str(self.engine.url)

    @property
    def data_key(self) -> DataKey:
        """(database URL, data version): the part of every cache key that says which data."""
        return self.url, self.data_version

    @property
    def window_days(self) -> int | None:
        """Days of purchases before the as-of date that count (None: all history)."""
        return WINDOW_DAYS[self.window]


def set_run_context(context: RunContext) -> None:
    st.session_state[KEY_CONTEXT] = context


def run_context() -> RunContext:
    """The context app.py built for this run.

    A page script that runs without the router has none. The page scripts live in
    views/, not pages/, so Streamlit never runs them on their own; should one still run
    without app.py, it goes to the router instead, which signs the visitor in first,
    and never renders the page."""
    context = st.session_state.get(KEY_CONTEXT)
    if context is None:
        try:
            st.switch_page(ROUTER)
        except StreamlitAPIException:
            st.stop()
    return context


def chosen_window() -> str:
    """The purchase window chosen on the RFM or Audiences page (or the default)."""
    window = st.session_state.get(KEY_WINDOW, DEFAULT_WINDOW)
    return window if window in WINDOW_DAYS else DEFAULT_WINDOW


def url_value(param: str) -> str | None:
    """The value of query parameter `param` in the page's URL, or None."""
    value = st.query_params.get(param)
    return value if value else None


def set_url_value(param: str, value: object | None) -> None:
    """Write `param` into the page's URL (remove it when `value` is None)."""
    if value is None:
        st.query_params.pop(param, None)
    elif st.query_params.get(param) != str(value):
        st.query_params[param] = str(value)


def current_language() -> str:
    language = st.session_state.get(KEY_LANGUAGE, DEFAULT_LANGUAGE)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **params: object) -> str:
    """The string for `key` in the session's language."""
    return translate(key, current_language(), **params)


def listed(items: Iterable[object]) -> str:
    """`items` as one list in the session's language: "a, b" in English, "a、b" in Chinese."""
    return t("app.list_separator").join(str(item) for item in items)


def current_user() -> Actor | None:
    return st.session_state.get(KEY_USER)


def sign_in_as(user: Actor) -> None:
    st.session_state[KEY_USER] = user


def sign_out() -> None:
    st.session_state.pop(KEY_USER, None)
    st.session_state.pop(KEY_SESSION_COOKIE, None)


def current_as_of() -> dt.date:
    """The as-of date of this run (chosen in the sidebar)."""
    return run_context().as_of


def show_error(error: CrmError) -> None:
    """A user-caused error (bad file, bad threshold, not allowed) as a translated message."""
    st.error(error.message(current_language()), icon=":material/error:")
