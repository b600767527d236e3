"""The engine and the small cached facts every page shares.

Caches key on the database URL and its data version, so every import invalidates them.
Pages' own heavy loaders use the same pattern: `@st.cache_data` with `_engine` left out
of the key and `url`, `version` (from `data_key()`) in it.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st
from sqlalchemy import Engine, func, select

from crm_core.store import data_version, database_url, make_engine, models, upgrade_to_head


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    upgrade_to_head(engine)
    return engine


def get_engine() -> Engine:
    """The store's engine, schema upgraded to head once per process."""
    return _engine_for(database_url())


def data_key() -> tuple[str, int]:
    """(database URL, data version): the part of every cache key that says which data."""
    engine = get_engine()
    return str(engine.url), data_version(engine)


@st.cache_data(show_spinner=False, ttl=3600)
def _latest_order_date(url: str, version: int) -> dt.date | None:
    with get_engine().connect() as conn:
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    if latest is None:
        return None
    if isinstance(latest, str):
        latest = dt.datetime.fromisoformat(latest)
    return latest.date()


def latest_order_date() -> dt.date | None:
    """The date of the newest order in the store (the default as-of date)."""
    return _latest_order_date(*data_key())
