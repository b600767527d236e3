"""Time audiences, tags and the contact policy at scale and print tables.

    .venv/bin/python -m bench.bench_audiences --customers 1000000
    .venv/bin/python -m bench.bench_audiences --url sqlite:////path/to/store.db

Generates the demo shop (crm_core.demo, fixed seed; about 10 orders per customer) into a
temporary SQLite file, unless --url names a store that already holds one (its exports
table receives the benchmark's exports). The as-of date is the newest order's day.

1. loads, once per (store, data version, as-of date): customer facts, tag facts (one SQL
   aggregation each), tag fields and the 17 built-in tags plus the favourite-category
   tags, segment assignment (rfm11), contact counts (touches + exports, one SQL query),
   and the one-time address checks;
2. one interaction of the audience builder (what a widget change reruns): select the
   members, count and sum their revenue, apply the policy; median and 90th percentile;
   beside the same policy written row by row in Python on a sample, scaled up;
3. writing and recording the list: CSV of the whole audience, XLSX of up to 100,000
   rows (a spreadsheet holds about a million rows);
4. the process's peak resident set size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from crm_core import demo
from crm_core.auth import Actor
from crm_core.customers.features import customer_features
from crm_core.customers.rfm import prepare_facts
from crm_core.customers.segments import preset
from crm_core.customers.tags import TagFields, evaluate_tags, load_tags, tag_facts
from crm_core.outreach.audiences import (
    Audience,
    AudienceFacts,
    apply_policy,
    assign_all_customers,
    audience_size,
    contact_counts,
    export_audience,
    select_members,
)
from crm_core.outreach.policy import ContactPolicy
from crm_core.store import make_engine, models, upgrade_to_head

SEED = 42
SAMPLE_FOR_LOOP = 50_000
XLSX_ROWS = 100_000

BENCH = Actor("bench", "analyst")


def timed(step: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = step()
    return value, time.perf_counter() - start


def row_by_row_policy(facts: AudienceFacts, positions, channel, policy, contacts) -> list[str]:
    """The same rules as apply_policy, one customer at a time (the naive baseline)."""
    features = facts.features
    days = facts.fields["days_since_complaint"]
    heavy = facts.tags.column("return_heavy")
    reasons = []
    for position in positions:
        row = features.iloc[position]
        phone = str(row["phone"]) if isinstance(row["phone"], str) else ""
        digits = "".join(ch for ch in phone if ch.isdigit())
        if row[f"opt_out_{channel}"]:
            reasons.append("opted_out")
        elif not (len(digits) == 11 and digits.startswith("1")):
            reasons.append("no_address")
        elif 0 <= days[position] <= policy.quiet_period_days:
            reasons.append("quiet_period")
        elif contacts[position] >= (
            policy.cap_contacts_return_heavy if heavy[position] else policy.cap_contacts
        ):
            reasons.append("over_cap")
        else:
            reasons.append("kept")
    return reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--url", default=None, help="an existing store with a demo shop")
    parser.add_argument("--moves", type=int, default=15, help="builder interactions timed")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory(prefix="bench-audiences-")
    rows: list[tuple[str, str, float]] = []
    if args.url:
        engine = make_engine(args.url)
    else:
        engine = make_engine(f"sqlite:///{Path(workdir.name) / 'crm.db'}")
        upgrade_to_head(engine)
        _, seconds = timed(lambda: demo.load_demo_shop(engine, args.customers, seed=SEED))
        rows.append(("setup", f"generate + load a {args.customers:,}-customer shop", seconds))
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
        customers = conn.execute(select(func.count()).select_from(models.customers)).scalar()
    as_of = (dt.datetime.fromisoformat(latest) if isinstance(latest, str) else latest).date()

    features, seconds = timed(lambda: customer_features(engine, as_of))
    rows.append(("load", "customer_features (SQL aggregation)", seconds))
    rfm, seconds = timed(lambda: prepare_facts(features))
    rows.append(("load", "prepare_facts (index R/F/M)", seconds))
    facts_frame, seconds = timed(lambda: tag_facts(engine, as_of))
    rows.append(("load", "tag_facts (SQL aggregation)", seconds))
    fields, seconds = timed(lambda: TagFields(rfm.features, facts_frame, as_of))
    rows.append(("load", "tag fields (align + derive)", seconds))
    matrix, seconds = timed(lambda: evaluate_tags(fields, load_tags(engine)))
    rows.append(("load", f"evaluate {len(matrix.tags)} tags", seconds))
    assignment, seconds = timed(lambda: assign_all_customers(rfm, preset("rfm11")))
    rows.append(("load", "assign rfm11 segments to every customer", seconds))
    policy = ContactPolicy()
    contacts, seconds = timed(
        lambda: contact_counts(engine, rfm.features["customer_id"], as_of, policy.cap_window_days)
    )
    rows.append(("load", "contact_counts (SQL: touches + exports)", seconds))
    facts = AudienceFacts(as_of, None, rfm, fields, matrix, assignment)
    _, seconds = timed(lambda: (facts.address_valid("sms"), facts.category_codes("province")))
    rows.append(("load", "address checks + province codes (once)", seconds))

    provinces = tuple(rfm.features["province"].value_counts().index[:10])
    audience = Audience(
        include_segments=("at_risk", "cant_lose", "hibernating", "about_to_sleep", "lost"),
        exclude_tags=("detractor", "complainer"),
        provinces=provinces,
        recency_days=(30, 720),
    )

    def interaction():
        members = select_members(facts, audience)
        return audience_size(facts, members), apply_policy(facts, members, "sms", policy, contacts)

    durations = []
    for _ in range(args.moves):
        (size, result), seconds = timed(interaction)
        durations.append(seconds)
    rows.append(("move", "select + count + revenue + policy, median", statistics.median(durations)))
    rows.append(("move", "... 90th percentile", float(np.quantile(durations, 0.9))))
    sample = result.positions[:SAMPLE_FOR_LOOP]
    _, seconds = timed(lambda: row_by_row_policy(facts, sample, "sms", policy, contacts))
    scaled = seconds * len(result.positions) / max(len(sample), 1)
    rows.append(
        ("move", f"policy row by row in Python, scaled to {len(result.positions):,}", scaled)
    )

    (exported, _), seconds = timed(
        lambda: export_audience(
            engine, facts, audience, channel="sms", policy=policy, actor=BENCH, language="zh-CN",
        )
    )  # fmt: skip
    rows.append(("export", f"CSV of {exported.row_count:,} rows, masked, recorded", seconds))
    xlsx_audience = Audience(
        include_segments=audience.include_segments, exclude_tags=audience.exclude_tags
    )
    xlsx_facts = facts
    small = select_members(xlsx_facts, xlsx_audience)
    if small.sum() > XLSX_ROWS:
        keep = np.flatnonzero(small)[XLSX_ROWS]
        xlsx_audience = Audience(
            include_segments=audience.include_segments,
            exclude_tags=audience.exclude_tags,
            recency_days=(None, float(rfm.features["recency_days"].iloc[keep])),
        )
    (xlsx, _), seconds = timed(
        lambda: export_audience(
            engine, facts, xlsx_audience, channel="sms", policy=policy, actor=BENCH,
            file_format="xlsx",
        )
    )  # fmt: skip
    rows.append(("export", f"XLSX of {xlsx.row_count:,} rows, masked, recorded", seconds))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\nstore: {engine.url}  customers: {customers:,}  as of {as_of}")
    print(f"audience: {size.customers:,} customers, revenue {size.revenue:,.0f}; ")
    print(f"policy (sms): kept {result.kept:,}, excluded {result.excluded_counts}")
    table = pd.DataFrame(rows, columns=["part", "step", "seconds"])
    print(table.to_string(index=False, formatters={"seconds": "{:,.3f}".format}))
    print(f"peak resident set size: {peak_mib:,.0f} MiB")
    workdir.cleanup()


if __name__ == "__main__":
    main()
