"""Options the commands share: how a file's values are read, the as-of date, the output
file's format."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from sqlalchemy import Engine

from crm_core.errors import InputError
from crm_core.i18n import translate

SUFFIX_FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
"""The file formats an --out FILE may have, by suffix."""


def output_format(path: Path) -> str:
    """The format ('csv' or 'xlsx') an --out FILE asks for by its suffix; InputError for
    another suffix or a folder that does not exist."""
    file_format = SUFFIX_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise InputError("audiences.error.out_suffix", path=str(path))
    if not path.parent.exists():
        raise InputError("audiences.error.out_folder", path=str(path.parent))
    return file_format


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


def add_warm_up_option(parser: argparse.ArgumentParser) -> None:
    """--no-warm-up: leave the first views to the first visitor after the import."""
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="do not prepare the first views of the Overview, RFM explorer and Audiences "
        "after the import (by default they are computed and kept, so the first visitor "
        "reads them)",
    )


def warm_up_line(engine: Engine) -> str:
    """Prepare the first views on the newest order's day (customers.warm_up, and the
    campaign list's aggregates) and say so."""
    from crm_core.customers.warm_up import newest_order_day, warm_up_first_views
    from crm_core.outreach.campaigns import warm_up_aggregates

    start = time.perf_counter()
    if not warm_up_first_views(engine):
        return translate("cli.warm_up.nothing")
    warm_up_aggregates(engine, newest_order_day(engine))  # the Campaigns page's list
    return translate(
        "cli.warm_up.done",
        day=newest_order_day(engine).isoformat(),
        seconds=f"{time.perf_counter() - start:.1f}",
    )
