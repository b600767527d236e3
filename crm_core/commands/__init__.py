"""`python -m crm_core COMMAND ...`: the command line for scheduled jobs and set-up.

Each command lives in crm_core/commands/<name>.py with `register(subparsers)`, which adds
its parser and sets `handler(args) -> int` (the exit code). User errors (CrmError) print
one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from crm_core.errors import CrmError

COMMAND_MODULES: tuple[str, ...] = (
    "init_db",
    "demo",
    "users",
    "import_file",
    "import_batch",
    "rfm",
    "export",
    "ab",
    "campaigns",
    "nps",
    "service",
    "clv",
    "churn",
    "basket",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crm_core",
        description="CRM analytics dashboard: set-up, imports, RFM scoring and target lists. "
        "Uses DATABASE_URL, else the SQLite store data/crm.db.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"crm_core.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CrmError as error:
        print(f"error: {error.message()}", file=sys.stderr)
        return 2
