"""AppTest of the sign-in form on its own: right, wrong and unknown credentials."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from crm_core import auth
from crm_core.auth import Actor
from crm_core.i18n import translate
from ui.context import KEY_LANGUAGE, KEY_USER

PASSWORD = "correct horse battery"


def _form_script() -> None:
    from ui.auth import sign_in_form
    from ui.data import get_engine

    sign_in_form(get_engine())


@pytest.fixture
def users_store(sqlite_store, monkeypatch):
    auth.create_user(sqlite_store, "wang", PASSWORD, "analyst", "王芳", actor=auth.COMMAND_LINE)
    auth.create_user(sqlite_store, "gone", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    auth.create_user(sqlite_store, "root", PASSWORD, "admin", actor=auth.COMMAND_LINE)
    auth.set_active(sqlite_store, "gone", False, actor=auth.COMMAND_LINE)
    monkeypatch.setenv("DATABASE_URL", sqlite_store.url.render_as_string(hide_password=False))
    return sqlite_store


def _sign_in(username: str, password: str, language: str = "en") -> AppTest:
    at = AppTest.from_function(_form_script, default_timeout=60)
    at.session_state[KEY_LANGUAGE] = language
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_right_credentials_sign_the_user_in(users_store):
    at = _sign_in(" Wang ", PASSWORD)
    assert at.session_state[KEY_USER] == Actor("wang", "analyst", "王芳")
    assert not at.error


@pytest.mark.parametrize(
    ("username", "password"),
    [("wang", "wrong password!"), ("nobody", PASSWORD), ("gone", PASSWORD)],
)
def test_failures_show_one_message_that_names_no_cause(users_store, username, password):
    at = _sign_in(username, password, language="zh-CN")
    assert [e.value for e in at.error] == [translate("auth.sign_in.failed", "zh-CN")]
    assert KEY_USER not in at.session_state


def test_empty_fields_ask_for_both(users_store):
    at = _sign_in("", "")
    assert [w.value for w in at.warning] == [translate("auth.sign_in.missing")]
    assert KEY_USER not in at.session_state


def test_first_start_hint_disappears_after_the_first_sign_in(users_store):
    hint = translate("auth.sign_in.first_start_hint")
    fresh = AppTest.from_function(_form_script, default_timeout=60)
    fresh.run()
    assert [i.value for i in fresh.info] == [hint]
    _sign_in("root", PASSWORD)
    later = AppTest.from_function(_form_script, default_timeout=60)
    later.run()
    assert not later.info


def test_ten_wrong_passwords_lock_the_account_with_a_message(users_store, monkeypatch):
    from crm_core import sign_ins

    monkeypatch.setattr(sign_ins, "SLOW_SECONDS", 0.0)
    for _ in range(sign_ins.LOCK_ACCOUNT_AFTER - 1):
        at = _sign_in("wang", "wrong password!")
        assert [e.value for e in at.error] == [translate("auth.sign_in.failed", "en")]
    at = _sign_in("wang", "wrong password!", language="zh-CN")
    (message,) = [e.value for e in at.error]
    assert message.startswith(translate("auth.sign_in.locked", "zh-CN", until="")[:10])
    at = _sign_in("wang", PASSWORD)  # the right one, while locked
    assert KEY_USER not in at.session_state
    assert "locked" in at.error[0].value
    attempts = sign_ins.recent_sign_ins(users_store, actor=auth.COMMAND_LINE)
    assert list(attempts["outcome"][:2]) == [sign_ins.REFUSED, sign_ins.LOCKED]
