"""Per-customer facts as of a date, aggregated in the database.

`customer_features(engine, as_of, window_days)` aggregates in the database with
SQLAlchemy Core statements that compile on SQLite and PostgreSQL alike: one grouped
statement per group of facts (orders, refunds, complaints, ratings, events, campaign
touches) and one plain read of the customers, all in one transaction, matched by
customer_id in Arrow (SQLite's join of a million grouped rows took longer). pandas
only turns the fetched columns into typed ones and derives recency from the last
purchase date. No Python loop runs over orders or customers.

Definitions (the as-of date is inclusive: everything up to 23:59:59 of `as_of` counts):

- A purchase is an order with status 'paid' ordered on or before `as_of` and, when a
  window is set, within the `window_days` days ending on `as_of` (as_of itself is day 1).
- A refund is an order row with status 'refunded' recorded (ordered_at) in that same
  period; its amount is money given back, so it lowers monetary value.
- A prospect is a customer with no purchase up to `as_of` at all; a customer whose
  purchases all lie before the window has frequency 0 in it. Neither is scored.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import (
    Engine,
    Select,
    case,
    func,
    select,
    true,
    union_all,
)

from crm_core import asof
from crm_core.errors import InputError
from crm_core.store import (
    arrow_datetimes,
    arrow_flags,
    arrow_floats,
    arrow_texts,
    float_value,
    models,
    raw_value,
    read_arrow,
    snapshot_read,
)
from crm_core.store.frames import stored_frame

TWELVE_MONTHS_DAYS = 365
COMPLAINT_WINDOW_DAYS = 90
RECENT_BEHAVIOUR_DAYS = 30

FEATURE_COLUMNS: dict[str, str] = {
    "customer_id": "the shop's customer id",
    "recency_days": "whole days from the date of the last purchase in the window to as_of "
    "(float; NaN when there is none)",
    "frequency": "number of purchases in the window (int)",
    "monetary": "purchase amounts minus refunds in the window, shop currency "
    "(float; may be zero or negative)",
    "purchase_amount": "purchase amounts in the window before refunds, shop currency",
    "avg_order_value": "purchase_amount / frequency, shop currency (NaN when frequency is 0)",
    "refunds": "amount refunded in the window, shop currency (>= 0)",
    "refund_count": "number of refund rows in the window (int)",
    "first_purchase_at": "time of the first purchase ever, up to as_of (NaT for prospects)",
    "last_purchase_at": "time of the last purchase in the window (NaT when none)",
    "tenure_days": "whole days from the date of the first purchase ever to as_of (float)",
    "spend_12m": "purchase amounts in the 365 days ending on as_of, shop currency",
    "orders_12m": "number of purchases in the 365 days ending on as_of (int)",
    "complaints": "complaint tickets created up to as_of (int)",
    "complaints_90d": "complaint tickets created in the 90 days ending on as_of (int)",
    "last_complaint_at": "creation time of the last complaint up to as_of (NaT when none)",
    "last_csat": "the newest CSAT rating 1-5 up to as_of, from tickets (rated when "
    "resolved) and surveys (float; NaN when never rated)",
    "last_nps": "the newest NPS answer 0-10 up to as_of (float; NaN when none)",
    "browse_events_30d": "browse events in the 30 days ending on as_of (int)",
    "cart_events_30d": "add-to-cart events in the 30 days ending on as_of (int)",
    "campaign_touches_30d": "campaign messages sent in the 30 days ending on as_of, "
    "control rows excluded (int)",
    "is_prospect": "True when the customer has no purchase up to as_of at all",
    "name": "customer name (personal data)",
    "phone": "phone number (personal data)",
    "email": "e-mail address (personal data)",
    "gender": "gender as uploaded",
    "birthday": "date of birth (datetime64, NaT when unknown)",
    "province": "province",
    "city": "city",
    "channel": "acquisition channel: online / store / wecom",
    "signup_at": "sign-up time (NaT when unknown)",
    "opt_out_sms": "True when the customer refused SMS",
    "opt_out_email": "True when the customer refused e-mail",
    "opt_out_wecom": "True when the customer refused WeCom messages",
}

_DATETIME_COLUMNS = (
    "first_purchase_at",
    "last_purchase_at",
    "last_complaint_at",
    "birthday",
    "signup_at",
)
_COUNT_COLUMNS = (
    "frequency",
    "refund_count",
    "orders_12m",
    "complaints",
    "complaints_90d",
    "browse_events_30d",
    "cart_events_30d",
    "campaign_touches_30d",
)
_FLAG_COLUMNS = ("opt_out_sms", "opt_out_email", "opt_out_wecom")
_TEXT_COLUMNS = ("name", "phone", "email", "gender", "province", "city", "channel")


FACT_TABLES = (
    models.customers,
    models.orders,
    models.tickets,
    models.survey_responses,
    models.events,
    models.campaign_touches,
)
"""The tables `attributes_statement` and `fact_statements` read."""


def fact_statements(as_of: dt.date, window_days: int | None = None) -> dict[str, Select]:
    """The grouped Core statements behind `customer_features` (for inspection and
    tests), by name: each returns customer_id and its facts, one row per customer that
    has any (purchases, refunds, complaints, last CSAT, last NPS, events, touches)."""
    end = asof.end_of(as_of)
    start_12m = asof.window_start(as_of, TWELVE_MONTHS_DAYS)
    start_complaints = asof.window_start(as_of, COMPLAINT_WINDOW_DAYS)
    start_recent = asof.window_start(as_of, RECENT_BEHAVIOUR_DAYS)

    o = models.orders
    amount = float_value(o.c.amount)
    paid_12m = o.c.ordered_at >= start_12m
    if window_days:
        in_window = o.c.ordered_at >= asof.window_start(as_of, window_days)
        frequency = func.count(case((in_window, o.c.customer_id)))
        purchase_amount = func.sum(case((in_window, amount)))
        last_purchase_at = func.max(case((in_window, o.c.ordered_at)))
        refund_period = (o.c.ordered_at < end, in_window)
    else:
        frequency = func.count()
        purchase_amount = func.sum(amount)
        last_purchase_at = func.max(o.c.ordered_at)
        refund_period = (o.c.ordered_at < end,)
    # Money is summed as floats (db.float_value: no per-row cast on SQLite, where it costs
    # more than the sum; float8 instead of numeric sums on PostgreSQL). Over 9M purchases
    # every aggregate counts: count(*) and sums without a CAST around them (pandas types
    # the columns) take a quarter less time on SQLite than count(column) and CAST(sum).
    purchase_facts = (
        select(
            o.c.customer_id,
            frequency.label("frequency"),
            purchase_amount.label("purchase_amount"),
            raw_value(func.min(o.c.ordered_at)).label("first_purchase_at"),
            raw_value(last_purchase_at).label("last_purchase_at"),
            func.sum(case((paid_12m, amount))).label("spend_12m"),
            func.count(case((paid_12m, o.c.customer_id))).label("orders_12m"),
        )
        .where(o.c.status == "paid", o.c.ordered_at < end)
        .group_by(o.c.customer_id)
    )
    refund_facts = (
        select(
            o.c.customer_id,
            func.sum(amount).label("refunds"),
            func.count().label("refund_count"),
        )
        .where(o.c.status == "refunded", *refund_period)
        .group_by(o.c.customer_id)
    )

    tk = models.tickets
    complaint = tk.c.is_complaint == true()
    # Grouped by type first: SQLite then scans the table instead of walking the
    # (customer, time) index with a row lookup per ticket.
    complaints_by_type = (
        select(
            tk.c.ticket_type,
            tk.c.customer_id,
            func.count().label("complaints"),
            func.count(case((tk.c.created_at >= start_complaints, tk.c.customer_id))).label(
                "complaints_90d"
            ),
            func.max(tk.c.created_at).label("last_complaint_at"),
        )
        .where(complaint, tk.c.created_at < end)
        .group_by(tk.c.ticket_type, tk.c.customer_id)
        .subquery("complaints_by_type")
    )
    ticket_facts = select(
        complaints_by_type.c.customer_id,
        func.sum(complaints_by_type.c.complaints).label("complaints"),
        func.sum(complaints_by_type.c.complaints_90d).label("complaints_90d"),
        raw_value(func.max(complaints_by_type.c.last_complaint_at)).label("last_complaint_at"),
    ).group_by(complaints_by_type.c.customer_id)

    sv = models.survey_responses
    rated_at = func.coalesce(tk.c.resolved_at, tk.c.created_at)
    ratings = union_all(
        select(
            tk.c.customer_id.label("customer_id"),
            rated_at.label("rated_at"),
            tk.c.csat.label("csat"),
        ).where(tk.c.csat.is_not(None), rated_at < end),
        select(
            sv.c.customer_id.label("customer_id"),
            sv.c.responded_at.label("rated_at"),
            sv.c.csat.label("csat"),
        ).where(sv.c.csat.is_not(None), sv.c.responded_at < end),
    ).subquery("ratings")
    ranked_csat = select(
        ratings.c.customer_id,
        ratings.c.csat,
        func.row_number()
        .over(
            partition_by=ratings.c.customer_id,
            order_by=(ratings.c.rated_at.desc(), ratings.c.csat.asc()),
        )
        .label("position"),
    ).subquery("ranked_csat")
    last_csat = select(ranked_csat.c.customer_id, ranked_csat.c.csat.label("last_csat")).where(
        ranked_csat.c.position == 1
    )
    ranked_nps = (
        select(
            sv.c.customer_id,
            sv.c.nps,
            func.row_number()
            .over(
                partition_by=sv.c.customer_id,
                order_by=(sv.c.responded_at.desc(), sv.c.response_id.desc()),
            )
            .label("position"),
        )
        .where(sv.c.nps.is_not(None), sv.c.responded_at < end)
        .subquery("ranked_nps")
    )
    last_nps = select(ranked_nps.c.customer_id, ranked_nps.c.nps.label("last_nps")).where(
        ranked_nps.c.position == 1
    )

    ev = models.events
    # Read from the covering index (customer_id, occurred_at, event_type) in customer order.
    event_facts = (
        select(
            ev.c.customer_id,
            func.count(case((ev.c.event_type == "browse", 1))).label("browse_events_30d"),
            func.count(case((ev.c.event_type == "cart", 1))).label("cart_events_30d"),
        )
        .where(ev.c.occurred_at >= start_recent, ev.c.occurred_at < end)
        .group_by(ev.c.customer_id)
    )

    ct = models.campaign_touches
    touch_facts = (
        select(ct.c.customer_id, func.count().label("campaign_touches_30d"))
        .where(
            ct.c.sent_at >= start_recent,
            ct.c.sent_at < end,
            ct.c.is_control == False,  # noqa: E712 (SQL comparison)
        )
        .group_by(ct.c.customer_id)
    )

    return {
        "purchases": purchase_facts,
        "refunds": refund_facts,
        "complaints": ticket_facts,
        "csat": last_csat,
        "nps": last_nps,
        "events": event_facts,
        "touches": touch_facts,
    }


def attributes_statement() -> Select:
    """What `customer_features` takes from the customers table as it is (name, contact,
    region, channel, sign-up, opt-outs) for every customer not merged into another one,
    ordered by customer_id: the rows the facts are matched to."""
    c = models.customers
    return (
        select(
            c.c.customer_id,
            c.c.name,
            c.c.phone,
            c.c.email,
            c.c.gender,
            raw_value(c.c.birthday).label("birthday"),
            c.c.province,
            c.c.city,
            c.c.channel,
            raw_value(c.c.signup_at).label("signup_at"),
            raw_value(c.c.opt_out_sms).label("opt_out_sms"),
            raw_value(c.c.opt_out_email).label("opt_out_email"),
            raw_value(c.c.opt_out_wecom).label("opt_out_wecom"),
        )
        .where(c.c.merged_into.is_(None))
        .order_by(c.c.customer_id)
    )


def customer_features(
    engine: Engine, as_of: dt.date, window_days: int | None = None
) -> pd.DataFrame:
    """One row per customer known on `as_of` (prospects included), ordered by
    customer_id, with the columns and units listed in FEATURE_COLUMNS.

    `window_days` limits purchases and refunds (recency, frequency, monetary,
    purchase_amount, refunds, last_purchase_at) to the `window_days` days ending on
    `as_of`; None means all history. The 12-month, 90-day and 30-day columns and
    first_purchase_at do not depend on the window. Customers merged into another one
    and customers who signed up after `as_of` without buying are left out.
    """
    if window_days is not None and (int(window_days) != window_days or window_days < 1):
        raise InputError("rfm.error.window_days", value=window_days)
    statements = fact_statements(as_of, None if window_days is None else int(window_days))
    # PostgreSQL keeps its default work_mem here: with more, its planner trades the
    # ordered index scan of orders for hash aggregates and sorts that take longer.
    with snapshot_read(engine, FACT_TABLES) as conn:  # every part sees one state of the store
        attributes = read_arrow(conn, attributes_statement())
        facts = [read_arrow(conn, statement) for statement in statements.values()]
    return _typed_features(_match_facts(attributes, facts), as_of)


def _match_facts(
    attributes: dict[str, pa.ChunkedArray], facts: list[dict[str, pa.ChunkedArray]]
) -> dict[str, pa.ChunkedArray | np.ndarray]:
    """The customers' columns plus every fact column as NumPy (float with NaN, or
    datetime64 with NaT, where a customer has no such fact). One dictionary encoding of
    all ids (the customers' first, each once) gives every fact row its customer's
    position; facts of customers not in `attributes` (merged into another) fall away."""
    customers = len(attributes["customer_id"])
    chunks = [
        chunk.cast(pa.string())
        for column in (attributes["customer_id"], *(part["customer_id"] for part in facts))
        for chunk in column.chunks
    ]
    ids = pa.chunked_array(chunks, type=pa.string()).combine_chunks()
    codes = ids.dictionary_encode().indices.to_numpy()
    columns: dict[str, pa.ChunkedArray | np.ndarray] = dict(attributes)
    start = customers
    for part in facts:
        rows = codes[start : start + len(part["customer_id"])]
        start += len(rows)
        known = rows < customers
        for name, values in part.items():
            if name == "customer_id":
                continue
            if name in _DATETIME_COLUMNS:
                typed = arrow_datetimes(values)
                matched = np.full(customers, np.datetime64("NaT"), dtype="datetime64[us]")
            else:
                typed = arrow_floats(values)
                matched = np.full(customers, np.nan)
            matched[rows[known]] = typed[known]
            columns[name] = matched
    return columns


def _whole_days_to(as_of: dt.date, moments: np.ndarray) -> np.ndarray:
    """Whole days from the date of each moment to `as_of` (float, NaN for NaT)."""
    days = (np.datetime64(as_of, "D") - moments.astype("datetime64[D]")).astype(np.float64)
    return np.where(np.isnat(moments), np.nan, days)


def _pandas_type(arrow_type: pa.DataType) -> object:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow", na_value=np.nan)
    return None


def _typed_features(raw: dict[str, pa.ChunkedArray], as_of: dt.date) -> pd.DataFrame:
    """The frame of FEATURE_COLUMNS from the fetched Arrow columns. Each raw column is
    released once converted and the frame is built from an Arrow table one block per
    column, so a million customers never need two full copies in memory."""

    def take(name: str) -> pa.ChunkedArray:
        return raw.pop(name)

    timestamps = {name: arrow_datetimes(take(name)) for name in _DATETIME_COLUMNS}
    counts = {
        name: np.nan_to_num(arrow_floats(take(name))).astype(np.int64) for name in _COUNT_COLUMNS
    }
    purchase_amount = np.nan_to_num(arrow_floats(take("purchase_amount")))
    refunds = np.nan_to_num(arrow_floats(take("refunds")))
    frequency = counts["frequency"]
    with np.errstate(invalid="ignore", divide="ignore"):
        avg_order_value = np.where(frequency > 0, purchase_amount / frequency, np.nan)
    columns = {
        "customer_id": arrow_texts(take("customer_id")),
        "recency_days": _whole_days_to(as_of, timestamps["last_purchase_at"]),
        "frequency": frequency,
        "monetary": np.round(purchase_amount - refunds, 2),
        "purchase_amount": np.round(purchase_amount, 2),
        "avg_order_value": avg_order_value,
        "refunds": np.round(refunds, 2),
        "refund_count": counts["refund_count"],
        "first_purchase_at": timestamps["first_purchase_at"],
        "last_purchase_at": timestamps["last_purchase_at"],
        "tenure_days": _whole_days_to(as_of, timestamps["first_purchase_at"]),
        "spend_12m": np.round(np.nan_to_num(arrow_floats(take("spend_12m"))), 2),
        "orders_12m": counts["orders_12m"],
        "complaints": counts["complaints"],
        "complaints_90d": counts["complaints_90d"],
        "last_complaint_at": timestamps["last_complaint_at"],
        "last_csat": arrow_floats(take("last_csat")),
        "last_nps": arrow_floats(take("last_nps")),
        "browse_events_30d": counts["browse_events_30d"],
        "cart_events_30d": counts["cart_events_30d"],
        "campaign_touches_30d": counts["campaign_touches_30d"],
        "is_prospect": np.isnat(timestamps["first_purchase_at"]),
    }
    for name in _TEXT_COLUMNS:
        columns[name] = arrow_texts(take(name))
    columns["birthday"] = timestamps["birthday"]
    columns["signup_at"] = timestamps["signup_at"]
    for name in _FLAG_COLUMNS:
        columns[name] = arrow_flags(take(name))
    table = pa.table({name: columns.pop(name) for name in FEATURE_COLUMNS})
    # Customers who signed up after as_of and bought nothing by then were not known yet.
    end = np.datetime64(asof.end_of(as_of), "us")
    known = ~(timestamps["signup_at"] >= end) | ~np.isnat(timestamps["first_purchase_at"])
    if not known.all():
        table = table.filter(pa.array(known))
    frame = table.to_pandas(
        split_blocks=True,
        self_destruct=True,
        types_mapper=_pandas_type,
        coerce_temporal_nanoseconds=False,
    )
    del table
    # Arrow's allocator keeps freed buffers for reuse; hand them back to the system.
    pa.default_memory_pool().release_unused()
    return frame


def stored_customer_features(
    engine: Engine, as_of: dt.date, window_days: int | None = None
) -> pd.DataFrame:
    """`customer_features`, computed once per (data version, as-of date, window) and kept
    in the store (crm_core.store.frames), so a restart or a second app process reads
    them instead of aggregating every order again."""
    return stored_frame(
        engine,
        "customer_features",
        {"as_of": as_of.isoformat(), "window_days": window_days},
        lambda: customer_features(engine, as_of, window_days),
    )
