"""The Campaigns page's list tab: every campaign with its arms, cost, revenue, ROI 1 : x,
uplift with its interval and a plain verdict, filtered by channel and start date, a
chart of ROI and uplift over time by channel, and the table as a safe download."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st

from crm_core import numbers
from crm_core.figures.campaigns import TimelineLabels, roi_uplift_figure
from crm_core.i18n import translate
from crm_core.outreach.campaigns import MIN_GROUP_PER_ARM, filter_summary
from ui.audiences import labels
from ui.campaigns import (
    KEY_CHANNELS,
    KEY_LIST_DOWNLOAD,
    KEY_LIST_FORMAT,
    KEY_PERIOD,
    KEY_PERIOD_BOUNDS,
    channel_names,
    roi_text,
    verdict_names,
)
from ui.context import RunContext, t
from ui.tables import number_column, table_download

LIST_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "name",
    "channel",
    "started_at",
    "window_days",
    "treated",
    "control",
    "cost",
    "revenue",
    "roi",
    "treated_rate",
    "control_rate",
    "uplift",
    "uplift_ci_low",
    "uplift_ci_high",
    "p_value",
    "verdict",
    "incremental_revenue",
    "incremental_roi",
)
PERCENT_COLUMNS = ("treated_rate", "control_rate", "uplift", "uplift_ci_low", "uplift_ci_high")


def list_table(summary: pd.DataFrame, language: str) -> pd.DataFrame:
    """The list as shown and downloaded: shares as percentages (uplift in points),
    channel and verdict in the user's language."""
    table = summary[list(LIST_COLUMNS)].copy()
    for name in PERCENT_COLUMNS:
        table[name] = table[name] * 100
    table["incremental_roi"] = table["incremental_roi"] * 100
    channels = channel_names(language, sorted(table["channel"].unique().tolist()))
    table["channel"] = table["channel"].map(channels)
    table["verdict"] = table["verdict"].map(verdict_names(language))
    return table


def _headers(language: str) -> dict[str, str]:
    return {name: translate(f"campaigns.column.{name}", language) for name in LIST_COLUMNS}


def _filters(summary: pd.DataFrame, language: str) -> pd.DataFrame:
    channels = sorted(summary["channel"].unique().tolist())
    names = channel_names(language, channels)
    left, right = st.columns(2)
    chosen = left.multiselect(
        t("campaigns.filter.channels"),
        channels,
        format_func=labels(names),
        key=KEY_CHANNELS,
        placeholder=t("campaigns.filter.all_channels"),
    )
    started = pd.to_datetime(summary["started_at"])
    first, last = started.min().date(), started.max().date()
    if st.session_state.get(KEY_PERIOD_BOUNDS) != (first, last):
        # new campaigns widen the period; the user's narrower choice is kept otherwise
        st.session_state.pop(KEY_PERIOD, None)
        st.session_state[KEY_PERIOD_BOUNDS] = (first, last)
    period = right.date_input(
        t("campaigns.filter.period"),
        value=(first, last),
        min_value=first,
        max_value=max(last, first),
        key=KEY_PERIOD,
        help=t("campaigns.filter.period_help"),
    )
    bounds = (*period, None, None) if isinstance(period, tuple) else (period, None)
    start, end = bounds[0], bounds[1]
    return filter_summary(
        summary,
        channels=chosen or None,
        start=start if isinstance(start, dt.date) else None,
        end=end if isinstance(end, dt.date) else None,
    )


def _tiles(shown: pd.DataFrame, language: str) -> None:
    cost = float(shown["cost"].sum())
    revenue = float(shown["revenue"].sum())
    tiles = st.columns(4)
    tiles[0].metric(
        t("campaigns.tile.campaigns"),
        numbers.number_text(len(shown), "count", language),
        border=True,
    )
    tiles[1].metric(
        t("campaigns.tile.cost"), numbers.number_text(cost, "money", language), border=True
    )
    tiles[2].metric(
        t("campaigns.tile.revenue"),
        numbers.number_text(revenue, "money", language),
        border=True,
        help=t("campaigns.revenue_help"),
    )
    tiles[3].metric(
        t("campaigns.tile.roi"), roi_text(revenue / cost if cost > 0 else np.nan), border=True
    )


def _column_config() -> dict:
    column = st.column_config
    number = column.NumberColumn
    return {
        "campaign_id": column.TextColumn(t("campaigns.column.campaign_id")),
        "name": column.TextColumn(t("campaigns.column.name")),
        "channel": column.TextColumn(t("campaigns.column.channel")),
        "started_at": column.DatetimeColumn(
            t("campaigns.column.started_at"), format="YYYY-MM-DD HH:mm"
        ),
        "window_days": number_column(t("campaigns.column.window_days"), "days"),
        "treated": number_column(t("campaigns.column.treated"), "count"),
        "control": number_column(t("campaigns.column.control"), "count"),
        "cost": number_column(t("campaigns.column.cost"), "money"),
        "revenue": number_column(
            t("campaigns.column.revenue"), "money", help=t("campaigns.revenue_help")
        ),
        "roi": number(t("campaigns.column.roi"), format="1 : %.2f"),
        "treated_rate": number(t("campaigns.column.treated_rate"), format="%.2f%%"),
        "control_rate": number(t("campaigns.column.control_rate"), format="%.2f%%"),
        "uplift": number(t("campaigns.column.uplift"), format="%+.2f pp"),
        "uplift_ci_low": number(t("campaigns.column.uplift_ci_low"), format="%+.2f pp"),
        "uplift_ci_high": number(t("campaigns.column.uplift_ci_high"), format="%+.2f pp"),
        "p_value": number(t("campaigns.column.p_value"), format="%.4f"),
        "verdict": column.TextColumn(t("campaigns.column.verdict")),
        "incremental_revenue": number_column(t("campaigns.column.incremental_revenue"), "money"),
        "incremental_roi": number(t("campaigns.column.incremental_roi"), format="%+.0f%%"),
    }


def list_tab(ctx: RunContext, summary: pd.DataFrame) -> None:
    """The campaign list with its filters, chart and download."""
    if summary.empty:
        st.info(t("campaigns.none"), icon=":material/inbox:")
        return
    shown = _filters(summary, ctx.language)
    if shown.empty:
        st.info(t("campaigns.filter.nothing"), icon=":material/filter_alt_off:")
        return
    _tiles(shown, ctx.language)
    table = list_table(shown, ctx.language)
    st.dataframe(table, hide_index=True, column_config=_column_config())
    st.caption(t("campaigns.list.caption"))
    chart_labels = TimelineLabels(
        started=t("campaigns.chart.started"),
        roi=t("campaigns.chart.roi"),
        uplift=t("campaigns.chart.uplift"),
        channels=channel_names(ctx.language, sorted(summary["channel"].unique().tolist())),
    )
    st.plotly_chart(roi_uplift_figure(shown, chart_labels, MIN_GROUP_PER_ARM), width="stretch")
    st.caption(t("campaigns.chart.caption", least=MIN_GROUP_PER_ARM))
    table_download(
        ctx,
        table,
        _headers(ctx.language),
        label=t("campaigns.list.download"),
        file_stem=f"campaigns-{ctx.as_of.isoformat()}",
        format_key=KEY_LIST_FORMAT,
        download_key=KEY_LIST_DOWNLOAD,
    )
