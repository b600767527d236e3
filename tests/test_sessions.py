"""Browser sessions (crm_core.sessions) on SQLite and PostgreSQL: a cookie resumes its
user until it expires or its session ends (sign-out, deactivation, new password); a
forged, tampered or foreign-secret cookie resumes nobody; the store keeps only hashes;
the secret is generated once, readable by its owner only."""

from __future__ import annotations

import datetime as dt
import stat

import pytest
from sqlalchemy import select

from crm_core import auth
from crm_core.sessions import (
    SESSION_HOURS,
    SESSION_SECRET_ENV,
    end_session,
    resume_session,
    session_secret,
    start_session,
)
from crm_core.store import models

PASSWORD = "correct horse battery"
SECRET = "a-test-secret-that-is-long-enough-0123456789"
START = dt.datetime(2026, 12, 8, 9, 0)


@pytest.fixture
def users(store):
    auth.create_user(store, "wang", PASSWORD, "analyst", actor=auth.COMMAND_LINE)
    auth.create_user(store, "li", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    return store


def _start(engine, username="wang", now=START):
    actor = auth.get_active_user(engine, username)
    return start_session(engine, actor, "10.0.0.7", now=now, secret=SECRET)


def test_a_cookie_resumes_its_user_until_the_session_expires(users):
    session = _start(users)
    assert session.expires_at == START + dt.timedelta(hours=SESSION_HOURS)
    later = START + dt.timedelta(hours=SESSION_HOURS) - dt.timedelta(minutes=1)
    resumed = resume_session(users, session.cookie, now=later, secret=SECRET)
    assert resumed == auth.Actor("wang", "analyst")
    expired = START + dt.timedelta(hours=SESSION_HOURS)
    assert resume_session(users, session.cookie, now=expired, secret=SECRET) is None


def test_the_role_is_read_now_not_at_sign_in(users):
    session = _start(users)
    auth.set_role(users, "wang", "viewer", actor=auth.COMMAND_LINE)
    resumed = resume_session(users, session.cookie, now=START, secret=SECRET)
    assert resumed == auth.Actor("wang", "viewer")


def test_sign_out_ends_only_that_session(users):
    first, second = _start(users), _start(users)
    end_session(users, first.cookie, now=START, secret=SECRET)
    assert resume_session(users, first.cookie, now=START, secret=SECRET) is None
    assert resume_session(users, second.cookie, now=START, secret=SECRET) is not None


def test_deactivation_ends_every_session_of_the_user_and_reactivation_does_not_revive_them(
    users,
):
    wang, li = _start(users, "wang"), _start(users, "li")
    auth.set_active(users, "wang", False, actor=auth.COMMAND_LINE)
    assert resume_session(users, wang.cookie, now=START, secret=SECRET) is None
    auth.set_active(users, "wang", True, actor=auth.COMMAND_LINE)
    assert resume_session(users, wang.cookie, now=START, secret=SECRET) is None
    assert resume_session(users, li.cookie, now=START, secret=SECRET) == auth.Actor("li", "viewer")


def test_a_new_password_ends_the_sessions_started_with_the_old_one(users):
    before = _start(users)
    auth.set_password(users, "wang", "another long password", actor=auth.COMMAND_LINE)
    assert resume_session(users, before.cookie, now=START, secret=SECRET) is None
    after = _start(users)
    assert resume_session(users, after.cookie, now=START, secret=SECRET) is not None


@pytest.mark.parametrize("damage", ["tampered", "other secret", "unsigned", "empty"])
def test_a_forged_cookie_resumes_nobody(users, damage):
    session = _start(users)
    payload, _, signature = session.cookie.rpartition(".")
    cookie, secret = {
        "tampered": (payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:], SECRET),
        "other secret": (session.cookie, SECRET + "-other"),
        "unsigned": (payload.split(".")[0], SECRET),
        "empty": ("", SECRET),
    }[damage]
    assert resume_session(users, cookie, now=START, secret=secret) is None


def test_the_store_keeps_a_hash_not_the_cookie(users):
    session = _start(users)
    with users.connect() as conn:
        row = conn.execute(select(models.user_sessions)).one()
    assert row.username == "wang" and row.client == "10.0.0.7" and row.ended_at is None
    assert len(row.id_hash) == 64
    assert row.id_hash not in session.cookie
    assert session.cookie.split(".")[0] not in row.id_hash


def test_the_secret_is_made_once_owner_only_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)
    path = tmp_path / "data" / "session_secret"
    first = session_secret(path)
    assert len(first) >= 40
    assert session_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv(SESSION_SECRET_ENV, "from-the-environment")
    assert session_secret(path) == "from-the-environment"
