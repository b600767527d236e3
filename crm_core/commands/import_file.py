"""`python -m crm_core import ENTITY FILE`: the Data page's upload, for scheduled jobs.

Prints one line `accepted N, rejected M, unchanged K, updated U` and exits 0. A file
that cannot be read, or a mapping without a required column, prints the reason and
exits 2 (the store is unchanged). The store is DATABASE_URL or the default one; its
schema is upgraded first.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from crm_core.db import make_engine, upgrade_to_head
from crm_core.ingest import ENTITY_NAMES, ImportOptions, import_file, load_mapping_file
from crm_core.ingest.history import rejects_csv
from crm_core.ingest.values import DEFAULT_SHOP_TIMEZONE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import a CSV/XLSX file of one entity into the store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("entity", choices=ENTITY_NAMES, help="what the file holds")
    parser.add_argument("file", type=Path, help="CSV, TXT or XLSX file (may be gzipped)")
    parser.add_argument(
        "--mapping",
        type=Path,
        help='JSON {"file column": "field"}; default: the saved template for these '
        "headers, else the suggested mapping",
    )
    parser.add_argument("--sheet", help="XLSX sheet name (default: the first sheet)")
    parser.add_argument("--rejects", type=Path, help="write the rejected rows to this CSV")
    parser.add_argument(
        "--day-first", action="store_true", help="read 05/03/2024 as 5 March (default 3 May)"
    )
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        help="reject rows dated after this day (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--timezone",
        default=DEFAULT_SHOP_TIMEZONE,
        help=f"the shop's time zone for timestamps with a zone (default {DEFAULT_SHOP_TIMEZONE})",
    )
    parser.add_argument("--user", default="cli", help="recorded as who imported (default cli)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    mapping = load_mapping_file(args.mapping) if args.mapping else None
    options = ImportOptions(day_first=args.day_first, as_of=args.as_of, timezone=args.timezone)
    engine = make_engine()
    try:
        upgrade_to_head(engine)
        result = import_file(
            engine,
            args.file,
            args.entity,
            mapping=mapping,
            options=options,
            sheet=args.sheet,
            user=args.user,
        )
    finally:
        engine.dispose()
    if args.rejects:
        args.rejects.write_bytes(rejects_csv(result.rejects))
    print(result.summary_line())
    return 0
