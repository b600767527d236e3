"""Time the RFM explorer at scale and print tables.

    .venv/bin/python -m bench.bench_rfm --customers 1000000 --postgres
    .venv/bin/python -m bench.bench_rfm --customers 100000 --moves 20
    .venv/bin/python -m bench.bench_rfm --customers 1000000 \
        --sqlite-url sqlite:///big.db --postgres-url postgresql://...   (stores already loaded)

Generates the demo shop (crm_core.demo, fixed seed; about 10 orders per customer) and
loads it into a temporary SQLite file and, with --postgres, into a throwaway PostgreSQL
server (tests/support/postgres.py). The as-of date is the shop's last day. Measures:

1. facts: `customer_features` (grouped SQL statements) on SQLite and PostgreSQL, beside a
   pandas groupby computing the order facts from the same orders already in memory;
2. one slider move for all scored customers (re-score + assign segments + R x F grid +
   segment table) with the explorer's code, median and 90th percentile over --moves
   moves, beside the usual pandas idiom (qcut per column, np.select with string labels,
   groupby) and the tutorial idiom (regex replace on score strings);
3. the page's peak memory: a fresh process that loads the facts of two as-of dates (the
   current one and 90 days before, as the page does), prepares them and runs the
   slider moves and migration flows; its peak resident set size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from crm_core import demo
from crm_core.customers.features import customer_features
from crm_core.customers.rfm import Scoring, prepare_facts, quantile_cuts
from crm_core.customers.segments import (
    align_customers,
    aligned_codes,
    customer_codes,
    evaluate_scheme,
    migration_flows,
    migration_labels,
    preset,
    rf_grid,
    segment_table,
)
from crm_core.store import make_engine, upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
SEED = 42
EARLIER_DAYS = 90

RFM11_CELLS = {
    "champions": [55, 54, 45],
    "loyal": [53, 44, 35, 34],
    "potential_loyalist": [52, 42, 43, 33],
    "new_customers": [51],
    "promising": [41, 31],
    "need_attention": [32, 23, 22],
    "about_to_sleep": [21],
    "at_risk": [25, 24, 13],
    "cant_lose": [15, 14],
    "hibernating": [12],
}
RFM10_REGEX = {
    r"[1-2][1-2]": "hibernating",
    r"[1-2][3-4]": "at_risk",
    r"[1-2]5": "cant_lose",
    r"3[1-2]": "about_to_sleep",
    r"33": "need_attention",
    r"[3-4][4-5]": "loyal",
    r"41": "promising",
    r"51": "new_customers",
    r"[4-5][2-3]": "potential_loyalist",
    r"5[4-5]": "champions",
}


def timed(step: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB: VmHWM from /proc (getrusage's
    ru_maxrss would carry the parent's peak over into a child started by exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------- facts


def pandas_order_facts(orders: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The order facts of customer_features computed with a pandas groupby over the
    orders in memory (the comparison for the SQL aggregation)."""
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    start_12m = end - pd.Timedelta(days=365)
    known = orders.loc[orders["ordered_at"] < end]
    paid = known.loc[known["status"] == "paid"]
    recent = paid["ordered_at"] >= start_12m
    facts = (
        paid.assign(spend_12m=paid["amount"].where(recent, 0.0), orders_12m=recent.astype(np.int64))
        .groupby("customer_id", sort=True)
        .agg(
            frequency=("amount", "size"),
            purchase_amount=("amount", "sum"),
            first_purchase_at=("ordered_at", "min"),
            last_purchase_at=("ordered_at", "max"),
            spend_12m=("spend_12m", "sum"),
            orders_12m=("orders_12m", "sum"),
        )
    )
    refunds = (
        known.loc[known["status"] == "refunded"]
        .groupby("customer_id")["amount"]
        .agg(["sum", "size"])
    )
    facts = facts.join(refunds.rename(columns={"sum": "refunds", "size": "refund_count"}))
    facts["monetary"] = facts["purchase_amount"] - facts["refunds"].fillna(0.0)
    facts["recency_days"] = (pd.Timestamp(as_of) - facts["last_purchase_at"].dt.normalize()).dt.days
    return facts


# --------------------------------------------------------------- slider moves


