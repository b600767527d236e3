"""Entry point: the router. Prepares the store once, gates every page behind sign-in,
and renders the shared sidebar (language, as-of date, refresh, user)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crm_core import auth
from crm_core.bootstrap import StartupReport, admin_password_banner, demo_shop_info, prepare_store
from crm_core.i18n import LANGUAGES
from ui.auth import sign_in_form, sign_out_button
from ui.context import (
    KEY_AS_OF,
    KEY_LANGUAGE,
    KEY_NOTICE,
    current_user,
    sign_in_as,
    sign_out,
    t,
)
from ui.data import get_engine, latest_order_date
from ui.navigation import pages_for

LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}


@st.cache_resource(show_spinner=False)
def _prepared_store(url: str) -> StartupReport:
    """Runs once per process and database: schema, first admin, demo shop when empty."""
    report = prepare_store(get_engine())
    if report.admin_password:
        print(admin_password_banner(report.admin_password), flush=True)
    return report


def _prepare() -> None:
    engine = get_engine()
    with st.spinner(t("app.preparing_store")):
        report = _prepared_store(str(engine.url))
    if report.demo_loaded and not st.session_state.get(KEY_NOTICE):
        st.session_state[KEY_NOTICE] = "shown"
        rows = report.demo_rows
        st.toast(
            t(
                "demo.loaded_notice",
                customers=f"{rows.get('customers', 0):,}",
                orders=f"{rows.get('orders', 0):,}",
            ),
            icon=":material/storefront:",
        )


def _language_selector() -> None:
    st.sidebar.selectbox(
        t("app.language"),
        options=list(LANGUAGES),
        format_func=LANGUAGE_NAMES.get,
        key=KEY_LANGUAGE,
    )


def _as_of_selector() -> None:
    latest = latest_order_date()
    if KEY_AS_OF not in st.session_state:
        st.session_state[KEY_AS_OF] = latest or dt.date.today()
    st.sidebar.date_input(t("app.as_of"), key=KEY_AS_OF, help=t("app.as_of_help"))
    if latest is not None:
        st.sidebar.caption(t("app.latest_order", date=latest.isoformat()))


def _sidebar() -> None:
    user = current_user()
    st.sidebar.markdown(f"**{t('app.title')}**")
    _as_of_selector()
    if st.sidebar.button(t("app.refresh"), icon=":material/refresh:", help=t("app.refresh_help")):
        st.cache_data.clear()
        st.rerun()
    info = demo_shop_info(get_engine())
    if info:
        st.sidebar.caption(t("app.demo_badge", customers=info.get("customers", 0)))
    if user is not None:
        st.sidebar.caption(
            t(
                "app.signed_in_as",
                name=user.display_name or user.username,
                role=t(f"role.{user.role}"),
            )
        )
        sign_out_button()


def _pages_for(role: str) -> list[st.Page]:
    """The pages `role` may open, in menu order; the first is the default."""
    return [
        st.Page(path, title=t(title_key), icon=icon, default=index == 0)
        for index, (path, title_key, icon) in enumerate(pages_for(role))
    ]


def _signed_in_role() -> str | None:
    """The signed-in user's role as stored now: re-read on every run, so a deactivated
    account is signed out and a changed role applies at once."""
    user = current_user()
    if user is None:
        return None
    stored = auth.get_active_user(get_engine(), user.username)
    if stored is None:
        sign_out()
        return None
    if (stored.role, stored.display_name) != (user.role, user.display_name):
        sign_in_as(stored)
    return stored.role


def main() -> None:
    st.set_page_config(page_title="CRM", page_icon=":material/insights:", layout="wide")
    _language_selector()
    _prepare()
    role = _signed_in_role()
    if role is None:
        sign_in_page = st.Page(
            lambda: sign_in_form(get_engine()), title=t("nav.sign_in"), icon=":material/login:"
        )
        st.navigation([sign_in_page], position="hidden").run()
        return
    _sidebar()
    st.navigation(_pages_for(role)).run()


main()
