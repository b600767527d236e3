"""Time campaign results on a large store, beside a plain pandas merge, and print a table.

    .venv/bin/python -m bench.bench_campaigns [--customers 1000000] [--repeat 2]
    .venv/bin/python -m bench.bench_campaigns --no-postgres --customers 20000
    .venv/bin/python -m bench.bench_campaigns \
        --sqlite-url sqlite:////path/big.db --postgres-url postgresql+psycopg://...
    .venv/bin/python -m bench.bench_campaigns --url sqlite:////path/big.db   (one store)

Generates the demo shop (crm_core.demo, fixed seed; about 2.5 touches and 10 orders per
customer, 47 campaigns with A/B variants and a 10 or 20 % holdout) and loads it into a
temporary SQLite file and into a throwaway PostgreSQL server (tests/support/postgres.py;
vacuumed and analysed after the load, as autovacuum would soon do), unless
--sqlite-url / --postgres-url / --url name stores already holding a demo shop. The
as-of date is the newest order's day. Per database:

1. the campaign list, `campaign_summary` (aim: under 3 s). It keeps its aggregates in
   the store per data version, as-of date and windows (`stored_aggregates`; the app
   computes them on a thread after new data): the bench first deletes the kept ones, so
   "cold s" computes them (a first view before that thread is done) and "best s" reads
   them; `arm_totals` and `attributed_revenue` over all campaigns (the computation) are
   also timed alone. With --url / --sqlite-url / --postgres-url this rewrites the kept
   aggregates of that store;
2. one campaign's report, `campaign_report`, for the largest campaign and for the one
   whose recipient count is nearest --recipients (aim: under 1 s at 100,000). When no
   campaign has within 20 % of that many recipients, the bench adds one to the store
   (campaign BENCH-100K: 90 % variant A sent 10 hours after its start, 10 % control),
   and says so;
3. `arm_results` (the table of `python -m crm_core campaigns`, from the kept aggregates),
   `campaign_recipients` and the report with its recipients already read (as the page
   calls it: it caches them) alone;
4. a plain pandas merge beside them: the touches, campaigns and paid orders read with
   pd.read_sql (only the columns needed), touches merged with orders on customer_id,
   orders in [reference time, + window) kept, grouped by campaign and arm; the read and
   the computation timed apart. It must give the same recipients, converters and
   revenue per campaign and arm as arm_results and as each report ("same figures").

"cold s" is the first call in this process, "best s" the best of --repeat more calls
(wall clock; for PostgreSQL the server's work is in it). Timings are shown, never checked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from crm_core import asof, demo
from crm_core.outreach.campaigns import (
    AGGREGATES_KEY,
    CONTROL,
    arm_results,
    arm_totals,
    attributed_revenue,
    campaign_recipients,
    campaign_report,
    campaign_summary,
    campaign_windows,
    window_of,
)
from crm_core.store import (
    bulk_insert,
    bump_data_version,
    make_engine,
    models,
    upgrade_to_head,
    wait_for_background_builds,
    wait_for_checkpoints,
)
from crm_core.store.settings import delete_setting

SEED = 42
BENCH_CAMPAIGN = "BENCH-100K"
LIST_AIM = 3.0
REPORT_AIM = 1.0
NEAR = 0.2  # a demo campaign within 20 % of --recipients is used as it is


def timed(step: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def timed_cpu(step: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return time.perf_counter() - wall, time.process_time() - cpu, result


@dataclass
class Table:
    """The measured rows (backend, step, cold s, best s, cpu s, rows, aim, met) and, per
    backend, lines about its store and the figures' checks."""

    rows: list[dict[str, str]] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(
        self,
        backend: str,
        step: str,
        best: float,
        rows: int | None = None,
        cold: float | None = None,
        aim: float | None = None,
        cpu: float | None = None,
    ) -> None:
        row = {
            "backend": backend,
            "step": step,
            "cold s": "" if cold is None else f"{cold:.2f}",
            "best s": f"{best:.2f}",
            "cpu s": "" if cpu is None else f"{cpu:.2f}",
            "rows": "" if rows is None else f"{rows:,}",
            "aim": "" if aim is None else f"< {aim:g} s",
            "met": met(aim, best, cold),
        }
        self.rows.append(row)
        print("  " + "  ".join(v for v in row.values() if v), flush=True)

    def note(self, backend: str, line: str) -> None:
        self.notes.setdefault(backend, []).append(line)
        print(f"  {backend}: {line}", flush=True)

    def print(self) -> None:
        frame = pd.DataFrame(self.rows)
        widths = {c: max(len(c), frame[c].str.len().max()) for c in frame.columns}
        left = ("backend", "step")
        print()
        print("  ".join(c.ljust(w) if c in left else c.rjust(w) for c, w in widths.items()))
        for row in self.rows:
            print(
                "  ".join(
                    row[c].ljust(w) if c in left else row[c].rjust(w) for c, w in widths.items()
                ).rstrip()
            )
        for backend, lines in self.notes.items():
            print()
            for line in lines:
                print(f"{backend}: {line}")


