"""The real app in AppTest: every page opens for every role that may see it, the sign-in
gate holds, and the menu follows the role."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from crm_core.i18n import translate
from crm_core.ingest import import_file
from crm_core.sessions import resume_session
from crm_core.store import make_engine
from crm_core.store.models import ROLES
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.support.actors import ADMIN
from tests.support.apptest import APP_PATH, PAGE_FILES, exception_text, open_app, store_user
from ui.context import KEY_CONTEXT, KEY_SESSION_COOKIE, KEY_USER
from ui.navigation import pages_for

ALLOWED = [(role, path) for role in ROLES for path, _, _ in pages_for(role)]


def test_every_page_file_is_in_the_menu_of_some_role():
    assert {path for _, path in ALLOWED} == set(PAGE_FILES)


def test_menu_follows_the_role_permissions():
    assert {path for path, _, _ in pages_for("admin")} == set(PAGE_FILES)
    assert {path for path, _, _ in pages_for("analyst")} == set(PAGE_FILES) - {"views/settings.py"}
    assert {path for path, _, _ in pages_for("viewer")} == {
        "views/overview.py",
        "views/rfm.py",
        "views/voice.py",
        "views/service.py",
        "views/predictions.py",
        "views/cross_sell.py",
        "views/audiences.py",
        "views/campaigns.py",
    }


@pytest.mark.parametrize(("role", "page"), ALLOWED)
def test_every_allowed_page_runs_without_exception(monkeypatch, demo_store_url, role, page):
    at = open_app(monkeypatch, demo_store_url, role, page=page)
    assert not at.exception, exception_text(at)
    assert at.main.children, f"{page} rendered nothing"


def test_signed_out_visitor_sees_only_the_sign_in_form(monkeypatch, demo_store_url):
    at = open_app(monkeypatch, demo_store_url, role=None)
    assert not at.exception, exception_text(at)
    assert len(at.metric) == 0
    labels = [widget.label for widget in at.text_input]
    assert translate("auth.sign_in.username", "en") in labels
    assert translate("auth.sign_in.password", "en") in labels


def test_sign_in_through_the_form_opens_the_overview(monkeypatch, demo_store_url):
    monkeypatch.setenv("DATABASE_URL", demo_store_url)
    at = AppTest.from_file(str(APP_PATH), default_timeout=120)
    at.run()
    by_label = {widget.label: widget for widget in at.text_input}
    by_label[translate("auth.sign_in.username", "en")].input("test-analyst")
    by_label[translate("auth.sign_in.password", "en")].input(TEST_ADMIN_PASSWORD)
    at.button[0].click().run()
    assert not at.exception, exception_text(at)
    assert len(at.metric) >= 7
    cookie = at.session_state[KEY_SESSION_COOKIE]  # the session the browser will keep
    engine = make_engine(demo_store_url)
    try:
        assert resume_session(engine, cookie).username == "test-analyst"
    finally:
        engine.dispose()


@pytest.mark.parametrize("page", PAGE_FILES)
def test_a_signed_out_switch_to_any_page_shows_the_sign_in_form(monkeypatch, demo_store_url, page):
    at = open_app(monkeypatch, demo_store_url, role=None, page=page)
    assert not at.exception, exception_text(at)
    assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.tabs) == 0
    assert [widget.label for widget in at.text_input] == [
        translate("auth.sign_in.username", "en"),
        translate("auth.sign_in.password", "en"),
    ]


def test_switching_to_chinese_translates_the_page(monkeypatch, demo_store_url):
    at = open_app(monkeypatch, demo_store_url, "analyst", language="zh-CN")
    assert not at.exception, exception_text(at)
    sidebar_text = " ".join(str(item.value) for item in at.sidebar.caption)
    assert translate("role.analyst", "zh-CN") in sidebar_text
    assert at.sidebar.selectbox[0].label == translate("app.language", "zh-CN")


def test_a_rerun_reads_the_data_version_once(monkeypatch, demo_store_url):
    import crm_core.store

    calls = []
    counted = crm_core.store.data_version

    def counting(bind):
        calls.append(bind)
        return counted(bind)

    monkeypatch.setattr(crm_core.store, "data_version", counting)
    at = open_app(monkeypatch, demo_store_url, "analyst", page="views/rfm.py")
    assert not at.exception, exception_text(at)
    calls.clear()
    at.run()
    assert not at.exception, exception_text(at)
    assert len(calls) == 1
    assert at.session_state[KEY_CONTEXT].data_version == counted(calls[0])


def test_a_link_with_as_of_and_language_opens_that_view(monkeypatch, demo_store_url):
    monkeypatch.setenv("DATABASE_URL", demo_store_url)
    at = AppTest.from_file(str(APP_PATH), default_timeout=120)
    at.session_state[KEY_USER] = store_user(demo_store_url, "analyst")
    at.query_params["as_of"] = "2026-01-15"
    at.query_params["lang"] = "zh-CN"
    at.run()
    assert not at.exception, exception_text(at)
    assert at.sidebar.date_input[0].value == dt.date(2026, 1, 15)
    assert at.sidebar.date_input[0].label == translate("app.as_of", "zh-CN")
    assert at.session_state[KEY_CONTEXT].as_of == dt.date(2026, 1, 15)
    assert at.session_state[KEY_CONTEXT].language == "zh-CN"
    assert (at.query_params["as_of"], at.query_params["lang"]) == ("2026-01-15", "zh-CN")
    at.sidebar.selectbox[0].set_value("en").run()
    assert at.query_params["lang"] == "en"


def test_a_link_with_a_date_that_is_no_date_falls_back_to_the_newest_order(
    monkeypatch, demo_store_url
):
    monkeypatch.setenv("DATABASE_URL", demo_store_url)
    at = AppTest.from_file(str(APP_PATH), default_timeout=120)
    at.session_state[KEY_USER] = store_user(demo_store_url, "viewer")
    at.query_params["as_of"] = "yesterday"
    at.run()
    assert not at.exception, exception_text(at)
    context = at.session_state[KEY_CONTEXT]
    assert context.as_of == context.latest_order
    assert at.query_params["as_of"] == context.latest_order.isoformat()


def test_the_as_of_date_follows_new_data_until_the_user_picks_one(monkeypatch, sqlite_store):
    url = sqlite_store.url.render_as_string(hide_password=False)
    import_file(sqlite_store, b"customer_id,ordered_at,amount\nA,2025-03-01,5\n", "orders",
                actor=ADMIN)  # fmt: skip
    at = open_app(monkeypatch, url, "admin")
    assert at.session_state[KEY_CONTEXT].as_of == dt.date(2025, 3, 1)
    import_file(sqlite_store, b"customer_id,ordered_at,amount\nB,2025-04-02,5\n", "orders",
                actor=ADMIN)  # fmt: skip
    at.run()
    assert at.session_state[KEY_CONTEXT].as_of == dt.date(2025, 4, 2)
    assert not at.sidebar.warning

    at.sidebar.date_input[0].set_value(dt.date(2025, 1, 1)).run()
    assert at.session_state[KEY_CONTEXT].as_of == dt.date(2025, 1, 1)
    assert [w.value for w in at.sidebar.warning] == [
        translate("app.as_of_before_data", "en", first="2025-03-01")
    ]
    import_file(sqlite_store, b"customer_id,ordered_at,amount\nC,2025-05-03,5\n", "orders",
                actor=ADMIN)  # fmt: skip
    at.run()
    assert at.session_state[KEY_CONTEXT].as_of == dt.date(2025, 1, 1)  # the user's choice

    at.sidebar.date_input[0].set_value(dt.date(2025, 6, 1)).run()
    assert [w.value for w in at.sidebar.warning] == [
        translate("app.as_of_after_data", "en", latest="2025-05-03")
    ]
