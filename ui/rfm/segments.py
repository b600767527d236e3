"""Who is scored (the population metrics), and the segment table beside its treemap (a
click on a row lists the segment's customers)."""

from __future__ import annotations

import streamlit as st

from crm_core.customers.rfm import RfmFacts
from crm_core.customers.segments import SchemeResult, population_summary, segment_table
from crm_core.figures.rfm import TreemapLabels, segment_treemap_figure
from ui.context import t
from ui.rfm import KEY_MEMBERS, KEY_SEGMENT_TABLE, open_tab

POPULATION_METRICS = (
    "customers",
    "scored",
    "prospects",
    "no_purchase_in_window",
    "non_positive_monetary",
)


def population(facts: RfmFacts) -> None:
    """Customers, scored, prospects, no purchase in the window, non-positive monetary."""
    summary = population_summary(facts)
    columns = st.columns(len(POPULATION_METRICS))
    for column, key in zip(columns, POPULATION_METRICS, strict=True):
        column.metric(
            t(f"rfm.population.{key}"),
            f"{summary[key]:,}",
            help=t(f"rfm.population.{key}.help"),
            border=True,
        )
    if summary["non_positive_monetary"]:
        st.info(
            t("rfm.population.non_positive_note", count=summary["non_positive_monetary"]),
            icon=":material/info:",
        )


def _pick_segment_row(names: list[str]) -> None:
    event = st.session_state.get(KEY_SEGMENT_TABLE)
    rows = (event or {}).get("selection", {}).get("rows", []) if event else []
    if rows:
        st.session_state[KEY_MEMBERS] = {"segment": names[rows[0]]}
        open_tab("customers")


def _column_config() -> dict:
    number = st.column_config.NumberColumn
    return {
        "segment": st.column_config.TextColumn(t("rfm.col.segment")),
        "customers": number(t("rfm.col.customers"), format="localized"),
        "customer_share": number(t("rfm.col.customer_share"), format="percent"),
        "revenue": number(t("rfm.col.revenue"), format="localized"),
        "revenue_share": number(t("rfm.col.revenue_share"), format="percent"),
        "avg_r_score": number(t("rfm.col.avg_r"), format="%.2f"),
        "avg_f_score": number(t("rfm.col.avg_f"), format="%.2f"),
        "avg_m_score": number(t("rfm.col.avg_m"), format="%.2f"),
        "avg_recency_days": number(t("rfm.col.avg_recency"), format="%.1f"),
        "avg_frequency": number(t("rfm.col.avg_frequency"), format="%.2f"),
        "avg_monetary": number(t("rfm.col.avg_monetary"), format="%.2f"),
        "avg_order_value": number(t("rfm.col.avg_order_value"), format="%.2f"),
    }


def segments(facts: RfmFacts, result: SchemeResult, labels: dict[str, str]) -> None:
    """One row per segment (customers, revenue, shares, averages) and the treemap."""
    st.subheader(t("rfm.segments.title"), help=t("rfm.segments.help"))
    table = segment_table(facts, result)
    shown = table.assign(segment=table["segment"].map(labels))
    names = table["segment"].tolist()
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height="content",
        key=KEY_SEGMENT_TABLE,
        on_select=lambda: _pick_segment_row(names),
        selection_mode="single-row",
        column_config=_column_config(),
    )
    st.caption(t("rfm.segments.click"))
    st.plotly_chart(
        segment_treemap_figure(
            table,
            labels,
            TreemapLabels(
                root=t("rfm.treemap.root"),
                customers=t("rfm.col.customers"),
                revenue=t("rfm.col.revenue"),
                revenue_share=t("rfm.col.revenue_share"),
            ),
        ),
        width="stretch",
    )