def move_cuts(quantiles: dict[str, tuple[float, ...]], step: int) -> dict[str, list[float]]:
    """The cut-points after the user dragged R c1 (and, every other move, M c2)."""
    r = list(quantiles["r"])
    r[0] = max(0.0, r[0] + 3 * (step - 10))
    r = sorted(r)
    m = list(quantiles["m"])
    if step % 2:
        m[1] = m[1] * (0.8 + 0.02 * step)
        m = sorted(m)
    return {"r": r, "f": list(quantiles["f"]), "m": m}


def explorer_move(facts, scheme, cuts) -> tuple:
    """What the page does on a slider move: re-score, assign, grid, segment table."""
    result = evaluate_scheme(facts, scheme.with_scoring(Scoring(mode="fixed", cuts=cuts)))
    return result, rf_grid(facts, result.scores), segment_table(facts, result)


def page_move(facts, before, positions, saved, saved_codes, quantiles, step) -> tuple:
    """A slider move with everything the page's fragment computes from data: the
    explorer move plus the flows against the saved scheme and from the earlier date."""
    result, grid, table = explorer_move(facts, saved, move_cuts(quantiles, step))
    names = migration_labels(saved)
    after = customer_codes(facts, result)
    monetary = facts.features["monetary"].to_numpy(dtype=np.float64)
    against_saved = migration_flows(saved_codes, names, after, names, monetary, monetary)
    earlier = evaluate_scheme(before, result.scheme)
    codes = aligned_codes(customer_codes(before, earlier), positions, len(names) - 1)
    over_time = migration_flows(codes, names, after, names, None, monetary)
    return grid, table, against_saved, over_time


