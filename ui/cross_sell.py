"""The Cross-sell page's parts: its controls, the rule table, the lift heatmap, what a
pair is worth per segment and the customers' next best categories. The numbers come
from crm_core.customers.baskets; the loaders are in ui/baskets.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from crm_core import auth, numbers
from crm_core.customers.baskets import ALL_SEGMENTS, pair_basket_facts
from crm_core.customers.segments import NOT_SCORED, segment_labels
from crm_core.figures.baskets import lift_heatmap, pair_worth_figure
from crm_core.outreach.audiences import AudienceFacts
from ui.audiences import labels as format_labels
from ui.baskets import (
    KEY_DOWNLOAD,
    KEY_FORMAT,
    KEY_LEVEL,
    KEY_MIN_CONFIDENCE,
    KEY_MIN_LIFT,
    KEY_MIN_SUPPORT,
    KEY_NEXT_COUNT,
    KEY_PAIR,
    KEY_PERIOD_AS_OF,
    KEY_SEARCH,
    KEY_SEGMENTS,
    KEY_SINCE,
    KEY_SORT,
    KEY_UNTIL,
    TOP_SKUS,
    PeriodRules,
    purchase_history,
)
from ui.context import RunContext, t
from ui.tables import number_column, table_download

LEVEL_OPTIONS = ("category", "sku")
SORTS = ("lift", "revenue", "baskets")
DEFAULT_DAYS = 365
DEFAULT_MIN_SUPPORT = {"category": 1.0, "sku": 0.02}
"""Percent of baskets, per level (a SKU pair is in far fewer baskets than a category pair)."""
DEFAULT_MIN_CONFIDENCE = 10.0
HEATMAP_ITEMS = 15
PAIRS_OFFERED = 50
FIRST_DAY = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class Period:
    level: str
    since: dt.date
    until: dt.date


def period_controls(ctx: RunContext) -> Period:
    """The level (category or SKU) and the period (default: the year up to the as-of day)."""
    level_column, since_column, until_column = st.columns([2, 1, 1])
    level = level_column.radio(
        t("baskets.level"),
        LEVEL_OPTIONS,
        format_func=format_labels({value: t(f"baskets.level.{value}") for value in LEVEL_OPTIONS}),
        key=KEY_LEVEL,
        horizontal=True,
        help=t("baskets.level_help", top=numbers.number_text(TOP_SKUS, "count", ctx.language)),
    )
    first = FIRST_DAY
    if st.session_state.get(KEY_PERIOD_AS_OF) != ctx.as_of:  # a new as-of date: its year
        st.session_state[KEY_PERIOD_AS_OF] = ctx.as_of
        st.session_state[KEY_UNTIL] = ctx.as_of
        st.session_state[KEY_SINCE] = ctx.as_of - dt.timedelta(days=DEFAULT_DAYS - 1)
    since = since_column.date_input(
        t("baskets.since"), min_value=first, max_value=ctx.as_of, key=KEY_SINCE
    )
    until = until_column.date_input(
        t("baskets.until"), min_value=first, max_value=ctx.as_of, key=KEY_UNTIL
    )
    return Period(level, since, until)


def segment_pick(ctx: RunContext, facts: AudienceFacts) -> tuple[list[str], dict[str, str]]:
    """The chosen segments of the facts' scheme (empty: every customer) and each
    segment's display name."""
    names = facts.scheme.segment_names
    shown = segment_labels(facts.scheme, ctx.language)
    chosen = [name for name in st.session_state.get(KEY_SEGMENTS, []) if name in names]
    st.session_state[KEY_SEGMENTS] = chosen
    picked = st.multiselect(
        t("baskets.segments"),
        names,
        format_func=lambda name: shown.get(name, name),
        key=KEY_SEGMENTS,
        placeholder=t("baskets.segments_all"),
        help=t("baskets.segments_help"),
    )
    return picked, shown


def customer_segments(facts: AudienceFacts) -> pd.Series:
    """Each scored customer's segment name, indexed by customer_id."""
    names = np.array(facts.assignment.names, dtype=object)[facts.assignment.codes]
    series = pd.Series(names, index=facts.customer_ids.astype(str).to_numpy())
    return series[series != NOT_SCORED]


@dataclass(frozen=True)
class RuleFilters:
    min_support: float
    min_confidence: float
    min_lift: float
    sort: str
    search: str


