"""Time masking and formula neutralisation on a download-sized customer list.

    .venv/bin/python -m bench.bench_privacy [--rows 100000 1000000] [--repeat 3]

Prints one row per (rows, step): the best of `repeat` runs in seconds and rows per second.
The frame mixes phone formats (plain mobiles, +86, landlines, missing), e-mails and names
of which 1% start with a formula trigger.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from crm_core.auth import Actor
from crm_core.outreach.privacy import mask_personal_columns, neutralise_formula

ADMIN = Actor("bench-admin", "admin")
ANALYST = Actor("bench-analyst", "analyst")


def customer_list(rows: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic target list with `rows` customers."""
    rng = np.random.default_rng(seed)
    mobiles = (13_000_000_000 + rng.integers(0, 6_999_999_999, rows)).astype(str)
    phones = pd.Series(mobiles, dtype=object)
    kind = rng.random(rows)
    phones[kind < 0.10] = "+86 " + phones[kind < 0.10]
    phones[(kind >= 0.10) & (kind < 0.15)] = "021-62345678"
    phones[kind >= 0.97] = None
    emails = pd.Series([f"user{i}@example.com" for i in range(rows)], dtype=object)
    emails[rng.random(rows) < 0.2] = None
    names = pd.Series([f"客户{i}" for i in range(rows)], dtype=object)
    names[rng.random(rows) < 0.01] = '=HYPERLINK("http://x","y")'
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:08d}" for i in range(rows)],
            "name": names.astype("str"),
            "phone": phones.astype("str"),
            "email": emails.astype("str"),
            "recency_days": rng.integers(0, 1000, rows),
            "monetary": rng.normal(500, 300, rows).round(2),
        }
    )


def best_of(repeat: int, step) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'rows':>10}  {'step':<36}  {'seconds':>8}  {'rows/s':>12}")
    for rows in args.rows:
        frame = customer_list(rows)
        masked = mask_personal_columns(frame, ANALYST)
        steps = {
            "mask phone+email (analyst)": lambda f=frame: mask_personal_columns(f, ANALYST),
            "no masking (admin, copy only)": lambda f=frame: mask_personal_columns(f, ADMIN),
            "neutralise formulas (6 columns)": lambda f=masked: neutralise_formula(f),
        }
        for name, step in steps.items():
            seconds = best_of(args.repeat, step)
            print(f"{rows:>10,}  {name:<36}  {seconds:>8.3f}  {rows / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
