"""Cached overview figures more than one page shows: the monthly revenue and paid orders
(the Overview's trend chart, the Service page's tickets per 1,000 orders)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core.customers import overview
from ui.context import DataKey, RunContext

TREND_MONTHS = overview.TREND_MONTHS


@st.cache_data(show_spinner=False, ttl=3600)
def _monthly_revenue(_engine: Engine, key: DataKey, as_of: dt.date) -> pd.DataFrame:
    return overview.stored_overview(_engine, "monthly_revenue", as_of, TREND_MONTHS)


def load_monthly_revenue(ctx: RunContext) -> pd.DataFrame:
    """`overview.monthly_revenue` of the TREND_MONTHS months ending with the as-of month
    (cached per data version and as-of date)."""
    return _monthly_revenue(ctx.engine, ctx.data_key, ctx.as_of)
