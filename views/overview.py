"""Overview: KPI tiles for the period ending at the as-of date (with the change against
the previous period) and the monthly charts: net revenue, new vs returning customers,
cohort retention."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core import numbers
from crm_core.customers import overview
from crm_core.figures.overview import (
    CohortLabels,
    NewReturningLabels,
    RevenueLabels,
    cohort_heatmap_figure,
    new_vs_returning_figure,
    revenue_by_month_figure,
)
from ui.context import DataKey, RunContext, run_context, t
from ui.data import quality_notes
from ui.overview import TREND_MONTHS, load_monthly_revenue

KEY_PERIOD_DAYS = "crm.overview.period_days"
PERIOD_CHOICES = overview.PERIOD_CHOICES
COHORT_MONTHS = overview.COHORT_MONTHS
TILES_PER_ROW = 4


@st.cache_data(show_spinner=False, ttl=3600)
def _kpis(_engine: Engine, key: DataKey, as_of: dt.date, period_days: int) -> pd.DataFrame:
    return overview.stored_overview(_engine, "kpis", as_of, period_days)


@st.cache_data(show_spinner=False, ttl=3600)
def _has_nps(_engine: Engine, key: DataKey) -> bool:
    return overview.has_nps_responses(_engine)


@st.cache_data(show_spinner=False, ttl=3600)
def _new_vs_returning(_engine: Engine, key: DataKey, as_of: dt.date) -> pd.DataFrame:
    return overview.stored_overview(_engine, "new_vs_returning", as_of, TREND_MONTHS)


@st.cache_data(show_spinner=False, ttl=3600)
def _cohorts(_engine: Engine, key: DataKey, as_of: dt.date) -> pd.DataFrame:
    return overview.stored_overview(_engine, "cohort_retention", as_of, COHORT_MONTHS)


# The kind of number (crm_core.numbers) of each KPI unit; NPS is a score in points.
UNIT_KINDS = {"money": "money", "share": "share", "points": "score", "count": "count"}


def _kind(unit: str) -> str:
    return UNIT_KINDS.get(unit, "count")


def _value_text(value: float, unit: str, language: str) -> str:
    return numbers.number_text(value, _kind(unit), language)


def _delta_text(row: dict, language: str) -> str | None:
    """The change shown under a tile: absolute (and relative for counts and money);
    percentage points for shares; None when there is nothing to compare with."""
    change, relative, unit = row["change"], row["relative_change"], row["unit"]
    if math.isnan(change):
        return None
    if unit == "share":
        return numbers.number_text(change, "points", language, signed=True)
    absolute = numbers.number_text(change, _kind(unit), language, signed=True)
    if unit == "points" or math.isnan(relative):
        return absolute
    return f"{absolute} ({numbers.number_text(relative, 'share', language, signed=True)})"


def _tiles(frame: pd.DataFrame, language: str, has_nps: bool) -> None:
    """One tile per KPI; the NPS tile of a store without survey answers says so."""
    records = frame.to_dict("records")
    for first in range(0, len(records), TILES_PER_ROW):
        chunk = records[first : first + TILES_PER_ROW]
        for column, row in zip(st.columns(TILES_PER_ROW), chunk, strict=False):
            if row["kpi"] == "nps" and not has_nps:
                column.metric(
                    t("overview.kpi.nps"),
                    t("overview.kpi.nps.none"),
                    help=t("overview.kpi.nps.none_help"),
                    border=True,
                )
                continue
            previous = _value_text(row["previous"], row["unit"], language)
            column.metric(
                t(f"overview.kpi.{row['kpi']}"),
                _value_text(row["current"], row["unit"], language),
                delta=_delta_text(row, language),
                help=t(f"overview.kpi.{row['kpi']}.help")
                + "\n\n"
                + t("overview.previous_value", value=previous),
                border=True,
            )


def _charts(ctx: RunContext) -> None:
    engine, key, as_of = ctx.engine, ctx.data_key, ctx.as_of
    left, right = st.columns(2)
    with left:
        st.subheader(t("overview.chart.revenue.title"), help=t("overview.chart.revenue.help"))
        figure = revenue_by_month_figure(
            load_monthly_revenue(ctx),
            RevenueLabels(
                month=t("overview.axis.month"),
                amount=t("overview.axis.revenue"),
                net_revenue=t("overview.series.net_revenue"),
                partial_month=t("overview.series.partial_month"),
                refunds=t("overview.series.refunds"),
            ),
        )
        st.plotly_chart(figure, width="stretch")
    with right:
        st.subheader(
            t("overview.chart.new_returning.title"), help=t("overview.chart.new_returning.help")
        )
        figure = new_vs_returning_figure(
            _new_vs_returning(engine, key, as_of),
            NewReturningLabels(
                month=t("overview.axis.month"),
                customers=t("overview.axis.customers"),
                new=t("overview.series.new"),
                returning=t("overview.series.returning"),
            ),
        )
        st.plotly_chart(figure, width="stretch")
    st.subheader(t("overview.chart.cohorts.title"), help=t("overview.chart.cohorts.help"))
    cohorts = _cohorts(engine, key, as_of)
    if cohorts.empty:
        st.info(t("overview.chart.cohorts.empty"))
        return
    figure = cohort_heatmap_figure(
        cohorts,
        CohortLabels(
            cohort=t("overview.axis.cohort"),
            months_since=t("overview.axis.months_since"),
            retention=t("overview.axis.retention"),
            cohort_size=t("overview.axis.cohort_size"),
        ),
    )
    st.plotly_chart(figure, width="stretch")


def main() -> None:
    st.title(t("overview.title"))
    ctx = run_context()
    if ctx.latest_order is None:
        st.info(t("overview.empty"), icon=":material/inbox:")
        return
    quality_notes(ctx)
    as_of = ctx.as_of
    # Option labels are bare numbers (the unit is in the label): a label that changed with
    # the language would leave the radio showing no choice after a language switch.
    period_days = st.radio(
        t("overview.period"),
        options=PERIOD_CHOICES,
        horizontal=True,
        key=KEY_PERIOD_DAYS,
        help=t("overview.period_help"),
    )
    current, previous = overview.periods(as_of, period_days)
    st.caption(
        t(
            "overview.caption",
            start=current.first_day.isoformat(),
            end=current.last_day.isoformat(),
            previous_start=previous.first_day.isoformat(),
            previous_end=previous.last_day.isoformat(),
        )
    )
    with st.spinner(t("overview.loading")):
        frame = _kpis(ctx.engine, ctx.data_key, as_of, period_days)
        _tiles(frame, ctx.language, has_nps=_has_nps(ctx.engine, ctx.data_key))
        _charts(ctx)


main()
