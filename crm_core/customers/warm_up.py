"""Warm up the first views: compute and keep in the store what the Overview, the RFM
explorer and the Audiences page read first (crm_core.store.frames), so the first
visitor after an import or a restart reads instead of waiting for the aggregations."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, func, select

from crm_core.customers.features import stored_customer_features
from crm_core.customers.overview import FIRST_VIEW_SIZES, stored_overview
from crm_core.customers.tags import stored_tag_facts
from crm_core.ingest.quality import stored_data_quality
from crm_core.ingest.validate import EARLIEST_PLAUSIBLE_DATE, plausible_until
from crm_core.store import models


def order_date_range(engine: Engine, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """(first, newest) plausible order day (orders from EARLIEST_PLAUSIBLE_DATE up to
    `plausible_until(today)`; the Data page's quality checks list the others), or None
    without such orders. The newest is the as-of date a session opens on."""
    ordered_at = models.orders.c.ordered_at
    plausible = (
        ordered_at >= dt.datetime.combine(EARLIEST_PLAUSIBLE_DATE, dt.time()),
        ordered_at < dt.datetime.combine(plausible_until(today), dt.time()),
    )
    # min and max apart: each alone walks one end of the ordered_at index, together
    # SQLite reads every order (1M customers: 3.6 s -> 2 ms)
    with engine.connect() as conn:
        first = conn.execute(select(func.min(ordered_at)).where(*plausible)).scalar()
        latest = conn.execute(select(func.max(ordered_at)).where(*plausible)).scalar()
    if latest is None:
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(latest).date()


def newest_order_day(engine: Engine) -> dt.date | None:
    """The newest plausible order's day: the as-of date a session opens on."""
    dates = order_date_range(engine, dt.date.today())
    return None if dates is None else dates[1]


def warm_up_first_views(engine: Engine, as_of: dt.date | None = None) -> list[str]:
    """Keep the frames of the first views on `as_of` (default: the newest order's day):
    today's data-quality checks, the facts of all history, the tag facts and the
    Overview's frames of a first view.
    Returns their names (nothing without orders); frames already kept are only read."""
    day = as_of or newest_order_day(engine)
    if day is None:
        return []
    stored_data_quality(engine, dt.date.today())  # the notes above the Overview and RFM
    stored_customer_features(engine, day, None)
    stored_tag_facts(engine, day)
    for name, size in FIRST_VIEW_SIZES.items():
        stored_overview(engine, name, day, size)
    return [
        "data_quality",
        "customer_features",
        "tag_facts",
        *(f"overview.{n}" for n in FIRST_VIEW_SIZES),
    ]
