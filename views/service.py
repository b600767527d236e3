"""Service: how fast service answers and whether it keeps its SLA. Response and
resolution times by week, SLA achievement by priority, tier, type, channel and agent,
the open backlog and the tickets about to breach, volume per 1,000 orders, CSAT by
group, the reasons customers gave, and the SLA policy (admins edit it).

Tickets are measured as of the run's date (now, when that is today); the tabs are in
ui/voice/service.py and ui/voice/policy.py."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crm_core.errors import CrmError
from ui.audiences import show_notice
from ui.context import run_context, show_error, t
from ui.voice import (
    KEY_HORIZON,
    KEY_NOTICE,
    KEY_SINCE,
    load_levels,
    view_moment,
    whole_history_facts,
)
from ui.voice.policy import policy_tab
from ui.voice.service import achievement_tab, backlog_tab, headline, times_tab, volume_tab

DEFAULT_DAYS = 90
DEFAULT_HORIZON_HOURS = 4
MAX_HORIZON_HOURS = 24 * 14


def main() -> None:
    ctx = run_context()
    st.title(t("service.title"))
    st.caption(t("service.caption"))
    with st.expander(t("service.definitions.title"), icon=":material/help:"):
        st.markdown(t("service.definitions.text"))
    show_notice(KEY_NOTICE)
    try:
        with st.spinner(t("service.loading")):
            facts = whole_history_facts(ctx)
            policy, levels = load_levels(ctx, facts)
    except CrmError as error:
        show_error(error)
        return
    moment = view_moment(ctx)
    left, right = st.columns(2)
    first = levels["created_at"].min().date() if len(levels) else ctx.as_of
    since = left.date_input(
        t("service.since"),
        value=max(first, ctx.as_of - dt.timedelta(days=DEFAULT_DAYS - 1)),
        min_value=min(first, ctx.as_of),
        max_value=ctx.as_of,
        key=KEY_SINCE,
        help=t("service.since_help"),
    )
    horizon = int(
        right.number_input(
            t("service.horizon"),
            min_value=1,
            max_value=MAX_HORIZON_HOURS,
            value=DEFAULT_HORIZON_HOURS,
            step=1,
            key=KEY_HORIZON,
            help=t("service.horizon_help"),
        )
    )
    in_period = levels[levels["created_at"] >= dt.datetime.combine(since, dt.time())]
    st.caption(t("service.scope", moment=f"{moment:%Y-%m-%d %H:%M}", tickets=len(in_period)))
    headline(in_period, int(levels["is_open"].sum()))
    times, achievement, backlog, volume, settings = st.tabs(
        [
            t("service.tab.times"),
            t("service.tab.sla"),
            t("service.tab.backlog"),
            t("service.tab.volume"),
            t("service.tab.policy"),
        ]
    )
    with times:
        times_tab(in_period)
    with achievement:
        achievement_tab(ctx, in_period)
    with backlog:
        backlog_tab(ctx, levels, in_period, moment, horizon)
    with volume:
        volume_tab(ctx, in_period, levels)
    with settings:
        policy_tab(ctx, policy)


main()
