"""Time the Overview's queries on a large store.

    .venv/bin/python -m bench.bench_overview --url sqlite:///data/big.db [--repeat 2]
    .venv/bin/python -m bench.bench_overview --customers 1000000 [--postgres]

With --url it measures an existing store; otherwise it generates the demo shop
(crm_core.demo, fixed seed) into a temporary SQLite file and, with --postgres, also into
a throwaway PostgreSQL server (Debian's postgresql package). The as-of date is the
newest order date. Prints one row per (database, step): the best of `repeat` runs in
seconds (wall clock, and the CPU time of this process: all of SQLite's work, only the
client's share for PostgreSQL; on a shared machine the CPU time is the steadier figure)
and the number of rows the step returned (aggregates only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select

from crm_core.customers import overview
from crm_core.store import make_engine, models, upgrade_to_head


def best_of(repeat: int, step: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result) of the fastest of `repeat` runs."""
    runs = []
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = step()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall, cpu = min(runs)
    return wall, cpu, result


def store_size(engine: Engine) -> tuple[int, int, dt.date]:
    with engine.connect() as conn:
        customers = conn.execute(select(func.count()).select_from(models.customers)).scalar()
        orders = conn.execute(select(func.count()).select_from(models.orders)).scalar()
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    if isinstance(latest, str):
        latest = dt.datetime.fromisoformat(latest)
    return int(customers), int(orders), latest.date()


def steps(engine: Engine, as_of: dt.date) -> list[tuple[str, Callable[[], object]]]:
    return [
        *[
            (f"kpis period={days}d", lambda days=days: overview.kpis(engine, as_of, days))
            for days in (30, 90, 365)
        ],
        ("monthly_revenue 24 months", lambda: overview.monthly_revenue(engine, as_of, 24)),
        (
            "new_vs_returning_by_month 24 months",
            lambda: overview.new_vs_returning_by_month(engine, as_of, 24),
        ),
        ("cohort_retention 12 months", lambda: overview.cohort_retention(engine, as_of, 12)),
    ]


def measure(label: str, engine: Engine, repeat: int) -> None:
    customers, orders, as_of = store_size(engine)
    print(f"\n{label}: {customers:,} customers, {orders:,} orders, as_of {as_of}")
    print(f"{'step':<38}  {'seconds':>8}  {'cpu s':>7}  {'rows':>6}")
    for name, step in steps(engine, as_of):
        seconds, cpu, result = best_of(repeat, step)
        print(f"{name:<38}  {seconds:>8.2f}  {cpu:>7.2f}  {len(result):>6}", flush=True)


def generated_store(url: str, customers: int, seed: int) -> Engine:
    from crm_core import demo

    engine = make_engine(url)
    upgrade_to_head(engine)
    start = time.perf_counter()
    demo.load_demo_shop(engine, customers=customers, seed=seed)
    print(f"generated and loaded {customers:,} customers in {time.perf_counter() - start:.0f} s")
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="an existing store to measure")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", action="store_true", help="also measure PostgreSQL")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.url:
        engine = make_engine(args.url)
        measure(engine.dialect.name, engine, args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as folder:
        engine = generated_store(f"sqlite:///{Path(folder) / 'crm.db'}", args.customers, args.seed)
        measure("sqlite", engine, args.repeat)
        engine.dispose()
    if args.postgres:
        from tests.support.postgres import PostgresServer, postgres_bin_dir

        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
        server = PostgresServer(bin_dir)
        server.start()
        try:
            engine = generated_store(server.create_database("crm_bench"), args.customers, args.seed)
            measure("postgresql", engine, args.repeat)
            engine.dispose()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
