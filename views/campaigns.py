"""Campaigns: did each campaign pay and did it cause anything? The list (ROI 1 : x,
holdout uplift, verdict) with a chart over time, one campaign in depth (arms, funnel,
cumulative conversion, incremental figures, who responded), an A/B calculator with a
holdout planner, and the set-up (a campaign from a download, the margin rate).

Everything is read as of the run's date; the conversion window is each campaign's own
unless the view sets one. The tabs are ui/campaigns/listing.py, detail.py,
calculator.py and setup.py.
"""

from __future__ import annotations

import streamlit as st

from crm_core.errors import CrmError
from crm_core.outreach.campaigns import DEFAULT_WINDOW_DAYS, MAX_WINDOW_DAYS
from ui.audiences import show_notice
from ui.campaigns import KEY_NOTICE, KEY_OWN_WINDOW, KEY_WINDOW, load_summary
from ui.campaigns.calculator import calculator_tab
from ui.campaigns.detail import detail_tab
from ui.campaigns.listing import list_tab
from ui.campaigns.setup import setup_tab
from ui.context import run_context, show_error, t


def _view_window() -> int | None:
    """The window this view uses for every campaign, or None for each campaign's own."""
    left, right = st.columns([1, 2])
    own = left.toggle(
        t("campaigns.window.own"), value=True, key=KEY_OWN_WINDOW, help=t("campaigns.window.help")
    )
    if own:
        return None
    return int(
        right.number_input(
            t("campaigns.window.days"),
            min_value=1,
            max_value=MAX_WINDOW_DAYS,
            value=DEFAULT_WINDOW_DAYS,
            step=1,
            key=KEY_WINDOW,
        )
    )


def main() -> None:
    ctx = run_context()
    st.title(t("campaigns.title"))
    st.caption(t("campaigns.caption"))
    with st.expander(t("campaigns.definitions.title"), icon=":material/help:"):
        st.markdown(t("campaigns.definitions.text"))
    show_notice(KEY_NOTICE)
    window = _view_window()
    try:
        with st.spinner(t("campaigns.loading")):
            summary = load_summary(ctx, window)
    except CrmError as error:
        show_error(error)
        return
    listing, one, calculator, setup = st.tabs(
        [
            t("campaigns.tab.list"),
            t("campaigns.tab.one"),
            t("campaigns.tab.calculator"),
            t("campaigns.tab.setup"),
        ]
    )
    with listing:
        list_tab(ctx, summary)
    with one:
        detail_tab(ctx, summary, window)
    with calculator:
        calculator_tab()
    with setup:
        setup_tab(ctx)


main()
