"""Time what sells together at 10 million order lines and print a table.

    .venv/bin/python -m bench.bench_baskets [--lines 10000000] [--mlxtend-lines 1000000 ...]

Generates order lines with NumPy (fixed seed): baskets of 1-8 lines (mean about 2.5),
SKUs of a 20,000-SKU catalogue drawn by a Zipf-like popularity, and for the 50 best
sellers a companion SKU added to 30% of their baskets (so strong rules exist). Lines
are written to Parquet with text order ids and SKUs, as `basket_lines` returns them.
Then, each in a fresh process that reports its own peak memory:

- rules: read the lines, the basket x item matrix of the top 1,000 SKUs
  (`basket_matrix`), the rules of every pair with the revenue of their baskets
  (`pair_rules`); aim (issue 24) under 30 s and 2 GB at 10M lines. Then the page's rule
  table once the rules are computed: the Cross-sell page's filter, search and sort
  (`ui.cross_sell.filtered_rules`) over 20 settings, median and slowest; aim under 1 s.
- mlxtend, for each of `--mlxtend-lines` (the first baskets holding that many lines):
  apriori (max_len 2) + association_rules on the same top-1,000 baskets as a one-hot
  frame (dense: mlxtend's sparse input took 18 GB and 36 s at 100,000 lines), beside
  `pair_rules` on the same matrix, at the same minimum support; the two must give the
  same rules (checked, the row says so).

Timings are shown, never checked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.bench_campaigns import Table, timed
from bench.bench_churn import peak_memory_mb

SEED = 24
CATALOGUE = 20_000
TOP_ITEMS = 1_000
BEST_SELLERS = 50
COMPANION_SHARE = 0.3
AIM_RULES_SECONDS = 30.0
AIM_TABLE_SECONDS = 1.0
AIM_MEMORY_MB = 2048.0
MLXTEND_MIN_SUPPORT = 0.002


def _write_lines(lines: int, folder: Path) -> int:
    """Order lines as Parquet (order_id, item, amount: the order's amount); baskets."""
    rng = np.random.default_rng(SEED)
    baskets = int(lines / 2.5)
    sizes = np.minimum(1 + rng.poisson(1.5, baskets), 8)
    popularity = 1.0 / np.arange(1, CATALOGUE + 1) ** 0.9
    skus = rng.choice(CATALOGUE, size=int(sizes.sum()), p=popularity / popularity.sum())
    basket_of = np.repeat(np.arange(baskets), sizes)
    best = skus < BEST_SELLERS
    companion = best & (rng.random(len(skus)) < COMPANION_SHARE)
    extra_baskets = basket_of[companion]
    extra_skus = CATALOGUE - 1 - skus[companion]  # a rarely bought SKU goes with each
    basket_of = np.concatenate([basket_of, extra_baskets])
    skus = np.concatenate([skus, extra_skus])
    keep = np.arange(min(lines, len(skus)))
    order = np.argsort(basket_of, kind="stable")[keep]
    basket_of, skus = basket_of[order], skus[order]
    amounts = np.round(rng.lognormal(4.5, 0.6, baskets), 2)
    frame = pd.DataFrame(
        {
            "order_id": pd.array([f"O{n:09d}" for n in basket_of], dtype="string[pyarrow]"),
            "item": pd.array([f"SKU-{n:05d}" for n in skus], dtype="string[pyarrow]"),
            "amount": amounts[basket_of],
        }
    )
    frame.to_parquet(folder / "lines.parquet")
    return len(np.unique(basket_of))


def _measure_rules(folder: Path) -> list[dict]:
    from crm_core.customers.baskets import basket_matrix, pair_rules
    from ui.baskets import PeriodRules
    from ui.cross_sell import RuleFilters, filtered_rules

    rows = []
    read_s, lines = timed(lambda: pd.read_parquet(folder / "lines.parquet"))
    rows.append(("read the lines (Parquet)", read_s, len(lines), None))
    matrix_s, matrix = timed(lambda: basket_matrix(lines, top_items=TOP_ITEMS))
    rows.append((f"basket x item matrix, top {TOP_ITEMS:,} SKUs", matrix_s, matrix.size, None))
    rules_s, rules = timed(lambda: pair_rules(matrix))
    rows.append(("rules of every pair, with revenue", rules_s, len(rules), None))
    rows.append(("RULES (matrix + rules)", matrix_s + rules_s, len(rules), AIM_RULES_SECONDS))
    period = PeriodRules(rules, matrix.size, len(matrix.items), lines.iloc[:0])
    labels = {str(item): f"商品 {item}" for item in matrix.items}
    settings = [
        RuleFilters(support, confidence, lift, sort, search)
        for support in (0.0, 0.0001, 0.001)
        for confidence, lift, sort in ((0.0, 0.0, "lift"), (0.1, 1.0, "revenue"))
        for search in ("", "SKU-0001")
    ][:20]
    settings += [RuleFilters(0.0002, 0.05, 1.5, "baskets", "商品")] * (20 - len(settings))
    seconds = []
    shown = 0
    for filters in settings:
        took, table = timed(lambda filters=filters: filtered_rules(period, filters, labels))
        seconds.append(took)
        shown = max(shown, len(table))
    rows.append(
        (
            "rule table, median of 20 filter settings",
            statistics.median(seconds),
            shown,
            AIM_TABLE_SECONDS,
        )
    )
    rows.append(("rule table, slowest of 20", max(seconds), None, AIM_TABLE_SECONDS))
    return [dict(zip(("step", "seconds", "rows", "aim"), row, strict=True)) for row in rows]


def _mlxtend_pairs(matrix, min_support: float) -> pd.DataFrame:
    from mlxtend.frequent_patterns import apriori, association_rules

    onehot = pd.DataFrame(
        matrix.matrix.toarray().astype(bool), columns=[str(item) for item in matrix.items]
    )
    itemsets = apriori(onehot, min_support=min_support, use_colnames=True, max_len=2)
    rules = association_rules(itemsets, metric="confidence", min_threshold=0.0)
    rules = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)]
    return pd.DataFrame(
        {
            "antecedent": rules["antecedents"].map(lambda s: next(iter(s))),
            "consequent": rules["consequents"].map(lambda s: next(iter(s))),
            "support": rules["support"].to_numpy(),
            "confidence": rules["confidence"].to_numpy(),
            "lift": rules["lift"].to_numpy(),
        }
    )