@dataclass
class Timing:
    cold: float  # the first call's wall seconds
    best: float  # the best of the further calls (the first when there are none)
    cpu: float  # this process's CPU seconds in that best call
    result: object


def met(aim: float | None, best: float, cold: float | None) -> str:
    """Whether the best call met the aim, and when the cold one did not, that too."""
    if aim is None:
        return ""
    verdict = "yes" if best < aim else "NO"
    return f"{verdict}, cold NO" if cold is not None and cold >= aim else verdict


def forget_aggregates(engine: Engine) -> None:
    """Delete the campaign aggregates kept in the store, so the next list computes them."""
    with engine.begin() as conn:
        delete_setting(conn, AGGREGATES_KEY)


def cold_and_best(repeat: int, step: Callable[[], object]) -> Timing:
    """The first call, then `repeat` more; the fastest of those is `best`."""
    cold, cpu, result = timed_cpu(step)
    runs = [timed_cpu(step)[:2] for _ in range(repeat)] or [(cold, cpu)]
    best, best_cpu = min(runs)
    return Timing(cold, best, best_cpu, result)


# ------------------------------------------------------------------- stores


def load_store(url: str, frames: dict[str, pd.DataFrame]) -> tuple[Engine, float]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    seconds, _ = timed(lambda: demo.load_shop(engine, frames))
    seconds += timed(lambda: (wait_for_background_builds(), wait_for_checkpoints()))[0]
    if engine.dialect.name == "postgresql":
        vacuum_analyze(engine)
    return engine, seconds


