"""Options the import commands share: how a file's values are read."""

from __future__ import annotations

import argparse


def add_reading_options(parser: argparse.ArgumentParser) -> None:
    """--map FIELD:WORD=VALUE (repeatable) and --day-first."""
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD:WORD=VALUE",
        help="map a word the app does not know, e.g. --map status:invoiced=paid (repeatable)",
    )
    parser.add_argument(
        "--day-first", action="store_true", help="read 05/03/2024 as 5 March (default 3 May)"
    )
