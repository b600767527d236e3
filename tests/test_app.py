"""The real app in AppTest: every page opens for every role that may see it, the sign-in
gate holds, and the menu follows the role."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from crm_core.i18n import translate
from crm_core.store.models import ROLES
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.support.apptest import APP_PATH, PAGE_FILES, exception_text, open_app
from ui.navigation import pages_for

ALLOWED = [(role, path) for role in ROLES for path, _, _ in pages_for(role)]


def test_every_page_file_is_in_the_menu_of_some_role():
    assert {path for _, path in ALLOWED} == set(PAGE_FILES)


def test_menu_follows_the_role_permissions():
    assert {path for path, _, _ in pages_for("admin")} == set(PAGE_FILES)
    assert {path for path, _, _ in pages_for("analyst")} == set(PAGE_FILES) - {"pages/settings.py"}
    assert {path for path, _, _ in pages_for("viewer")} == {
        "pages/overview.py",
        "pages/rfm.py",
        "pages/audiences.py",
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


def test_switching_to_chinese_translates_the_page(monkeypatch, demo_store_url):
    at = open_app(monkeypatch, demo_store_url, "analyst", language="zh-CN")
    assert not at.exception, exception_text(at)
    sidebar_text = " ".join(str(item.value) for item in at.sidebar.caption)
    assert translate("role.analyst", "zh-CN") in sidebar_text
    assert at.sidebar.selectbox[0].label == translate("app.language", "zh-CN")
