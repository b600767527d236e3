"""`python -m crm_core init-db`: schema to head, first admin, demo shop if empty."""

from __future__ import annotations

import argparse

from crm_core.bootstrap import admin_password_banner, prepare_store, remember_demo_choice
from crm_core.store import make_engine, schema_revision


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init-db", help="upgrade the store's schema to head and create the first admin"
    )
    parser.add_argument(
        "--demo-if-empty",
        action="store_true",
        help="load the demo shop when the store has no customers and no orders (without "
        "it the store stays empty, also when the app starts on it later)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = make_engine()
    report = prepare_store(engine, load_demo_if_empty=args.demo_if_empty)
    remember_demo_choice(engine, args.demo_if_empty)
    print(f"store: {engine.url.render_as_string(hide_password=True)}")
    print(f"schema revision: {schema_revision(engine)}")
    if report.admin_password:
        print(admin_password_banner(report.admin_password))
    if report.demo_loaded:
        counts = ", ".join(f"{name} {rows:,}" for name, rows in report.demo_rows.items())
        print(f"demo shop loaded: {counts}")
    return 0
