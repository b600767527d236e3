"""`python -m crm_core import ENTITY FILE`: the Data page's upload, for scheduled jobs.

Prints one line `accepted N, rejected M, unchanged K, updated U` and exits 0; an
order-lines file adds what its orders got (`; orders: inserted I, unchanged K, updated
U`), a customers file with campaign acceptances its campaigns and touches. A file
that cannot be read, or a mapping without a required column, prints the reason and
exits 2 (the store is unchanged); so do a --rejects path that cannot be written and an
unknown --timezone, both refused before anything is imported. The store is DATABASE_URL
or the default one; its schema is upgraded first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from crm_core.auth import COMMAND_LINE, Actor
from crm_core.commands.options import add_reading_options, add_warm_up_option, warm_up_line
from crm_core.errors import InputError
from crm_core.i18n import translate
from crm_core.ingest import ENTITY_NAMES, ImportOptions, import_file, load_mapping_file
from crm_core.ingest.history import rejects_csv
from crm_core.ingest.validate import plausible_until
from crm_core.ingest.values import DEFAULT_SHOP_TIMEZONE, is_known_timezone
from crm_core.ingest.words import parse_value_map
from crm_core.store import make_engine, upgrade_to_head


def _timezone(text: str) -> str:
    """An unknown zone is refused here, not only when a file happens to hold a zoned cell."""
    if not is_known_timezone(text):
        raise argparse.ArgumentTypeError(translate("data.error.unknown_timezone", zone=text))
    return text


def check_rejects_path(path: Path) -> None:
    """Raise InputError unless the rejected rows can be written to `path`; checked before
    the import, since a failed write after it would leave the import stored."""
    if path.is_dir():
        raise InputError("data.error.rejects_is_folder", path=str(path))
    folder = path.parent
    if not folder.is_dir():
        raise InputError("data.error.rejects_folder_missing", path=str(path))
    writable = os.access(path, os.W_OK) if path.exists() else os.access(folder, os.W_OK | os.X_OK)
    if not writable:
        raise InputError("data.error.rejects_not_writable", path=str(path))


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
    add_reading_options(parser)
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        help="reject rows dated after this day (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--timezone",
        type=_timezone,
        default=DEFAULT_SHOP_TIMEZONE,
        help=f"the shop's time zone for timestamps with a zone (default {DEFAULT_SHOP_TIMEZONE})",
    )
    parser.add_argument(
        "--user",
        default="cli",
        help="recorded as who imported (default cli); the command line acts with an admin's rights",
    )
    add_warm_up_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.rejects:
        check_rejects_path(args.rejects)
    mapping = load_mapping_file(args.mapping) if args.mapping else None
    options = ImportOptions(
        day_first=args.day_first,
        as_of=args.as_of,
        timezone=args.timezone,
        value_map=parse_value_map(args.map),
        latest_date=plausible_until(dt.date.today()),
    )
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
            actor=Actor(args.user, COMMAND_LINE.role),
        )
        if args.rejects:
            args.rejects.write_bytes(rejects_csv(result.rejects))
        print(result.summary_line(), flush=True)
        if not args.no_warm_up:
            print(warm_up_line(engine))
    finally:
        engine.dispose()
    return 0
