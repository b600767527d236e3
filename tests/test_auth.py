"""Users, password hashing, sign-in, the first admin and the role permission table."""

from __future__ import annotations

import argparse
import datetime as dt
import io

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from crm_core import auth
from crm_core.commands import users
from crm_core.errors import CrmError, InputError, PermissionDenied
from crm_core.store import models

PASSWORD = "correct horse battery"
SIGN_IN_TIME = dt.datetime(2024, 3, 5, 9, 30)


def _row(engine, username: str):
    with engine.connect() as conn:
        return conn.execute(select(models.users).where(models.users.c.username == username)).one()


def _user_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(models.users)).scalar_one()


def test_hash_is_salted_argon2id_and_verifies_only_the_right_password():
    first = auth.hash_password(PASSWORD)
    second = auth.hash_password(PASSWORD)
    assert first.startswith("$argon2id$")
    assert PASSWORD not in first
    assert first != second  # a fresh salt each time
    assert auth.verify_password(first, PASSWORD)
    assert not auth.verify_password(first, PASSWORD + "!")
    assert not auth.verify_password("not a hash", PASSWORD)


def test_create_user_stores_only_a_hash(store):
    created = auth.create_user(
        store, "Wang.Fang", PASSWORD, "analyst", " 王芳 ", actor=auth.COMMAND_LINE
    )
    assert created == auth.Actor("wang.fang", "analyst", "王芳")
    row = _row(store, "wang.fang")
    assert all(PASSWORD not in str(value) for value in row)
    assert auth.verify_password(row.password_hash, PASSWORD)
    assert row.is_active is True and row.last_login_at is None


def test_authenticate_right_password_records_the_sign_in(store):
    auth.create_user(store, "wang", PASSWORD, "viewer", "王芳", actor=auth.COMMAND_LINE)
    user = auth.authenticate(store, "  WANG ", PASSWORD, now=SIGN_IN_TIME)
    assert user == auth.Actor("wang", "viewer", "王芳")
    assert _row(store, "wang").last_login_at == SIGN_IN_TIME
    assert auth.anyone_signed_in(store)


def test_authenticate_wrong_password_is_refused_and_not_recorded(store):
    auth.create_user(store, "wang", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    assert auth.authenticate(store, "wang", PASSWORD.upper(), now=SIGN_IN_TIME) is None
    assert auth.authenticate(store, "wang", "", now=SIGN_IN_TIME) is None
    assert _row(store, "wang").last_login_at is None
    assert not auth.anyone_signed_in(store)


def test_unknown_user_costs_one_verification_like_a_known_one(store, monkeypatch):
    verified: list[str] = []
    real_verify = auth.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting_verify)
    assert auth.authenticate(store, "nobody", PASSWORD) is None
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")


def test_inactive_user_cannot_sign_in_until_reactivated(store):
    auth.create_user(store, "admin", PASSWORD, "admin", actor=auth.COMMAND_LINE)
    auth.create_user(store, "li", PASSWORD, "analyst", actor=auth.COMMAND_LINE)
    auth.set_active(store, "li", False, actor=auth.COMMAND_LINE)
    assert auth.authenticate(store, "li", PASSWORD) is None
    assert auth.get_active_user(store, "li") is None
    auth.set_active(store, "li", True, actor=auth.COMMAND_LINE)
    assert auth.authenticate(store, "li", PASSWORD) == auth.Actor("li", "analyst")


def test_outdated_hash_is_upgraded_on_sign_in(store):
    auth.create_user(store, "wang", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with store.begin() as conn:
        conn.execute(
            update(models.users).where(models.users.c.username == "wang").values(password_hash=weak)
        )
    assert auth.needs_rehash(weak)
    assert auth.authenticate(store, "wang", PASSWORD) is not None
    upgraded = _row(store, "wang").password_hash
    assert upgraded != weak and not auth.needs_rehash(upgraded)
    assert auth.verify_password(upgraded, PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "role", "key"),
    [
        ("wang", "short", "viewer", "auth.error.password_too_short"),
        ("wang", " " * 12, "viewer", "auth.error.password_blank"),
        ("wang", "x" * (auth.MAX_PASSWORD_LENGTH + 1), "viewer", "auth.error.password_too_long"),
        ("w", PASSWORD, "viewer", "auth.error.username_invalid"),
        ("wang fang", PASSWORD, "viewer", "auth.error.username_invalid"),
        ("wang", PASSWORD, "owner", "auth.error.role_unknown"),
    ],
)
def test_create_user_rejects_bad_values_with_a_typed_error(
    sqlite_store, username, password, role, key
):
    with pytest.raises(InputError) as caught:
        auth.create_user(sqlite_store, username, password, role, actor=auth.COMMAND_LINE)
    assert caught.value.key == key
    assert _user_count(sqlite_store) == 0


