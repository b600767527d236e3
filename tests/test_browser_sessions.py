"""End to end in Chromium: a sign-in survives a reload, a deep link and a new tab; sign-out
and deactivation end it; and no page shows anything to a visitor who is signed out, also
on the very first request after a server start."""

from __future__ import annotations

import pytest

from crm_core import auth
from crm_core.i18n import translate
from crm_core.sessions import SESSION_COOKIE
from crm_core.store import make_engine
from tests.conftest import TEST_ADMIN_PASSWORD, browser_tab
from tests.support.apptest import TEST_PASSWORD, store_user
from tests.support.browser import AppServer, sign_in
from ui.navigation import PAGES

pytestmark = pytest.mark.browser

PAGE_CONTENT = (
    "[data-testid=stMetric], [data-testid=stDataFrame], [data-testid=stPlotlyChart], "
    "[data-testid=stTabs], [data-testid=stFileUploader], [data-testid=stSidebarNav]"
)
"""What any page shows and the sign-in screen never does."""


def _password_box(tab):
    return tab.get_by_role("textbox", name=translate("auth.sign_in.password", "en"))


def _sign_out_button(tab):
    return tab.locator("[data-testid=stSidebar]").get_by_role(
        "button", name=translate("auth.sign_out", "en")
    )


def _rfm_title(tab):
    return tab.get_by_role("heading", name=translate("rfm.title", "en"))


def test_reload_deep_link_and_new_tab_keep_the_session_until_sign_out(browser, app_server):
    store_user(app_server.env["DATABASE_URL"], "viewer", "reload-me")
    with browser_tab(browser, f"{app_server.url}/rfm") as tab:
        _password_box(tab).wait_for()
        assert tab.locator(PAGE_CONTENT).count() == 0
        sign_in(tab, "reload-me", TEST_PASSWORD)
        _rfm_title(tab).wait_for()  # the deep link opens after sign-in
        assert tab.url.split("?")[0].endswith("/rfm")
        tab.wait_for_timeout(1_000)  # the cookie is written by the run after sign-in
        cookie = {c["name"]: c for c in tab.context.cookies()}[SESSION_COOKIE]
        assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert cookie["expires"] > 0  # kept across browser restarts until it expires

        tab.reload()
        _rfm_title(tab).wait_for()
        _sign_out_button(tab).wait_for()
        assert _password_box(tab).count() == 0

        other = tab.context.new_page()  # a new tab of the same browser
        other.goto(f"{app_server.url}/overview")
        other.get_by_role("heading", name=translate("overview.title", "en")).wait_for()
        other.close()

        _sign_out_button(tab).click()
        _password_box(tab).wait_for()
        tab.reload()
        _password_box(tab).wait_for()
        tab.wait_for_timeout(1_500)
        assert tab.locator(PAGE_CONTENT).count() == 0
        assert SESSION_COOKIE not in {c["name"] for c in tab.context.cookies()}


def test_sign_out_in_one_tab_ends_the_session_in_the_others(browser, app_server):
    store_user(app_server.env["DATABASE_URL"], "viewer", "two-tabs")
    with browser_tab(browser, app_server.url) as tab:
        sign_in(tab, "two-tabs", TEST_PASSWORD)
        _sign_out_button(tab).wait_for()
        tab.wait_for_timeout(1_000)
        other = tab.context.new_page()
        other.goto(f"{app_server.url}/rfm")
        _rfm_title(other).wait_for()
        _sign_out_button(tab).click()
        _password_box(tab).wait_for()
        sign_in(tab, "two-tabs", TEST_PASSWORD)  # and in again, before the other tab moves
        _sign_out_button(tab).wait_for()
        tab.wait_for_timeout(1_000)
        other.locator("[data-testid=stSidebarNav]").get_by_text(
            translate("nav.overview", "en")
        ).click()  # the next interaction of the other tab: its session is over
        _password_box(other).wait_for()
        other.wait_for_timeout(1_500)
        tab.reload()  # the other tab removed only its own dead cookie, not the new one
        _sign_out_button(tab).wait_for()
        assert _password_box(tab).count() == 0


def test_a_deactivated_user_is_signed_out_at_the_next_interaction(browser, app_server):
    store_user(app_server.env["DATABASE_URL"], "analyst", "leaves-soon")
    with browser_tab(browser, app_server.url) as tab:
        sign_in(tab, "leaves-soon", TEST_PASSWORD)
        _sign_out_button(tab).wait_for()
        tab.wait_for_timeout(1_000)
        engine = make_engine(app_server.env["DATABASE_URL"])
        try:
            auth.set_active(engine, "leaves-soon", False, actor=auth.COMMAND_LINE)
        finally:
            engine.dispose()
        tab.locator("[data-testid=stSidebarNav]").get_by_text(translate("nav.rfm", "en")).click()
        _password_box(tab).wait_for()
        tab.reload()  # and the cookie does not bring the session back
        _password_box(tab).wait_for()
        tab.wait_for_timeout(1_500)
        assert tab.locator(PAGE_CONTENT).count() == 0


def test_every_page_path_shows_only_the_sign_in_form_on_a_fresh_server(browser, demo_store_url):
    """Each page's path, the start page, an unknown path and a link with a language and
    an as-of date show the sign-in form and nothing else; paths in folders (the old
    pages/rfm, views/rfm) are not the app's: Streamlit serves them an empty screen."""
    server = AppServer({"DATABASE_URL": demo_store_url, "CRM_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD})
    server.start()  # its first request is the sweep's: before st.navigation ever ran
    sign_in_titles = {
        "en": translate("auth.sign_in.title", "en"),
        "zh-CN": translate("auth.sign_in.title", "zh-CN"),
    }
    pages = [path.removeprefix("views/").removesuffix(".py") for path, *_ in PAGES]
    visits = [(path, "en") for path in [*pages, "", "nowhere"]]
    visits += [("rfm?as_of=2026-01-31&lang=zh-CN", "zh-CN"), ("pages/rfm", None)]
    visits += [("views/rfm", None)]
    try:
        for path, language in visits:
            with browser_tab(browser, f"{server.url}/{path}") as tab:
                if language is not None:
                    password = translate("auth.sign_in.password", language)
                    tab.get_by_role("textbox", name=password).wait_for()
                tab.wait_for_timeout(1_500)  # a page, had it run, would render meanwhile
                assert tab.locator(PAGE_CONTENT).count() == 0, path
                headings = tab.locator("h1").all_inner_texts()
                expected = [] if language is None else [sign_in_titles[language]]
                assert headings == expected, (path, headings)
    finally:
        server.stop()