def vacuum_analyze(engine: Engine) -> None:
    """What autovacuum does shortly after a bulk load: planner statistics and the
    visibility map (without it PostgreSQL avoids index-only scans)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def store_size(engine: Engine) -> tuple[int, int, int, int, dt.date]:
    """customers, orders, campaigns, touches, as-of date (the newest order's day)."""
    with engine.connect() as conn:
        counts = [
            int(conn.execute(select(func.count()).select_from(table)).scalar())
            for table in (
                models.customers,
                models.orders,
                models.campaigns,
                models.campaign_touches,
            )
        ]
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    if isinstance(latest, str):
        latest = dt.datetime.fromisoformat(latest)
    return (*counts, latest.date())


def recipient_counts(engine: Engine) -> pd.Series:
    ct = models.campaign_touches
    statement = select(ct.c.campaign_id, func.count()).group_by(ct.c.campaign_id)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return pd.Series(dict(rows), dtype=np.int64).sort_values()


def add_bench_campaign(engine: Engine, recipients: int, as_of: dt.date, seed: int) -> None:
    """Campaign BENCH_CAMPAIGN with `recipients` random customers (at most all): 90 %
    variant A sent 10 hours after its start, 10 % control (never sent). It starts 30
    days before the as-of date, so its 7-day window is complete."""
    cu = models.customers
    with engine.connect() as conn:
        ids = pd.Series(conn.execute(select(cu.c.customer_id)).scalars().all(), dtype=object)
    rng = np.random.default_rng(seed)
    chosen = ids.iloc[np.sort(rng.choice(len(ids), min(recipients, len(ids)), replace=False))]
    started = pd.Timestamp(as_of) - pd.Timedelta(days=30)
    control = rng.random(len(chosen)) < 0.10
    campaign = pd.DataFrame(
        {
            "campaign_id": [BENCH_CAMPAIGN],
            "name": ["bench: 100k recipients"],
            "channel": ["sms"],
            "started_at": [started],
            "ended_at": [started + pd.Timedelta(days=10)],
            "cost": [5000.0],
        }
    )
    touches = pd.DataFrame(
        {
            "campaign_id": BENCH_CAMPAIGN,
            "customer_id": chosen.to_numpy(),
            "variant": np.where(control, CONTROL, "A"),
            "is_control": control,
            "sent_at": pd.Series(started + pd.Timedelta(hours=10), index=range(len(chosen))).where(
                ~control
            ),
        }
    )
    with engine.begin() as conn:
        bulk_insert(conn, models.campaigns, campaign)
        bulk_insert(conn, models.campaign_touches, touches)
        bump_data_version(conn)
    if engine.dialect.name == "postgresql":
        vacuum_analyze(engine)


def measured_campaigns(
    engine: Engine, as_of: dt.date, target: int, seed: int
) -> tuple[str, str, pd.Series, str]:
    """(largest campaign, the one nearest `target` recipients, recipients per campaign,
    how the second was found)."""
    counts = recipient_counts(engine)
    nearest = (counts - target).abs().idxmin()
    how = f"the demo campaign nearest {target:,} recipients"
    if BENCH_CAMPAIGN in counts.index:
        nearest, how = BENCH_CAMPAIGN, f"{BENCH_CAMPAIGN}, added to this store by an earlier run"
    elif abs(counts[nearest] - target) > NEAR * target:
        add_bench_campaign(engine, target, as_of, seed)
        counts = recipient_counts(engine)
        nearest = BENCH_CAMPAIGN
        how = (
            f"{BENCH_CAMPAIGN}, added by the bench (no demo campaign within {NEAR:.0%} of "
            f"{target:,}; 90 % variant A, 10 % control)"
        )
    return str(counts.idxmax()), str(nearest), counts, how


# --------------------------------------------------------- pandas baseline


def read_orders(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    od = models.orders
    statement = select(od.c.customer_id, od.c.ordered_at, od.c.amount).where(
        od.c.status == "paid", od.c.ordered_at < asof.end_of(as_of)
    )
    orders = pd.read_sql(statement, engine)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    orders["amount"] = orders["amount"].astype(float)
    return orders


def read_touches(engine: Engine, campaign_id: str | None = None) -> pd.DataFrame:
    ct, cp = models.campaign_touches, models.campaigns
    touches = select(
        ct.c.campaign_id, ct.c.customer_id, ct.c.variant, ct.c.is_control, ct.c.sent_at
    )
    campaigns = select(cp.c.campaign_id, cp.c.started_at)
    if campaign_id is not None:
        touches = touches.where(ct.c.campaign_id == campaign_id)
        campaigns = campaigns.where(cp.c.campaign_id == campaign_id)
    frame = pd.read_sql(touches, engine).merge(pd.read_sql(campaigns, engine), on="campaign_id")
    for name in ("sent_at", "started_at"):
        frame[name] = pd.to_datetime(frame[name])
    frame["is_control"] = frame["is_control"].astype(bool)
    return frame


def pandas_arms(
    touches: pd.DataFrame, orders: pd.DataFrame, windows: dict[str, int]
) -> pd.DataFrame:
    """recipients, converters, revenue per campaign and arm: the merge, the window
    filter and two groupbys."""
    touches = touches.assign(
        touch=np.arange(len(touches)),
        arm=np.where(touches["is_control"], CONTROL, touches["variant"]),
        reference=touches["sent_at"].fillna(touches["started_at"]),
    )
    touches["end"] = touches["reference"] + pd.to_timedelta(
        touches["campaign_id"].map(windows).fillna(7), unit="D"
    )
    merged = touches[["touch", "customer_id", "reference", "end"]].merge(orders, on="customer_id")
    inside = merged.loc[
        (merged["ordered_at"] >= merged["reference"]) & (merged["ordered_at"] < merged["end"])
    ]
    per_touch = inside.groupby("touch")["amount"].sum()
    touches["converted"] = touches["touch"].isin(per_touch.index)
    touches["revenue"] = touches["touch"].map(per_touch).fillna(0.0)
    return (
        touches.groupby(["campaign_id", "arm"])
        .agg(
            recipients=("touch", "size"),
            converters=("converted", "sum"),
            revenue=("revenue", "sum"),
        )
        .reset_index()
    )


FIGURES = ("recipients", "converters", "revenue")


def sides(arms: pd.DataFrame) -> pd.DataFrame:
    """recipients and converters of the treated (all variants) and the control per
    campaign: from arms (campaign_id, arm, recipients, converters) or from the campaign
    list (treated, control and their conversion rates)."""
    if "treated" in arms.columns:
        frames = [
            pd.DataFrame(
                {
                    "campaign_id": arms["campaign_id"],
                    "arm": side,
                    "recipients": arms[side],
                    "converters": (arms[f"{side}_rate"].fillna(0.0) * arms[side]).round(),
                }
            )
            for side in ("treated", "control")
        ]
        both = pd.concat(frames, ignore_index=True)
        return both.loc[both["recipients"] > 0]
    side = np.where(arms["arm"] == CONTROL, "control", "treated")
    return (
        arms.assign(arm=side)
        .groupby(["campaign_id", "arm"], as_index=False)[["recipients", "converters"]]
        .sum()
    )


def same_figures(
    ours: pd.DataFrame, baseline: pd.DataFrame, columns=FIGURES
) -> tuple[bool, pd.DataFrame]:
    """Whether `columns` agree per campaign and arm (revenue to the cent), and the rows
    that differ."""
    keys = ["campaign_id", "arm"]
    columns = list(columns)
    both = ours[keys + columns].merge(
        baseline[keys + columns], on=keys, how="outer", suffixes=("", "_pandas")
    )
    differs = np.zeros(len(both), dtype=bool)
    for name in columns:
        a = both[name].to_numpy(dtype=float)
        b = both[f"{name}_pandas"].to_numpy(dtype=float)
        differs |= ~np.isclose(a, b, rtol=1e-9, atol=0.005)
    return not differs.any(), both.loc[differs]


# ---------------------------------------------------------------- measure


def measure(
    label: str, engine: Engine, args: argparse.Namespace, table: Table
) -> list[pd.DataFrame]:
    """Time the steps on one store; the rows whose figures differ from the baseline."""
    customers, orders, campaigns, touches, as_of = store_size(engine)
    largest, near, counts, how = measured_campaigns(engine, as_of, args.recipients, args.seed)
    if near == BENCH_CAMPAIGN:
        campaigns, touches = len(counts), int(counts.sum())
    print(f"\n{label}:", flush=True)
    table.note(
        label,
        f"{customers:,} customers, {orders:,} orders, {campaigns} campaigns, "
        f"{touches:,} touches, as of {as_of}",
    )
    table.note(label, f"largest campaign {largest}: {counts[largest]:,} recipients")
    table.note(label, f"{near}: {counts[near]:,} recipients, {how}")
    repeat = args.repeat
    mismatches = []

    def check(what: str, ours: pd.DataFrame, baseline: pd.DataFrame, columns=FIGURES) -> None:
        same, differ = same_figures(ours, baseline, columns)
        table.note(label, f"same figures, pandas vs {what}: {'yes' if same else 'NO'}")
        if not same:
            mismatches.append(differ.assign(check=f"{label}: pandas vs {what}"))

    def step(name: str, call: Callable[[], object], rows=len, aim=None) -> object:
        timing = cold_and_best(repeat, call)
        count = rows(timing.result) if callable(rows) else rows
        table.add(label, name, timing.best, count, timing.cold, aim, timing.cpu)
        return timing.result

    forget_aggregates(engine)
    summary = step("campaign_summary (the list)", lambda: campaign_summary(engine, as_of),
                   aim=LIST_AIM)  # fmt: skip
    windows = {cid: window_of(campaign_windows(engine), cid, None) for cid in counts.index}
    step("  arm_totals, all campaigns (computing)", lambda: arm_totals(engine, as_of, windows))
    step(
        "  attributed_revenue, all campaigns (computing)",
        lambda: attributed_revenue(engine, as_of, windows),
    )
    reports = {}
    for cid in dict.fromkeys([largest, near]):
        aim = REPORT_AIM if cid == near else None
        reports[cid] = step(
            f"campaign_report {cid}",
            lambda cid=cid: campaign_report(engine, cid, as_of),
            rows=int(counts[cid]),
            aim=aim,
        )
        recipients = step(
            f"  campaign_recipients {cid}",
            lambda cid=cid: campaign_recipients(engine, cid, as_of, windows[cid]),
        )
        step(
            f"  campaign_report {cid}, recipients given",
            lambda cid=cid, recipients=recipients: campaign_report(
                engine, cid, as_of, recipients=recipients
            ),
            rows=len(recipients),
        )
    arms = step("arm_results, all campaigns (CLI)", lambda: arm_results(engine, as_of))

    read_orders_s, paid = timed(lambda: read_orders(engine, as_of))
    table.add(label, "pandas: read paid orders", read_orders_s, len(paid))
    read_touches_s, all_touches = timed(lambda: read_touches(engine))
    table.add(label, "pandas: read touches + campaigns", read_touches_s, len(all_touches))
    compute_s, baseline = timed(lambda: pandas_arms(all_touches, paid, windows))
    table.add(label, "pandas: compute, all campaigns", compute_s, len(baseline))
    total = read_orders_s + read_touches_s + compute_s
    table.add(label, "pandas: all campaigns, read + compute", total)
    check("arm_results", arms, baseline)
    check("campaign_summary", sides(summary), sides(baseline), ["recipients", "converters"])
    for cid, report in reports.items():
        read_s, one = timed(lambda cid=cid: read_touches(engine, cid))
        table.add(label, f"pandas: read touches {cid}", read_s, len(one))
        compute_s, one_arms = timed(lambda one=one: pandas_arms(one, paid, windows))
        table.add(label, f"pandas: compute {cid}", compute_s, len(one_arms))
        total = read_orders_s + read_s + compute_s
        table.add(label, f"pandas: {cid}, read (+ all orders) + compute", total)
        check(f"campaign_report {cid}", report.arms.assign(campaign_id=cid), one_arms)
    return mismatches


def with_server(
    frames: dict[str, pd.DataFrame] | None, args: argparse.Namespace, table: Table
) -> list[pd.DataFrame]:
    from tests.support.postgres import PostgresServer, postgres_bin_dir

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        table.note("postgresql", "skipped: no server binaries (apt-get install postgresql)")
        return []
    server = PostgresServer(bin_dir)
    server.start()
    try:
        engine, seconds = load_store(server.create_database("bench_campaigns"), frames)
        print(f"loaded into PostgreSQL in {seconds:.0f} s", flush=True)
        found = measure("postgresql", engine, args, table)
        engine.dispose()
        return found
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--url", help="measure only this store (holding a demo shop)")
    parser.add_argument("--sqlite-url", help="a SQLite store already holding the demo shop")
    parser.add_argument("--postgres-url", help="a PostgreSQL store already holding it")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--repeat", type=int, default=2, help="calls after the cold one")
    parser.add_argument(
        "--recipients", type=int, default=100_000, help="size of the second campaign measured"
    )
    args = parser.parse_args()
    table = Table()
    mismatches: list[pd.DataFrame] = []
    stores: list[tuple[str, str]] = []
    if args.url:
        engine = make_engine(args.url)
        stores.append((engine.dialect.name, args.url))
        engine.dispose()
    else:
        if args.sqlite_url:
            stores.append(("sqlite", args.sqlite_url))
        if args.postgres_url:
            stores.append(("postgresql", args.postgres_url))
    generate_sqlite = not args.url and not args.sqlite_url
    generate_postgres = not args.url and not args.postgres_url and not args.no_postgres
    frames = None
    if generate_sqlite or generate_postgres:
        print(f"generating the demo shop: {args.customers:,} customers (seed {args.seed})")
        seconds, frames = timed(lambda: demo.generate_shop(args.customers, seed=args.seed))
        print(f"  {len(frames['orders']):,} orders in {seconds:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-campaigns-") as folder:
        if generate_sqlite:
            engine, seconds = load_store(f"sqlite:///{Path(folder) / 'crm.db'}", frames)
            print(f"loaded into SQLite in {seconds:.0f} s", flush=True)
            if not generate_postgres:
                frames = None
            mismatches += measure("sqlite", engine, args, table)
            engine.dispose()
        for label, url in stores:
            engine = make_engine(url)
            mismatches += measure(label, engine, args, table)
            engine.dispose()
        if generate_postgres:
            mismatches += with_server(frames, args, table)
    table.print()
    print(
        f"\naims: the list under {LIST_AIM:g} s, one campaign of about {args.recipients:,} "
        f"recipients under {REPORT_AIM:g} s; met: best s under the aim ('cold NO': the "
        "first call was not)"
    )
    for differ in mismatches:
        print(f"\nfigures that differ ({differ['check'].iloc[0]}):")
        print(differ.drop(columns="check").head(20).to_string(index=False))


if __name__ == "__main__":
    main()
