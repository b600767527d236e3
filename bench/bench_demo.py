"""Time generating the demo shop and loading it into SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_demo [--customers 1000000] [--seed 42] [--no-postgres]

Generates the shop (crm_core.demo, fixed seed), loads it into a temporary SQLite file
and into a throwaway PostgreSQL server (Debian's postgresql package, tests/support), and
prints one table: sizes, seconds per step, rows per second of each load, peak memory
(the process's maximum resident set size) after generating and at the end.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from crm_core.demo import generate_shop, load_shop
from crm_core.store import make_engine, upgrade_to_head
from tests.support.postgres import PostgresServer, postgres_bin_dir


def peak_memory_gb() -> float:
    """Maximum resident set size of this process so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def timed_load(engine: Engine, frames: dict[str, pd.DataFrame]) -> tuple[float, dict[str, int]]:
    upgrade_to_head(engine)
    start = time.perf_counter()
    written = load_shop(engine, frames)
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-postgres", action="store_true", help="load into SQLite only")
    args = parser.parse_args()

    start = time.perf_counter()
    frames = generate_shop(args.customers, seed=args.seed)
    generate_seconds = time.perf_counter() - start
    memory_after_generate = peak_memory_gb()
    total_rows = sum(len(frame) for frame in frames.values())
    print("rows per table: " + ", ".join(f"{k} {len(v):,}" for k, v in frames.items()))

    with tempfile.TemporaryDirectory(prefix="crm-bench-demo-") as folder:
        sqlite_seconds, written = timed_load(
            make_engine(f"sqlite:///{Path(folder) / 'crm.db'}"), frames
        )
        assert sum(written.values()) == total_rows
    postgres_seconds = None
    bin_dir = postgres_bin_dir()
    if not args.no_postgres and bin_dir is not None:
        server = PostgresServer(bin_dir)
        server.start()
        try:
            postgres_seconds, written = timed_load(
                make_engine(server.create_database("bench_demo")), frames
            )
            assert sum(written.values()) == total_rows
        finally:
            server.stop()

    def rate(seconds: float | None) -> str:
        return f"{total_rows / seconds:,.0f}" if seconds else "-"

    rows = [
        ("customers", f"{len(frames['customers']):,}"),
        ("orders (incl. refunds)", f"{len(frames['orders']):,}"),
        ("all rows", f"{total_rows:,}"),
        ("generate s", f"{generate_seconds:.1f}"),
        ("load SQLite s", f"{sqlite_seconds:.1f}"),
        ("load PostgreSQL s", f"{postgres_seconds:.1f}" if postgres_seconds else "skipped"),
        ("rows/s SQLite", rate(sqlite_seconds)),
        ("rows/s PostgreSQL", rate(postgres_seconds)),
        ("peak memory after generate GB", f"{memory_after_generate:.2f}"),
        ("peak memory GB", f"{peak_memory_gb():.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value:>14}")


if __name__ == "__main__":
    main()