def rule_filters(level: str) -> RuleFilters:
    """Minimum support and confidence (percent on screen, shares returned), minimum
    lift, the sort and the product search."""
    support_key = f"{KEY_MIN_SUPPORT}.{level}"
    columns = st.columns([1, 1, 1, 2])
    support = columns[0].number_input(
        t("baskets.min_support"),
        min_value=0.0,
        max_value=100.0,
        value=DEFAULT_MIN_SUPPORT[level],
        step=0.01 if level == "sku" else 0.5,
        format="%.2f",
        key=support_key,
        help=t("baskets.min_support_help"),
    )
    confidence = columns[1].number_input(
        t("baskets.min_confidence"),
        min_value=0.0,
        max_value=100.0,
        value=DEFAULT_MIN_CONFIDENCE,
        step=5.0,
        format="%.1f",
        key=KEY_MIN_CONFIDENCE,
        help=t("baskets.min_confidence_help"),
    )
    lift = columns[2].number_input(
        t("baskets.min_lift"),
        min_value=0.0,
        value=1.0,
        step=0.1,
        format="%.2f",
        key=KEY_MIN_LIFT,
        help=t("baskets.min_lift_help"),
    )
    sort = columns[3].radio(
        t("baskets.sort"),
        SORTS,
        format_func=format_labels({value: t(f"baskets.sort.{value}") for value in SORTS}),
        key=KEY_SORT,
        horizontal=True,
    )
    search = st.text_input(
        t("baskets.search"),
        key=KEY_SEARCH,
        placeholder=t("baskets.search_placeholder"),
        icon=":material/search:",
    )
    return RuleFilters(support / 100.0, confidence / 100.0, float(lift), sort, search.strip())


def filtered_rules(
    period: PeriodRules, filters: RuleFilters, labels: dict[str, str]
) -> pd.DataFrame:
    """The period's rules meeting the minimums (inclusive), matching the search on either
    side (code or name, case ignored), sorted by the chosen measure."""
    rules = period.rules
    keep = (
        (rules["support"] >= filters.min_support)
        & (rules["confidence"] >= filters.min_confidence)
        & (rules["lift"] >= filters.min_lift)
    )
    if filters.search:
        needle = filters.search.casefold()
        matching = {
            item for item, label in labels.items() if needle in f"{item} {label}".casefold()
        }
        keep &= rules["antecedent"].isin(matching) | rules["consequent"].isin(matching)
    chosen = rules[keep]
    order = [filters.sort, *(name for name in ("lift", "baskets") if name != filters.sort)]
    return chosen.sort_values(
        [*order, "antecedent", "consequent"],
        ascending=[False] * len(order) + [True, True],
        kind="stable",
        ignore_index=True,
    )


def rules_tab(ctx: RunContext, rules: pd.DataFrame, labels: dict[str, str], level: str) -> None:
    """The rule table (a SKU's name holds its code) and its download."""
    if rules.empty:
        st.info(t("baskets.no_rules"), icon=":material/filter_alt_off:")
        return
    table = pd.DataFrame(
        {
            "antecedent": rules["antecedent"].map(labels),
            "consequent": rules["consequent"].map(labels),
            "baskets": rules["baskets"].astype(int),
            "support": 100 * rules["support"],
            "confidence": 100 * rules["confidence"],
            "lift": rules["lift"],
            "revenue": rules["revenue"].round(0),
        }
    )
    headers = {name: t(f"baskets.column.{name}") for name in table.columns}
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            **{name: st.column_config.TextColumn(headers[name]) for name in table.columns},
            "baskets": number_column(headers["baskets"], "count"),
            "support": st.column_config.NumberColumn(headers["support"], format="%.3f%%"),
            "confidence": number_column(headers["confidence"], "percent"),
            "lift": number_column(headers["lift"], "decimal"),
            "revenue": number_column(headers["revenue"], "money"),
        },
    )
    st.caption(
        t("baskets.rules_caption", rules=numbers.number_text(len(rules), "count", ctx.language))
    )
    if ctx.actor is not None and ctx.actor.may(auth.DOWNLOAD):
        table_download(
            ctx,
            table.round({"support": 4, "confidence": 2, "lift": 4}),
            headers,
            label=t("baskets.download"),
            file_stem=f"cross-sell-rules-{level}-{ctx.as_of.isoformat()}",
            format_key=KEY_FORMAT,
            download_key=KEY_DOWNLOAD,
        )


def heatmap_tab(rules: pd.DataFrame, labels: dict[str, str]) -> None:
    """Lift between the HEATMAP_ITEMS items in the most baskets of the period, over every
    pair (the minimums do not apply: low lifts are part of the picture)."""
    if rules.empty:
        st.info(t("baskets.no_rules"), icon=":material/filter_alt_off:")
        return
    counts = pd.concat(
        [
            rules[["antecedent", "antecedent_baskets"]].set_axis(["item", "baskets"], axis=1),
            rules[["consequent", "consequent_baskets"]].set_axis(["item", "baskets"], axis=1),
        ]
    ).drop_duplicates("item")
    top = counts.sort_values(["baskets", "item"], ascending=[False, True]).head(HEATMAP_ITEMS)
    items = top["item"].tolist()
    st.plotly_chart(
        lift_heatmap(
            rules,
            items,
            labels,
            title=t("baskets.heatmap.title", items=len(items)),
            x_title=t("baskets.heatmap.then"),
            y_title=t("baskets.heatmap.bought"),
            lift_title=t("baskets.column.lift"),
            hover=t("baskets.heatmap.hover"),
        ),
        width="stretch",
    )
    st.caption(t("baskets.heatmap.caption"))


