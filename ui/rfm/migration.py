"""The two flow views: what moves when the draft replaces the saved scheme, and how
customers moved between the earlier as-of date and the current one (Sankey, from x to
matrix and the flows' table). The flows themselves come from crm_core."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core import numbers
from crm_core.customers.rfm import RfmFacts
from crm_core.customers.segments import (
    Scheme,
    SchemeResult,
    labelled_flows,
    migration_matrix,
    moved_customers,
    period_flows,
    scheme_change_flows,
    segment_labels,
)
from crm_core.figures.rfm import FlowLabels, migration_matrix_figure, migration_sankey_figure
from ui.context import RunContext, t
from ui.rfm import alignment, baseline_codes, load_facts
from ui.tables import number_column


def flows_view(
    flows: pd.DataFrame, labels: dict[str, str], flow_labels: FlowLabels, key: str
) -> None:
    """Sankey and from x to matrix side by side, then the flows biggest first."""
    if flows.empty:
        st.caption(t("rfm.flows.empty"))
        return
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            migration_sankey_figure(flows, labels, flow_labels), width="stretch", key=f"{key}.s"
        )
    with right:
        st.plotly_chart(
            migration_matrix_figure(
                migration_matrix(flows, order=list(labels)), labels, flow_labels
            ),
            width="stretch",
            key=f"{key}.m",
        )
    st.dataframe(
        labelled_flows(flows, labels),
        hide_index=True,
        width="stretch",
        column_config={
            "from_segment": st.column_config.TextColumn(flow_labels.before),
            "to_segment": st.column_config.TextColumn(flow_labels.after),
            "customers": number_column(t("rfm.col.customers"), "count"),
            "revenue_before": number_column(t("rfm.col.revenue_before"), "money"),
            "revenue_after": number_column(t("rfm.col.revenue_after"), "money"),
        },
    )


def what_moves(
    ctx: RunContext,
    facts: RfmFacts,
    result: SchemeResult,
    saved: Scheme,
    labels: dict[str, str],
) -> None:
    """Customers who change segment when the draft replaces the saved scheme."""
    st.subheader(t("rfm.moves.title"), help=t("rfm.moves.help"))
    labels = {**labels, **segment_labels(saved, ctx.language)}
    flows = scheme_change_flows(facts, saved, result, baseline_codes(ctx, saved))
    moved = moved_customers(flows)
    st.metric(
        t("rfm.moves.moved"),
        f"{numbers.number_text(moved, 'count', ctx.language)} "
        f"({numbers.number_text(moved / max(facts.scored_count, 1), 'share', ctx.language)})",
        help=t("rfm.moves.moved_help"),
    )
    if moved == 0:  # the draft equals the saved scheme: nothing to draw
        st.caption(t("rfm.moves.none"))
        return
    flows_view(
        flows,
        labels,
        FlowLabels(
            before=t("rfm.moves.saved"),
            after=t("rfm.moves.draft"),
            customers=t("rfm.col.customers"),
            revenue=t("rfm.col.revenue"),
        ),
        "crm.rfm.moves",
    )


def migration_over_time(
    ctx: RunContext,
    facts: RfmFacts,
    result: SchemeResult,
    earlier: dt.date,
    labels: dict[str, str],
) -> None:
    """How the customers moved between `earlier` and the run's as-of date under the
    draft."""
    st.subheader(
        t("rfm.migration.title", earlier=earlier.isoformat(), as_of=ctx.as_of.isoformat()),
        help=t("rfm.migration.help"),
    )
    with st.spinner(t("rfm.loading")):
        earlier_facts = load_facts(ctx, earlier)
    flows = period_flows(earlier_facts, facts, result, alignment(ctx, earlier))
    flows_view(
        flows,
        labels,
        FlowLabels(
            before=earlier.isoformat(),
            after=ctx.as_of.isoformat(),
            customers=t("rfm.col.customers"),
            revenue=t("rfm.col.revenue"),
        ),
        "crm.rfm.migration",
    )
