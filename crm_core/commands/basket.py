"""`python -m crm_core basket [--level sku|category] [--min-support 0.02]
[--from YYYY-MM-DD --to YYYY-MM-DD] --out FILE.csv|.xlsx`

Writes the rules A -> B of the paid orders' lines in the period (see
crm_core.customers.baskets), one row per rule with the columns antecedent, consequent,
baskets, support, confidence, lift, strongest lift first. The file goes through the safe
writer with the column names as headers. User errors exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core.commands.options import as_of_date, output_format
from crm_core.customers.baskets import LEVELS, basket_lines, basket_matrix, pair_rules
from crm_core.outreach.audiences import render_file
from crm_core.store import make_engine

FILE_COLUMNS: tuple[str, ...] = (
    "antecedent",
    "consequent",
    "baskets",
    "support",
    "confidence",
    "lift",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("basket", help="write what sells together, one row per rule")
    parser.add_argument("--level", choices=list(LEVELS), default="sku")
    parser.add_argument("--min-support", type=float, default=0.02, help="a share, e.g. 0.02")
    parser.add_argument(
        "--from", dest="since", type=as_of_date, default=None, help="first day (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--to", dest="until", type=as_of_date, default=None, help="last day (YYYY-MM-DD)"
    )
    parser.add_argument("--out", required=True, type=Path, help="FILE.csv or FILE.xlsx")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    file_format = output_format(args.out)
    lines = basket_lines(make_engine(), args.level, args.since, args.until)
    baskets = basket_matrix(lines)
    rules = pair_rules(baskets, min_support=args.min_support)[list(FILE_COLUMNS)]
    args.out.write_bytes(render_file(rules, file_format, actor=None, names_as_headers=True))
    print(
        f"wrote {len(rules):,} rules over {baskets.size:,} baskets and "
        f"{len(baskets.items):,} items ({args.level}) to {args.out}"
    )
    return 0
