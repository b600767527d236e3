"""Plotly figures of the RFM page: pure functions, frames and translated labels in,
`go.Figure` out. The frames are those of crm_core.customers.segments (rf_grid, segment_table,
migration flows); every visible word is passed in by the caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_core import numbers
from crm_core.customers.rfm import SCORE_LEVELS

MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
GRID_HEIGHT = 520
HISTOGRAM_HEIGHT = 320
TREEMAP_HEIGHT = 420
SANKEY_HEIGHT = 460
HISTOGRAM_BINS = 50
HISTOGRAM_UPPER_QUANTILE = 0.98
BAR_COLOR = "#6baed6"
CUT_COLOR = "#d62728"
TREEMAP_SCALE = "Blues"
SANKEY_NODE = "#4a7fb5"
SANKEY_LINK = "rgba(107, 174, 214, 0.28)"


@dataclass(frozen=True)
class GridLabels:
    """Words of the grid. `cell_customers` and `cell_average` are templates with
    {value} for the lines inside a cell ("{value} customers", "avg {value}"); `legend`
    says what a cell shows; `segments` maps segment names to their display labels."""

    r_score: str
    f_score: str
    customers: str
    avg_monetary: str
    revenue_share: str
    cell_customers: str = "{value} customers"
    cell_average: str = "avg {value}"
    legend: str = ""
    segment: str = "Segment"
    segments: Mapping[str, str] | None = None


def rf_grid_figure(grid: pd.DataFrame, labels: GridLabels, value: str = "customers") -> go.Figure:
    """5 x 5 heatmap, R score on the rows (5 on top) and F score on the columns, coloured
    by `value` ('customers' or 'revenue_share'); each cell shows its customer count and
    average monetary. `grid` has the columns of segments.rf_grid. Clicking a cell
    selects the point x = F score, y = R score of the overlay trace."""
    levels = list(range(1, SCORE_LEVELS + 1))
    cells = grid.set_index(["r_score", "f_score"])

    def matrix(column: str) -> np.ndarray:
        return np.array(
            [[float(cells.loc[(r, f), column]) for f in levels] for r in levels], dtype=float
        )

    customers = matrix("customers")
    avg_monetary = matrix("avg_monetary")
    share = matrix("revenue_share")
    names = labels.segments or {}
    has_segments = "segment" in cells.columns
    segment = [
        [
            names.get(cells.loc[(r, f), "segment"], cells.loc[(r, f), "segment"])
            if has_segments
            else ""
            for f in levels
        ]
        for r in levels
    ]

    def cell_text(i: int, j: int) -> str:
        lines = [f"<b>{segment[i][j]}</b>"] if segment[i][j] else []
        count = numbers.number_text(customers[i, j], "count")
        lines.append(labels.cell_customers.format(value=count))
        if not np.isnan(avg_monetary[i, j]):
            average = numbers.number_text(avg_monetary[i, j], "money")
            lines.append(labels.cell_average.format(value=average))
        return "<br>".join(lines)

    text = [[cell_text(i, j) for j in range(SCORE_LEVELS)] for i in range(SCORE_LEVELS)]
    shown = share if value == "revenue_share" else customers
    colorbar_title = labels.revenue_share if value == "revenue_share" else labels.customers
    hover = (
        f"{labels.r_score} %{{y}} · {labels.f_score} %{{x}}<br>"
        + (f"{labels.segment}: %{{customdata[3]}}<br>" if has_segments else "")
        + f"{labels.customers}: %{{customdata[0]:,}}<br>"
        f"{labels.avg_monetary}: %{{customdata[1]:,.2f}}<br>"
        f"{labels.revenue_share}: %{{customdata[2]:.1%}}<extra></extra>"
    )
    figure = go.Figure(
        go.Heatmap(
            z=shown,
            x=levels,
            y=levels,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            colorscale="Blues",
            colorbar={
                "title": {"text": colorbar_title},
                "tickformat": ".0%" if value == "revenue_share" else ",d",
            },
            hoverinfo="skip",
        )
    )
    # Heatmaps cannot be selected in Plotly, so one invisible square marker per cell
    # carries the hover and the click (its x = F score, y = R score).
    f_cells, r_cells = np.meshgrid(levels, levels)
    figure.add_scatter(
        x=f_cells.ravel().tolist(),
        y=r_cells.ravel().tolist(),
        mode="markers",
        marker={"symbol": "square", "size": 60, "color": "rgba(0,0,0,0)"},
        selected={"marker": {"color": "rgba(0,0,0,0)"}},
        unselected={"marker": {"color": "rgba(0,0,0,0)"}},
        customdata=[
            [float(c), float(a), float(sh), name]
            for c, a, sh, name in zip(
                customers.ravel(),
                avg_monetary.ravel(),
                share.ravel(),
                np.asarray(segment, dtype=object).ravel(),
                strict=True,
            )
        ],
        hovertemplate=hover,
        showlegend=False,
    )
    if labels.legend:
        figure.add_annotation(
            text=labels.legend,
            xref="paper",
            yref="paper",
            x=0,
            y=1.02,
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            font={"size": 12},
        )
    figure.update_layout(
        xaxis={"title": {"text": labels.f_score}, "dtick": 1, "range": [0.5, 5.5]},
        yaxis={"title": {"text": labels.r_score}, "dtick": 1, "range": [0.5, 5.5]},
        height=GRID_HEIGHT,
        margin={**MARGIN, "t": 40},
        clickmode="event+select",
        dragmode=False,
    )
    return figure


def histogram_counts(
    distinct: np.ndarray, counts: np.ndarray, bins: int = HISTOGRAM_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, customers per bin) of a metric given as sorted distinct values and
    how many customers hold each; the top 2% is folded into the last bin so a few
    huge spenders do not squash the chart. Integer metrics get one bin per value when
    they have few distinct values."""
    if len(distinct) == 0:
        return np.array([0.0, 1.0]), np.array([0])
    cumulative = np.cumsum(counts)
    upper_index = np.searchsorted(cumulative, HISTOGRAM_UPPER_QUANTILE * cumulative[-1])
    low = float(distinct[0])
    high = float(distinct[min(upper_index, len(distinct) - 1)])
    integral = bool(np.all(np.mod(distinct, 1) == 0))
    if integral and high - low + 1 <= bins:
        edges = np.arange(low - 0.5, high + 1.5)
    else:
        edges = np.linspace(low, high if high > low else low + 1, bins + 1)
    clipped = np.clip(distinct, edges[0], edges[-1])
    per_bin, _ = np.histogram(clipped, bins=edges, weights=counts)
    return edges, per_bin.astype(np.int64)


