"""Per-session state of the app: signed-in user, language, as-of date. Keys live here only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import streamlit as st

from crm_core.auth import Actor
from crm_core.errors import CrmError
from crm_core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate

KEY_USER = "crm.user"
KEY_LANGUAGE = "crm.language"
KEY_AS_OF = "crm.as_of"
KEY_NOTICE = "crm.notice"


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


def current_as_of() -> dt.date:
    """The as-of date chosen in the sidebar (set by app.py before any page runs)."""
    return st.session_state[KEY_AS_OF]


def show_error(error: CrmError) -> None:
    """A user-caused error (bad file, bad threshold, not allowed) as a translated message."""
    st.error(error.message(current_language()), icon=":material/error:")
