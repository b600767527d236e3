"""`python -m crm_core demo`: generate the demo shop and load it into the (empty) store."""

from __future__ import annotations

import argparse
import datetime as dt
import time

from crm_core.demo import DEFAULT_END_DATE, generate_shop, load_shop
from crm_core.store import make_engine, upgrade_to_head


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="generate a realistic demo shop and load it into the empty store",
        description=(
            "Generate a demo shop (customers, three years of orders, events, tickets, "
            "campaigns, surveys) with a fixed seed and load it into the store of "
            "DATABASE_URL (default data/crm.db). Refuses a store that holds data."
        ),
    )
    parser.add_argument("--customers", type=_positive, default=20_000, help="default 20000")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=DEFAULT_END_DATE,
        help=f"last day of the history, YYYY-MM-DD (default {DEFAULT_END_DATE.isoformat()})",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = make_engine()
    upgrade_to_head(engine)
    started = time.perf_counter()
    frames = generate_shop(args.customers, seed=args.seed, end_date=args.end_date)
    generated = time.perf_counter()
    rows = load_shop(engine, frames)
    loaded = time.perf_counter()
    print(f"store: {engine.url.render_as_string(hide_password=True)}")
    for table, count in rows.items():
        print(f"{table:>18}: {count:>12,} rows")
    print(f"generated in {generated - started:.1f} s, loaded in {loaded - generated:.1f} s")
    engine.dispose()
    return 0
