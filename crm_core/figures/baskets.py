"""Plotly figures of the Cross-sell page: pure functions, frames and translated labels
in, `go.Figure` out. The frames are those of crm_core.customers.baskets; every visible
word is passed in by the caller."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}
CELL_PX = 34
MIN_HEIGHT = 320
LABEL_CHARACTERS = 18
WITH_COLOR = "#1f77b4"
WITHOUT_COLOR = "#9e9e9e"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def lift_heatmap(
    rules: pd.DataFrame,
    items: list[str],
    item_labels: Mapping[str, str],
    *,
    title: str,
    x_title: str,
    y_title: str,
    lift_title: str,
    hover: str,
) -> go.Figure:
    """Lift of A -> B for every pair of `items` (rows A, columns B; empty where the pair
    is in no basket or on the diagonal), coloured around 1 (no association). `rules`:
    `pair_rules` rows; `hover`: a template with {a}, {b}, {lift}, {confidence} (percent)
    and {baskets}."""
    position = {item: n for n, item in enumerate(items)}
    lift = np.full((len(items), len(items)), np.nan)
    text = np.full((len(items), len(items)), "", dtype=object)
    chosen = rules[rules["antecedent"].isin(items) & rules["consequent"].isin(items)]
    labels = [_short(item_labels.get(item, item)) for item in items]
    for a, b, value, confidence, baskets in zip(
        chosen["antecedent"],
        chosen["consequent"],
        chosen["lift"],
        chosen["confidence"],
        chosen["baskets"],
        strict=True,
    ):
        row, column = position[a], position[b]
        lift[row, column] = value
        text[row, column] = hover.format(
            a=item_labels.get(a, a),
            b=item_labels.get(b, b),
            lift=value,
            confidence=100 * confidence,
            baskets=int(baskets),
        )
    top = float(np.nanmax(lift)) if np.isfinite(lift).any() else 2.0
    figure = go.Figure(
        go.Heatmap(
            z=lift,
            x=labels,
            y=labels,
            text=text,
            hovertemplate="%{text}<extra></extra>",
            colorscale=[
                [0.0, "#d6e4f0"],
                [min(1.0 / max(top, 1.01), 1.0), "#ffffff"],
                [1.0, "#c0392b"],
            ],
            zmin=0.0,
            zmax=max(top, 1.01),
            colorbar={"title": {"text": lift_title}},
            xgap=1,
            ygap=1,
        )
    )
    figure.update_layout(
        title=title,
        height=max(MIN_HEIGHT, CELL_PX * len(items) + 160),
        margin=MARGIN,
        xaxis={"title": x_title, "tickangle": -45, "side": "bottom"},
        yaxis={"title": y_title, "autorange": "reversed"},
    )
    return figure


def pair_worth_figure(
    facts: pd.DataFrame,
    segment_labels: Mapping[str, str],
    *,
    title: str,
    value_title: str,
    with_label: str,
    without_label: str,
    hover: str,
) -> go.Figure:
    """Average order value of the baskets with A that also hold B against those with A
    alone, per segment (`pair_basket_facts` rows; bars in shop currency). `hover`: a
    Plotly template over x (segment), y (value) and customdata (baskets)."""
    figure = go.Figure()
    for flag, name, color in (
        (True, with_label, WITH_COLOR),
        (False, without_label, WITHOUT_COLOR),
    ):
        part = facts[facts["with_pair"] == flag]
        figure.add_bar(
            x=[segment_labels.get(s, s) for s in part["segment"]],
            y=part["average_order_value"].round(2).tolist(),
            name=name,
            marker_color=color,
            customdata=part["baskets"].tolist(),
            hovertemplate=hover + "<extra>" + name + "</extra>",
        )
    figure.update_layout(
        title=title,
        barmode="group",
        height=380,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        yaxis={"title": value_title, "tickformat": ",.0f"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0, "xanchor": "left"},
    )
    return figure
