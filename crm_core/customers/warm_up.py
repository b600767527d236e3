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
from crm_core.store import models


def newest_order_day(engine: Engine) -> dt.date | None:
    """The day of the newest order: the as-of date a session opens on."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    return None if newest is None else pd.Timestamp(newest).date()


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