@dataclass(frozen=True)
class HistogramLabels:
    title: str
    value: str
    customers: str
    cut: str


def histogram_figure(
    edges: np.ndarray, counts: np.ndarray, cuts: Sequence[float], labels: HistogramLabels
) -> go.Figure:
    """Bars of customers per bin (from `histogram_counts`) with the cut-points in use
    drawn as vertical lines labelled c1..c4 (a cut beyond the bins is drawn at the
    chart's edge)."""
    centres = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    figure = go.Figure(
        go.Bar(
            x=centres.tolist(),
            y=np.asarray(counts).tolist(),
            width=widths.tolist(),
            marker_color=BAR_COLOR,
            name=labels.customers,
            hovertemplate=f"{labels.value}: %{{x:,.2f}}<br>{labels.customers}: %{{y:,}}"
            "<extra></extra>",
        )
    )
    for number, cut in enumerate(cuts, start=1):
        if np.isfinite(cut):
            x = float(min(max(cut, edges[0]), edges[-1]))
            figure.add_vline(x=x, line={"color": CUT_COLOR, "width": 2, "dash": "dash"})
            # one label per line, each a step lower, so close cuts do not stack
            figure.add_annotation(
                x=x,
                y=1 - 0.12 * (number - 1),
                xref="x",
                yref="paper",
                text=f"{labels.cut}{number}",
                showarrow=False,
                xanchor="left",
                yanchor="top",
                xshift=3,
                font={"size": 11, "color": CUT_COLOR},
                bgcolor="rgba(255,255,255,0.8)",
            )
    figure.update_layout(
        title={"text": labels.title, "font": {"size": 14}},
        xaxis={"title": {"text": labels.value}},
        yaxis={"title": {"text": labels.customers}, "tickformat": ",d"},
        height=HISTOGRAM_HEIGHT,
        margin=MARGIN,
        showlegend=False,
        bargap=0,
    )
    return figure


@dataclass(frozen=True)
class TreemapLabels:
    root: str
    customers: str
    revenue: str
    revenue_share: str


