"""Data quality: what the store's data can and cannot support, in numbers.

`data_quality(engine, today)` reads the store in a few grouped statements and returns
one row per check (QUALITY_COLUMNS): its value, the share or count behind it, and a
level ('ok', 'warn'). `quality_warnings` turns the checks that warn into the sentences
the Overview and the RFM explorer show above their figures, and `id_like_columns` names
the columns an import left out whose header looks like an id (a person key, an order
id that links files).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, and_, case, func, select

from crm_core.i18n import DEFAULT_LANGUAGE, translate
from crm_core.ingest.entities import header_key
from crm_core.store import models
from crm_core.store.frames import stored_frame

QUALITY_COLUMNS = ("check", "value", "count", "level")
ONE_TIME_WARN_SHARE = 0.95
"""Above this share of one-time buyers, frequency scores carry almost no information."""
PER_ORDER_IDS_SHARE = 0.99
"""Above this share of one-order buyers (and at least PER_ORDER_IDS_MIN_BUYERS), the
customer ids look like one per order rather than one per person."""
PER_ORDER_IDS_MIN_BUYERS = 100
OUTLIER_FACTOR = 100.0
"""An order above this many times the median paid order is flagged as an outlier."""
EARLIEST_PLAUSIBLE = dt.date(1990, 1, 1)


def stored_data_quality(engine: Engine, today: dt.date) -> pd.DataFrame:
    """`data_quality`, computed once per (data version, day) and kept in the store
    (crm_core.store.frames): at 1M customers the checks take most of a minute."""
    return stored_frame(
        engine, "data_quality", {"today": today.isoformat()}, lambda: data_quality(engine, today)
    )


def data_quality(engine: Engine, today: dt.date) -> pd.DataFrame:
    """The checks, one row each (QUALITY_COLUMNS); `value` is a share (0-1) for shares,
    else a count; `count` is the number of records concerned."""
    c, o = models.customers, models.orders
    paid = o.c.status == "paid"
    per_customer = (
        select(o.c.customer_id, func.count().label("paid_orders"))
        .where(paid)
        .group_by(o.c.customer_id)
        .subquery()
    )
    with engine.connect() as conn:
        customers = conn.execute(
            select(func.count()).select_from(c).where(c.c.merged_into.is_(None))
        ).scalar_one()
        buyers, one_time = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((per_customer.c.paid_orders == 1, 1), else_=0)), 0),
            )
        ).one()
        without_orders = conn.execute(
            select(func.count())
            .select_from(c)
            .where(
                c.c.merged_into.is_(None),
                ~select(o.c.order_id).where(o.c.customer_id == c.c.customer_id).exists(),
            )
        ).scalar_one()
        placeholders = conn.execute(
            select(func.count()).select_from(c).where(c.c.is_placeholder.is_(True))
        ).scalar_one()
        orders = conn.execute(select(func.count()).select_from(o)).scalar_one()
        earliest = dt.datetime.combine(EARLIEST_PLAUSIBLE, dt.time())
        tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
        too_early, too_late = conn.execute(
            select(
                func.coalesce(func.sum(case((o.c.ordered_at < earliest, 1), else_=0)), 0),
                func.coalesce(func.sum(case((o.c.ordered_at >= tomorrow, 1), else_=0)), 0),
            )
        ).one()
        amounts = pd.Series(
            conn.execute(select(o.c.amount).where(paid)).scalars().all(), dtype="float64"
        )
        negative = conn.execute(
            select(func.count()).select_from(o).where(and_(paid, o.c.amount < 0))
        ).scalar_one()
    median = float(amounts.median()) if len(amounts) else 0.0
    outliers = int((amounts > OUTLIER_FACTOR * median).sum()) if median > 0 else 0
    one_time_share = one_time / buyers if buyers else 0.0
    per_order = buyers >= PER_ORDER_IDS_MIN_BUYERS and one_time_share >= PER_ORDER_IDS_SHARE
    rows = [
        ("customers", customers, customers, "ok" if customers else "warn"),
        ("one_time_buyers", one_time_share, int(one_time),
         "warn" if buyers and one_time_share >= ONE_TIME_WARN_SHARE else "ok"),
        ("ids_look_per_order", float(per_order), int(one_time), "warn" if per_order else "ok"),
        ("customers_without_orders", without_orders / customers if customers else 0.0,
         int(without_orders), "ok"),
        ("orders_without_customer_record", placeholders, int(placeholders),
         "warn" if placeholders and customers and placeholders == customers else "ok"),
        ("orders", orders, orders, "ok" if orders else "warn"),
        ("dates_out_of_range", int(too_early) + int(too_late), int(too_early) + int(too_late),
         "warn" if too_early or too_late else "ok"),
        ("amount_outliers", outliers, outliers, "warn" if outliers else "ok"),
        ("negative_paid_amounts", negative, int(negative), "warn" if negative else "ok"),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(QUALITY_COLUMNS))


def quality_warnings(report: pd.DataFrame, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The sentences for the checks that warn (one-time buyers, per-order ids, dates and
    amounts), in `language`; nothing for a store without orders."""
    by_check = report.set_index("check")
    if by_check.loc["orders", "value"] == 0:
        return []
    share = f"{float(by_check.loc['one_time_buyers', 'value']):.1%}"
    checks = ["ids_look_per_order", "one_time_buyers", "dates_out_of_range",
              "amount_outliers", "negative_paid_amounts"]  # fmt: skip
    if by_check.loc["ids_look_per_order", "level"] == "warn":
        checks.remove("one_time_buyers")  # the per-order ids say why, and more
    return [
        translate(
            f"quality.warning.{check}",
            language,
            share=share,
            count=f"{int(by_check.loc[check, 'count']):,}",
        )
        for check in checks
        if by_check.loc[check, "level"] == "warn"
    ]


def id_like_columns(columns: Iterable[str]) -> list[str]:
    """Columns whose header looks like an id (…id, …_no, 编号, 号): left out of an import,
    they may hold the person behind the ids or the key that links files."""
    found = []
    for column in columns:
        key = header_key(column)
        if key.endswith("id") or key.endswith("no") or "编号" in key or key.endswith("号"):
            found.append(column)
    return found
