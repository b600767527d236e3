"""Sign-in with failures slowed and then locked, every attempt recorded.

Each try is a row of `sign_in_attempts`: when, the username typed (normalised), the
client (its IP address, or LOCAL_CLIENT) and the outcome. Failures are counted over the
LOCK_MINUTES before a try; an account's count starts again after its last successful
sign-in and after its last lock ended, a client's after its last lock ended (a success
from a client does not clear its failures on other names).

- From SLOW_AFTER_FAILURES failures of the account or the client on, each try waits
  SLOW_SECONDS before the password is checked.
- The LOCK_ACCOUNT_AFTER-th failure of an account locks it for LOCK_MINUTES, and the
  LOCK_CLIENT_AFTER-th failure of a client locks that client: every try meanwhile is
  refused without checking the password (outcome "refused"). The failure that locks is
  recorded with outcome "locked" and what it locked.

Unknown usernames count like known ones, so a lock does not tell whether a name exists.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select

from crm_core.auth import MANAGE_USERS, Actor, authenticate, normalise_username, require
from crm_core.store import models

SLOW_AFTER_FAILURES = 3
SLOW_SECONDS = 1.0
LOCK_ACCOUNT_AFTER = 10
LOCK_CLIENT_AFTER = 30
LOCK_MINUTES = 15
LOCAL_CLIENT = "local"
FIELD_LENGTH = 64
OK, FAILED, LOCKED, REFUSED = "ok", "failed", "locked", "refused"
OUTCOMES: tuple[str, ...] = (OK, FAILED, LOCKED, REFUSED)
ACCOUNT, CLIENT = "account", "client"
ATTEMPT_COLUMNS: tuple[str, ...] = ("at", "username", "client", "outcome", "locks")


@dataclass(frozen=True)
class SignInResult:
    """The signed-in user (None unless outcome is ok), the outcome (OUTCOMES) and, when
    locked or refused, until when (local time)."""

    actor: Actor | None
    outcome: str
    locked_until: dt.datetime | None = None


def _lock_end(conn: Connection, kind: str, value: str) -> dt.datetime | None:
    """When the newest lock of this account or client ends (None: never locked)."""
    table = models.sign_in_attempts
    column = table.c.username if kind == ACCOUNT else table.c.client
    started = conn.execute(
        select(func.max(table.c.at)).where(column == value, table.c.locks == kind)
    ).scalar()
    return (
        None
        if started is None
        else pd.Timestamp(started).to_pydatetime() + dt.timedelta(minutes=LOCK_MINUTES)
    )


def _failures(conn: Connection, kind: str, value: str, moment: dt.datetime) -> int:
    table = models.sign_in_attempts
    column = table.c.username if kind == ACCOUNT else table.c.client
    since = moment - dt.timedelta(minutes=LOCK_MINUTES)
    ended = _lock_end(conn, kind, value)
    if ended is not None:
        since = max(since, ended)
    if kind == ACCOUNT:
        success = conn.execute(
            select(func.max(table.c.at)).where(column == value, table.c.outcome == OK)
        ).scalar()
        if success is not None:
            since = max(since, pd.Timestamp(success).to_pydatetime())
    return int(
        conn.execute(
            select(func.count()).where(
                column == value,
                table.c.outcome.in_([FAILED, LOCKED]),
                table.c.at >= since,
                table.c.at <= moment,
            )
        ).scalar()
    )


def _record(
    engine: Engine, moment: dt.datetime, name: str, client: str, outcome: str, locks: str | None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(models.sign_in_attempts).values(
                at=moment, username=name, client=client, outcome=outcome, locks=locks
            )
        )


def sign_in(
    engine: Engine,
    username: str,
    password: str,
    client: str | None = None,
    *,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SignInResult:
    """Check a sign-in (see the module docstring) and record it; `client` is the
    caller's IP address (None: LOCAL_CLIENT)."""
    moment = (now or dt.datetime.now()).replace(microsecond=0)
    name = normalise_username(username or "")[:FIELD_LENGTH]
    where = (client or LOCAL_CLIENT)[:FIELD_LENGTH]
    with engine.connect() as conn:
        ends = [_lock_end(conn, ACCOUNT, name), _lock_end(conn, CLIENT, where)]
        locked = [end for end in ends if end is not None and end > moment]
        if not locked:
            account = _failures(conn, ACCOUNT, name, moment)
            client_failures = _failures(conn, CLIENT, where, moment)
    if locked:
        _record(engine, moment, name, where, REFUSED, None)
        return SignInResult(None, REFUSED, max(locked))
    if max(account, client_failures) >= SLOW_AFTER_FAILURES:
        sleep(SLOW_SECONDS)
    actor = authenticate(engine, username, password, now=moment)
    if actor is not None:
        _record(engine, moment, name, where, OK, None)
        return SignInResult(actor, OK)
    locks = (
        ACCOUNT
        if account + 1 >= LOCK_ACCOUNT_AFTER
        else CLIENT
        if client_failures + 1 >= LOCK_CLIENT_AFTER
        else None
    )
    _record(engine, moment, name, where, LOCKED if locks else FAILED, locks)
    until = moment + dt.timedelta(minutes=LOCK_MINUTES) if locks else None
    return SignInResult(None, LOCKED if locks else FAILED, until)


def recent_sign_ins(engine: Engine, *, actor: Actor, limit: int = 200) -> pd.DataFrame:
    """The newest `limit` attempts, newest first, with ATTEMPT_COLUMNS; PermissionDenied
    unless `actor` may manage users."""
    require(actor, MANAGE_USERS)
    table = models.sign_in_attempts
    statement = (
        select(*(table.c[name] for name in ATTEMPT_COLUMNS))
        .order_by(table.c.at.desc(), table.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    frame = pd.DataFrame(rows, columns=list(ATTEMPT_COLUMNS))
    frame["at"] = pd.to_datetime(frame["at"])
    return frame
