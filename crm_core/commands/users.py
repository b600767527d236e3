"""`python -m crm_core users ...`: manage who may sign in, from the command line.

    users add NAME --role admin|analyst|viewer [--display-name TEXT]
    users list
    users set-role NAME ROLE
    users set-password NAME
    users deactivate NAME / users activate NAME

Passwords are read from a hidden prompt (asked twice) or, when stdin is not a terminal,
from its first line, so they never appear in the shell history or the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from crm_core import auth
from crm_core.errors import InputError
from crm_core.i18n import translate
from crm_core.store import make_engine, upgrade_to_head


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("users", help="add, list and change users who may sign in")
    actions = parser.add_subparsers(dest="users_action", required=True)

    add = actions.add_parser("add", help="add a user (password from a prompt or stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=auth.ROLES)
    add.add_argument("--display-name", default=None)
    add.set_defaults(handler=add_user)

    listing = actions.add_parser("list", help="list users (never their passwords)")
    listing.set_defaults(handler=list_users)

    role = actions.add_parser("set-role", help="give a user another role")
    role.add_argument("username")
    role.add_argument("role", choices=auth.ROLES)
    role.set_defaults(handler=set_role)

    password = actions.add_parser("set-password", help="reset a user's password")
    password.add_argument("username")
    password.set_defaults(handler=set_password)

    for name, active in (("activate", True), ("deactivate", False)):
        toggle = actions.add_parser(name, help=f"{name} a user")
        toggle.add_argument("username")
        toggle.set_defaults(handler=set_active, active=active)


def _engine():
    engine = make_engine()
    upgrade_to_head(engine)
    return engine


def read_password(username: str) -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(translate("auth.cli.password_prompt", username=username))
    second = getpass.getpass(translate("auth.cli.password_repeat"))
    if first != second:
        raise InputError("auth.cli.passwords_differ")
    return first


def add_user(args: argparse.Namespace) -> int:
    username = auth.check_username(args.username)
    password = read_password(username)
    user = auth.create_user(
        _engine(), username, password, args.role, args.display_name, actor=auth.COMMAND_LINE
    )
    print(translate("auth.cli.user_added", username=user.username, role=user.role))
    return 0


def list_users(args: argparse.Namespace) -> int:
    users = auth.list_users(_engine(), actor=auth.COMMAND_LINE)
    if users.empty:
        print(translate("auth.cli.no_users"))
        return 0
    print(users.to_string(index=False, na_rep="-"))
    return 0


def set_role(args: argparse.Namespace) -> int:
    auth.set_role(_engine(), args.username, args.role, actor=auth.COMMAND_LINE)
    print(translate("auth.cli.role_set", username=args.username, role=args.role))
    return 0


def set_password(args: argparse.Namespace) -> int:
    engine = _engine()
    if not auth.user_exists(engine, args.username):
        raise InputError("auth.error.user_not_found", username=args.username)
    auth.set_password(engine, args.username, read_password(args.username), actor=auth.COMMAND_LINE)
    print(translate("auth.cli.password_set", username=args.username))
    return 0


def set_active(args: argparse.Namespace) -> int:
    auth.set_active(_engine(), args.username, args.active, actor=auth.COMMAND_LINE)
    key = "auth.cli.reactivated" if args.active else "auth.cli.deactivated"
    print(translate(key, username=args.username))
    return 0
