"""Sign-in form and sign-out button (the gate itself is in app.py)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from crm_core import auth
from crm_core.sign_ins import sign_in
from ui.context import sign_in_as, sign_out, t

SIGN_IN_FORM_KEY = "crm.auth.sign_in_form"
SIGN_OUT_BUTTON_KEY = "crm.auth.sign_out"


def client_address() -> str | None:
    """The browser's IP address as Streamlit sees it (None when it does not say, e.g.
    on localhost)."""
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        return None
    return address if isinstance(address, str) and address else None


def sign_in_form(engine: Engine) -> None:
    """A centred form: username, password, submit. On success the user is put in the
    session and the app reruns; any failure shows one message that does not say
    whether the username exists; failures are slowed and then locked
    (crm_core.sign_ins)."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title(t("auth.sign_in.title"))
        st.caption(t("auth.sign_in.intro"))
        with st.form(SIGN_IN_FORM_KEY):
            username = st.text_input(t("auth.sign_in.username"), autocomplete="username")
            password = st.text_input(
                t("auth.sign_in.password"), type="password", autocomplete="current-password"
            )
            submitted = st.form_submit_button(
                t("auth.sign_in.submit"), type="primary", width="stretch"
            )
        if submitted:
            if not username.strip() or not password:
                st.warning(t("auth.sign_in.missing"))
            else:
                result = sign_in(engine, username, password, client_address())
                if result.actor is not None:
                    sign_in_as(result.actor)
                    st.rerun()
                elif result.locked_until is not None:
                    st.error(t("auth.sign_in.locked", until=result.locked_until.strftime("%H:%M")))
                else:
                    st.error(t("auth.sign_in.failed"))
        if not auth.anyone_signed_in(engine):
            st.info(t("auth.sign_in.first_start_hint"))


def sign_out_button() -> None:
    """A sign-out button in the sidebar; ends the session's sign-in and reruns."""
    if st.sidebar.button(t("auth.sign_out"), key=SIGN_OUT_BUTTON_KEY, icon=":material/logout:"):
        sign_out()
        st.rerun()
