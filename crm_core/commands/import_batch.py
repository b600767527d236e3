"""`python -m crm_core import-batch KIND=FILE [KIND=FILE ...]`: several files of one shop
(customers, orders, order items, payments, reviews ...) imported as one batch, linked on
their keys, in one transaction; one line of counts per file.

KIND is an entity (customers, orders, order_lines, events, tickets, campaigns,
campaign_touches, survey_responses) or payments (order id and amount, summed into the
order's amount). Words no field knows fail the batch with the list of words and their
counts, unless mapped with --map FIELD:WORD=VALUE or by a saved mapping template.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from crm_core.auth import COMMAND_LINE
from crm_core.commands.options import add_reading_options, add_warm_up_option, warm_up_line
from crm_core.errors import InputError
from crm_core.ingest.batch import BatchFile, import_batch, parse_batch_items
from crm_core.ingest.validate import ImportOptions, plausible_until
from crm_core.ingest.words import parse_value_map
from crm_core.store import make_engine, upgrade_to_head


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-batch",
        help="import several linked files (orders, items, payments, reviews ...) at once",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="KIND=FILE", help="a file and what it holds")
    parser.add_argument(
        "--person-key",
        metavar="COLUMN",
        help="a column of the customers file that groups its ids into people (such as "
        "customer_unique_id): orders are attributed to the person",
    )
    add_reading_options(parser)
    add_warm_up_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    items = []
    for kind, path in parse_batch_items(args.files):
        file = Path(path)
        if not file.is_file():
            raise InputError("data.error.file_not_found", file=str(file))
        items.append(BatchFile(kind, file, file_name=file.name))
    options = ImportOptions(
        day_first=args.day_first,
        value_map=parse_value_map(args.map),
        latest_date=plausible_until(dt.date.today()),
    )
    engine = make_engine()
    try:
        upgrade_to_head(engine)
        result = import_batch(
            engine, items, actor=COMMAND_LINE, options=options, person_key=args.person_key
        )
        for line in result.summary_lines():
            print(line, flush=True)
        if not args.no_warm_up:
            print(warm_up_line(engine))
    finally:
        engine.dispose()
    return 0
