"""Customer voice: what customers say. NPS over time with its interval and significant
changes, NPS and CSAT by segment, tag, channel, region and service experience, and the
comments with their frequent words and each word's NPS impact.

Answers are read as of the run's date, from the chosen first day; the tabs are in
ui/voice/answers.py."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crm_core.errors import CrmError
from ui.context import run_context, show_error, t
from ui.schemes import scheme_picker
from ui.voice import (
    KEY_RANGE,
    load_answer_groups,
    load_answers,
    load_levels,
    whole_history_facts,
)
from ui.voice.answers import groups_tab, headline, text_tab, trend_tab

DEFAULT_DAYS = 365


def main() -> None:
    ctx = run_context()
    st.title(t("voice.title"))
    st.caption(t("voice.caption"))
    with st.expander(t("voice.definitions.title"), icon=":material/help:"):
        st.markdown(t("voice.definitions.text"))
    try:
        with st.spinner(t("voice.loading")):
            answers = load_answers(ctx)
    except CrmError as error:
        show_error(error)
        return
    if answers.empty:
        st.info(t("voice.no_answers"), icon=":material/inbox:")
        return
    first = answers["responded_at"].min().date()
    start_default = max(first, ctx.as_of - dt.timedelta(days=DEFAULT_DAYS - 1))
    left, right = st.columns([1, 2])
    since = left.date_input(
        t("voice.since"),
        value=start_default,
        min_value=first,
        max_value=ctx.as_of,
        key=KEY_RANGE,
        help=t("voice.since_help", as_of=ctx.as_of.isoformat()),
    )
    with right:
        picked = scheme_picker(ctx.engine, "voice")
    chosen = answers[answers["responded_at"] >= dt.datetime.combine(since, dt.time())]
    headline(chosen)
    with st.spinner(t("voice.loading_groups")):
        facts = whole_history_facts(ctx, picked)
        policy, levels = load_levels(ctx, facts)
        groups = load_answer_groups(ctx, picked, since, chosen, facts, levels, policy)
    over_time, by_group, text = st.tabs(
        [t("voice.tab.trend"), t("voice.tab.groups"), t("voice.tab.text")]
    )
    with over_time:
        trend_tab(ctx, chosen)
    with by_group:
        groups_tab(ctx, chosen, groups)
    with text:
        text_tab(ctx, chosen, groups)


main()