def worth_tab(
    ctx: RunContext,
    rules: pd.DataFrame,
    labels: dict[str, str],
    period: PeriodRules,
    segments: pd.Series,
    segment_names: dict[str, str],
) -> None:
    """For a chosen rule A -> B: baskets with A that also hold B against A alone, per
    segment: baskets, items per basket, average order value and its difference."""
    if rules.empty:
        st.info(t("baskets.no_rules"), icon=":material/filter_alt_off:")
        return
    offered = rules.head(PAIRS_OFFERED)
    pairs = list(zip(offered["antecedent"], offered["consequent"], strict=True))
    if st.session_state.get(KEY_PAIR) not in pairs:
        st.session_state[KEY_PAIR] = pairs[0]
    pair = st.selectbox(
        t("baskets.worth.pair"),
        pairs,
        format_func=lambda p: f"{labels.get(p[0], p[0])} → {labels.get(p[1], p[1])}",
        key=KEY_PAIR,
        help=t("baskets.worth.pair_help", pairs=PAIRS_OFFERED),
    )
    facts = pair_basket_facts(period.table, period.matrix, pair[0], pair[1], segments)
    shown = {ALL_SEGMENTS: t("baskets.worth.all"), **segment_names}
    wide = facts.pivot(index="segment", columns="with_pair").reindex(pd.unique(facts["segment"]))
    table = pd.DataFrame({"segment": [shown.get(s, s) for s in wide.index]})
    for name in ("baskets", "items_per_basket", "average_order_value"):
        for flag, suffix in ((True, "with"), (False, "without")):
            column = (name, flag)
            values = wide[column] if column in wide.columns else np.nan
            table[f"{name}_{suffix}"] = np.asarray(values, dtype=np.float64)
    table["aov_difference"] = (
        table["average_order_value_with"] - table["average_order_value_without"]
    )
    headers = {name: t(f"baskets.worth.column.{name}") for name in table.columns}
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "segment": st.column_config.TextColumn(headers["segment"]),
            **{
                f"baskets_{s}": number_column(headers[f"baskets_{s}"], "count")
                for s in ("with", "without")
            },
            **{
                f"items_per_basket_{s}": number_column(headers[f"items_per_basket_{s}"], "decimal")
                for s in ("with", "without")
            },
            **{
                name: number_column(headers[name], "money")
                for name in (
                    "average_order_value_with",
                    "average_order_value_without",
                    "aov_difference",
                )
            },
        },
    )
    st.plotly_chart(
        pair_worth_figure(
            facts,
            shown,
            title=t(
                "baskets.worth.chart",
                a=labels.get(pair[0], pair[0]),
                b=labels.get(pair[1], pair[1]),
            ),
            value_title=t("baskets.worth.aov"),
            with_label=t("baskets.worth.with"),
            without_label=t("baskets.worth.without"),
            hover=t("baskets.worth.hover"),
        ),
        width="stretch",
    )
    st.caption(t("baskets.worth.caption"))


def next_best_tab(ctx: RunContext, customer_ids: pd.Series) -> None:
    """How many of the chosen customers have each category as their next best, with the
    mean score, and where to make the list; scored when asked (every customer's
    purchases are read)."""
    st.caption(t("baskets.next.explain"))
    if not st.toggle(t("baskets.next.count"), key=KEY_NEXT_COUNT):
        st.page_link(
            "views/audiences.py", label=t("baskets.next.to_audiences"), icon=":material/groups:"
        )
        return
    with st.spinner(t("baskets.next.loading")):
        best = purchase_history(ctx).next_best()
    chosen = best[(best["rank"] == 1) & best["customer_id"].isin(customer_ids.astype(str))]
    if chosen.empty:
        st.info(t("baskets.next.none"), icon=":material/inbox:")
        return
    counts = (
        chosen.groupby("category")
        .agg(customers=("customer_id", "size"), score=("score", "mean"))
        .reset_index()
        .sort_values(["customers", "category"], ascending=[False, True])
    )
    counts["score"] = 100 * counts["score"]
    st.dataframe(
        counts,
        hide_index=True,
        width="stretch",
        column_config={
            "category": st.column_config.TextColumn(t("baskets.next.category")),
            "customers": number_column(t("baskets.next.customers"), "count"),
            "score": number_column(t("baskets.next.score"), "percent"),
        },
    )
    st.caption(t("baskets.next.caption", as_of=ctx.as_of.isoformat()))
    st.page_link(
        "views/audiences.py", label=t("baskets.next.to_audiences"), icon=":material/groups:"
    )
