"""RFM explorer: the R x F grid, R/F/M histograms with their cut-points, segment table
and treemap, live threshold tuning, the rule editor, saved versions and migrations.

The facts are loaded once per (store, data version, as-of date, window); everything
below the selectors runs in one fragment that re-scores those cached facts, so a slider
move reruns only that panel and never queries the database. The panels live in ui/rfm/.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crm_core.asof import WINDOW_DAYS
from crm_core.customers.rfm import RfmFacts
from crm_core.customers.segments import Scheme, evaluate_scheme, segment_labels
from ui.context import KEY_WINDOW, RunContext, run_context, t
from ui.data import quality_notes
from ui.rfm import KEY_DRAFT, KEY_EARLIER, KEY_TAB, TABS, load_facts, translator
from ui.rfm.draft import apply_pending_selection, selected_scheme, start_draft
from ui.rfm.grid import distributions, grid
from ui.rfm.members import member_list
from ui.rfm.migration import migration_over_time, what_moves
from ui.rfm.rules import rules
from ui.rfm.save import save
from ui.rfm.segments import population, segments
from ui.rfm.tuning import cut_points, tuning_panel

EARLIER_DEFAULT_DAYS = 90


@st.fragment
def _explorer(ctx: RunContext, facts: RfmFacts, saved: Scheme, earlier: dt.date) -> None:
    """Everything that only re-scores the cached facts: a widget here reruns this
    fragment alone. The tuning panel and save sit beside the cut-points and the grid;
    below them one tab at a time runs (segments, customers, distributions, what moves,
    migration, rules)."""
    base = st.session_state[KEY_DRAFT]
    controls, results = st.columns([1, 2], gap="large")
    with controls:
        draft = tuning_panel(ctx, facts, base)
    result = evaluate_scheme(facts, draft)
    labels = segment_labels(draft, ctx.language)
    with controls:
        save(ctx, draft)
    with results:
        cut_points(result)
        grid(ctx, facts, result, labels)
    titles = [t(f"rfm.tab.{name}") for name in TABS]
    if st.session_state.get(KEY_TAB) not in titles:  # e.g. after a language switch
        st.session_state.pop(KEY_TAB, None)
    panels = dict(zip(TABS, st.tabs(titles, key=KEY_TAB, on_change="rerun"), strict=True))
    if panels["segments"].open:
        with panels["segments"]:
            segments(facts, result, labels)
    if panels["customers"].open:
        with panels["customers"]:
            member_list(ctx, facts, result, labels)
    if panels["distributions"].open:
        with panels["distributions"]:
            distributions(ctx, result)
    if panels["moves"].open:
        with panels["moves"]:
            what_moves(ctx, facts, result, saved, labels)
    if panels["migration"].open:
        with panels["migration"]:
            migration_over_time(ctx, facts, result, earlier, labels)
    if panels["rules"].open:
        with panels["rules"]:
            rules(draft, labels)


def main() -> None:
    ctx = run_context()
    st.title(t("rfm.title"))
    with st.expander(t("rfm.definitions.title"), icon=":material/help:"):
        st.markdown(t("rfm.definitions.body"))
    if ctx.latest_order is None:
        st.info(t("rfm.empty"), icon=":material/inbox:")
        return
    quality_notes(ctx)
    apply_pending_selection()
    top = st.columns([2, 3, 2])
    with top[0]:
        st.radio(
            t("rfm.window"),
            options=list(WINDOW_DAYS),
            format_func=translator("rfm.window.{option}", ctx.language),
            key=KEY_WINDOW,
            horizontal=True,
            help=t("rfm.window_help"),
        )
    with top[1]:
        saved_scheme, source = selected_scheme(ctx)
    with top[2]:
        if KEY_EARLIER not in st.session_state:
            st.session_state[KEY_EARLIER] = ctx.as_of - dt.timedelta(days=EARLIER_DEFAULT_DAYS)
        earlier = st.date_input(
            t("rfm.earlier"), key=KEY_EARLIER, max_value=ctx.as_of, help=t("rfm.earlier_help")
        )
    earlier = min(earlier, ctx.as_of)
    st.caption(t("rfm.caption", as_of=ctx.as_of.isoformat(), window=t(f"rfm.window.{ctx.window}")))
    start_draft(saved_scheme, source)
    with st.spinner(t("rfm.loading")):
        facts = load_facts(ctx, ctx.as_of)  # the earlier date's: when Migration opens
    population(facts)
    if facts.scored_count == 0:
        st.info(t("rfm.no_scored"), icon=":material/inbox:")
        return
    _explorer(ctx, facts, saved_scheme, earlier)


main()
