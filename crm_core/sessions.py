"""Browser sessions that survive a reload: signed, expiring, revocable.

A successful sign-in starts a session: a row of `user_sessions` holding the SHA-256 of a
random session id, the user, when it started and when it expires (SESSION_HOURS later).
The browser keeps the id signed with the shop's session secret (itsdangerous, with the
time of signing) in the cookie SESSION_COOKIE. A later visit (a reload, a deep link, a
new tab) resumes the session only when the signature is valid and not older than
SESSION_HOURS, the row is not ended or expired, and the account is still active.

Sign-out ends the session at once (`end_session`); deactivating an account or setting its
password ends every session of that user (crm_core.auth.set_active, set_password). The
store holds only hashes of ids, so a copy of the store cannot be turned into a cookie,
and a cookie without its row is worthless.

The secret comes from the environment (SESSION_SECRET_ENV), else from the file
SESSION_SECRET_PATH (data/session_secret, git-ignored), generated on first use like the
first admin password. App processes on several hosts share a store, so they must share
the secret through the environment.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, delete, insert, select, update

from crm_core.auth import Actor, get_active_user, moment, normalise_username
from crm_core.store import models
from crm_core.store.engine import PROJECT_ROOT

SESSION_COOKIE = "crm_session"
SESSION_HOURS = 12
"""How long a session lasts from its sign-in (hours); then the user signs in again."""
SESSION_SECRET_ENV = "CRM_SESSION_SECRET"
SESSION_SECRET_PATH = PROJECT_ROOT / "data" / "session_secret"
SECRET_BYTES = 32
SESSION_ID_BYTES = 32
_SALT = "crm.session"


@dataclass(frozen=True)
class Session:
    """A started session: the cookie value to give the browser and when it expires."""

    cookie: str
    expires_at: dt.datetime


def session_secret(path: Path = SESSION_SECRET_PATH) -> str:
    """The secret that signs session cookies: SESSION_SECRET_ENV when set, else the
    content of `path`, created there (readable by its owner only) on first use. Two
    processes starting at once agree: only one can create the file, the other reads it.
    An empty file is an error to fix, not a file to overwrite."""
    from_env = os.environ.get(SESSION_SECRET_ENV, "").strip()
    if from_env:
        return from_env
    return _file_secret(path)


@functools.cache
def _file_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago: read what it wrote
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(SECRET_BYTES))
    for _attempt in range(50):  # the other process may still be writing it
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
        time.sleep(0.1)
    raise RuntimeError(f"the session secret file {path} is empty; delete it to make a new one")


def _serializer(secret: str | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret or session_secret(), salt=_SALT)


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def start_session(
    engine: Engine,
    actor: Actor,
    client: str | None = None,
    *,
    now: dt.datetime | None = None,
    secret: str | None = None,
) -> Session:
    """Record a new session of `actor` (signed in just now) and return its cookie;
    sessions that have expired are deleted meanwhile."""
    started = moment(now)
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    expires_at = started + dt.timedelta(hours=SESSION_HOURS)
    table = models.user_sessions
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.expires_at < started))  # of no more use
        conn.execute(
            insert(table).values(
                id_hash=_id_hash(session_id),
                username=normalise_username(actor.username),
                client=(client or "")[:64] or None,
                started_at=started,
                expires_at=expires_at,
            )
        )
    return Session(cookie=_serializer(secret).dumps(session_id), expires_at=expires_at)


def _session_id(cookie: str | None, secret: str | None) -> str | None:
    """The session id inside a validly signed cookie no older than SESSION_HOURS."""
    if not cookie:
        return None
    try:
        value = _serializer(secret).loads(cookie, max_age=SESSION_HOURS * 3600)
    except BadSignature:  # also SignatureExpired, its subclass
        return None
    return value if isinstance(value, str) else None


def resume_session(
    engine: Engine,
    cookie: str | None,
    *,
    now: dt.datetime | None = None,
    secret: str | None = None,
) -> Actor | None:
    """The user of the session in `cookie`, as stored now; None when the cookie is
    missing, forged or too old, the session ended or expired, or the account is no
    longer active."""
    session_id = _session_id(cookie, secret)
    if session_id is None:
        return None
    table = models.user_sessions
    with engine.connect() as conn:
        username = conn.execute(
            select(table.c.username).where(
                table.c.id_hash == _id_hash(session_id),
                table.c.ended_at.is_(None),
                table.c.expires_at > moment(now),
            )
        ).scalar()
    return None if username is None else get_active_user(engine, username)


def end_session(
    engine: Engine,
    cookie: str | None,
    *,
    now: dt.datetime | None = None,
    secret: str | None = None,
) -> None:
    """End the session in `cookie` (sign-out); a later resume finds nothing."""
    session_id = _session_id(cookie, secret)
    if session_id is None:
        return
    table = models.user_sessions
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.id_hash == _id_hash(session_id), table.c.ended_at.is_(None))
            .values(ended_at=moment(now))
        )
