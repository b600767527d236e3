"""`python -m crm_core service --as-of YYYY-MM-DD [--from YYYY-MM-DD] --out FILE.csv|.xlsx`

Writes the SLA achievement of the tickets created up to the as-of date (from --from when
given), measured with the stored SLA policy at the end of the as-of day, one row per
dimension (priority, tier), group and stage (first_response, resolution): columns
dimension, group, stage, tickets, met, breached, pending, achievement, achievement_low,
achievement_high; achievement = met / (met + breached) as a share (0.95 = 95%) with its
Wilson 95% interval. Customers outside every tier are the group "(none)". The file goes
through the safe writer. User errors exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from crm_core import asof
from crm_core.commands.options import as_of_date, output_format
from crm_core.outreach.audiences import render_file
from crm_core.store import make_engine
from crm_core.voice.recovery import load_customer_tiers
from crm_core.voice.service import sla_achievement
from crm_core.voice.sla import load_sla_policy, service_tickets, ticket_levels

NO_TIER = "(none)"
DIMENSIONS: tuple[str, ...] = ("priority", "tier")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "service", help="write SLA achievement per ticket priority and customer tier"
    )
    parser.add_argument("--as-of", required=True, type=as_of_date, help="YYYY-MM-DD (inclusive)")
    parser.add_argument(
        "--from", dest="since", type=as_of_date, default=None, help="first creation day"
    )
    parser.add_argument("--out", required=True, type=Path, help="FILE.csv or FILE.xlsx")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    file_format = output_format(args.out)
    engine = make_engine()
    policy = load_sla_policy(engine)
    tickets = service_tickets(engine, args.as_of)
    if args.since is not None:
        tickets = tickets[tickets["created_at"] >= pd.Timestamp(args.since)]
    tiers = load_customer_tiers(engine, args.as_of, policy)
    levels = ticket_levels(tickets, policy, tiers, asof.end_of(args.as_of))
    levels["tier"] = levels["tier"].replace("", NO_TIER)
    parts = []
    for dimension in DIMENSIONS:
        table = sla_achievement(levels, dimension)
        table.insert(0, "dimension", dimension)
        parts.append(table)
    table = pd.concat(parts, ignore_index=True)
    for name in ("achievement", "achievement_low", "achievement_high"):
        table[name] = table[name] / 100.0
    args.out.write_bytes(render_file(table, file_format, actor=None))
    print(
        f"wrote {len(table):,} rows ({len(levels):,} tickets) as of "
        f"{args.as_of.isoformat()} to {args.out}"
    )
    return 0
