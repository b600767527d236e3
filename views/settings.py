"""Settings (admins only): who may sign in, with which role; add users, change roles,
reset passwords, deactivate and reactivate; recent sign-ins and failures."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crm_core import auth
from crm_core.errors import CrmError
from crm_core.numbers import MISSING
from crm_core.sign_ins import LOCAL_CLIENT, OUTCOMES, recent_sign_ins
from ui.auth import start_browser_session
from ui.context import (
    current_user,
    run_context,
    show_error,
    sign_in_as,
    sign_out,
    t,
)

KEY_NOTICE = "crm.settings.notice"
# Widget key prefixes of the four forms (tests address widgets by these keys).
ADD_FORM = "crm.settings.add"
ROLE_FORM = "crm.settings.role"
PASSWORD_FORM = "crm.settings.password"
ACTIVE_FORM = "crm.settings.active"


def _role_name(role: str) -> str:
    return t(f"role.{role}")


def _role_names() -> dict[str, str]:
    """Role -> its name in the session's language (a dict, so a widget's format_func
    does not depend on the session when it is called later)."""
    return {role: _role_name(role) for role in auth.ROLES}


def _finish(message: str) -> None:
    """Keep `message` for the next run (shown above the user list) and rerun."""
    st.session_state[KEY_NOTICE] = message
    st.rerun()


def _refresh_own_session(username: str) -> None:
    """After an admin changed their own account, the session follows the store."""
    user = current_user()
    if user is None or user.username != username:
        return
    refreshed = auth.get_active_user(run_context().engine, username)
    if refreshed is None:
        sign_out()
    else:
        sign_in_as(refreshed)


def _users_table(users: pd.DataFrame) -> None:
    st.subheader(t("settings.users.header"))
    st.caption(t("settings.users.caption", count=len(users), active=int(users["is_active"].sum())))
    column = st.column_config
    never = t("settings.users.never")
    shown = users.assign(
        role=users["role"].map(_role_name),
        display_name=users["display_name"].fillna(MISSING),
        last_login_at=users["last_login_at"].map(
            lambda at: never if pd.isna(at) else at.strftime("%Y-%m-%d %H:%M")
        ),
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "username": column.TextColumn(t("settings.users.username")),
            "display_name": column.TextColumn(t("settings.users.display_name")),
            "role": column.TextColumn(t("settings.users.role")),
            "is_active": column.CheckboxColumn(t("settings.users.is_active")),
            "created_at": column.DatetimeColumn(
                t("settings.users.created_at"), format="YYYY-MM-DD HH:mm"
            ),
            "last_login_at": column.TextColumn(t("settings.users.last_login_at")),
        },
    )


def _permissions_table() -> None:
    with st.expander(t("settings.roles.header")):
        table = pd.DataFrame(
            {
                t("settings.roles.permission"): [
                    t(f"auth.permission.{name}") for name in auth.PERMISSION_NAMES
                ],
                **{
                    _role_name(role): [
                        name in auth.PERMISSIONS[role] for name in auth.PERMISSION_NAMES
                    ]
                    for role in auth.ROLES
                },
            }
        )
        st.dataframe(table, hide_index=True)


def _user_picker(users: pd.DataFrame, key: str) -> str | None:
    labels = {
        row.username: t(
            "settings.user_label" if row.is_active else "settings.user_label_inactive",
            username=row.username,
            role=_role_name(row.role),
        )
        for row in users.itertuples()
    }
    return st.selectbox(
        t("settings.user_choice"), options=list(labels), format_func=labels.get, key=key
    )


# The fields a form keeps after an error and empties after it succeeded.
FORM_FIELDS = {
    ADD_FORM: ("username", "display_name", "role", "password", "repeat"),
    PASSWORD_FORM: ("password", "repeat"),
}
KEY_CLEAR = "crm.settings.clear"


def _clear_after_success(form: str) -> None:
    """Empty `form`'s fields at the next run (widgets cannot be changed once drawn)."""
    st.session_state[KEY_CLEAR] = form


def _clear_pending_form() -> None:
    form = st.session_state.pop(KEY_CLEAR, None)
    for field in FORM_FIELDS.get(form, ()):
        st.session_state.pop(f"{form}.{field}", None)


def _add_user_form() -> None:
    with st.form(ADD_FORM):
        username = st.text_input(
            t("settings.users.username"),
            help=t("settings.add.username_help"),
            max_chars=64,
            key=f"{ADD_FORM}.username",
        )
        display_name = st.text_input(
            t("settings.add.display_name"), max_chars=128, key=f"{ADD_FORM}.display_name"
        )
        role = st.selectbox(
            t("settings.add.role"),
            options=list(auth.ROLES),
            index=auth.ROLES.index("viewer"),
            format_func=_role_names().get,
            key=f"{ADD_FORM}.role",
        )
        password = st.text_input(
            t("settings.add.password"),
            type="password",
            autocomplete="new-password",
            help=t("settings.add.password_help", min_length=auth.MIN_PASSWORD_LENGTH),
            key=f"{ADD_FORM}.password",
        )
        repeat = st.text_input(
            t("settings.add.password_repeat"),
            type="password",
            autocomplete="new-password",
            key=f"{ADD_FORM}.repeat",
        )
        submitted = st.form_submit_button(
            t("settings.add.submit"), type="primary", key=f"{ADD_FORM}.submit"
        )
    if not submitted:
        return
    if password != repeat:
        st.error(t("settings.passwords_differ"))
        return
    try:
        user = auth.create_user(
            run_context().engine, username, password, role, display_name, actor=current_user()
        )
    except CrmError as error:
        show_error(error)
        return
    _clear_after_success(ADD_FORM)
    _finish(t("settings.add.done", username=user.username, role=_role_name(user.role)))