def _measure_mlxtend(folder: Path, lines_wanted: int) -> list[dict]:
    from crm_core.customers.baskets import basket_matrix, pair_rules

    lines = pd.read_parquet(folder / "lines.parquet").iloc[:lines_wanted]
    last = lines["order_id"].iloc[-1]
    lines = lines[lines["order_id"] != last]  # whole baskets only
    matrix = basket_matrix(lines[["order_id", "item"]], top_items=TOP_ITEMS)
    ours_s, ours = timed(lambda: pair_rules(matrix, min_support=MLXTEND_MIN_SUPPORT))
    theirs_s, theirs = timed(lambda: _mlxtend_pairs(matrix, MLXTEND_MIN_SUPPORT))
    key = ["antecedent", "consequent"]
    a = ours.sort_values(key, ignore_index=True)[[*key, "support", "confidence", "lift"]]
    b = theirs.sort_values(key, ignore_index=True)
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9)
        same = "same rules"
    except AssertionError:
        same = "RULES DIFFER"
    size = f"{len(lines):,} lines, {matrix.size:,} baskets, min support {MLXTEND_MIN_SUPPORT:g}"
    return [
        {"step": f"pair_rules ({size})", "seconds": ours_s, "rows": len(ours), "aim": None},
        {
            "step": f"mlxtend apriori + association_rules: {same}",
            "seconds": theirs_s,
            "rows": len(theirs),
            "aim": None,
        },
    ]


def _child(part: str, folder: Path, lines: int) -> None:
    rows = _measure_rules(folder) if part == "rules" else _measure_mlxtend(folder, lines)
    print(json.dumps({"rows": rows, "peak_mb": peak_memory_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--mlxtend-lines", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--child", choices=("rules", "mlxtend"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-lines", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.folder, args.child_lines)
        return
    table = Table()
    with tempfile.TemporaryDirectory(prefix="bench-baskets-") as name:
        folder = Path(name)
        print(f"generating {args.lines:,} order lines (seed {SEED})", flush=True)
        seconds, baskets = timed(lambda: _write_lines(args.lines, folder))
        print(f"  {baskets:,} baskets written in {seconds:.0f} s", flush=True)
        parts = [("rules", 0), *(("mlxtend", n) for n in args.mlxtend_lines)]
        for part, lines in parts:
            command = [
                sys.executable, "-m", "bench.bench_baskets", "--child", part,
                "--folder", str(folder), "--child-lines", str(lines),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                table.note(part, f"failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            label = part if part == "rules" else f"mlxtend {lines:,}"
            for row in result["rows"]:
                table.add(label, row["step"], row["seconds"], row["rows"], aim=row["aim"])
            met = "met" if result["peak_mb"] < AIM_MEMORY_MB else "MISSED"
            aim = f" (aim under {AIM_MEMORY_MB:,.0f} MB: {met})" if part == "rules" else ""
            table.note(label, f"peak memory of the process {result['peak_mb']:,.0f} MB{aim}")
    table.print()


if __name__ == "__main__":
    main()
