"""Users, password hashing, and the one table of what each role may do.

Passwords are hashed with argon2id (argon2-cffi's PasswordHasher, RFC 9106 low-memory
parameters); a hash made with older parameters is replaced on the next successful
sign-in. Plain passwords are never stored or logged. Usernames are stored casefolded
(trimmed, lower case), so "Wang" and "wang" are the same account.

Every action a role may or may not take is named once here, in PERMISSIONS. Each
crm_core function that writes or reveals takes the acting user (`Actor`) and calls
`require(actor, ACTION)`, which raises PermissionDenied; pages ask `actor.may(ACTION)`
only to decide what to show.

=================  =====  =======  ======
action             admin  analyst  viewer
=================  =====  =======  ======
see_personal_data  yes    no       no
download           yes    yes      no
import             yes    yes      no
edit_schemes       yes    yes      no
edit_tags          yes    yes      no
edit_triggers      yes    yes      no
edit_policy        yes    no       no
manage_users       yes    no       no
manage_store       yes    no       no
=================  =====  =======  ======
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from crm_core.errors import InputError, PermissionDenied
from crm_core.store import models

ROLES: tuple[str, ...] = models.ROLES

SEE_PERSONAL_DATA = "see_personal_data"
DOWNLOAD = "download"
IMPORT = "import"
EDIT_SCHEMES = "edit_schemes"
EDIT_TAGS = "edit_tags"
EDIT_TRIGGERS = "edit_triggers"
EDIT_POLICY = "edit_policy"
MANAGE_USERS = "manage_users"
MANAGE_STORE = "manage_store"
EDIT_CAMPAIGNS = "edit_campaigns"
EDIT_SHOP_SETTINGS = "edit_shop_settings"
RUN_PREDICTIONS = "run_predictions"

PERMISSION_NAMES: tuple[str, ...] = (
    SEE_PERSONAL_DATA,
    DOWNLOAD,
    IMPORT,
    EDIT_SCHEMES,
    EDIT_TAGS,
    EDIT_TRIGGERS,
    EDIT_POLICY,
    MANAGE_USERS,
    MANAGE_STORE,
    EDIT_CAMPAIGNS,
    EDIT_SHOP_SETTINGS,
    RUN_PREDICTIONS,
)

PERMISSIONS: Mapping[str, frozenset[str]] = {
    "admin": frozenset(PERMISSION_NAMES),
    "analyst": frozenset(
        {
            DOWNLOAD,
            IMPORT,
            EDIT_SCHEMES,
            EDIT_TAGS,
            EDIT_TRIGGERS,
            EDIT_CAMPAIGNS,
            RUN_PREDICTIONS,
        }
    ),
    "viewer": frozenset(),
}

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
USERNAME_PATTERN = re.compile(r"^[\w.@-]{2,64}$")
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD_ENV = "CRM_ADMIN_PASSWORD"
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits of randomness

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user (password verified, re-read as active on every run)
    or a command-line job; crm_core checks its role before it writes or reveals."""

    username: str
    role: str
    display_name: str | None = None

    def may(self, action: str) -> bool:
        """Whether this actor's role has `action` (one of PERMISSION_NAMES)."""
        return has_permission(self.role, action)


COMMAND_LINE = Actor("command-line", "admin")
"""The actor of `python -m crm_core` jobs run by whoever can reach the store directly."""


def has_permission(role: str | None, permission: str) -> bool:
    """Whether `role` has `permission` (an unknown or missing role has none)."""
    return permission in PERMISSIONS.get(role or "", frozenset())


