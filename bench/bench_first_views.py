"""Time each page's first view in a fresh process (as after an app restart), through
the real app (app.py in Streamlit's AppTest: router, sidebar, page), then one rerun.

    .venv/bin/python -m bench.bench_first_views --url sqlite:///data/crm.db \\
        [--pages overview rfm audiences campaigns]

Run `python -m crm_core import ...` (or `bench_stored_facts`) first for the figures
after an import that prepared the first views. Prints one table: page, first view
seconds, rerun seconds, exceptions, tiles shown; then the process's peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCH_USER = "bench-analyst"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pages", nargs="+", default=["overview", "rfm", "audiences"])
    arguments = parser.parse_args()
    os.environ["DATABASE_URL"] = arguments.url
    os.environ["CRM_DEMO_IF_EMPTY"] = "0"
    os.environ.setdefault("CRM_SESSION_SECRET", "bench-only-secret-not-for-use-0123456789")
    from streamlit.testing.v1 import AppTest

    from crm_core.auth import COMMAND_LINE, create_user, generate_password, get_active_user
    from crm_core.store import make_engine
    from ui.context import KEY_USER

    engine = make_engine(arguments.url)
    user = get_active_user(engine, BENCH_USER) or create_user(
        engine, BENCH_USER, generate_password(), "analyst", actor=COMMAND_LINE
    )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.session_state[KEY_USER] = user
    rows = []
    for page in arguments.pages:
        start = time.perf_counter()
        if page == "overview":
            at.run()
        else:
            at.switch_page(f"views/{page}.py").run()
        first = time.perf_counter() - start
        start = time.perf_counter()
        at.run()
        rows.append(
            {
                "page": page,
                "first view s": first,
                "rerun s": time.perf_counter() - start,
                "exceptions": len(at.exception),
                "tiles": len(at.metric),
            }
        )
    print(arguments.url)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak memory of the process: {peak:.2f} GB")


if __name__ == "__main__":
    main()
