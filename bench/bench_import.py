"""Time importing large order files into SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_import --rows 1000000 [10000000]
        [--backends sqlite postgresql pg-walmin]

For each size it writes an orders CSV (order_id, customer_id, ordered_at, amount, status,
channel; one customer per ten orders) made with NumPy into a temporary folder, then for
each database imports it into an empty store ("first"), imports the same file again
("re-import", every row unchanged), and imports a copy where 1% of the rows changed and
1% are new ("changed"). PostgreSQL runs in a throwaway server (Debian's postgresql
package, tests/support/postgres.py: fsync, synchronous_commit and full_page_writes off,
max_wal_size 4GB). "postgresql" keeps the server's default wal_level=replica; "pg-walmin"
is a second server set up for bulk loading as PostgreSQL's manual advises ("Populating
a Database"): wal_level=minimal, no WAL senders, so no streaming replication or WAL
archiving, and a table loaded right after its TRUNCATE goes to disk at commit instead
of through the WAL. Prints one
row per (database, rows, step):
wall seconds, CPU seconds of this Python process (on SQLite that is nearly all the work;
on PostgreSQL the server's share is not in it; on a shared machine the wall time grows
with other load, the CPU time much less), rows per second (wall), and what the import
reported. A large import leaves work to a background thread once its rows are
committed: on SQLite copying its write-ahead log into the database file
(checkpoint_in_background), on PostgreSQL building the secondary indexes
(build_in_background; reads work meanwhile, without them). "after s" is how
long the bench then waited for that thread before the next step (not part of "seconds";
the store is fully indexed after "seconds" + "after s"). "new GB" is
the memory the kernel handed out machine-wide during the import (/proc/vmstat pgalloc:
this process, the database server, the page cache of the files written; "-" off Linux).
On a virtual machine whose host takes back freed memory (free page reporting) that
memory is slow to touch, about 2.5 s per GB on the test machine, so it explains much of
the spread between runs of the same code. The CSV files are flushed to disk before the
first import, so their write-back does not slow it down.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from crm_core.auth import COMMAND_LINE
from crm_core.ingest import import_file
from crm_core.store import (
    make_engine,
    upgrade_to_head,
    wait_for_background_builds,
    wait_for_checkpoints,
)

STATUSES = np.array(["paid", "paid", "paid", "paid", "refunded", "cancelled", "unpaid"])
CHANNELS = np.array(["online", "store", "wecom"])
START_SECONDS = int(np.datetime64("2023-01-01T00:00:00", "s").astype("int64"))


def orders_table(rows: int, seed: int = 7) -> pa.Table:
    """`rows` orders with ids O1..O<rows>, about rows/10 customers over two years."""
    rng = np.random.default_rng(seed)
    customers = rng.integers(1, max(rows // 10, 10) + 1, rows)
    seconds = START_SECONDS + rng.integers(0, 2 * 365 * 86_400, rows)
    return pa.table(
        {
            "order_id": pc.binary_join_element_wise(
                "O", pa.array(np.arange(1, rows + 1)).cast(pa.string()), ""
            ),
            "customer_id": pc.binary_join_element_wise(
                "C", pa.array(customers).cast(pa.string()), ""
            ),
            "ordered_at": pa.array(seconds.astype("datetime64[s]")).cast(pa.string()),
            "amount": pa.array(np.round(rng.gamma(2.0, 80.0, rows), 2)),
            "status": pa.array(STATUSES[rng.integers(0, len(STATUSES), rows)]),
            "channel": pa.array(CHANNELS[rng.integers(0, len(CHANNELS), rows)]),
        }
    )


def changed_table(table: pa.Table, seed: int = 11) -> pa.Table:
    """The same orders with 1% of the amounts changed and 1% new orders appended."""
    rows = table.num_rows
    rng = np.random.default_rng(seed)
    amounts = table.column("amount").to_numpy().copy()
    picked = rng.choice(rows, rows // 100, replace=False)
    amounts[picked] = np.round(amounts[picked] + 1.0, 2)
    updated = table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amounts))
    extra = orders_table(rows // 100, seed=seed)
    extra = extra.set_column(
        0,
        "order_id",
        pc.binary_join_element_wise(
            "N", pa.array(np.arange(1, rows // 100 + 1)).cast(pa.string()), ""
        ),
    )
    return pa.concat_tables([updated, extra])


def write_csv(table: pa.Table, path: Path) -> Path:
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))
    return path


def allocated_bytes() -> int | None:
    """Bytes of memory the kernel has handed out since boot, machine-wide (the pgalloc_*
    counters of /proc/vmstat times the page size), or None where there is no such file."""
    try:
        with open("/proc/vmstat") as counters:
            pages = sum(
                int(value)
                for name, value in (line.split() for line in counters)
                if name.startswith("pgalloc_")
            )
    except OSError:
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def timed_import(url: str, path: Path) -> tuple[float, float, float, float | None, object]:
    """(wall seconds, this process's CPU seconds, seconds then spent waiting for its
    background work, GB of memory handed out machine-wide during the import or None, the
    import's result)."""
    engine = make_engine(url)
    try:
        before = allocated_bytes()
        start, cpu = time.perf_counter(), time.process_time()
        result = import_file(engine, path, "orders", actor=COMMAND_LINE)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        after = allocated_bytes()
        new_gb = None if before is None or after is None else (after - before) / 1e9
        waited = time.perf_counter()
        wait_for_checkpoints()
        wait_for_background_builds()
        return seconds, cpu, time.perf_counter() - waited, new_gb, result
    finally:
        engine.dispose()


SERVER_SETTINGS = {"postgresql": {}, "pg-walmin": {"wal_level": "minimal", "max_wal_senders": "0"}}
"""Settings of each PostgreSQL backend's server on top of tests/support/postgres.py's."""


def run(rows_list: list[int], backends: list[str], folder: Path) -> list[tuple]:
    """Each PostgreSQL backend gets a server of its own for each size, stopped after its
    three steps: no other database's autovacuum runs while it imports."""
    results = []
    if set(backends) & set(SERVER_SETTINGS):
        from tests.support.postgres import PostgresServer, postgres_bin_dir

        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
    for rows in rows_list:
        base = orders_table(rows)
        first_file = write_csv(base, folder / f"orders_{rows}.csv")
        changed_file = write_csv(changed_table(base), folder / f"orders_{rows}_changed.csv")
        del base
        os.sync()
        for backend in backends:
            server = None
            try:
                if backend == "sqlite":
                    url = f"sqlite:///{folder / f'bench_{rows}.db'}"
                else:
                    server = PostgresServer(bin_dir, SERVER_SETTINGS[backend])
                    server.start()
                    url = server.create_database(f"bench_{rows}")
                engine = make_engine(url)
                upgrade_to_head(engine)
                engine.dispose()
                for step, path in (
                    ("first", first_file),
                    ("re-import", first_file),
                    ("changed", changed_file),
                ):
                    seconds, cpu, after, new_gb, result = timed_import(url, path)
                    results.append((backend, rows, step, seconds, cpu, after, new_gb, result))
                    print_row(results[-1], flush=True)
            finally:
                if server is not None:
                    server.stop()
    return results


HEADER = (
    f"{'database':<11}{'rows':>12}  {'step':<10}{'seconds':>9}{'cpu s':>8}{'after s':>8}"
    f"{'new GB':>8}{'rows/s':>12}"
    f"{'inserted':>11}{'updated':>10}{'unchanged':>11}"
)


def print_row(row: tuple, flush: bool = False) -> None:
    backend, _rows, step, seconds, cpu, after, new_gb, result = row
    read = result.rows_read
    new = "-" if new_gb is None else f"{new_gb:.1f}"
    print(
        f"{backend:<11}{read:>12,}  {step:<10}{seconds:>9.1f}{cpu:>8.1f}{after:>8.1f}"
        f"{new:>8}{read / seconds:>12,.0f}"
        f"{result.inserted:>11,}{result.updated:>10,}{result.unchanged:>11,}",
        flush=flush,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=["sqlite", *SERVER_SETTINGS],
        default=["sqlite", *SERVER_SETTINGS],
    )
    args = parser.parse_args()
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="crm-bench-import-") as folder:
        run(args.rows, args.backends, Path(folder))


if __name__ == "__main__":
    main()
