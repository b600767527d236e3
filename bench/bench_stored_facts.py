"""Time the per-customer facts and tag facts a first page view needs: computed from the
orders (the old path, what every new process paid) against read back from the store
(crm_core.store.frames), each in a fresh process, as after an app restart.

    .venv/bin/python -m bench.bench_stored_facts --url sqlite:///data/crm.db [--as-of 2026-10-31]

Prints one table: step, seconds, rows, peak memory of that process, and the kept
bytes. The store must hold data; kept frames are deleted first (the run starts cold),
and those it writes stay (they are what the app reads next).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys

import pandas as pd
from sqlalchemy import delete, func, select

from crm_core.store import data_version, make_engine, models, upgrade_to_head

OVERVIEW = (
    "from crm_core.customers import overview as o; "
    "frame = [o.OVERVIEW_FRAMES[n](engine, as_of, s) for n, s in o.FIRST_VIEW_SIZES.items()][0]"
)
STORED_OVERVIEW = (
    "from crm_core.customers import overview as o; "
    "frame = [o.stored_overview(engine, n, as_of, s) for n, s in o.FIRST_VIEW_SIZES.items()][0]"
)
STEPS = {
    "compute the Overview's four frames": OVERVIEW,
    "first stored read (computes, keeps) Overview frames": STORED_OVERVIEW,
    "fresh process: stored Overview frames": STORED_OVERVIEW,
    "compute customer_features": "from crm_core.customers.features import customer_features as f; "
    "frame = f(engine, as_of)",
    "compute tag_facts": "from crm_core.customers.tags import tag_facts as f; "
    "frame = f(engine, as_of)",
    "first stored read (computes, keeps) customer_features": "from crm_core.customers.features "
    "import stored_customer_features as f; frame = f(engine, as_of)",
    "first stored read (computes, keeps) tag_facts": "from crm_core.customers.tags import "
    "stored_tag_facts as f; frame = f(engine, as_of)",
    "fresh process: stored customer_features": "from crm_core.customers.features import "
    "stored_customer_features as f; frame = f(engine, as_of)",
    "fresh process: stored tag_facts": "from crm_core.customers.tags import stored_tag_facts "
    "as f; frame = f(engine, as_of)",
}

TIMED = """
import datetime as dt, json, sys, time, resource
from crm_core.store import make_engine
engine = make_engine(sys.argv[1]); as_of = dt.date.fromisoformat(sys.argv[2])
start = time.perf_counter()
{step}
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({{"seconds": seconds, "rows": len(frame), "peak_gb": peak}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat)
    arguments = parser.parse_args()
    engine = make_engine(arguments.url)
    upgrade_to_head(engine)  # as the app does on its first start
    with engine.begin() as conn:  # start cold: the first stored reads compute
        conn.execute(delete(models.stored_frames))
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
        customers = conn.execute(select(func.count()).select_from(models.customers)).scalar()
        orders = conn.execute(select(func.count()).select_from(models.orders)).scalar()
    as_of = arguments.as_of or pd.Timestamp(latest).date()
    rows = []
    for name, step in STEPS.items():
        code = TIMED.format(step=step)
        done = subprocess.run(
            [sys.executable, "-c", code, arguments.url, as_of.isoformat()],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"step": name, **result})
    with engine.connect() as conn:
        kept = conn.execute(
            select(models.stored_frames.c.name, func.length(models.stored_frames.c.content))
        ).all()
    table = pd.DataFrame(rows)
    print(f"{customers:,} customers, {orders:,} orders, as of {as_of}, data version "
          f"{data_version(engine)}, {engine.url.get_backend_name()}")  # fmt: skip
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print("kept:", ", ".join(f"{name} {size / 1e6:,.1f} MB" for name, size in kept))


if __name__ == "__main__":
    main()
