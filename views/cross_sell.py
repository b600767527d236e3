"""Cross-sell: what sells together (rules at SKU or category level over a period and
segments, filtered and sorted), a heatmap of the top items' lift, what a pair is worth
per segment and each customer's next best category. The parts are in ui/cross_sell.py;
the lists are made on the Audiences page."""

from __future__ import annotations

import dataclasses

import streamlit as st

from crm_core import numbers
from crm_core.errors import CrmError
from ui.audiences import ALL_HISTORY, load_audience_facts
from ui.baskets import item_labels, lines_loaded, period_rules
from ui.context import run_context, show_error, t
from ui.cross_sell import (
    customer_segments,
    filtered_rules,
    heatmap_tab,
    next_best_tab,
    period_controls,
    rule_filters,
    rules_tab,
    segment_pick,
    worth_tab,
)
from ui.schemes import scheme_picker


def main() -> None:
    ctx = run_context()
    st.title(t("baskets.title"))
    st.caption(t("baskets.caption"))
    with st.expander(t("baskets.definitions.title"), icon=":material/help:"):
        st.markdown(t("baskets.definitions.text"))
    if not lines_loaded(ctx):
        st.info(t("baskets.no_lines"), icon=":material/inbox:")
        return
    period = period_controls(ctx)
    with st.container(border=True):
        picked = scheme_picker(ctx.engine, "baskets")
        with st.spinner(t("baskets.loading_segments")):
            facts = load_audience_facts(
                dataclasses.replace(ctx, window=ALL_HISTORY), picked.scheme, picked.scheme_id
            )
        chosen, segment_names = segment_pick(ctx, facts)
    segments = customer_segments(facts)
    customers = frozenset(segments.index[segments.isin(chosen)]) if chosen else None
    customers_key = (
        f"{ctx.as_of}|{picked.scheme.to_json()}|{picked.scheme.version}|{sorted(chosen)}"
    )
    try:
        with st.spinner(t("baskets.loading")):
            period_result = period_rules(
                ctx, period.level, period.since, period.until, customers_key, customers
            )
    except CrmError as error:
        show_error(error)
        return
    filters = rule_filters(period.level)
    labels = item_labels(ctx, period.level, period_result.rules["antecedent"].drop_duplicates())
    rules = filtered_rules(period_result, filters, labels)
    left, middle, right = st.columns(3)
    language = ctx.language
    left.metric(
        t("baskets.metric.baskets"), numbers.number_text(period_result.baskets, "count", language)
    )
    middle.metric(
        t(f"baskets.metric.items.{period.level}"),
        numbers.number_text(period_result.items, "count", language),
    )
    right.metric(t("baskets.metric.rules"), numbers.number_text(len(rules), "count", language))
    table, heatmap, worth, next_best = st.tabs(
        [
            t("baskets.tab.rules"),
            t("baskets.tab.heatmap"),
            t("baskets.tab.worth"),
            t("baskets.tab.next"),
        ]
    )
    with table:
        rules_tab(ctx, rules, labels, period.level)
    with heatmap:
        heatmap_tab(period_result.rules, labels)
    with worth:
        worth_tab(ctx, rules, labels, period_result, segments, segment_names)
    with next_best:
        next_best_tab(
            ctx,
            facts.customer_ids
            if customers is None
            else facts.customer_ids[facts.customer_ids.isin(customers)],
        )


main()
