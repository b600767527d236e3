"""Audiences: build a target list from segments, tags and filters with a live count and
revenue, preview the contact policy's exclusions, download the list (for who may
download; masked unless they may see personal data), see the tags and their rules, the
ready-made trigger lists, and the contact policy (for who may edit it).

The facts are cached per (store, data version, as-of date, window, scheme, tags);
everything below the selectors evaluates cached arrays (see ui/audiences/). The tabs
are ui/audiences/builder.py, tags.py, triggers.py and policy.py.
"""

from __future__ import annotations

import streamlit as st

from crm_core.asof import WINDOW_DAYS
from crm_core.errors import CrmError
from crm_core.i18n import translate
from ui.audiences import labels, load_audience_facts
from ui.audiences.builder import builder_tab
from ui.audiences.policy import policy_tab
from ui.audiences.tags import tags_tab
from ui.audiences.triggers import triggers_tab
from ui.context import KEY_WINDOW, RunContext, run_context, show_error, t
from ui.schemes import scheme_picker


def _window_radio(ctx: RunContext) -> None:
    """The purchase window (app.py reads it into the next run's context)."""
    st.radio(
        t("audiences.window"),
        options=list(WINDOW_DAYS),
        format_func=labels(
            {w: translate(f"audiences.window.{w}", ctx.language) for w in WINDOW_DAYS}
        ),
        key=KEY_WINDOW,
        horizontal=True,
        help=t("audiences.window_help"),
    )


def main() -> None:
    ctx = run_context()
    st.title(t("audiences.title"))
    st.caption(t("audiences.caption"))
    if ctx.latest_order is None:
        st.info(t("app.empty_store"), icon=":material/inbox:")
        return
    top = st.columns([2, 2, 1])
    with top[0]:
        _window_radio(ctx)
    with top[1]:
        try:
            picked = scheme_picker(ctx.engine, "audiences")
            scheme, scheme_id = picked.scheme, picked.scheme_id
        except CrmError as error:
            show_error(error)
            return
    with st.spinner(t("audiences.loading")):
        try:
            facts = load_audience_facts(ctx, scheme, scheme_id)
        except CrmError as error:
            show_error(error)
            return
    builder, tags, triggers, policy = st.tabs(
        [
            t("audiences.tab.builder"),
            t("audiences.tab.tags"),
            t("audiences.tab.triggers"),
            t("audiences.tab.policy"),
        ]
    )
    with builder:
        builder_tab(ctx, facts, scheme.name, scheme.version)
    with tags:
        tags_tab(ctx, facts)
    with triggers:
        with st.spinner(t("audiences.loading")):
            all_history = (
                facts
                if facts.window_days is None
                else load_audience_facts(ctx, scheme, scheme_id, all_history=True)
            )
        triggers_tab(ctx, all_history)
    with policy:
        policy_tab(ctx)


main()
