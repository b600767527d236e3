"""AppTest of the Settings page: admins manage users, other roles are turned away.

Most tests run the page on its own over a fresh SQLite store, so each starts with known
users and can reach the page's own guard (the router shows Settings to admins only);
one test opens it through the real app with the shared harness.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from crm_core import auth
from crm_core.bootstrap import DEMO_IF_EMPTY_ENV
from crm_core.i18n import translate
from crm_core.sessions import resume_session, start_session
from tests.support.apptest import exception_text, open_app, open_page
from ui.context import KEY_SESSION_COOKIE, KEY_USER

PAGE = "views/settings.py"
PASSWORD = "correct horse battery"


@pytest.fixture
def users_store(sqlite_store, monkeypatch):
    """A store with an admin 'root' and an analyst 'li'; DATABASE_URL points at it."""
    auth.create_user(sqlite_store, "root", PASSWORD, "admin", "Root", actor=auth.COMMAND_LINE)
    auth.create_user(sqlite_store, "li", PASSWORD, "analyst", "李娜", actor=auth.COMMAND_LINE)
    monkeypatch.setenv("DATABASE_URL", sqlite_store.url.render_as_string(hide_password=False))
    monkeypatch.setenv(DEMO_IF_EMPTY_ENV, "0")
    return sqlite_store


def _open(role: str, username: str = "root", language: str = "en") -> AppTest:
    return open_page(PAGE, role, language=language, username=username)


def _texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_admin_sees_the_user_list(users_store):
    at = _open("admin")
    shown = at.dataframe[0].value
    assert list(shown["username"]) == ["li", "root"]
    assert list(shown["role"]) == ["Analyst", "Admin"]
    assert "password_hash" not in shown.columns
    assert not at.warning
    assert list(shown["last_login_at"]) == ["never", "never"]  # nobody signed in yet
    assert "None" not in shown.astype(str).to_numpy().ravel().tolist()


def test_admin_sees_the_page_in_chinese(users_store):
    at = _open("admin", language="zh-CN")
    assert at.title[0].value == translate("settings.title", "zh-CN")
    assert list(at.dataframe[0].value["role"]) == ["分析师", "管理员"]


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_other_roles_cannot_open_the_page(users_store, monkeypatch, role):
    url = users_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, role)
    assert not at.exception, exception_text(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)


def test_admin_adds_a_user(users_store):
    at = _open("admin")
    at.text_input(key="crm.settings.add.username").input("Zhang.Wei")
    at.text_input(key="crm.settings.add.display_name").input("张伟")
    at.selectbox(key="crm.settings.add.role").select("analyst")
    at.text_input(key="crm.settings.add.password").input("a long new password")
    at.text_input(key="crm.settings.add.repeat").input("a long new password")
    at.button(key="crm.settings.add.submit").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert _texts(at.success) == [
        translate("settings.add.done", username="zhang.wei", role=translate("role.analyst"))
    ]
    assert "zhang.wei" in list(at.dataframe[0].value["username"])
    added = auth.authenticate(users_store, "zhang.wei", "a long new password")
    assert added == auth.Actor("zhang.wei", "analyst", "张伟")


def test_adding_with_different_passwords_adds_nobody(users_store):
    at = _open("admin")
    at.text_input(key="crm.settings.add.username").input("zhang")
    at.text_input(key="crm.settings.add.password").input("a long new password")
    at.text_input(key="crm.settings.add.repeat").input("a long new passw0rd")
    at.button(key="crm.settings.add.submit").click().run()
    assert _texts(at.error) == [translate("settings.passwords_differ")]
    assert not auth.user_exists(users_store, "zhang")
    # what was typed stays, to be corrected rather than typed again
    assert at.text_input(key="crm.settings.add.username").value == "zhang"
    assert at.text_input(key="crm.settings.add.password").value == "a long new password"
    at.text_input(key="crm.settings.add.repeat").input("a long new password")
    at.button(key="crm.settings.add.submit").click().run()
    assert auth.user_exists(users_store, "zhang")
    assert at.text_input(key="crm.settings.add.username").value == ""  # emptied after success


def test_a_short_password_shows_the_translated_rule(users_store):
    at = _open("admin", language="zh-CN")
    at.text_input(key="crm.settings.add.username").input("zhang")
    at.text_input(key="crm.settings.add.password").input("short")
    at.text_input(key="crm.settings.add.repeat").input("short")
    at.button(key="crm.settings.add.submit").click().run()
    assert not at.exception
    expected = translate(
        "auth.error.password_too_short", "zh-CN", min_length=auth.MIN_PASSWORD_LENGTH
    )
    assert _texts(at.error) == [expected]
    assert not auth.user_exists(users_store, "zhang")


def test_the_last_admin_cannot_be_demoted_from_the_page(users_store):
    at = _open("admin")
    at.selectbox(key="crm.settings.role.user").select("root")
    at.selectbox(key="crm.settings.role.role").select("viewer")
    at.button(key="crm.settings.role.submit").click().run()
    assert _texts(at.error) == [translate("auth.error.last_admin", username="root")]
    assert auth.get_active_user(users_store, "root").role == "admin"


def test_admin_changes_a_role(users_store):
    at = _open("admin")
    at.selectbox(key="crm.settings.role.user").select("li")
    at.selectbox(key="crm.settings.role.role").select("viewer")
    at.button(key="crm.settings.role.submit").click().run()
    assert not at.error
    assert auth.get_active_user(users_store, "li").role == "viewer"
    assert at.dataframe[0].value["role"].iloc[0] == translate("role.viewer")


def test_admin_resets_a_password(users_store):
    at = _open("admin")
    at.selectbox(key="crm.settings.password.user").select("li")
    at.text_input(key="crm.settings.password.password").input("reset to this one")
    at.text_input(key="crm.settings.password.repeat").input("reset to this one")
    at.button(key="crm.settings.password.submit").click().run()
    assert _texts(at.success) == [translate("settings.password.done", username="li")]
    assert auth.authenticate(users_store, "li", PASSWORD) is None
    assert auth.authenticate(users_store, "li", "reset to this one") is not None


def test_an_own_new_password_ends_the_other_sessions_not_this_one(users_store):
    root = auth.get_active_user(users_store, "root")
    elsewhere = start_session(users_store, root)  # another browser of the same admin
    at = _open("admin")
    at.session_state[KEY_SESSION_COOKIE] = start_session(users_store, root).cookie
    at.run()
    at.selectbox(key="crm.settings.password.user").select("root")
    at.text_input(key="crm.settings.password.password").input("my own new password")
    at.text_input(key="crm.settings.password.repeat").input("my own new password")
    at.button(key="crm.settings.password.submit").click().run()
    assert not at.exception, exception_text(at)
    assert _texts(at.success) == [translate("settings.password.done", username="root")]
    assert resume_session(users_store, elsewhere.cookie) is None
    assert resume_session(users_store, at.session_state[KEY_SESSION_COOKIE]) == root
    at.run()  # the next interaction keeps this tab signed in
    assert at.selectbox(key="crm.settings.password.user") is not None
    assert at.session_state[KEY_USER] == root


def test_admin_deactivates_and_reactivates_a_user(users_store):
    at = _open("admin")
    at.selectbox(key="crm.settings.active.user").select("li")
    at.run()
    at.button(key="crm.settings.active.toggle").click().run()
    assert _texts(at.success) == [translate("settings.active.deactivated", username="li")]
    assert auth.get_active_user(users_store, "li") is None
    assert at.button(key="crm.settings.active.toggle").label == translate(
        "settings.active.reactivate"
    )
    at.button(key="crm.settings.active.toggle").click().run()
    assert auth.get_active_user(users_store, "li") is not None


def test_admin_opens_settings_through_the_app(monkeypatch, demo_store_url):
    at = open_app(monkeypatch, demo_store_url, "admin", page="views/settings.py")
    assert not at.exception, exception_text(at)
    assert at.title[0].value == translate("settings.title")
    assert "admin" in list(at.dataframe[0].value["username"])


def test_admin_sees_recent_sign_ins_and_the_lock(users_store, monkeypatch):
    from crm_core import sign_ins

    monkeypatch.setattr(sign_ins, "SLOW_SECONDS", 0.0)
    at = _open("admin", language="zh-CN")
    assert translate("settings.sign_ins.none", "zh-CN") in _texts(at.info)
    for _ in range(sign_ins.LOCK_ACCOUNT_AFTER):
        sign_ins.sign_in(users_store, "li", "wrong", "203.0.113.5")
    sign_ins.sign_in(users_store, "root", PASSWORD, None)
    at.run()
    assert not at.exception, exception_text(at)
    shown = next(f.value for f in at.dataframe if "outcome" in f.value.columns)
    assert len(shown) == sign_ins.LOCK_ACCOUNT_AFTER + 1
    assert shown["outcome"].iloc[0] == translate("settings.sign_ins.outcome.ok", "zh-CN")
    assert shown["client"].iloc[0] == translate("settings.sign_ins.local", "zh-CN")
    assert shown["outcome"].iloc[1] == translate("settings.sign_ins.outcome.locked", "zh-CN")
    assert shown["locks"].iloc[1] == translate("settings.sign_ins.locks.account", "zh-CN")
    assert set(shown["client"].iloc[1:]) == {"203.0.113.5"}