def naive_pandas_move(frame: pd.DataFrame) -> pd.DataFrame:
    """The usual idiom: qcut per column on ranks, np.select with string labels, groupby."""
    scored = frame.loc[
        frame["frequency"] > 0, ["customer_id", "recency_days", "frequency", "monetary"]
    ]
    r = pd.qcut(scored["recency_days"].rank(method="first"), 5, labels=[5, 4, 3, 2, 1])
    f = pd.qcut(scored["frequency"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    m = pd.qcut(scored["monetary"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    r, f, m = (s.astype(int) for s in (r, f, m))
    cell = 10 * r + (f + m + 1) // 2
    conditions = [cell.isin(cells) for cells in RFM11_CELLS.values()]
    segment = np.select(conditions, list(RFM11_CELLS), default="lost")
    scored = scored.assign(r_score=r, f_score=f, m_score=m, segment=segment)
    pd.crosstab(scored["r_score"], scored["f_score"])
    return scored.groupby("segment").agg(
        customers=("customer_id", "size"),
        revenue=("monetary", "sum"),
        avg_r=("r_score", "mean"),
        avg_f=("f_score", "mean"),
        avg_m=("m_score", "mean"),
        avg_recency=("recency_days", "mean"),
        avg_frequency=("frequency", "mean"),
        avg_monetary=("monetary", "mean"),
    )


def regex_move(frame: pd.DataFrame) -> pd.DataFrame:
    """The tutorial idiom: scores as strings, segments by regex replace (RFM 10)."""
    scored = frame.loc[
        frame["frequency"] > 0, ["customer_id", "recency_days", "frequency", "monetary"]
    ]
    r = pd.qcut(scored["recency_days"].rank(method="first"), 5, labels=[5, 4, 3, 2, 1])
    f = pd.qcut(scored["frequency"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    segment = (r.astype(str) + f.astype(str)).replace(RFM10_REGEX, regex=True)
    return (
        scored.assign(segment=segment)
        .groupby("segment")
        .agg(customers=("customer_id", "size"), revenue=("monetary", "sum"))
    )


def median_ms(timings: list[float]) -> str:
    return f"{statistics.median(timings) * 1000:,.0f} ms"


def p90_ms(timings: list[float]) -> str:
    return f"{np.quantile(timings, 0.9) * 1000:,.0f} ms"


# ------------------------------------------------------------------ page memory


def page_memory(url: str, as_of: dt.date, moves: int) -> None:
    """Child process: what the page holds and does; prints its peak RSS in MB."""
    engine = make_engine(url)
    earlier = as_of - dt.timedelta(days=EARLIER_DAYS)
    facts = prepare_facts(customer_features(engine, as_of))
    before = prepare_facts(customer_features(engine, earlier))
    positions = align_customers(before.features["customer_id"], facts.features["customer_id"])
    scheme = preset("rfm11")
    names = migration_labels(scheme)
    quantiles = quantile_cuts(facts)
    for step in range(moves):
        result, _grid, _table = explorer_move(facts, scheme, move_cuts(quantiles, step))
        earlier_result = evaluate_scheme(before, result.scheme)
        codes = aligned_codes(customer_codes(before, earlier_result), positions, len(names) - 1)
        migration_flows(codes, names, customer_codes(facts, result), names)
    print(f"{peak_rss_mb():.0f}")


def measure_page_memory(url: str, as_of: dt.date, moves: int) -> float:
    reply = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_rfm",
            "--page-memory",
            url,
            "--as-of",
            as_of.isoformat(),
            "--moves",
            str(moves),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(reply.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------ main


def load_store(url: str, frames: dict[str, pd.DataFrame]) -> tuple[Engine, float]:
    """Load the shop; PostgreSQL is then vacuumed and analysed as autovacuum would do
    soon after a bulk load (SQLite stores keep no statistics unless someone asks)."""
    engine = make_engine(url)
    upgrade_to_head(engine)
    seconds, _ = timed(lambda: demo.load_shop(engine, frames))
    if engine.dialect.name == "postgresql":
        vacuum_analyze(engine)
    return engine, seconds


def vacuum_analyze(engine: Engine) -> None:
    """What autovacuum does shortly after a bulk load: planner statistics and the
    visibility map (without it PostgreSQL avoids index-only scans of orders)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def same_facts(one: pd.DataFrame, other: pd.DataFrame) -> str:
    same = (
        one["customer_id"].equals(other["customer_id"])
        and np.array_equal(one["frequency"].to_numpy(), other["frequency"].to_numpy())
        and np.allclose(one["monetary"].to_numpy(), other["monetary"].to_numpy())
        and np.array_equal(
            one["recency_days"].to_numpy(), other["recency_days"].to_numpy(), equal_nan=True
        )
    )
    return "yes" if same else "NO"


def facts_rows(label: str, engine: Engine, as_of: dt.date, repeat: int) -> tuple[list, object]:
    timings = []
    frame = None
    for _ in range(repeat):
        seconds, frame = timed(lambda: customer_features(engine, as_of))
        timings.append(seconds)
    return [(f"facts: customer_features on {label}", f"{min(timings):.1f} s")], frame


def run(args: argparse.Namespace) -> None:
    rows: list[tuple[str, str]] = []
    print(f"generating the demo shop: {args.customers:,} customers (seed {SEED})", flush=True)
    seconds, frames = timed(lambda: demo.generate_shop(args.customers, seed=SEED))
    orders = frames["orders"]
    as_of = orders["ordered_at"].max().date()
    print(f"  {len(orders):,} orders, as_of {as_of}, {seconds:.0f} s", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-rfm-"))
    if args.sqlite_url:
        sqlite_url = args.sqlite_url
        engine = make_engine(sqlite_url)
        print(f"  using the SQLite store {sqlite_url}", flush=True)
    else:
        sqlite_url = f"sqlite:///{folder / 'crm.db'}"
        engine, seconds = load_store(sqlite_url, frames)
        print(f"  loaded into SQLite in {seconds:.0f} s", flush=True)
    facts_sqlite, features = facts_rows("SQLite", engine, as_of, args.repeat)
    rows += facts_sqlite
    print(f"  {facts_sqlite[0][0]}: {facts_sqlite[0][1]}", flush=True)
    if args.postgres_url:
        pg_engine = make_engine(args.postgres_url)
        vacuum_analyze(pg_engine)
        facts_pg, pg_features = facts_rows("PostgreSQL", pg_engine, as_of, args.repeat)
        rows += [*facts_pg, ("  same facts on both databases", same_facts(pg_features, features))]
        pg_engine.dispose()
    elif args.postgres:
        from tests.support.postgres import PostgresServer, postgres_bin_dir

        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            rows.append(("facts: customer_features on PostgreSQL", "no server binaries"))
        else:
            server = PostgresServer(bin_dir)
            server.start()
            try:
                pg_engine, seconds = load_store(server.create_database("bench_rfm"), frames)
                print(f"  loaded into PostgreSQL in {seconds:.0f} s", flush=True)
                facts_pg, pg_features = facts_rows("PostgreSQL", pg_engine, as_of, args.repeat)
                rows += facts_pg
                print(f"  {facts_pg[0][0]}: {facts_pg[0][1]}", flush=True)
                rows.append(("  same facts on both databases", same_facts(pg_features, features)))
                pg_engine.dispose()
            finally:
                server.stop()
    start = time.perf_counter()
    pandas_order_facts(orders, as_of)
    rows.append(
        ("facts: pandas groupby over the orders in memory", f"{time.perf_counter() - start:.1f} s")
    )
    frames.clear()

    seconds, facts = timed(lambda: prepare_facts(features))
    rows.append(("prepare facts once per load (index R, F, M)", f"{seconds * 1000:,.0f} ms"))
    rows.append(("scored customers", f"{facts.scored_count:,}"))
    quantiles = quantile_cuts(facts)
    for name in ("rfm11", "rfm10", "lifecycle", "behaviour"):
        scheme = preset(name)
        explorer_move(facts, scheme, move_cuts(quantiles, 0))
        timings = [
            timed(
                lambda step=step, scheme=scheme: explorer_move(
                    facts, scheme, move_cuts(quantiles, step)
                )
            )[0]
            for step in range(args.moves)
        ]
        rows.append(
            (
                f"slider move, explorer, {name} (median / p90 of {args.moves})",
                f"{median_ms(timings)} / {p90_ms(timings)}",
            )
        )
        print(f"  {rows[-1][0]}: {rows[-1][1]}", flush=True)
    before = prepare_facts(customer_features(engine, as_of - dt.timedelta(days=EARLIER_DAYS)))
    positions = align_customers(before.features["customer_id"], facts.features["customer_id"])
    saved = preset("rfm11")
    saved_codes = customer_codes(facts, evaluate_scheme(facts, saved))
    timings = [
        timed(
            lambda step=step: page_move(
                facts, before, positions, saved, saved_codes, quantiles, step
            )
        )[0]
        for step in range(args.moves)
    ]
    rows.append(
        (
            f"slider move as the page does it, rfm11 (median / p90 of {args.moves})",
            f"{median_ms(timings)} / {p90_ms(timings)}",
        )
    )
    rows.append(("  (adds 'what moves' vs saved and migration from 90 days before)", ""))
    naive = [timed(lambda: naive_pandas_move(features))[0] for _ in range(args.naive_repeat)]
    rows.append(
        (f"slider move, qcut + np.select + groupby (median of {len(naive)})", median_ms(naive))
    )
    regex = [timed(lambda: regex_move(features))[0] for _ in range(args.regex_repeat)]
    rows.append((f"slider move, regex on score strings (median of {len(regex)})", median_ms(regex)))
    rows.append(("bench process peak memory (includes generation)", f"{peak_rss_mb():,.0f} MB"))
    rows.append(
        (
            "page peak memory (facts of 2 dates + moves + migration)",
            f"{measure_page_memory(sqlite_url, as_of, args.moves):,.0f} MB",
        )
    )
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)

    width = max(len(label) for label, _ in rows)
    print(f"\n{args.customers:,} customers, as_of {as_of}")
    print(f"{'measure':<{width}}  value")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also measure PostgreSQL")
    parser.add_argument(
        "--sqlite-url", help="measure this SQLite store (holding the same demo shop) instead"
    )
    parser.add_argument(
        "--postgres-url", help="measure this PostgreSQL store (same demo shop) instead"
    )
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="facts runs (best is shown)")
    parser.add_argument("--naive-repeat", type=int, default=5)
    parser.add_argument("--regex-repeat", type=int, default=3)
    parser.add_argument("--page-memory", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.page_memory:
        page_memory(args.page_memory, args.as_of, args.moves)
        return
    run(args)


if __name__ == "__main__":
    main()