def _change_role_form(users: pd.DataFrame) -> None:
    with st.form(ROLE_FORM):
        username = _user_picker(users, f"{ROLE_FORM}.user")
        role = st.selectbox(
            t("settings.role.new_role"),
            options=list(auth.ROLES),
            format_func=_role_names().get,
            key=f"{ROLE_FORM}.role",
        )
        submitted = st.form_submit_button(t("settings.role.submit"), key=f"{ROLE_FORM}.submit")
    if not submitted or username is None:
        return
    try:
        auth.set_role(run_context().engine, username, role, actor=current_user())
    except CrmError as error:
        show_error(error)
        return
    _refresh_own_session(username)
    _finish(t("settings.role.done", username=username, role=_role_name(role)))


def _reset_password_form(users: pd.DataFrame) -> None:
    with st.form(PASSWORD_FORM):
        username = _user_picker(users, f"{PASSWORD_FORM}.user")
        password = st.text_input(
            t("settings.password.new"),
            type="password",
            autocomplete="new-password",
            help=t("settings.add.password_help", min_length=auth.MIN_PASSWORD_LENGTH),
            key=f"{PASSWORD_FORM}.password",
        )
        repeat = st.text_input(
            t("settings.add.password_repeat"),
            type="password",
            autocomplete="new-password",
            key=f"{PASSWORD_FORM}.repeat",
        )
        submitted = st.form_submit_button(
            t("settings.password.submit"), key=f"{PASSWORD_FORM}.submit"
        )
    if not submitted or username is None:
        return
    if password != repeat:
        st.error(t("settings.passwords_differ"))
        return
    try:
        auth.set_password(run_context().engine, username, password, actor=current_user())
    except CrmError as error:
        show_error(error)
        return
    if username == current_user().username:  # other sessions ended; this one goes on
        start_browser_session(run_context().engine, current_user())
    _clear_after_success(PASSWORD_FORM)
    _finish(t("settings.password.done", username=username))


def _activation(users: pd.DataFrame) -> None:
    st.caption(t("settings.active.help"))
    username = _user_picker(users, f"{ACTIVE_FORM}.user")
    if username is None:
        return
    is_active = bool(users.loc[users["username"] == username, "is_active"].iloc[0])
    label = t("settings.active.deactivate" if is_active else "settings.active.reactivate")
    if not st.button(label, key=f"{ACTIVE_FORM}.toggle"):
        return
    try:
        auth.set_active(run_context().engine, username, not is_active, actor=current_user())
    except CrmError as error:
        show_error(error)
        return
    _refresh_own_session(username)
    done_key = "settings.active.deactivated" if is_active else "settings.active.reactivated"
    _finish(t(done_key, username=username))


def _sign_ins() -> None:
    """The newest sign-in attempts with their outcomes and locks."""
    st.subheader(t("settings.sign_ins.title"))
    st.caption(t("settings.sign_ins.caption"))
    attempts = recent_sign_ins(run_context().engine, actor=current_user())
    if attempts.empty:
        st.info(t("settings.sign_ins.none"))
        return
    outcomes = {name: t(f"settings.sign_ins.outcome.{name}") for name in OUTCOMES}
    locks = {name: t(f"settings.sign_ins.locks.{name}") for name in ("account", "client")}
    shown = attempts.assign(
        outcome=attempts["outcome"].map(outcomes).fillna(attempts["outcome"]),
        locks=attempts["locks"].map(locks).fillna(""),
        client=attempts["client"].replace(LOCAL_CLIENT, t("settings.sign_ins.local")),
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "at": st.column_config.DatetimeColumn(
                t("settings.sign_ins.at"), format="YYYY-MM-DD HH:mm:ss"
            ),
            "username": st.column_config.TextColumn(t("settings.sign_ins.username")),
            "client": st.column_config.TextColumn(t("settings.sign_ins.client")),
            "outcome": st.column_config.TextColumn(t("settings.sign_ins.outcome")),
            "locks": st.column_config.TextColumn(t("settings.sign_ins.locks")),
        },
    )


def main() -> None:
    st.title(t("settings.title"))
    if not current_user().may(auth.MANAGE_USERS):
        st.warning(t("settings.not_allowed"))
        return
    notice = st.session_state.pop(KEY_NOTICE, None)
    if notice:
        st.success(notice)
    _clear_pending_form()
    users = auth.list_users(run_context().engine, actor=current_user())
    _users_table(users)
    _permissions_table()
    add_tab, role_tab, password_tab, active_tab = st.tabs(
        [
            t("settings.add.header"),
            t("settings.role.header"),
            t("settings.password.header"),
            t("settings.active.header"),
        ]
    )
    with add_tab:
        _add_user_form()
    with role_tab:
        _change_role_form(users)
    with password_tab:
        _reset_password_form(users)
    with active_tab:
        _activation(users)
    _sign_ins()


main()
