"""Entry point: the router. Prepares the store once per process, gates every page behind
sign-in, reads the run's context once (ui.context.RunContext) and renders the shared
sidebar (language, as-of date, refresh, user) and the menu by section."""

from __future__ import annotations

import datetime as dt
import logging

import streamlit as st

from crm_core import asof
from crm_core.bootstrap import (
    StartupReport,
    admin_password_banner,
    demo_shop_info,
    prepare_store,
)
from crm_core.i18n import LANGUAGES
from crm_core.store import data_version
from ui.auth import keep_session_cookie, session_user, sign_in_form, sign_out_button
from ui.context import (
    KEY_AS_OF,
    KEY_AS_OF_CHOSEN,
    KEY_LANGUAGE,
    KEY_NOTICE,
    PARAM_AS_OF,
    PARAM_LANGUAGE,
    RunContext,
    chosen_window,
    current_language,
    set_run_context,
    set_url_value,
    t,
    url_value,
)
from ui.data import get_engine, order_date_range
from ui.navigation import DATA_PAGE, PAGES, SECTIONS, sections_for
from ui.warm_up import warm_up_after_new_data

LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}
logger = logging.getLogger("crm.app")


@st.cache_resource(show_spinner=False)
def _prepared_store(url: str) -> StartupReport:
    """Runs once per process and database: schema to head, first admin, demo shop when
    empty. The only place the app upgrades the schema."""
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


def _from_url_once() -> None:
    """A session's first run takes the language and the as-of date from the URL."""
    if KEY_LANGUAGE not in st.session_state and url_value(PARAM_LANGUAGE) in LANGUAGES:
        st.session_state[KEY_LANGUAGE] = url_value(PARAM_LANGUAGE)
    if KEY_AS_OF not in st.session_state and url_value(PARAM_AS_OF):
        try:
            chosen = dt.date.fromisoformat(url_value(PARAM_AS_OF))
            st.session_state[KEY_AS_OF] = asof.clamp(chosen)
            st.session_state[KEY_AS_OF_CHOSEN] = True
        except ValueError:
            set_url_value(PARAM_AS_OF, None)


def _language_selector() -> None:
    st.sidebar.selectbox(
        t("app.language"),
        options=list(LANGUAGES),
        format_func=LANGUAGE_NAMES.get,
        key=KEY_LANGUAGE,
    )
    set_url_value(PARAM_LANGUAGE, current_language())


def _as_of_chosen() -> None:
    st.session_state[KEY_AS_OF_CHOSEN] = True


def _as_of_selector(dates: tuple[dt.date, dt.date] | None) -> dt.date:
    """The sidebar's as-of date. Until the user picks one it follows the data: the
    newest order's date, also after an import brings newer orders. A date before the
    first order or after the newest is flagged."""
    first, latest = dates if dates else (None, None)
    if KEY_AS_OF not in st.session_state or not st.session_state.get(KEY_AS_OF_CHOSEN):
        st.session_state[KEY_AS_OF] = latest or dt.date.today()
    st.session_state[KEY_AS_OF] = asof.clamp(st.session_state[KEY_AS_OF])
    as_of = st.sidebar.date_input(
        t("app.as_of"),
        key=KEY_AS_OF,
        min_value=asof.SUPPORTED_FIRST,
        max_value=asof.SUPPORTED_LAST,
        help=t("app.as_of_help"),
        on_change=_as_of_chosen,
    )
    if latest is not None:
        st.sidebar.caption(t("app.latest_order", date=latest.isoformat()))
        if as_of < first:
            st.sidebar.warning(t("app.as_of_before_data", first=first.isoformat()))
        elif as_of > latest:
            st.sidebar.warning(t("app.as_of_after_data", latest=latest.isoformat()))
    set_url_value(PARAM_AS_OF, as_of.isoformat())
    return as_of


def _sidebar(context: RunContext) -> None:
    user = context.actor
    if st.sidebar.button(t("app.refresh"), icon=":material/refresh:", help=t("app.refresh_help")):
        st.cache_data.clear()
        st.rerun()
    info = demo_shop_info(context.engine)
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
        sign_out_button(context.engine)


def _menu(role: str, empty_store: bool) -> dict[str, list[st.Page]]:
    """The pages `role` may open, by section, in menu order. The first opens by default,
    except in a store without orders, where a role that may import starts on the Data
    page instead of a dashboard of zeros."""
    allowed = sections_for(role)
    paths = [path for path, _title, _icon, _section in allowed]
    default = DATA_PAGE if empty_store and DATA_PAGE in paths else paths[0]
    menu: dict[str, list[st.Page]] = {t(f"nav.section.{name}"): [] for name in SECTIONS}
    for path, title_key, icon, section in allowed:
        page = st.Page(path, title=t(title_key), icon=icon, default=path == default)
        menu[t(f"nav.section.{section}")].append(page)
    return {title: pages for title, pages in menu.items() if pages}


def _sign_in_view() -> None:
    """The start page while signed out. After sign-in the app reruns on the page it
    was on: this one is in no menu, so the role's default page opens (the Data page
    for an empty store), while a deep link's page opens itself."""
    sign_in_form(get_engine())


def _signed_out() -> None:
    """The sign-in form, whatever page the address asks for. The start page is the form
    itself; every page is registered too but none is run, so a deep link
    (/rfm?as_of=...) keeps its address and opens after sign-in, and no page script runs
    before it."""
    sign_in_page = st.Page(
        _sign_in_view, title=t("nav.sign_in"), icon=":material/login:", default=True
    )
    requested = [
        st.Page(path, title=t(title_key), icon=icon)
        for path, title_key, icon, _section, _permission in PAGES
    ]
    page = st.navigation([sign_in_page, *requested], position="hidden")
    st.set_page_config(page_title=t("nav.sign_in"))
    if page is sign_in_page:
        page.run()
    else:
        sign_in_form(get_engine())


def main() -> None:
    st.set_page_config(page_title="CRM", page_icon=":material/insights:", layout="wide")
    _from_url_once()
    _language_selector()
    _prepare()
    user = session_user(get_engine())
    keep_session_cookie()
    if user is None:
        _signed_out()
        return
    engine = get_engine()
    version = data_version(engine)
    dates = order_date_range(str(engine.url), version, dt.date.today())
    latest = dates[1] if dates else None
    st.sidebar.markdown(f"**{t('app.title')}**")
    as_of = _as_of_selector(dates)
    context = RunContext(
        engine=engine,
        data_version=version,
        as_of=as_of,
        window=chosen_window(),
        language=current_language(),
        actor=user,
        latest_order=latest,
    )
    set_run_context(context)
    warm_up_after_new_data(context)
    _sidebar(context)
    page = st.navigation(_menu(user.role, empty_store=latest is None))
    try:
        page.run()
    except Exception:  # a user never sees a traceback: a message, the details in the log
        logger.exception("page %s failed", page.url_path or "default")
        st.error(t("app.error.unexpected"), icon=":material/error:")


main()
