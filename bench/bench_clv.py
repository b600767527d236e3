"""Time fitting BG/NBD + Gamma-Gamma and scoring every customer on a large shop, and print
a table.

    .venv/bin/python -m bench.bench_clv [--customers 1000000]

Generates the demo shop's orders (crm_core.demo, fixed seed, about 10 per customer),
builds the purchase summary by distinct purchase day with the calibration ending at the
newest order's day, then fits both models (`BetaGeoModel`, `GammaGammaModel`) and scores
every customer (`customer_predictions`: probability alive, expected purchases, next
order day, expected order value, 12-month CLV), timing each step and the process's peak
memory. Beside it, lifetimes' BetaGeoFitter on the same summary in the same run when
the package imports (it is not a dependency of the project; the table says when it is
missing). Aim (issue 23): fit and scoring of 1M customers under 10 s and 2 GB.
Timings are shown, never checked.
"""

from __future__ import annotations

import argparse
import resource
import time

import pandas as pd

from bench.bench_campaigns import Table, timed
from crm_core import demo
from crm_core.predict.clv import (
    BetaGeoModel,
    GammaGammaModel,
    customer_predictions,
    purchase_summary,
)

SEED = 42
AIM_SECONDS = 10.0
AIM_MEMORY_MB = 2048.0


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def lifetimes_fit(summary: pd.DataFrame) -> tuple[float, str]:
    """(seconds, parameters) of lifetimes' BetaGeoFitter on the summary, or (NaN, why)."""
    try:
        from lifetimes import BetaGeoFitter
    except Exception as error:  # not installed, or broken with today's pandas/numpy
        return float("nan"), f"lifetimes not available here ({type(error).__name__}: {error})"
    start = time.perf_counter()
    fitter = BetaGeoFitter().fit(
        summary["frequency"], summary["recency_weeks"], summary["age_weeks"]
    )
    params = fitter.params_
    text = " ".join(f"{name}={params[name]:.6g}" for name in ("r", "alpha", "a", "b"))
    return time.perf_counter() - start, text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    table = Table()
    print(f"generating the demo shop: {args.customers:,} customers (seed {args.seed})")
    seconds, frames = timed(lambda: demo.generate_shop(args.customers, seed=args.seed))
    orders = frames["orders"]
    paid = orders.loc[orders["status"] == "paid", ["customer_id", "ordered_at", "amount"]]
    del frames
    print(f"  {len(paid):,} paid orders in {seconds:.0f} s", flush=True)
    end = pd.Timestamp(paid["ordered_at"].max()).date()
    seconds, summary = timed(lambda: purchase_summary(paid, end, check=True))
    table.add("clv", "purchase summary (pandas, from orders)", seconds, len(summary))
    fit_bg, beta_geo = timed(lambda: BetaGeoModel().fit(summary))
    table.add("clv", "BG/NBD fit", fit_bg, len(summary))
    fit_gg, gamma_gamma = timed(lambda: GammaGammaModel().fit(summary))
    table.add("clv", "Gamma-Gamma fit", fit_gg, int((summary["frequency"] > 0).sum()))
    score, scores = timed(
        lambda: customer_predictions(
            summary, beta_geo, gamma_gamma, calibration_end=end, margin=0.3, monthly_discount=0.01
        )
    )
    table.add("clv", "scoring every customer", score, len(scores))
    table.add("clv", "FIT + SCORE", fit_bg + fit_gg + score, len(scores), aim=AIM_SECONDS)
    table.note(
        "clv",
        f"peak memory {peak_memory_mb():,.0f} MB, generating the demo shop included "
        f"(aim under {AIM_MEMORY_MB:,.0f} MB for fit and scoring)",
    )
    table.note(
        "clv",
        f"bgnbd r={beta_geo.r_:.6g} alpha={beta_geo.alpha_:.6g} a={beta_geo.a_:.6g} "
        f"b={beta_geo.b_:.6g} loglik={beta_geo.log_likelihood_:.6g}",
    )
    seconds, params = lifetimes_fit(summary)
    if seconds == seconds:
        table.add("lifetimes", "BetaGeoFitter fit (same summary)", seconds, len(summary))
    table.note("lifetimes", params)
    table.print()


if __name__ == "__main__":
    main()
