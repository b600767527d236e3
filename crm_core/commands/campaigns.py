"""`python -m crm_core campaigns --as-of YYYY-MM-DD [--window 7] [--campaign ID ...]
--out FILE.csv|.xlsx`

Writes the campaign results, one row per campaign and arm (columns campaign_id, arm,
recipients, converters, conversion_rate, revenue, revenue_per_recipient, uplift,
uplift_ci_low, uplift_ci_high, p_value): conversions counted in each touch's window (the
campaign's own window, or --window days for all), rates and uplift as shares (0.012 =
1.2 percentage points), uplift empty on control rows and where there is no control.
The file goes through the same safe writer as the target lists (CSV in UTF-8 with a
BOM, or XLSX; cells starting with = + - @ neutralised). User errors exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core.commands.options import as_of_date, output_format
from crm_core.outreach.audiences import render_file
from crm_core.outreach.campaigns import arm_results, check_window
from crm_core.store import make_engine


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "campaigns", help="write each campaign's results per arm, with the uplift over the control"
    )
    parser.add_argument("--as-of", required=True, type=as_of_date, help="YYYY-MM-DD (inclusive)")
    parser.add_argument(
        "--window", type=int, default=None, help="conversion window in days for every campaign"
    )
    parser.add_argument(
        "--campaign", nargs="+", action="extend", default=None, help="only these campaign IDs"
    )
    parser.add_argument("--out", required=True, type=Path, help="FILE.csv or FILE.xlsx")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    file_format = output_format(args.out)
    window = None if args.window is None else check_window(args.window)
    engine = make_engine()
    results = arm_results(engine, args.as_of, window_days=window, campaign_ids=args.campaign)
    args.out.write_bytes(render_file(results, file_format, actor=None))
    campaigns = results["campaign_id"].nunique()
    print(
        f"wrote {len(results):,} rows ({campaigns:,} campaigns) as of "
        f"{args.as_of.isoformat()} to {args.out}"
    )
    return 0