def segment_treemap_figure(
    table: pd.DataFrame, segment_labels: Mapping[str, str], labels: TreemapLabels
) -> go.Figure:
    """Treemap of the segments sized by customers and coloured by revenue share;
    `table` has the columns of segments.segment_table (empty segments are left out)."""
    shown = table.loc[table["customers"] > 0]
    names = [segment_labels.get(s, s) for s in shown["segment"]]
    share = shown["revenue_share"].fillna(0.0).to_numpy(dtype=float)
    figure = go.Figure(
        go.Treemap(
            labels=names,
            parents=[labels.root] * len(names),
            values=shown["customers"].tolist(),
            customdata=np.column_stack([shown["revenue"].to_numpy(dtype=float), share]),
            marker={"colors": share.tolist(), "colorscale": TREEMAP_SCALE, "showscale": False},
            texttemplate="%{label}<br>%{value:,}<br>%{customdata[1]:.1%}",
            hovertemplate=(
                f"%{{label}}<br>{labels.customers}: %{{value:,}}<br>"
                f"{labels.revenue}: %{{customdata[0]:,.2f}}<br>"
                f"{labels.revenue_share}: %{{customdata[1]:.1%}}<extra></extra>"
            ),
            branchvalues="remainder",
        )
    )
    figure.update_layout(height=TREEMAP_HEIGHT, margin=MARGIN)
    return figure


@dataclass(frozen=True)
class FlowLabels:
    before: str
    after: str
    customers: str
    revenue: str


def migration_sankey_figure(
    flows: pd.DataFrame, segment_labels: Mapping[str, str], labels: FlowLabels
) -> go.Figure:
    """Sankey of customers moving from the segments on the left (`before`) to those on
    the right (`after`); link width = customers, hover shows the revenue (after) of the
    flow. `flows` has the columns of segments.migration / migration_flows."""
    sources = list(dict.fromkeys(flows["from_segment"]))
    targets = list(dict.fromkeys(flows["to_segment"]))
    # the columns are named once, above each side, so a node is only its segment
    node_names = [segment_labels.get(s, s) for s in sources + targets]
    source_index = {s: i for i, s in enumerate(sources)}
    target_index = {s: len(sources) + i for i, s in enumerate(targets)}
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": node_names, "pad": 12, "thickness": 14, "color": SANKEY_NODE},
            # pale links and a halo around the words keep the labels readable on them
            textfont={"size": 12, "color": "#262730", "shadow": "0 0 3px white"},
            link={
                "source": [source_index[s] for s in flows["from_segment"]],
                "target": [target_index[s] for s in flows["to_segment"]],
                "value": flows["customers"].tolist(),
                "color": SANKEY_LINK,
                "customdata": flows["revenue_after"].to_numpy(dtype=float).tolist(),
                "hovertemplate": (
                    f"%{{source.label}} → %{{target.label}}<br>{labels.customers}: "
                    f"%{{value:,}}<br>{labels.revenue}: %{{customdata:,.2f}}<extra></extra>"
                ),
            },
        )
    )
    for x, anchor, text in ((0, "left", labels.before), (1, "right", labels.after)):
        figure.add_annotation(
            x=x,
            y=1.0,
            xref="paper",
            yref="paper",
            text=f"<b>{text}</b>",
            showarrow=False,
            xanchor=anchor,
            yanchor="bottom",
        )
    figure.update_layout(height=SANKEY_HEIGHT, margin={**MARGIN, "t": 30})
    return figure


def migration_matrix_figure(
    matrix: pd.DataFrame, segment_labels: Mapping[str, str], labels: FlowLabels
) -> go.Figure:
    """Heatmap of a from x to matrix (segments.migration_matrix): rows = before,
    columns = after, cell text = customers."""
    values = matrix.to_numpy(dtype=float)
    rows = [segment_labels.get(s, s) for s in matrix.index]
    columns = [segment_labels.get(s, s) for s in matrix.columns]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=columns,
            y=rows,
            text=[[f"{int(v):,}" if v else "" for v in row] for row in values],
            texttemplate="%{text}",
            colorscale="Purples",
            showscale=False,
            hovertemplate=(
                f"{labels.before}: %{{y}}<br>{labels.after}: %{{x}}<br>"
                f"{labels.customers}: %{{z:,}}<extra></extra>"
            ),
        )
    )
    figure.update_layout(
        xaxis={
            "title": {"text": labels.after},
            "type": "category",
            "side": "top",
            "tickangle": -90,
        },
        yaxis={"title": {"text": labels.before}, "type": "category", "autorange": "reversed"},
        height=max(300, 34 * len(rows) + 140),
        margin=MARGIN,
    )
    return figure
