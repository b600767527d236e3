"""The scheme being explored: the one picked in the shared scheme picker, and the draft
(a copy the user tunes and edits) kept in the session until another scheme is picked."""

from __future__ import annotations

import streamlit as st

from crm_core.customers.segments import Scheme
from ui.context import RunContext
from ui.rfm import (
    KEY_DRAFT,
    KEY_DRAFT_BASE,
    KEY_EDITOR,
    KEY_EDITOR_ERROR,
    KEY_MEMBERS,
    KEY_MODE,
    KEY_PENDING,
    KEY_SAVE_NAME,
    KEY_SCHEME,
    KEY_VERSION,
    reset_tuning_widgets,
)
from ui.schemes import scheme_picker

SchemeSource = tuple[str, int | None]
"""(picker option, saved version or None for a preset): where a draft came from."""


def apply_pending_selection() -> None:
    """Select the scheme version a save asked for (before the picker is drawn)."""
    pending = st.session_state.pop(KEY_PENDING, None)
    if pending:
        st.session_state[KEY_SCHEME], st.session_state[KEY_VERSION] = pending


def selected_scheme(ctx: RunContext) -> tuple[Scheme, SchemeSource]:
    """The scheme chosen in the shared picker (a preset or a saved version) and where it
    came from."""
    picked = scheme_picker(ctx.engine, "rfm")
    return picked.scheme, (picked.option, picked.version)


def start_draft(scheme: Scheme, source: SchemeSource) -> None:
    """Make `scheme` the draft being edited when another scheme or version was chosen."""
    if st.session_state.get(KEY_DRAFT_BASE) == source and KEY_DRAFT in st.session_state:
        return
    st.session_state[KEY_DRAFT_BASE] = source
    replace_draft(scheme)


def replace_draft(scheme: Scheme) -> None:
    """`scheme` becomes the draft: the editor, the mode and the tuning widgets start over."""
    st.session_state[KEY_DRAFT] = scheme
    st.session_state[KEY_MODE] = scheme.scoring.mode
    st.session_state[KEY_EDITOR] = scheme.to_json()
    st.session_state.pop(KEY_EDITOR_ERROR, None)
    st.session_state.pop(KEY_MEMBERS, None)
    st.session_state[KEY_SAVE_NAME] = scheme.name
    reset_tuning_widgets()
