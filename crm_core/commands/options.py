"""Options the commands share: how a file's values are read, the as-of date, the output
file's format."""

from __future__ import annotations

import argparse
import datetime as dt

SUFFIX_FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
"""The file formats an --out FILE may have, by suffix."""


def as_of_date(text: str) -> dt.date:
    """An --as-of YYYY-MM-DD argument (a clear argparse error otherwise)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


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
