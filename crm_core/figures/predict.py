"""Plotly figures of the Predictions page: pure functions, frames and translated labels
in, `go.Figure` out. The frames are those of crm_core.predict; every visible word is
passed in by the caller. Purchases are purchase days; probabilities 0-1 are shown in
percent; CLV in shop currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MARGIN = {"l": 10, "r": 10, "t": 40, "b": 40}
"""The legend sits below the plot, clear of the title."""
CHART_HEIGHT = 380
ACTUAL_COLOR = "#1f77b4"
PREDICTED_COLOR = "#ff7f0e"
SCORER_COLORS = {"model": "#1f77b4", "recency": "#7f7f7f", "bgnbd": "#2ca02c"}
LEVEL_COLORS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#2ca02c"}
ROW_HEIGHT = 28
MIN_HEIGHT = 260


@dataclass(frozen=True)
class ActualPredictedLabels:
    x: str
    y: str
    actual: str
    predicted: str


def _layout(figure: go.Figure, title: str, height: int = CHART_HEIGHT) -> go.Figure:
    figure.update_layout(
        title=title,
        height=height,
        margin=MARGIN,
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "xanchor": "left"},
    )
    return figure


def tracking_figure(
    tracking: pd.DataFrame, labels: ActualPredictedLabels, title: str, cumulative: bool = False
) -> go.Figure:
    """Repeat purchases per week after the calibration end, actual against predicted (the
    tracking chart of Fader, Hardie & Lee), or their running totals. `tracking` from
    predict.clv.holdout_tracking."""
    prefix = "cumulative_" if cumulative else ""
    x = tracking["week"].tolist()
    dates = pd.to_datetime(tracking["week_start"]).dt.strftime("%Y-%m-%d").tolist()
    figure = go.Figure()
    for column, name, color, dash in (
        ("actual", labels.actual, ACTUAL_COLOR, "solid"),
        ("predicted", labels.predicted, PREDICTED_COLOR, "dash"),
    ):
        figure.add_scatter(
            x=x,
            y=tracking[prefix + column].tolist(),
            mode="lines",
            name=name,
            line={"color": color, "dash": dash},
            customdata=dates,
            hovertemplate="%{customdata}: %{y:,.1f}<extra>" + name + "</extra>",
        )
    figure.update_xaxes(title_text=labels.x)
    figure.update_yaxes(title_text=labels.y, rangemode="tozero")
    return _layout(figure, title)


def conditional_figure(
    table: pd.DataFrame, labels: ActualPredictedLabels, title: str, last_label: str
) -> go.Figure:
    """Mean holdout purchases by number of calibration repeat purchases, actual against
    predicted (the conditional-expectation chart). `table` from
    predict.clv.conditional_expectations; its last frequency reads `last_label` (e.g.
    "7+")."""
    frequencies = table["frequency"].astype(int).tolist()
    x = [str(value) for value in frequencies]
    if x:
        x[-1] = last_label
    figure = go.Figure()
    counts = table["customers"].tolist()
    for column, name, color, dash in (
        ("actual", labels.actual, ACTUAL_COLOR, "solid"),
        ("predicted", labels.predicted, PREDICTED_COLOR, "dash"),
    ):
        figure.add_scatter(
            x=x,
            y=table[column].tolist(),
            mode="lines+markers",
            name=name,
            line={"color": color, "dash": dash},
            customdata=counts,
            hovertemplate="%{x}: %{y:.2f} (n = %{customdata:,})<extra>" + name + "</extra>",
        )
    figure.update_xaxes(title_text=labels.x, type="category")
    figure.update_yaxes(title_text=labels.y, rangemode="tozero")
    return _layout(figure, title)


def calibration_figure(
    calibration: pd.DataFrame,
    scorer_names: Mapping[str, str],
    labels: ActualPredictedLabels,
    title: str,
) -> go.Figure:
    """Churn rate by decile of the score, predicted (mean score, dashed) against actual
    (solid), one colour per scorer; the diagonal is perfect calibration. `calibration`
    from predict.churn.ChurnBacktest (predicted and actual 0-1, shown in percent)."""
    figure = go.Figure()
    for scorer, rows in calibration.groupby("scorer", sort=False):
        color = SCORER_COLORS.get(str(scorer), "#9467bd")
        name = scorer_names.get(str(scorer), str(scorer))
        figure.add_scatter(
            x=(rows["predicted"] * 100).tolist(),
            y=(rows["actual"] * 100).tolist(),
            mode="lines+markers",
            name=name,
            line={"color": color},
            customdata=rows[["decile", "customers"]].to_numpy().tolist(),
            hovertemplate=f"{name} · " + "%{customdata[0]}: %{x:.1f}% → %{y:.1f}% "
            "(n = %{customdata[1]:,})<extra></extra>",
        )
    figure.add_scatter(
        x=[0, 100],
        y=[0, 100],
        mode="lines",
        line={"color": "#bdbdbd", "dash": "dot"},
        hoverinfo="skip",
        showlegend=False,
    )
    figure.update_xaxes(title_text=labels.predicted, range=[0, 100], ticksuffix="%")
    figure.update_yaxes(title_text=labels.actual, range=[0, 100], ticksuffix="%")
    return _layout(figure, title)


def importance_figure(
    importance: pd.DataFrame, fact_names: Mapping[str, str], x_title: str, title: str
) -> go.Figure:
    """Permutation importance per fact (mean drop of ROC AUC when the fact is shuffled,
    with its standard deviation), largest on top."""
    rows = importance.sort_values("importance", kind="stable")
    names = [fact_names.get(fact, fact) for fact in rows["fact"]]
    figure = go.Figure(
        go.Bar(
            x=rows["importance"].tolist(),
            y=names,
            orientation="h",
            marker_color="#1f77b4",
            error_x={"type": "data", "array": rows["std"].fillna(0).tolist()},
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(automargin=True)
    return _layout(figure, title, max(MIN_HEIGHT, ROW_HEIGHT * len(rows) + 90))


def risk_histogram(
    churn_risk: np.ndarray,
    high: float,
    medium: float,
    level_names: Mapping[str, str],
    x_title: str,
    y_title: str,
    title: str,
) -> go.Figure:
    """Customers by churn risk in 1-point bins, coloured by the level of each bin's lower
    edge (a bin a cut point splits takes the lower level), the two cut points marked."""
    risk = np.asarray(churn_risk, dtype=float)
    risk = risk[np.isfinite(risk)] * 100
    edges = np.arange(0, 101, 1.0)
    counts, _ = np.histogram(risk, bins=edges)
    lower = edges[:-1]
    middles = lower + 0.5
    level = np.where(lower >= high * 100, "high", np.where(lower >= medium * 100, "medium", "low"))
    figure = go.Figure()
    for name in ("low", "medium", "high"):
        chosen = level == name
        figure.add_bar(
            x=middles[chosen].tolist(),
            y=counts[chosen].tolist(),
            width=1.0,
            name=level_names[name],
            marker_color=LEVEL_COLORS[name],
            hovertemplate="%{x:.0f}%: %{y:,}<extra>" + level_names[name] + "</extra>",
        )
    for cut in (medium, high):
        figure.add_vline(x=cut * 100, line={"color": "#444", "dash": "dash", "width": 1})
    figure.update_xaxes(title_text=x_title, range=[0, 100], ticksuffix="%")
    figure.update_yaxes(title_text=y_title)
    figure.update_layout(bargap=0)
    return _layout(figure, title)


def clv_histogram(clv: np.ndarray, x_title: str, y_title: str, title: str) -> go.Figure:
    """Customers by predicted 12-month CLV, the top 1% left out of the axis so the bulk
    stays readable (their count is in the hover of the last bar)."""
    values = np.asarray(clv, dtype=float)
    values = values[np.isfinite(values)]
    top = float(np.quantile(values, 0.99)) if len(values) else 1.0
    figure = go.Figure(
        go.Histogram(
            x=np.minimum(values, top).tolist(),
            nbinsx=50,
            marker_color="#1f77b4",
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(title_text=y_title)
    return _layout(figure, title)
