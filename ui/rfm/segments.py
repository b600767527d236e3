"""Who is scored (the population metrics), and the segment table beside its treemap (a
click on a row lists the segment's customers)."""

from __future__ import annotations

import streamlit as st

from crm_core import numbers
from crm_core.customers.rfm import RfmFacts
from crm_core.customers.segments import SchemeResult, population_summary, segment_table
from crm_core.figures.rfm import TreemapLabels, segment_treemap_figure
from ui.context import current_language, t
from ui.rfm import KEY_MEMBERS, KEY_SEGMENT_TABLE, open_tab
from ui.tables import number_column

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
    language = current_language()
    columns = st.columns(len(POPULATION_METRICS))
    for column, key in zip(columns, POPULATION_METRICS, strict=True):
        column.metric(
            t(f"rfm.population.{key}"),
            numbers.number_text(summary[key], "count", language),
            help=t(f"rfm.population.{key}.help"),
            border=True,
        )
    if summary["non_positive_monetary"]:
        st.info(
            t(
                "rfm.population.non_positive_note",
                count=numbers.number_text(summary["non_positive_monetary"], "count", language),
            ),
            icon=":material/info:",
        )


def _pick_segment_row(names: list[str]) -> None:
    event = st.session_state.get(KEY_SEGMENT_TABLE)
    rows = (event or {}).get("selection", {}).get("rows", []) if event else []
    if rows:
        st.session_state[KEY_MEMBERS] = {"segment": names[rows[0]]}
        open_tab("customers")


def _column_config() -> dict:
    kinds = {
        "customers": ("rfm.col.customers", "count"),
        "customer_share": ("rfm.col.customer_share", "share"),
        "revenue": ("rfm.col.revenue", "money"),
        "revenue_share": ("rfm.col.revenue_share", "share"),
        "avg_r_score": ("rfm.col.avg_r", "decimal"),
        "avg_f_score": ("rfm.col.avg_f", "decimal"),
        "avg_m_score": ("rfm.col.avg_m", "decimal"),
        "avg_recency_days": ("rfm.col.avg_recency", "decimal"),
        "avg_frequency": ("rfm.col.avg_frequency", "decimal"),
        "avg_monetary": ("rfm.col.avg_monetary", "money"),
        "avg_order_value": ("rfm.col.avg_order_value", "money"),
    }
    return {
        "segment": st.column_config.TextColumn(t("rfm.col.segment")),
        **{name: number_column(t(key), kind) for name, (key, kind) in kinds.items()},
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
