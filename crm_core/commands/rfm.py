"""`python -m crm_core rfm --as-of YYYY-MM-DD [--scheme NAME] [--window-days N] --out FILE.csv`

Scores every customer with a purchase (in the window) on the as-of date and writes one
row per scored customer: customer_id, recency_days, frequency, monetary, r_score,
f_score, m_score, segment. NAME is a saved scheme (its newest version) or a preset
(default rfm11). Prospects are counted on the console, not written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core.commands.options import as_of_date
from crm_core.customers.features import customer_features
from crm_core.customers.rfm import AXES, prepare_facts
from crm_core.customers.segments import (
    evaluate_scheme,
    population_summary,
    resolve_scheme,
    scored_table,
)
from crm_core.errors import InputError
from crm_core.outreach.privacy import neutralise_formula
from crm_core.store import make_engine

DEFAULT_SCHEME = "rfm11"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rfm", help="score customers on an as-of date and write their RFM segments to CSV"
    )
    parser.add_argument("--as-of", required=True, type=as_of_date, help="YYYY-MM-DD (inclusive)")
    parser.add_argument(
        "--scheme", default=DEFAULT_SCHEME, help="saved scheme or preset (default: rfm11)"
    )
    parser.add_argument(
        "--window-days",
        type=int,
        default=None,
        help="count only purchases in the N days ending on the as-of date (default: all)",
    )
    parser.add_argument("--out", required=True, type=Path, help="CSV file to write")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = make_engine()
    scheme = resolve_scheme(engine, args.scheme)
    if args.out.parent and not args.out.parent.exists():
        raise InputError("rfm.error.out_folder", path=str(args.out.parent))
    facts = prepare_facts(customer_features(engine, args.as_of, args.window_days))
    result = evaluate_scheme(facts, scheme)
    table = scored_table(facts, result)
    neutralise_formula(table).to_csv(args.out, index=False, encoding="utf-8")
    summary = population_summary(facts)
    version = f" v{scheme.version}" if scheme.version else " (preset)"
    print(f"scheme: {scheme.name}{version}; as of {args.as_of.isoformat()}")
    print(
        f"wrote {len(table):,} scored customers to {args.out}; "
        f"not scored: {summary['prospects']:,} prospects, "
        f"{summary['no_purchase_in_window']:,} without a purchase in the window; "
        f"monetary <= 0: {summary['non_positive_monetary']:,}"
    )
    for axis in AXES:
        scores = result.scores.axes[axis]
        cuts = ", ".join(f"{value:g}" for value in scores.cuts)
        print(f"{axis.upper()} cut-points ({scores.mode}, {scores.metric}): {cuts}")
    return 0