def test_usernames_are_unique_whatever_their_case(store):
    auth.create_user(store, "wang", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    with pytest.raises(InputError) as caught:
        auth.create_user(store, " WANG", PASSWORD, "admin", actor=auth.COMMAND_LINE)
    assert caught.value.key == "auth.error.username_taken"
    assert _user_count(store) == 1


def test_password_too_short_message_names_the_minimum():
    with pytest.raises(InputError) as caught:
        auth.check_password("abc")
    assert str(auth.MIN_PASSWORD_LENGTH) in caught.value.message("en")
    assert str(auth.MIN_PASSWORD_LENGTH) in caught.value.message("zh-CN")


def test_ensure_admin_takes_the_password_from_the_environment(store):
    env = {auth.ADMIN_PASSWORD_ENV: PASSWORD}
    assert auth.ensure_admin(store, env) is None
    assert auth.authenticate(store, "admin", PASSWORD) == auth.Actor("admin", "admin")
    assert auth.ensure_admin(store, {auth.ADMIN_PASSWORD_ENV: "another password!"}) is None
    assert _user_count(store) == 1
    assert auth.authenticate(store, "admin", "another password!") is None


def test_ensure_admin_generates_a_password_and_returns_it_once(store):
    generated = auth.ensure_admin(store, {})
    assert generated is not None and len(generated) >= 20
    assert auth.authenticate(store, "admin", generated) is not None
    assert generated not in _row(store, "admin").password_hash
    assert auth.ensure_admin(store, {}) is None
    assert _user_count(store) == 1


def test_ensure_admin_creates_nobody_when_users_exist(store):
    auth.create_user(store, "li", PASSWORD, "analyst", actor=auth.COMMAND_LINE)
    assert auth.ensure_admin(store, {}) is None
    assert list(auth.list_users(store, actor=auth.COMMAND_LINE)["username"]) == ["li"]


def test_ensure_admin_rejects_a_weak_environment_password(sqlite_store):
    with pytest.raises(InputError) as caught:
        auth.ensure_admin(sqlite_store, {auth.ADMIN_PASSWORD_ENV: "admin"})
    assert caught.value.key == "auth.error.password_too_short"
    assert _user_count(sqlite_store) == 0


def test_last_active_admin_cannot_be_demoted_or_deactivated(store):
    auth.create_user(store, "root", PASSWORD, "admin", actor=auth.COMMAND_LINE)
    auth.create_user(store, "li", PASSWORD, "analyst", actor=auth.COMMAND_LINE)
    for change in (
        lambda: auth.set_role(store, "root", "analyst", actor=auth.COMMAND_LINE),
        lambda: auth.set_active(store, "root", False, actor=auth.COMMAND_LINE),
    ):
        with pytest.raises(InputError) as caught:
            change()
        assert caught.value.key == "auth.error.last_admin"
    assert auth.get_active_user(store, "root") == auth.Actor("root", "admin")

    auth.set_role(store, "li", "admin", actor=auth.COMMAND_LINE)
    auth.set_role(store, "root", "viewer", actor=auth.COMMAND_LINE)  # li is now an admin too
    assert auth.get_active_user(store, "root").role == "viewer"
    with pytest.raises(InputError):
        auth.set_active(store, "li", False, actor=auth.COMMAND_LINE)


def test_a_deactivated_admin_does_not_count_as_the_other_admin(store):
    auth.create_user(store, "root", PASSWORD, "admin", actor=auth.COMMAND_LINE)
    auth.create_user(store, "backup", PASSWORD, "admin", actor=auth.COMMAND_LINE)
    auth.set_active(store, "backup", False, actor=auth.COMMAND_LINE)
    with pytest.raises(InputError) as caught:
        auth.set_role(store, "root", "viewer", actor=auth.COMMAND_LINE)
    assert caught.value.key == "auth.error.last_admin"
    auth.set_role(
        store, "backup", "viewer", actor=auth.COMMAND_LINE
    )  # an inactive admin may be demoted
    assert list(auth.list_users(store, actor=auth.COMMAND_LINE)["role"]) == ["viewer", "admin"]


def test_set_password_replaces_the_old_one(store):
    auth.create_user(store, "wang", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    with pytest.raises(InputError):
        auth.set_password(store, "wang", "short", actor=auth.COMMAND_LINE)
    assert auth.authenticate(store, "wang", PASSWORD) is not None
    auth.set_password(store, "wang", "a brand new secret", actor=auth.COMMAND_LINE)
    assert auth.authenticate(store, "wang", PASSWORD) is None
    assert auth.authenticate(store, "wang", "a brand new secret") is not None


def test_changing_an_unknown_user_is_a_typed_error(store):
    with pytest.raises(InputError) as caught:
        auth.set_role(store, "nobody", "viewer", actor=auth.COMMAND_LINE)
    assert caught.value.key == "auth.error.user_not_found"
    assert not auth.user_exists(store, "nobody")


def test_list_users_has_no_hashes_and_is_sorted(store):
    auth.create_user(store, "zhao", PASSWORD, "viewer", now=SIGN_IN_TIME, actor=auth.COMMAND_LINE)
    auth.create_user(store, "an", PASSWORD, "admin", "安", actor=auth.COMMAND_LINE)
    users = auth.list_users(store, actor=auth.COMMAND_LINE)
    assert tuple(users.columns) == auth.USER_LIST_COLUMNS
    assert "password_hash" not in users.columns
    assert list(users["username"]) == ["an", "zhao"]
    assert list(users["display_name"].fillna("-")) == ["安", "-"]
    assert users["is_active"].dtype == bool
    assert users.loc[users["username"] == "zhao", "created_at"].iloc[0] == SIGN_IN_TIME


# The permission table the product promises (issue 2 and issue 5): admins see personal
# data, analysts download masked lists, viewers only look at dashboards.
EXPECTED_PERMISSIONS = {
    "admin": {name: True for name in auth.PERMISSION_NAMES},
    "analyst": {
        "see_personal_data": False,
        "download": True,
        "import": True,
        "edit_schemes": True,
        "edit_tags": True,
        "edit_triggers": True,
        "edit_policy": False,
        "manage_users": False,
        "manage_store": False,
        "edit_campaigns": True,
        "edit_shop_settings": False,
        "run_predictions": True,
    },
    "viewer": {name: False for name in auth.PERMISSION_NAMES},
}


@pytest.mark.parametrize("role", auth.ROLES)
def test_each_role_may_take_the_actions_of_the_table(role):
    assert set(EXPECTED_PERMISSIONS) == set(auth.ROLES)
    assert set(EXPECTED_PERMISSIONS["analyst"]) == set(auth.PERMISSION_NAMES)
    actor = auth.Actor(f"test-{role}", role)
    for action, expected in EXPECTED_PERMISSIONS[role].items():
        assert auth.has_permission(role, action) is expected, (role, action)
        assert actor.may(action) is expected, (role, action)


@pytest.mark.parametrize("role", [None, "", "owner"])
def test_unknown_roles_may_do_nothing(role):
    assert not any(auth.has_permission(role, action) for action in auth.PERMISSION_NAMES)
    with pytest.raises(PermissionDenied):
        auth.require(auth.Actor("someone", role), auth.DOWNLOAD)
    with pytest.raises(PermissionDenied):
        auth.require(None, auth.DOWNLOAD)


def test_require_passes_an_allowed_actor():
    analyst = auth.Actor("li", "analyst")
    auth.require(analyst, auth.DOWNLOAD)
    with pytest.raises(PermissionDenied) as caught:
        auth.require(analyst, auth.MANAGE_USERS)
    assert "analyst" in caught.value.message("en")


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_user_management_refuses_a_role_without_the_permission(store, role):
    auth.create_user(store, "li", PASSWORD, "analyst", actor=auth.COMMAND_LINE)
    actor = auth.Actor(f"test-{role}", role)
    attempts = [
        lambda: auth.create_user(store, "wang", PASSWORD, "viewer", actor=actor),
        lambda: auth.set_role(store, "li", "admin", actor=actor),
        lambda: auth.set_active(store, "li", False, actor=actor),
        lambda: auth.set_password(store, "li", "another long secret", actor=actor),
        lambda: auth.list_users(store, actor=actor),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert auth.get_active_user(store, "li") == auth.Actor("li", "analyst")
    assert not auth.user_exists(store, "wang")


def _users_command(argv: list[str]) -> int:
    """Run `python -m crm_core users ...` through its own parser, as cli.main does."""
    parser = argparse.ArgumentParser()
    users.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["users", *argv])
    try:
        return args.handler(args)
    except CrmError:
        return 2


def test_users_command_adds_lists_and_guards(sqlite_store, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", sqlite_store.url.render_as_string(hide_password=False))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert _users_command(["add", "Root", "--role", "admin", "--display-name", "管理员"]) == 0
    assert auth.authenticate(sqlite_store, "root", PASSWORD) is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert _users_command(["add", "li", "--role", "viewer"]) == 2
    assert not auth.user_exists(sqlite_store, "li")
    assert _users_command(["set-role", "root", "viewer"]) == 2
    capsys.readouterr()
    assert _users_command(["list"]) == 0
    listing = capsys.readouterr().out
    assert "root" in listing and "管理员" in listing and "argon2" not in listing
