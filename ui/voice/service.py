"""The Service page's tabs: response and resolution times by week, SLA achievement by
group, the open backlog and the tickets about to breach (downloadable for the service
lead), volume per 1,000 orders and CSAT by group, and the reasons customers gave."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import streamlit as st

from crm_core import numbers
from crm_core.figures.voice import (
    BacklogLabels,
    IntervalLabels,
    PerThousandLabels,
    TimesLabels,
    backlog_figure,
    interval_figure,
    per_thousand_figure,
    response_times_figure,
)
from crm_core.store import models
from crm_core.voice.nps import MIN_ANSWERS
from crm_core.voice.service import (
    AT_RISK_COLUMNS,
    BACKLOG_BANDS,
    BREACHED_COLUMNS,
    SLA_GROUPS,
    breached_tickets,
    csat_by,
    open_backlog,
    reason_counts,
    response_times,
    sla_achievement,
    tickets_at_risk,
    tickets_per_thousand_orders,
)
from crm_core.voice.sla import STAGES
from ui.audiences import labels
from ui.context import RunContext, current_language, t
from ui.overview import load_monthly_revenue
from ui.tables import (
    MISSING,
    dashed,
    grey_unranked,
    interval_text,
    number_column,
    table_download,
)
from ui.voice import (
    KEY_BREACHED_DOWNLOAD,
    KEY_BREACHED_FORMAT,
    KEY_CSAT_BY,
    KEY_RISK_DOWNLOAD,
    KEY_RISK_FORMAT,
    KEY_SLA_BY,
    value_label,
)

TRANSLATED_VALUES = ("ticket_type", "priority", "channel", "status")
CSAT_GROUPS: tuple[str, ...] = ("ticket_type", "priority", "agent", "channel")
RISK_COLUMNS: tuple[str, ...] = tuple(name for name in AT_RISK_COLUMNS if name != "channel")


def _taken_of(frame: pd.DataFrame, stage: str) -> np.ndarray:
    """'27.0 / 4.0': hours taken (so far, when open) against the target hours."""
    taken = dashed(frame[f"{stage}_hours"], "{:.1f}")
    target = dashed(frame[f"{stage}_target_hours"], "{:.1f}")
    return np.array([f"{a} / {b}" for a, b in zip(taken, target, strict=True)], dtype=object)


def _stage_names() -> dict[str, str]:
    return {stage: t(f"service.stage.{stage}") for stage in STAGES}


def _translated(frame: pd.DataFrame, language: str) -> pd.DataFrame:
    """Ticket types, priorities, channels and statuses in the user's language; an empty
    tier as 'none'."""
    out = frame.copy()
    for name in TRANSLATED_VALUES:
        if name in out.columns:
            out[name] = out[name].map(lambda value: value_label(value, language))
    if "tier" in out.columns:
        out["tier"] = out["tier"].replace("", t("service.tier.none"))
    if "stage" in out.columns:
        out["stage"] = out["stage"].map(_stage_names())
    return out


def headline(levels: pd.DataFrame, open_tickets: int) -> None:
    """Tiles: open tickets (all of them), and for the tickets of `levels`: first-response
    and resolution achievement, median first response, CSAT of rated tickets."""
    overall = sla_achievement(levels).set_index("stage")
    language = current_language()
    tiles = st.columns(5)
    tiles[0].metric(
        t("service.tile.open"), numbers.number_text(open_tickets, "count", language), border=True
    )
    for tile, stage in zip(tiles[1:3], STAGES, strict=True):
        value = overall.loc[stage, "achievement"] if stage in overall.index else math.nan
        tile.metric(
            t(f"service.tile.{stage}"),
            numbers.number_text(value, "percent", language),
            border=True,
            help=t("service.tile.achievement_help"),
        )
    responded = levels.loc[levels["first_response_reached"], "first_response_hours"]
    median = float(responded.median()) if len(responded) else math.nan
    tiles[3].metric(
        t("service.tile.median_first_response"),
        "—" if not math.isfinite(median) else f"{median:.1f} h",
        border=True,
    )
    rated = levels["csat"].dropna().astype(float)
    share = 100.0 * float((rated >= 4).mean()) if len(rated) else math.nan
    tiles[4].metric(
        t("service.tile.csat"),
        numbers.number_text(share, "percent", language),
        border=True,
        help=t("service.tile.csat_help", n=numbers.number_text(len(rated), "count", language)),
    )


def times_tab(levels: pd.DataFrame) -> None:
    """Median and 90th percentile hours to first response and to resolution by week."""
    times = response_times(levels, "week")
    if times.empty:
        st.info(t("service.none"), icon=":material/inbox:")
        return
    st.plotly_chart(
        response_times_figure(
            times,
            TimesLabels(
                hours=t("service.chart.hours"),
                median=t("service.chart.median"),
                p90=t("service.chart.p90"),
                stages=_stage_names(),
            ),
        ),
        width="stretch",
    )
    st.caption(t("service.chart.times_caption"))


def achievement_tab(ctx: RunContext, levels: pd.DataFrame) -> None:
    """SLA achievement per priority, tier, type, channel or agent, both stages."""
    by = st.radio(
        t("service.sla.by"),
        list(SLA_GROUPS),
        format_func=labels({name: t(f"service.group.{name}") for name in SLA_GROUPS}),
        key=KEY_SLA_BY,
        horizontal=True,
    )
    table = sla_achievement(levels, by)
    if table.empty:
        st.info(t("service.none"), icon=":material/inbox:")
        return
    if by in TRANSLATED_VALUES:
        table["group"] = table["group"].map(lambda value: value_label(value, ctx.language))
    elif by == "tier":
        table["group"] = table["group"].replace("", t("service.tier.none"))
    elif by == "agent":
        table["group"] = table["group"].replace("", t("service.agent.none"))
    table["stage"] = table["stage"].map(_stage_names())
    text = st.column_config.TextColumn
    st.dataframe(
        table.assign(
            achievement=dashed(table["achievement"], "{:.1f}%"),
            interval=interval_text(table["achievement_low"], table["achievement_high"], "{:.1f}%"),
        )[["group", "stage", "tickets", "met", "breached", "pending", "achievement", "interval"]],
        hide_index=True,
        column_config={
            "group": text(t(f"service.group.{by}")),
            "stage": text(t("service.column.stage")),
            "tickets": number_column(t("service.column.tickets"), "count"),
            "met": number_column(t("service.column.met"), "count"),
            "breached": number_column(t("service.column.breached"), "count"),
            "pending": number_column(t("service.column.pending"), "count"),
            "achievement": text(t("service.column.achievement")),
            "interval": text(t("service.column.achievement_interval")),
        },
    )
    st.caption(t("service.sla.caption"))


def backlog_tab(
    ctx: RunContext,
    levels: pd.DataFrame,
    in_period: pd.DataFrame,
    moment: dt.datetime,
    horizon: int,
) -> None:
    """Every open ticket by age and priority, those due within `horizon` hours (with
    their download), and the breached tickets among those created in the period."""
    language = ctx.language
    backlog = open_backlog(levels)
    st.plotly_chart(
        backlog_figure(
            backlog,
            BacklogLabels(
                tickets=t("service.column.tickets"),
                bands={name: t(f"service.backlog.{name}") for name, _, _ in BACKLOG_BANDS},
                priorities={p: value_label(p, language) for p in models.TICKET_PRIORITIES},
            ),
        ),
        width="stretch",
    )
    _at_risk_section(ctx, levels, moment, horizon)
    _breached_section(ctx, in_period)


def _ticket_columns() -> dict:
    when = st.column_config.DatetimeColumn
    text = st.column_config.TextColumn
    return {
        "ticket_id": text(t("service.column.ticket_id")),
        "customer_id": text(t("service.column.customer_id")),
        "ticket_type": text(t("service.column.ticket_type")),
        "priority": text(t("service.column.priority")),
        "tier": text(t("service.column.tier")),
        "agent": text(t("service.column.agent")),
        "created_at": when(t("service.column.created_at"), format="YYYY-MM-DD HH:mm"),
    }


def _at_risk_section(
    ctx: RunContext, levels: pd.DataFrame, moment: dt.datetime, horizon: int
) -> None:
    """Open tickets due within `horizon` hours, soonest first, and their download."""
    st.subheader(t("service.risk.title", hours=horizon))
    at_risk = _translated(tickets_at_risk(levels, moment, horizon), ctx.language)
    if at_risk.empty:
        st.info(
            t("service.risk.none", moment=f"{moment:%Y-%m-%d %H:%M}", hours=horizon),
            icon=":material/task_alt:",
        )
        return
    at_risk["agent"] = at_risk["agent"].fillna(MISSING)
    st.caption(t("service.risk.caption", moment=f"{moment:%Y-%m-%d %H:%M}", count=len(at_risk)))
    st.dataframe(
        at_risk[list(RISK_COLUMNS)],
        hide_index=True,
        column_config={
            **_ticket_columns(),
            "stage": st.column_config.TextColumn(t("service.column.stage")),
            "due_at": st.column_config.DatetimeColumn(
                t("service.column.due_at"), format="YYYY-MM-DD HH:mm"
            ),
            "hours_left": st.column_config.NumberColumn(
                t("service.column.hours_left"), format="%.1f"
            ),
        },
    )
    table_download(
        ctx,
        at_risk[list(RISK_COLUMNS)],
        {name: t(f"service.column.{name}") for name in RISK_COLUMNS},
        label=t("service.risk.download"),
        file_stem=f"tickets-due-in-{horizon}h-{moment:%Y-%m-%d-%H%M}",
        format_key=KEY_RISK_FORMAT,
        download_key=KEY_RISK_DOWNLOAD,
    )


def _breached_section(ctx: RunContext, in_period: pd.DataFrame) -> None:
    """The tickets of the period that breached a target, newest first, and their download."""
    st.subheader(t("service.breached.title"))
    breached = _translated(breached_tickets(in_period), ctx.language)[list(BREACHED_COLUMNS)]
    if breached.empty:
        st.info(t("service.breached.none"), icon=":material/task_alt:")
        return
    breached["agent"] = breached["agent"].fillna(MISSING)
    st.caption(t("service.breached.caption", count=len(breached)))
    of_target = t("service.column.of_target_help")
    shown = breached[["ticket_id", "customer_id", "ticket_type", "priority", "tier", "agent",
                      "created_at", "is_open"]].assign(
        first_response=_taken_of(breached, "first_response"),
        resolution=_taken_of(breached, "resolution"),
    )  # fmt: skip
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            **_ticket_columns(),
            "first_response": st.column_config.TextColumn(
                t("service.column.first_response_of_target"), help=of_target
            ),
            "resolution": st.column_config.TextColumn(
                t("service.column.resolution_of_target"), help=of_target
            ),
            "is_open": st.column_config.CheckboxColumn(t("service.column.is_open")),
        },
        column_order=["ticket_id", "customer_id", "ticket_type", "priority", "tier", "agent",
                      "created_at", "first_response", "resolution", "is_open"],
    )  # fmt: skip
    table_download(
        ctx,
        breached,
        {name: t(f"service.column.{name}") for name in BREACHED_COLUMNS},
        label=t("service.breached.download"),
        file_stem=f"breached-tickets-{ctx.as_of.isoformat()}",
        format_key=KEY_BREACHED_FORMAT,
        download_key=KEY_BREACHED_DOWNLOAD,
    )


def volume_tab(ctx: RunContext, levels: pd.DataFrame, every_ticket: pd.DataFrame) -> None:
    """Tickets per 1,000 paid orders by month and type (every ticket of the months shown),
    CSAT by type, priority, agent or channel, and the reasons given on return and quality
    tickets (those of `levels`)."""
    language = ctx.language
    monthly = load_monthly_revenue(ctx)
    per_thousand = tickets_per_thousand_orders(every_ticket, monthly)
    st.subheader(t("service.volume.title"))
    if per_thousand.empty:
        st.info(t("service.none"), icon=":material/inbox:")
    else:
        st.plotly_chart(
            per_thousand_figure(
                per_thousand,
                PerThousandLabels(
                    per_thousand=t("service.chart.per_thousand"),
                    types={k: value_label(k, language) for k in models.TICKET_TYPES},
                ),
            ),
            width="stretch",
        )
    st.subheader(t("service.csat.title"))
    by = st.radio(
        t("service.csat.by"),
        list(CSAT_GROUPS),
        format_func=labels({name: t(f"service.group.{name}") for name in CSAT_GROUPS}),
        key=KEY_CSAT_BY,
        horizontal=True,
    )
    table = csat_by(levels, by)
    if table.empty:
        st.info(t("service.csat.none"), icon=":material/inbox:")
    else:
        if by in TRANSLATED_VALUES:
            table["group"] = table["group"].map(lambda value: value_label(value, language))
        table["label"] = table["group"]
        shown = table[["group", "rated", "csat_share", "csat_low", "csat_high", "csat_mean"]]
        st.dataframe(
            grey_unranked(shown, table["ranked"].to_numpy()),
            hide_index=True,
            column_config={
                "group": st.column_config.TextColumn(t(f"service.group.{by}")),
                "rated": number_column(t("service.column.rated"), "count"),
                "csat_share": number_column(t("voice.column.csat_share"), "percent"),
                "csat_low": number_column(t("voice.column.csat_low"), "percent"),
                "csat_high": number_column(t("voice.column.csat_high"), "percent"),
                "csat_mean": number_column(t("voice.column.csat_mean"), "score"),
            },
        )
        st.plotly_chart(
            interval_figure(
                table,
                IntervalLabels(
                    value=t("voice.column.csat_share"), too_small=t("voice.group.too_small")
                ),
                "csat_share",
                "csat_low",
                "csat_high",
            ),
            width="stretch",
        )
        st.caption(t("service.csat.caption", least=MIN_ANSWERS))
    st.subheader(t("service.reasons.title"))
    reasons = reason_counts(levels)
    if reasons.empty:
        st.info(t("service.reasons.none"), icon=":material/inbox:")
        return
    reasons["ticket_type"] = reasons["ticket_type"].map(lambda value: value_label(value, language))
    st.dataframe(
        reasons,
        hide_index=True,
        column_config={
            "ticket_type": st.column_config.TextColumn(t("service.column.ticket_type")),
            "reason": st.column_config.TextColumn(t("service.column.reason")),
            "tickets": number_column(t("service.column.tickets"), "count"),
            "share": number_column(t("service.column.share"), "percent"),
        },
    )
