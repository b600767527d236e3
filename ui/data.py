"""The engine and the small cached facts every page shares.

The engine is built once per database URL; the schema is upgraded once per process by
app.py (`prepare_store`), not here. Caches key on the database URL and the data version
of this run (`data_key()`, from the run context), so every import invalidates them.
Pages' own heavy loaders use the same pattern: `@st.cache_data` with `_engine` left out
of the key and `url`, `version` in it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core.customers.warm_up import order_date_range as dates_of_orders
from crm_core.ingest.quality import quality_warnings, stored_data_quality
from crm_core.store import database_url, make_engine
from ui.context import DataKey, RunContext, run_context, t


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    """The store's engine (one per database URL and process)."""
    return _engine_for(database_url())


def data_key() -> tuple[str, int]:
    """(database URL, data version) of this run: the part of every cache key that says
    which data. The data version is read once per run, by app.py."""
    return run_context().data_key


@st.cache_data(show_spinner=False, ttl=3600)
def order_date_range(url: str, version: int, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """crm_core's `order_date_range` of the store at `version` (cached per version)."""
    return dates_of_orders(get_engine(), today)


@st.cache_data(show_spinner=False, ttl=600)
def _quality(_engine: Engine, key: DataKey, today: dt.date) -> pd.DataFrame:
    return stored_data_quality(_engine, today)


def quality_report(ctx: RunContext) -> pd.DataFrame:
    """The store's data-quality checks at this run's data version (crm_core.ingest.quality)."""
    return _quality(ctx.engine, ctx.data_key, dt.date.today())


def quality_notes(ctx: RunContext) -> None:
    """The warnings a page shows above figures the data cannot support."""
    for sentence in quality_warnings(quality_report(ctx), ctx.language):
        st.warning(sentence, icon=":material/report:")


SHARE_CHECKS = ("one_time_buyers", "customers_without_orders")
YES_NO_CHECKS = ("ids_look_per_order",)


def _quality_value(check: str, value: float) -> str:
    if check in SHARE_CHECKS:
        return f"{value:.1%}"
    if check in YES_NO_CHECKS:
        return t("quality.yes") if value else t("quality.no")
    return f"{int(value):,}"


def quality_table(ctx: RunContext) -> pd.DataFrame:
    """The checks laid out for people: check, value (a share as %, yes or no, or a
    count), records concerned and level, in the run's language."""
    report = quality_report(ctx)
    return pd.DataFrame(
        {
            t("quality.check"): [t(f"quality.check.{c}") for c in report["check"]],
            t("quality.value"): [
                _quality_value(check, value)
                for check, value in zip(report["check"], report["value"], strict=True)
            ],
            t("quality.count"): [f"{int(n):,}" for n in report["count"]],
            t("quality.result"): [t(f"quality.level.{level}") for level in report["level"]],
        }
    )
