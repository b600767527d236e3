"""`python -m crm_core clv --calibration-end YYYY-MM-DD [--margin 0.3]
[--monthly-discount 0.01] [--out FILE.csv|.xlsx]`

Fits BG/NBD and Gamma-Gamma to the paid orders up to the calibration end (see
crm_core.predict.clv) and prints the parameters with 6 significant digits:

    bgnbd r=0.242595 alpha=4.41360 a=0.792922 b=2.42591 loglik=-9582.43
    gamma_gamma p=6.24957 q=3.74423 gamma=15.4435 loglik=-4055.92

With --out it writes one row per customer: the purchase summary (frequency,
recency_weeks, age_weeks, monetary_value) and the predictions (probability_alive,
purchases_30d/90d/365d, next_order_date, expected_order_value, clv_12m). The margin
defaults to the shop's gross margin rate (30% until an admin sets it). User errors exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core.commands.options import as_of_date, output_format
from crm_core.errors import InputError
from crm_core.outreach.audiences import render_file
from crm_core.outreach.campaigns import check_margin_rate, gross_margin_rate
from crm_core.predict.clv import (
    BetaGeoModel,
    GammaGammaModel,
    customer_predictions,
    paid_purchases,
    purchase_summary,
)
from crm_core.store import make_engine

DEFAULT_MONTHLY_DISCOUNT = 0.01


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "clv", help="fit BG/NBD and Gamma-Gamma, print their parameters, write each CLV"
    )
    parser.add_argument("--calibration-end", required=True, type=as_of_date, help="YYYY-MM-DD")
    parser.add_argument("--margin", type=float, default=None, help="gross margin rate, 0-1")
    parser.add_argument(
        "--monthly-discount", type=float, default=DEFAULT_MONTHLY_DISCOUNT, help="e.g. 0.01"
    )
    parser.add_argument("--out", type=Path, default=None, help="FILE.csv or FILE.xlsx")
    parser.set_defaults(handler=run)


def _g6(value: float) -> str:
    return f"{value:#.6g}"


def run(args: argparse.Namespace) -> int:
    file_format = None if args.out is None else output_format(args.out)
    engine = make_engine()
    margin = gross_margin_rate(engine) if args.margin is None else check_margin_rate(args.margin)
    discount = args.monthly_discount
    if not 0.0 <= discount < 1.0:
        raise InputError("predict.error.discount", value=discount)
    summary = purchase_summary(
        paid_purchases(engine, args.calibration_end), args.calibration_end, check=True
    )
    beta_geo = BetaGeoModel().fit(summary)
    gamma_gamma = GammaGammaModel().fit(summary)
    print(
        f"bgnbd r={_g6(beta_geo.r_)} alpha={_g6(beta_geo.alpha_)} a={_g6(beta_geo.a_)} "
        f"b={_g6(beta_geo.b_)} loglik={_g6(beta_geo.log_likelihood_)}"
    )
    print(
        f"gamma_gamma p={_g6(gamma_gamma.p_)} q={_g6(gamma_gamma.q_)} "
        f"gamma={_g6(gamma_gamma.gamma_)} loglik={_g6(gamma_gamma.log_likelihood_)}"
    )
    if args.out is not None:
        predictions = customer_predictions(
            summary, beta_geo, gamma_gamma,
            calibration_end=args.calibration_end, margin=margin, monthly_discount=discount,
        )  # fmt: skip
        table = summary.merge(predictions, on="customer_id")
        args.out.write_bytes(render_file(table, file_format, actor=None, names_as_headers=True))
        print(f"wrote {len(table):,} customers to {args.out}")
    return 0
