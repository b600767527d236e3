"""Save the draft as a new version of a scheme (crm_core refuses a user without the
permission; the form is shown only to those who have it)."""

from __future__ import annotations

import streamlit as st

from crm_core import auth
from crm_core.customers.segments import Scheme, save_scheme
from crm_core.errors import CrmError
from ui.auth import actor_check
from ui.context import RunContext, show_error, t
from ui.rfm import (
    KEY_DRAFT,
    KEY_DRAFT_BASE,
    KEY_PENDING,
    KEY_SAVE_NAME,
    KEY_SAVE_NOTE,
    KEY_SAVED_NOTICE,
)
from ui.schemes import SAVED_PREFIX


def _remember_saved(named: Scheme, name: str, version: int) -> None:
    """After a save: the new version becomes the selection and the draft's base."""
    option = f"{SAVED_PREFIX}{name}"
    st.session_state[KEY_PENDING] = (option, version)
    st.session_state[KEY_DRAFT_BASE] = (option, version)
    st.session_state[KEY_DRAFT] = Scheme(
        name=name, rules=named.rules, scoring=named.scoring, version=version
    )
    st.session_state[KEY_SAVED_NOTICE] = (name, version)
    st.session_state.pop(KEY_SAVE_NOTE, None)


def save(ctx: RunContext, draft: Scheme) -> None:
    """Name and note fields and the save button, or a note that this role may not save."""
    st.subheader(t("rfm.save.title"), help=t("rfm.save.help"))
    notice = st.session_state.pop(KEY_SAVED_NOTICE, None)
    if notice:
        st.success(t("rfm.save.done", name=notice[0], version=notice[1]), icon=":material/check:")
    actor = ctx.actor
    if actor is None or not actor.may(auth.EDIT_SCHEMES):
        st.caption(t("rfm.save.not_allowed"))
        return
    if KEY_SAVE_NAME not in st.session_state:
        st.session_state[KEY_SAVE_NAME] = draft.name
    left, right = st.columns(2)
    with left:
        st.text_input(t("rfm.save.name"), key=KEY_SAVE_NAME, max_chars=128)
    with right:
        st.text_input(t("rfm.save.note"), key=KEY_SAVE_NOTE, max_chars=500)
    if st.button(t("rfm.save.button"), type="primary", icon=":material/save:"):
        try:
            named = Scheme(
                name=st.session_state[KEY_SAVE_NAME].strip(),
                rules=draft.rules,
                scoring=draft.scoring,
            )
            saved = save_scheme(  # a fragment rerun: the session is checked here
                ctx.engine,
                named,
                actor_check(ctx.engine)(),
                note=st.session_state.get(KEY_SAVE_NOTE) or None,
            )
        except CrmError as error:
            show_error(error)
            return
        _remember_saved(named, saved.name, saved.version)
        st.rerun()
