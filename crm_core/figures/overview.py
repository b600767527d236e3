"""Plotly figures of the Overview page: pure functions, frame and translated labels in,
`go.Figure` out. The frames are those of crm_core.customers.overview; every visible word is passed
in by the caller so the figures follow the user's language."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MONTH_FORMAT = "%Y-%m"
NET_REVENUE_COLOR = "#1f77b4"
PARTIAL_MONTH_COLOR = "#aec7e8"
REFUNDS_COLOR = "#d62728"
NEW_COLOR = "#2ca02c"
RETURNING_COLOR = "#1f77b4"
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
CHART_HEIGHT = 380
HEATMAP_ROW_HEIGHT = 32
HEATMAP_MIN_HEIGHT = 260


@dataclass(frozen=True)
class RevenueLabels:
    month: str
    amount: str
    net_revenue: str
    partial_month: str
    refunds: str


@dataclass(frozen=True)
class NewReturningLabels:
    month: str
    customers: str
    new: str
    returning: str


@dataclass(frozen=True)
class CohortLabels:
    cohort: str
    months_since: str
    retention: str
    cohort_size: str


LEGEND_ABOVE = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}
"""The legend in one row above the plot, clear of the month labels and the axis title."""
MONTH_LABELS_SHOWN = 12


def _month_axis(title: str, months: int) -> dict:
    """A category axis of months that labels at most about MONTH_LABELS_SHOWN of them,
    slanted, so labels never run into each other or into the axis title."""
    step = max(1, -(-months // MONTH_LABELS_SHOWN))
    return {
        "title": {"text": title, "standoff": 8},
        "type": "category",
        "tickmode": "linear",
        "dtick": step,
        "tickangle": -45,
        "automargin": True,
    }


def _month_text(months: pd.Series) -> np.ndarray:
    return pd.to_datetime(months).dt.strftime(MONTH_FORMAT).to_numpy(dtype=object)


def revenue_by_month_figure(monthly: pd.DataFrame, labels: RevenueLabels) -> go.Figure:
    """Bars of net revenue per month (the partial as-of month in a lighter colour) and a
    line of refunds. `monthly` has the columns of overview.monthly_revenue."""
    months = _month_text(monthly["month"])
    partial = monthly["is_partial"].to_numpy(dtype=bool)
    figure = go.Figure()
    for name, mask, color in (
        (labels.net_revenue, ~partial, NET_REVENUE_COLOR),
        (labels.partial_month, partial, PARTIAL_MONTH_COLOR),
    ):
        if not mask.any():
            continue
        figure.add_bar(
            x=months[mask].tolist(),
            y=monthly.loc[mask, "net_revenue"].tolist(),
            name=name,
            marker_color=color,
            hovertemplate="%{x}: %{y:,.2f}<extra>" + name + "</extra>",
        )
    figure.add_scatter(
        x=months.tolist(),
        y=monthly["refunds"].tolist(),
        name=labels.refunds,
        mode="lines+markers",
        line={"color": REFUNDS_COLOR},
        hovertemplate="%{x}: %{y:,.2f}<extra>" + labels.refunds + "</extra>",
    )
    figure.update_layout(
        barmode="overlay",
        xaxis=_month_axis(labels.month, len(months)),
        yaxis={"title": {"text": labels.amount}, "tickformat": ",.0f"},
        legend=LEGEND_ABOVE,
        height=CHART_HEIGHT,
        margin=MARGIN,
    )
    return figure


def new_vs_returning_figure(monthly: pd.DataFrame, labels: NewReturningLabels) -> go.Figure:
    """Stacked bars of new and returning buying customers per month; `monthly` has the
    columns of overview.new_vs_returning_by_month."""
    months = _month_text(monthly["month"])
    figure = go.Figure()
    for column, name, color in (
        ("new_customers", labels.new, NEW_COLOR),
        ("returning_customers", labels.returning, RETURNING_COLOR),
    ):
        figure.add_bar(
            x=months.tolist(),
            y=monthly[column].tolist(),
            name=name,
            marker_color=color,
            hovertemplate="%{x}: %{y:,}<extra>" + name + "</extra>",
        )
    figure.update_layout(
        barmode="stack",
        xaxis=_month_axis(labels.month, len(months)),
        yaxis={"title": {"text": labels.customers}, "tickformat": ",d"},
        legend={**LEGEND_ABOVE, "traceorder": "normal"},
        height=CHART_HEIGHT,
        margin=MARGIN,
    )
    return figure


def cohort_heatmap_figure(cohorts: pd.DataFrame, labels: CohortLabels) -> go.Figure:
    """Heatmap of retention (share 0-1 shown as %) with cohorts as rows (oldest on top)
    and months since the first paid order as columns; cells not yet observable are
    blank; colours span 0 to the highest retention after month 0. `cohorts` has the
    columns of overview.cohort_retention."""
    grid = cohorts.pivot(index="cohort_month", columns="months_since", values="retention")
    grid = grid.sort_index()
    sizes = cohorts.drop_duplicates("cohort_month").set_index("cohort_month")["cohort_size"]
    rows = [f"{month.strftime(MONTH_FORMAT)} ({int(sizes[month]):,})" for month in grid.index]
    values = grid.to_numpy(dtype=float)
    later = cohorts.loc[cohorts["months_since"] > 0, "retention"]
    # Month 0 is 100% by definition; scale the colours to the later months so their
    # differences show.
    color_max = float(later.max()) if len(later) and later.max() > 0 else 1.0
    text = [["" if pd.isna(v) else f"{v:.0%}" for v in row] for row in values]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=[str(int(c)) for c in grid.columns],
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=color_max,
            colorbar={"title": {"text": labels.retention}, "tickformat": ".0%"},
            hovertemplate=(
                labels.cohort
                + " ("
                + labels.cohort_size
                + "): %{y}<br>"
                + labels.months_since
                + ": %{x}<br>"
                + labels.retention
                + ": %{z:.1%}<extra></extra>"
            ),
        )
    )
    figure.update_layout(
        xaxis={"title": {"text": labels.months_since}, "type": "category", "side": "top"},
        yaxis={"title": {"text": labels.cohort}, "autorange": "reversed", "type": "category"},
        height=max(HEATMAP_MIN_HEIGHT, HEATMAP_ROW_HEIGHT * len(rows) + 120),
        margin=MARGIN,
    )
    return figure
