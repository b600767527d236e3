"""Sign-in with failures slowed and then locked (crm_core.sign_ins), on SQLite and
PostgreSQL: the third failure slows the next try, the tenth locks the account for 15
minutes (even the right password is refused, and the lock is recorded), a success
clears an account's count, thirty failures from one computer lock that computer across
usernames, and only admins read the record."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core import auth
from crm_core.errors import PermissionDenied
from crm_core.sign_ins import (
    FAILED,
    LOCK_ACCOUNT_AFTER,
    LOCK_CLIENT_AFTER,
    LOCK_MINUTES,
    LOCKED,
    OK,
    REFUSED,
    SLOW_AFTER_FAILURES,
    SLOW_SECONDS,
    recent_sign_ins,
    sign_in,
)

PASSWORD = "correct horse battery"
START = dt.datetime(2026, 12, 7, 9, 0)


@pytest.fixture
def users(store):
    auth.create_user(store, "wang", PASSWORD, "analyst", actor=auth.COMMAND_LINE)
    auth.create_user(store, "li", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    return store


def _try(engine, username, password, minutes: float, client="10.0.0.7", waits=None):
    return sign_in(
        engine,
        username,
        password,
        client,
        now=START + dt.timedelta(minutes=minutes),
        sleep=(waits if waits is not None else []).append,
    )


def test_failures_slow_down_then_lock_the_account_for_a_while(users):
    waits: list[float] = []
    outcomes = [
        _try(users, "Wang", "wrong", minute * 0.5, waits=waits).outcome
        for minute in range(LOCK_ACCOUNT_AFTER)
    ]
    assert outcomes == [FAILED] * (LOCK_ACCOUNT_AFTER - 1) + [LOCKED]
    assert waits == [SLOW_SECONDS] * (LOCK_ACCOUNT_AFTER - SLOW_AFTER_FAILURES)
    locked_at = START + dt.timedelta(minutes=(LOCK_ACCOUNT_AFTER - 1) * 0.5)
    refused = _try(users, "wang", PASSWORD, 10)  # the right password, while locked
    assert refused.outcome == REFUSED and refused.actor is None
    assert refused.locked_until == locked_at.replace(microsecond=0) + dt.timedelta(
        minutes=LOCK_MINUTES
    )
    other = _try(users, "li", PASSWORD, 10, client="10.0.0.8")  # other accounts still work
    assert other.outcome == OK
    after = _try(users, "wang", PASSWORD, 4.5 + LOCK_MINUTES + 0.5)
    assert after.outcome == OK and after.actor.username == "wang"
    record = recent_sign_ins(users, actor=auth.COMMAND_LINE)
    assert list(record["outcome"][:3]) == [OK, OK, REFUSED]
    lock = record[record["outcome"] == LOCKED]
    assert len(lock) == 1 and lock["locks"].iloc[0] == "account"
    assert set(record["username"]) == {"wang", "li"}  # typed names, normalised


def test_a_success_clears_the_accounts_count_and_unknown_names_count_alike(users):
    for minute in range(SLOW_AFTER_FAILURES):
        _try(users, "wang", "wrong", minute)
    assert _try(users, "wang", PASSWORD, 3).outcome == OK
    waits: list[float] = []
    assert _try(users, "wang", "wrong", 4, client="10.0.0.9", waits=waits).outcome == FAILED
    assert waits == []  # counting started again after the success
    for minute in range(LOCK_ACCOUNT_AFTER - 1):
        _try(users, "nobody", "wrong", minute, client="10.0.0.10")
    assert _try(users, "nobody", "x", 9.5, client="10.0.0.10").outcome == LOCKED


def test_thirty_failures_from_one_computer_lock_it_for_every_name(users):
    for n in range(LOCK_CLIENT_AFTER - 1):
        assert _try(users, f"guess{n}", "wrong", n * 0.2, client="10.9.9.9").outcome == FAILED
    assert _try(users, "guess-last", "wrong", 6, client="10.9.9.9").outcome == LOCKED
    assert _try(users, "li", PASSWORD, 6.5, client="10.9.9.9").outcome == REFUSED
    assert _try(users, "li", PASSWORD, 6.5, client="10.1.1.1").outcome == OK
    assert _try(users, "li", PASSWORD, 6 + LOCK_MINUTES + 0.5, client="10.9.9.9").outcome == OK


def test_only_admins_read_the_record(users):
    with pytest.raises(PermissionDenied):
        recent_sign_ins(users, actor=auth.Actor("wang", "analyst"))
    assert recent_sign_ins(users, actor=auth.Actor("root", "admin")).empty
