"""Sign-in form, sign-out button and the browser session that survives a reload (the
gate itself is in app.py; sessions are crm_core.sessions)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import streamlit as st
from sqlalchemy import Engine

from crm_core import auth, sessions
from crm_core.errors import PermissionDenied
from crm_core.sign_ins import sign_in
from ui.context import KEY_SESSION_COOKIE, current_user, sign_in_as, sign_out, t

SIGN_IN_FORM_KEY = "crm.auth.sign_in_form"
SIGN_OUT_BUTTON_KEY = "crm.auth.sign_out"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,512}")
"""What a session cookie written by this app looks like (itsdangerous' URL-safe form)."""


def client_address() -> str | None:
    """The browser's IP address as Streamlit sees it (None when it does not say, e.g.
    on localhost)."""
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        return None
    return address if isinstance(address, str) and address else None


def _browser_cookie() -> str | None:
    """The session cookie the browser sent when this tab connected (a reload or a new
    tab connects again; within one connection it does not change)."""
    try:
        value = st.context.cookies.get(sessions.SESSION_COOKIE)
    except (AttributeError, RuntimeError):
        return None
    return value if isinstance(value, str) and value else None


def start_browser_session(engine: Engine, actor: auth.Actor) -> None:
    """Sign `actor` in for this tab and start a session the browser keeps (its cookie is
    written by `keep_session_cookie` on the next run)."""
    session = sessions.start_session(engine, actor, client_address())
    sign_in_as(actor)
    st.session_state[KEY_SESSION_COOKIE] = session.cookie


def _stored_user(engine: Engine, cookie: str | None, user: auth.Actor | None) -> auth.Actor | None:
    """The user of session `cookie` as stored now, or, signed in without a browser
    session (tests put the user in the session), `user` as stored now."""
    if cookie is not None:
        return sessions.resume_session(engine, cookie)
    return None if user is None else auth.get_active_user(engine, user.username)


def session_user(engine: Engine) -> auth.Actor | None:
    """The signed-in user as stored now, re-read on every run: from this tab's session,
    else resumed from the browser's cookie (a reload, a deep link, a new tab). A session
    that ended (sign-out in another tab, deactivation, new password) or expired signs
    the tab out at its next interaction; a changed role applies at once."""
    user = current_user()
    cookie = st.session_state.get(KEY_SESSION_COOKIE)
    if user is None:
        cookie = _browser_cookie()
        if cookie is None:
            return None
    stored = _stored_user(engine, cookie, user)
    if stored is None:
        sign_out()
        return None
    if stored != user:
        sign_in_as(stored)
    st.session_state[KEY_SESSION_COOKIE] = cookie
    return stored


def actor_check(engine: Engine) -> Callable[[], auth.Actor]:
    """A check for work done later than the run that offered it: a deferred download
    (written when clicked, outside any run) or a save in a fragment rerun (which does
    not pass the router's gate). It returns the tab's user as stored at that moment,
    and raises PermissionDenied when the session ended or the account was deactivated
    meanwhile."""
    cookie = st.session_state.get(KEY_SESSION_COOKIE)
    user = current_user()

    def check() -> auth.Actor:
        actor = _stored_user(engine, cookie, user)
        if actor is None:
            raise PermissionDenied("auth.error.session_ended")
        return actor

    return check


def keep_session_cookie() -> None:
    """Write this tab's session into the browser's cookie when the browser does not hold
    it yet (just signed in), or delete a cookie whose session is over (signed out). The
    cookie is SameSite=Strict, Secure over HTTPS and expires with the session; script
    cannot be avoided here, since Streamlit offers no way to set a cookie from Python."""
    wanted = st.session_state.get(KEY_SESSION_COOKIE)
    held = _browser_cookie()
    if wanted == held or (wanted is None and held is None):
        return
    name = sessions.SESSION_COOKIE
    if wanted is None:
        # only the dead session's cookie: another tab may have signed in again since (a
        # value that is no token of ours is deleted without being written into the page)
        delete = f'document.cookie = "{name}=; Max-Age=0; Path=/; SameSite=Strict";'
        if TOKEN_PATTERN.fullmatch(held or ""):
            dead = json.dumps(f"{name}={held}")
            delete = f'if (document.cookie.split("; ").includes({dead})) {{{delete}}}'
        script = f"<script>{delete}</script>"
    else:
        max_age = sessions.SESSION_HOURS * 3600
        cookie = f"{name}={wanted}; Max-Age={max_age}; Path=/; SameSite=Strict"
        script = (
            f"<script>document.cookie = {json.dumps(cookie)}"
            ' + (location.protocol === "https:" ? "; Secure" : "");</script>'
        )
    with st.sidebar:
        st.html(script, unsafe_allow_javascript=True, width="content")


def sign_in_form(engine: Engine) -> None:
    """A centred form: username, password, submit. On success the user is signed in
    (a session the browser keeps) and the app reruns; any failure shows one message
    that does not say whether the username exists; failures are slowed and then locked
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
                    start_browser_session(engine, result.actor)
                    st.rerun()
                elif result.locked_until is not None:
                    st.error(t("auth.sign_in.locked", until=result.locked_until.strftime("%H:%M")))
                else:
                    st.error(t("auth.sign_in.failed"))
        if not auth.anyone_signed_in(engine):
            st.info(t("auth.sign_in.first_start_hint"))


def sign_out_button(engine: Engine) -> None:
    """A sign-out button in the sidebar: ends the session (in the store, so the cookie
    no longer signs anyone in, in any tab) and reruns."""
    if st.sidebar.button(t("auth.sign_out"), key=SIGN_OUT_BUTTON_KEY, icon=":material/logout:"):
        sessions.end_session(engine, st.session_state.get(KEY_SESSION_COOKIE))
        sign_out()
        st.rerun()
