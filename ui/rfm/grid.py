"""The R x F grid (a click lists the cell's customers on the Customers tab) and the R, F
and M histograms with the cut-points in use."""

from __future__ import annotations

import streamlit as st

from crm_core.customers.rfm import AXES, AXIS_METRIC, RfmFacts
from crm_core.customers.segments import SchemeResult, rf_grid
from crm_core.figures.rfm import GridLabels, HistogramLabels, histogram_figure, rf_grid_figure
from ui.context import RunContext, t
from ui.rfm import (
    KEY_GRID_CHART,
    KEY_GRID_VALUE,
    KEY_MEMBERS,
    field_label,
    histograms,
    open_tab,
    translator,
)


def _pick_cell() -> None:
    event = st.session_state.get(KEY_GRID_CHART)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points:
        st.session_state[KEY_MEMBERS] = {"r": int(points[0]["y"]), "f": int(points[0]["x"])}
        open_tab("customers")


def grid(ctx: RunContext, facts: RfmFacts, result: SchemeResult, labels: dict[str, str]) -> None:
    """The R x F heatmap coloured by customers or revenue share; each cell names its
    main segment, its customers and their average net spend."""
    st.subheader(t("rfm.grid.title"), help=t("rfm.grid.help"))
    value = st.segmented_control(
        t("rfm.grid.value"),
        options=["customers", "revenue_share"],
        format_func=translator("rfm.grid.value.{option}", ctx.language),
        default="customers",
        key=KEY_GRID_VALUE,
    )
    figure = rf_grid_figure(
        rf_grid(facts, result.scores, result),
        GridLabels(
            r_score=t("rfm.axis.r_score"),
            f_score=t("rfm.axis.f_score"),
            customers=t("rfm.col.customers"),
            avg_monetary=t("rfm.col.avg_monetary"),
            revenue_share=t("rfm.col.revenue_share"),
            cell_customers=t("rfm.grid.cell_customers"),
            cell_average=t("rfm.grid.cell_average"),
            legend=t("rfm.grid.legend"),
            segment=t("rfm.col.segment"),
            segments=labels,
        ),
        value=value or "customers",
    )
    st.plotly_chart(
        figure,
        width="stretch",
        key=KEY_GRID_CHART,
        on_select=_pick_cell,
        selection_mode="points",
    )
    st.caption(t("rfm.grid.click"))


def distributions(ctx: RunContext, result: SchemeResult) -> None:
    """One histogram per axis with the cut-points in use."""
    bins = histograms(ctx)
    for column, axis in zip(st.columns(3), AXES, strict=True):
        edges, counts = bins[axis]
        with column:
            st.plotly_chart(
                histogram_figure(
                    edges,
                    counts,
                    result.scores.axes[axis].cuts,
                    HistogramLabels(
                        title=t(f"rfm.histogram.{axis}"),
                        value=field_label(AXIS_METRIC[axis]),
                        customers=t("rfm.col.customers"),
                        cut="c",
                    ),
                ),
                width="stretch",
            )
