"""`python -m crm_core churn --as-of YYYY-MM-DD [--horizon 90] [--out FILE.csv|.xlsx]`

Runs the predictions on the store's history up to the as-of day (see
crm_core.predict.runs: BG/NBD + Gamma-Gamma and the churn model), records the run as the
command line's, and prints the churn backtest beside its two baselines:

    backtest cut 2026-08-02  horizon 90 days  customers 15,469  churn rate 0.749
    scorer    roc_auc   pr_auc  lift@10%    brier
    model      0.9566   0.9844     1.334   0.0684
    recency    0.9343   0.9760     1.333   0.0879
    bgnbd      0.9515   0.9787     1.312   0.0725
    scores from: model

With --out it writes one row per scored customer: churn_risk (0-1), churn_risk_level,
churn_drivers and the CLV columns. User errors exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core.auth import COMMAND_LINE
from crm_core.commands.options import as_of_date, output_format
from crm_core.outreach.audiences import render_file
from crm_core.predict.churn import DEFAULT_HORIZON_DAYS, backtest_table
from crm_core.predict.runs import load_run_scores, run_predictions
from crm_core.store import make_engine


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "churn", help="fit the churn model, print its backtest, write each customer's risk"
    )
    parser.add_argument("--as-of", required=True, type=as_of_date, help="YYYY-MM-DD")
    parser.add_argument("--horizon", type=int, default=DEFAULT_HORIZON_DAYS, help="days")
    parser.add_argument("--out", type=Path, default=None, help="FILE.csv or FILE.xlsx")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    file_format = None if args.out is None else output_format(args.out)
    engine = make_engine()
    made = run_predictions(engine, args.as_of, actor=COMMAND_LINE, horizon_days=args.horizon)
    print(backtest_table(made.backtest))
    print(f"model record: run {made.id}, {made.customers:,} customers scored")
    if args.out is not None:
        scored = load_run_scores(engine)
        table = scored.scores.copy()
        table.insert(2, "churn_risk_level", scored.levels)
        table["next_order_date"] = table["next_order_date"].dt.date
        args.out.write_bytes(render_file(table, file_format, actor=None, names_as_headers=True))
        print(f"wrote {len(table):,} customers to {args.out}")
    return 0