def require(actor: Actor | None, action: str) -> None:
    """Raise PermissionDenied unless `actor` may take `action`."""
    if actor is None or not actor.may(action):
        role = actor.role if actor is not None else "-"
        raise PermissionDenied("auth.error.permission_denied", role=role)


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (a self-describing string starting "$argon2id$")."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`; a malformed hash is simply False."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    """A hash of a random password, verified against when the username is unknown so an
    unknown name costs as much time as a wrong password."""
    return hash_password(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


def normalise_username(username: str) -> str:
    """The stored form of a username: trimmed and casefolded."""
    return (username or "").strip().casefold()


def check_username(username: str) -> str:
    """The normalised username, or InputError when it is not 2-64 letters, digits, or
    . _ @ -."""
    name = normalise_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise InputError("auth.error.username_invalid", username=username)
    return name


def check_password(password: str) -> None:
    """Raise InputError unless `password` has MIN..MAX characters and is not only spaces."""
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError("auth.error.password_too_short", min_length=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError("auth.error.password_too_long", max_length=MAX_PASSWORD_LENGTH)
    if not password.strip():
        raise InputError("auth.error.password_blank")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError("auth.error.role_unknown", role=role, roles=", ".join(ROLES))
    return role


def moment(now: dt.datetime | None = None) -> dt.datetime:
    """`now` when given, else the shop's local time to the second: when a user or
    session event happens."""
    return now if now is not None else dt.datetime.now().replace(microsecond=0)


def create_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    *,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Actor:
    """Add an active user; InputError when the name is taken or a value is not allowed,
    PermissionDenied unless `actor` may manage users."""
    require(actor, MANAGE_USERS)
    name = check_username(username)
    check_role(role)
    check_password(password)
    shown_name = (display_name or "").strip() or None
    password_hash = hash_password(password)
    try:
        with engine.begin() as conn:
            if _find_user(conn, name) is not None:
                raise InputError("auth.error.username_taken", username=name)
            conn.execute(
                insert(models.users).values(
                    username=name,
                    display_name=shown_name,
                    password_hash=password_hash,
                    role=role,
                    is_active=True,
                    created_at=moment(now),
                )
            )
    except IntegrityError as error:  # created by someone else at the same moment
        raise InputError("auth.error.username_taken", username=name) from error
    return Actor(name, role, shown_name)


def _find_user(conn: Connection, username: str):
    return conn.execute(
        select(models.users).where(models.users.c.username == username)
    ).one_or_none()


def authenticate(
    engine: Engine, username: str, password: str, *, now: dt.datetime | None = None
) -> Actor | None:
    """The user when `password` is right and the account is active, else None.

    An unknown username costs one argon2 verification like a known one, and the answer
    does not say which part was wrong. A successful sign-in records last_login_at and
    upgrades a hash made with outdated parameters.
    """
    name = normalise_username(username)
    with engine.connect() as conn:
        row = _find_user(conn, name) if name else None
    if row is None:
        verify_password(_dummy_hash(), password or "")
        return None
    if not verify_password(row.password_hash, password or "") or not row.is_active:
        return None
    changes: dict[str, object] = {"last_login_at": moment(now)}
    if needs_rehash(row.password_hash):
        changes["password_hash"] = hash_password(password)
    with engine.begin() as conn:
        conn.execute(update(models.users).where(models.users.c.id == row.id).values(**changes))
    return Actor(row.username, row.role, row.display_name)


def user_exists(engine: Engine, username: str) -> bool:
    """Whether an account (active or not) has this username."""
    with engine.connect() as conn:
        return _find_user(conn, normalise_username(username)) is not None


def get_active_user(engine: Engine, username: str) -> Actor | None:
    """The user as stored now (role may have changed), or None when missing or inactive.

    The app can call this on every run to end a session whose account was deactivated.
    """
    with engine.connect() as conn:
        row = _find_user(conn, normalise_username(username))
    if row is None or not row.is_active:
        return None
    return Actor(row.username, row.role, row.display_name)


USER_LIST_COLUMNS = (
    "username",
    "display_name",
    "role",
    "is_active",
    "created_at",
    "last_login_at",
)


def list_users(engine: Engine, *, actor: Actor) -> pd.DataFrame:
    """Every user, sorted by username, with USER_LIST_COLUMNS (never the hash);
    PermissionDenied unless `actor` may manage users."""
    require(actor, MANAGE_USERS)
    columns = [models.users.c[name] for name in USER_LIST_COLUMNS]
    with engine.connect() as conn:
        rows = conn.execute(select(*columns).order_by(models.users.c.username)).all()
    frame = pd.DataFrame(rows, columns=list(USER_LIST_COLUMNS))
    frame["is_active"] = frame["is_active"].astype(bool)
    for column in ("created_at", "last_login_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _change_user(
    engine: Engine,
    username: str,
    changes: dict[str, object],
    *,
    keeps_admin: bool,
    ends_sessions: bool = False,
) -> None:
    """Apply `changes` to one user; when the change may remove an active admin
    (keeps_admin False), refuse it if that user is the last active admin. With
    `ends_sessions`, every open browser session of the user ends (crm_core.sessions).

    The active admins' rows are locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite
    serialises writers), so two admins demoting each other at once cannot both succeed.
    """
    name = normalise_username(username)
    users = models.users
    with engine.begin() as conn:
        row = _find_user(conn, name)
        if row is None:
            raise InputError("auth.error.user_not_found", username=name)
        if not keeps_admin and row.role == "admin" and row.is_active:
            admin_ids = (
                conn.execute(
                    select(users.c.id)
                    .where(users.c.role == "admin", users.c.is_active.is_(True))
                    .with_for_update()
                )
                .scalars()
                .all()
            )
            if set(admin_ids) <= {row.id}:
                raise InputError("auth.error.last_admin", username=name)
        conn.execute(update(users).where(users.c.id == row.id).values(**changes))
        if ends_sessions:
            sessions = models.user_sessions
            conn.execute(
                update(sessions)
                .where(sessions.c.username == name, sessions.c.ended_at.is_(None))
                .values(ended_at=moment())
            )


def set_role(engine: Engine, username: str, role: str, *, actor: Actor) -> None:
    """Give `username` another role; the last active admin cannot be demoted."""
    require(actor, MANAGE_USERS)
    check_role(role)
    _change_user(engine, username, {"role": role}, keeps_admin=role == "admin")


def set_active(engine: Engine, username: str, active: bool, *, actor: Actor) -> None:
    """Deactivate (cannot sign in, open sessions end) or reactivate a user; the last
    active admin stays."""
    require(actor, MANAGE_USERS)
    _change_user(
        engine,
        username,
        {"is_active": bool(active)},
        keeps_admin=bool(active),
        ends_sessions=not active,
    )


def set_password(engine: Engine, username: str, password: str, *, actor: Actor) -> None:
    """Replace the password of `username` (checked against the password rules); the
    user's open sessions end, so a session started with the old password is over."""
    require(actor, MANAGE_USERS)
    check_password(password)
    _change_user(
        engine,
        username,
        {"password_hash": hash_password(password)},
        keeps_admin=True,
        ends_sessions=True,
    )


def count_users(bind: Engine | Connection) -> int:
    stmt = select(func.count()).select_from(models.users)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return int(conn.execute(stmt).scalar_one())
    return int(bind.execute(stmt).scalar_one())


def anyone_signed_in(engine: Engine) -> bool:
    """Whether any user has ever signed in (False on a fresh store)."""
    stmt = select(func.count()).where(models.users.c.last_login_at.is_not(None))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one()) > 0


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def ensure_admin(
    engine: Engine,
    env: Mapping[str, str] | None = None,
    *,
    now: dt.datetime | None = None,
) -> str | None:
    """Create the first user, 'admin', when the store has no users at all.

    The password is CRM_ADMIN_PASSWORD from `env` (default os.environ) when set, and
    None is returned; otherwise a random password is generated and returned so the
    caller can print it once to the console (it is stored only as a hash). Returns None
    and creates nobody when any user exists.
    """
    environment = os.environ if env is None else env
    if count_users(engine) > 0:
        return None
    given = environment.get(ADMIN_PASSWORD_ENV) or ""
    if not given.strip():
        given = ""
    password = given or generate_password()
    try:
        create_user(engine, ADMIN_USERNAME, password, "admin", actor=COMMAND_LINE, now=now)
    except InputError as error:
        if error.key == "auth.error.username_taken":  # another process created it first
            return None
        raise
    return None if given else password
