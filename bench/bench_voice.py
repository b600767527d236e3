"""Time the Customer voice and Service pages' work on a large store, beside the same
figures in plain pandas, and print a table.

    .venv/bin/python -m bench.bench_voice [--customers 1000000] [--repeat 2]
    .venv/bin/python -m bench.bench_voice --no-postgres --customers 20000
    .venv/bin/python -m bench.bench_voice --url sqlite:////path/big.db   (one store)

Generates the demo shop (crm_core.demo, fixed seed; at 1M customers about 520k tickets
and 170k survey answers) and loads it into a temporary SQLite file and a throwaway
PostgreSQL server (tests/support/postgres.py), unless --url names a store holding one.
The as-of date is the newest order's day, the view's moment its last second. Per store,
what each page computes on its first view ("cold": the first call in this process;
"best": the best of --repeat more), then one filter change on each page:

- shared: the audience facts over all history with the SLA tiers and service fields
  (`load_audience_facts`; the Audiences and RFM pages load the same facts, issue 26 is
  about their cold time) and the monthly revenue (the Overview's);
- Customer voice: answers read, the NPS by month, the 0-10 distribution, the answers'
  groups (segments, tags, channel, province, service experience), NPS by segment,
  frequent words with their impact (jieba), the comments masked for a viewer; "first
  view" is their sum without the shared facts;
- Service: tickets read and measured against the SLA policy, the headline achievement,
  times by week, backlog, tickets at risk, breached tickets, CSAT by type, reasons,
  tickets per 1,000 orders; "first view" as above;
- filter changes: NPS by week instead of month; NPS by tag; comments containing a word;
  SLA achievement by agent; tickets at risk within 24 hours instead of 4;
- words with every comment distinct: the demo's comments repeat (the segmenter sees
  each text once), a real shop's rarely do; this line splits as many distinct comments
  as the store has (made from the demo's phrases, with a running number word);
- pandas: survey answers and tickets read with pd.read_sql, the NPS by month and the
  first response achievement by priority (calendar hours, the tiers above) in plain
  pandas; they must equal crm_core's ("same figures").

Aim (issue 22): each page's first view under 3 s, a filter change under 300 ms.
Timings are shown, never checked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from bench.bench_campaigns import Table, cold_and_best, load_store, timed
from crm_core import asof, demo
from crm_core.customers.overview import monthly_revenue
from crm_core.customers.segments import preset
from crm_core.demo.reference import COMMENTS, COMMENTS_EN
from crm_core.outreach.audiences import load_audience_facts
from crm_core.store import make_engine, models
from crm_core.voice.groups import answer_groups, tiers_of
from crm_core.voice.nps import (
    nps_by_group,
    nps_by_membership,
    nps_by_period,
    score_distribution,
    survey_answers,
)
from crm_core.voice.service import (
    breached_tickets,
    csat_by,
    open_backlog,
    reason_counts,
    response_times,
    sla_achievement,
    tickets_at_risk,
    tickets_per_thousand_orders,
)
from crm_core.voice.sla import DEFAULT_POLICY, load_sla_policy, service_tickets, ticket_levels
from crm_core.voice.verbatims import verbatims, word_impacts, word_matrix
from tests.support.actors import VIEWER

SEED = 42
FIRST_VIEW_AIM = 3.0
CHANGE_AIM = 0.3


def store_counts(engine: Engine) -> tuple[int, int, int, int, dt.date]:
    """customers, orders, tickets, survey answers, as-of date (the newest order's day)."""
    tables = (models.customers, models.orders, models.tickets, models.survey_responses)
    with engine.connect() as conn:
        counts = [int(conn.execute(select(func.count()).select_from(t)).scalar()) for t in tables]
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    if isinstance(latest, str):
        latest = dt.datetime.fromisoformat(latest)
    return (*counts, latest.date())


def distinct_comments(count: int, seed: int) -> pd.Series:
    """`count` comments, each different: two or three of the demo's phrases (Chinese or
    English) and a number written out, as real comments rarely repeat."""
    rng = np.random.default_rng(seed)
    zh = [p for key in COMMENTS for p in COMMENTS[key]]
    en = [p for key in COMMENTS_EN for p in COMMENTS_EN[key]]
    texts = []
    for number in range(count):
        pool = zh if rng.random() < 0.75 else en
        parts = list(rng.choice(pool, size=rng.integers(2, 4), replace=False))
        texts.append(("，" if pool is zh else ". ").join(parts) + f" 第{number}次")
    return pd.Series(texts, dtype="str")


def pandas_figures(
    engine: Engine, as_of: dt.date, tiers: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(NPS by month, first-response achievement by priority, seconds), in plain pandas
    from pd.read_sql, with the default policy's calendar-hour targets."""
    end = asof.end_of(as_of)
    moment = pd.Timestamp(asof.last_second(as_of))
    start = dt.datetime.now()
    with engine.connect() as conn:
        answers = pd.read_sql(
            select(models.survey_responses.c.responded_at, models.survey_responses.c.nps).where(
                models.survey_responses.c.responded_at < end
            ),
            conn,
        )
        tickets = pd.read_sql(
            select(
                models.tickets.c.customer_id,
                models.tickets.c.priority,
                models.tickets.c.created_at,
                models.tickets.c.first_response_at,
                models.tickets.c.resolved_at,
            ).where(models.tickets.c.created_at < end),
            conn,
        )
    answers = answers.dropna(subset=["nps"])
    answers["month"] = pd.to_datetime(answers["responded_at"]).dt.strftime("%Y-%m")
    by_month = answers.groupby("month").agg(
        answers=("nps", "size"),
        promoters=("nps", lambda s: int((s >= 9).sum())),
        detractors=("nps", lambda s: int((s <= 6).sum())),
    )
    by_month["nps"] = 100 * (by_month["promoters"] - by_month["detractors"]) / by_month["answers"]
    for name in ("created_at", "first_response_at", "resolved_at"):
        tickets[name] = pd.to_datetime(tickets[name])
    responded = tickets["first_response_at"].fillna(tickets["resolved_at"])
    responded = responded.where(responded <= moment)
    is_vip = tickets["customer_id"].map(tiers).eq("VIP")
    limit = pd.to_timedelta(np.where(is_vip, 4.0, 24.0), unit="h")
    late = (responded.fillna(moment) - tickets["created_at"]) > limit
    tickets["met"] = responded.notna() & ~late
    tickets["breached"] = late
    by_priority = tickets.groupby("priority")[["met", "breached"]].sum()
    by_priority["achievement"] = (
        100 * by_priority["met"] / (by_priority["met"] + by_priority["breached"])
    )
    return by_month, by_priority, (dt.datetime.now() - start).total_seconds()


def measure(label: str, engine: Engine, args: argparse.Namespace, table: Table) -> None:
    customers, orders, tickets, answers_count, as_of = store_counts(engine)
    table.note(
        label,
        f"{customers:,} customers, {orders:,} orders, {tickets:,} tickets, "
        f"{answers_count:,} survey answers, as of {as_of}",
    )
    moment = asof.last_second(as_of)
    repeat = args.repeat

    facts = cold_and_best(0, lambda: load_audience_facts(engine, as_of, None, preset("rfm11")))
    table.add(
        label, "shared: audience facts with tiers (all history)", facts.best, len(facts.result)
    )
    facts = facts.result
    monthly = cold_and_best(repeat, lambda: monthly_revenue(engine, as_of, 24))
    table.add(label, "shared: monthly revenue (Overview's)", monthly.best, 24, cold=monthly.cold)

    # --- Customer voice
    read = cold_and_best(repeat, lambda: survey_answers(engine, as_of))
    table.add(label, "voice: answers read", read.best, len(read.result), cold=read.cold)
    answers = read.result
    recent = answers[answers["responded_at"] >= pd.Timestamp(as_of - dt.timedelta(days=364))]
    trend = cold_and_best(
        repeat, lambda: (nps_by_period(recent, "month"), score_distribution(recent))
    )
    table.add(
        label,
        "voice: NPS by month + distribution",
        trend.best,
        len(trend.result[0]),
        cold=trend.cold,
    )
    levels_step = cold_and_best(
        repeat,
        lambda: ticket_levels(
            service_tickets(engine, as_of), load_sla_policy(engine), tiers_of(facts), moment
        ),
    )
    levels = levels_step.result
    groups = cold_and_best(repeat, lambda: answer_groups(recent, facts, levels))
    table.add(label, "voice: answers' groups", groups.best, len(recent), cold=groups.cold)
    by_segment = cold_and_best(repeat, lambda: nps_by_group(recent, groups.result.segment))
    table.add(
        label,
        "voice: NPS by segment",
        by_segment.best,
        len(by_segment.result),
        cold=by_segment.cold,
    )
    words = cold_and_best(repeat, lambda: word_impacts(recent, *word_matrix(recent["comment"])))
    table.add(
        label, "voice: words and their impact", words.best, len(words.result), cold=words.cold
    )
    masked = cold_and_best(repeat, lambda: verbatims(recent, VIEWER))
    table.add(label, "voice: comments masked", masked.best, len(masked.result), cold=masked.cold)
    voice_cold = sum(t.cold for t in (read, trend, levels_step, groups, by_segment, words, masked))
    voice_best = sum(t.best for t in (read, trend, levels_step, groups, by_segment, words, masked))
    table.add(
        label, "VOICE FIRST VIEW (without shared)", voice_best, cold=voice_cold, aim=FIRST_VIEW_AIM
    )
    week = cold_and_best(repeat, lambda: nps_by_period(recent, "week"))
    table.add(label, "voice change: NPS by week", week.best, len(week.result), aim=CHANGE_AIM)
    by_tag = cold_and_best(repeat, lambda: nps_by_membership(recent, groups.result.tags))
    table.add(label, "voice change: NPS by tag", by_tag.best, len(by_tag.result), aim=CHANGE_AIM)
    word = cold_and_best(repeat, lambda: verbatims(recent, VIEWER, word="物流"))
    table.add(
        label, "voice change: comments with a word", word.best, len(word.result), aim=CHANGE_AIM
    )
    comments = int(recent["comment"].notna().sum())
    texts = distinct_comments(comments, args.seed)
    distinct = cold_and_best(0, lambda: word_matrix(texts))
    table.add(label, "voice: words, every comment distinct", distinct.best, comments)

    # --- Service
    table.add(
        label,
        "service: tickets read + measured",
        levels_step.best,
        len(levels),
        cold=levels_step.cold,
    )
    period = levels[levels["created_at"] >= pd.Timestamp(as_of - dt.timedelta(days=89))]

    def first_view() -> tuple:
        return (
            sla_achievement(period),
            response_times(period, "week"),
            open_backlog(levels),
            tickets_at_risk(levels, moment, 4),
            breached_tickets(period),
            csat_by(period, "ticket_type"),
            reason_counts(period),
            tickets_per_thousand_orders(levels, monthly.result),
        )

    views = cold_and_best(repeat, first_view)
    table.add(label, "service: tiles, charts and tables", views.best, len(period), cold=views.cold)
    table.add(
        label,
        "SERVICE FIRST VIEW (without shared)",
        levels_step.best + views.best,
        cold=levels_step.cold + views.cold,
        aim=FIRST_VIEW_AIM,
    )
    by_agent = cold_and_best(repeat, lambda: sla_achievement(period, "agent"))
    table.add(
        label, "service change: SLA by agent", by_agent.best, len(by_agent.result), aim=CHANGE_AIM
    )
    risk = cold_and_best(repeat, lambda: tickets_at_risk(levels, moment, 24))
    table.add(
        label, "service change: at risk within 24 h", risk.best, len(risk.result), aim=CHANGE_AIM
    )

    # --- plain pandas beside it
    by_month, by_priority, seconds = pandas_figures(engine, as_of, tiers_of(facts))
    table.add(label, "pandas: read + NPS by month + SLA by priority", seconds)
    ours = nps_by_period(answers, "month").set_index("period")
    ours = ours[ours["answers"] > 0]
    same_nps = ours["answers"].to_numpy().tolist() == by_month["answers"].tolist() and np.allclose(
        ours["nps"].to_numpy(), by_month["nps"].to_numpy()
    )
    policy = load_sla_policy(engine)
    sla = sla_achievement(levels, "priority")
    sla = sla[sla["stage"] == "first_response"].set_index("group")
    same_sla = policy == DEFAULT_POLICY and np.allclose(
        sla.loc[by_priority.index, "achievement"].to_numpy(), by_priority["achievement"].to_numpy()
    )
    verdict = {True: "yes", False: "NO"}
    table.note(
        label,
        f"same figures, pandas vs crm_core: NPS by month {verdict[same_nps]}, "
        f"first response achievement by priority {verdict[same_sla]}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--url", help="measure only this store (holding a demo shop)")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--repeat", type=int, default=2, help="calls after the cold one")
    args = parser.parse_args()
    table = Table()
    if args.url:
        engine = make_engine(args.url)
        measure(engine.dialect.name, engine, args, table)
        engine.dispose()
    else:
        print(f"generating the demo shop: {args.customers:,} customers (seed {args.seed})")
        seconds, frames = timed(lambda: demo.generate_shop(args.customers, seed=args.seed))
        print(f"  {len(frames['tickets']):,} tickets in {seconds:.0f} s", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
            engine, seconds = load_store(f"sqlite:///{Path(folder) / 'crm.db'}", frames)
            print(f"loaded into SQLite in {seconds:.0f} s", flush=True)
            measure("sqlite", engine, args, table)
            engine.dispose()
        if not args.no_postgres:
            with_postgres(frames, args, table)
    table.print()
    print(
        f"\naims: each page's first view under {FIRST_VIEW_AIM:g} s (without the shared "
        f"facts), a filter change under {CHANGE_AIM * 1000:.0f} ms"
    )


def with_postgres(frames: dict[str, pd.DataFrame], args: argparse.Namespace, table: Table) -> None:
    from tests.support.postgres import PostgresServer, postgres_bin_dir

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        table.note("postgresql", "skipped: no server binaries (apt-get install postgresql)")
        return
    server = PostgresServer(bin_dir)
    server.start()
    try:
        engine, seconds = load_store(server.create_database("bench_voice"), frames)
        print(f"loaded into PostgreSQL in {seconds:.0f} s", flush=True)
        measure("postgresql", engine, args, table)
        engine.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
