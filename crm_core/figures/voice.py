"""Plotly figures of the Customer voice and Service pages: pure functions, frames and
translated labels in, `go.Figure` out. The frames are those of crm_core.voice; every
visible word is passed in by the caller. NPS in points (-100 to 100), shares and
achievement in percent, times in hours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
CHART_HEIGHT = 400
NPS_COLOR = "#1f77b4"
BAND_FILL = "rgba(31, 119, 180, 0.18)"
CHANGE_UP_COLOR = "#2ca02c"
CHANGE_DOWN_COLOR = "#d62728"
BAND_COLORS = {"promoter": "#2ca02c", "passive": "#bdbdbd", "detractor": "#d62728"}
STAGE_COLORS = {"first_response": "#1f77b4", "resolution": "#ff7f0e"}
UNRANKED_COLOR = "#c7c7c7"
RANKED_COLOR = "#1f77b4"
ROW_HEIGHT = 30
MIN_HEIGHT = 260
BACKLOG_COLORS = {"low": "#c6dbef", "normal": "#6baed6", "high": "#fd8d3c", "urgent": "#d62728"}


@dataclass(frozen=True)
class TrendLabels:
    nps: str
    answers: str
    interval: str
    significant: str


def nps_trend_figure(periods: pd.DataFrame, labels: TrendLabels) -> go.Figure:
    """NPS per period (plain score, line) with the adjusted Wald 95 % interval as a band,
    a marker where the change against the previous period is significant, and the
    number of answers as bars below. `periods` from voice.nps.nps_by_period."""
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.72, 0.28]
    )
    x = periods["period"].astype(str).tolist()
    low = periods["ci_low"].to_numpy(dtype=float)
    high = periods["ci_high"].to_numpy(dtype=float)
    figure.add_scatter(
        x=x + x[::-1], y=np.r_[high, low[::-1]].tolist(), fill="toself", fillcolor=BAND_FILL,
        line={"width": 0}, hoverinfo="skip", name=labels.interval, row=1, col=1,
    )  # fmt: skip
    nps = periods["nps"].to_numpy(dtype=float)
    figure.add_scatter(
        x=x, y=nps.tolist(), mode="lines+markers", name=labels.nps,
        line={"color": NPS_COLOR}, connectgaps=False,
        customdata=np.c_[low, high, periods["answers"].to_numpy()].tolist(),
        hovertemplate="%{x}: %{y:.1f} [%{customdata[0]:.1f}, %{customdata[1]:.1f}], "
        "n = %{customdata[2]:,}<extra></extra>",
        row=1, col=1,
    )  # fmt: skip
    significant = periods["significant_change"].to_numpy(dtype=bool)
    if significant.any():
        change = periods["change"].to_numpy(dtype=float)[significant]
        figure.add_scatter(
            x=np.asarray(x, dtype=object)[significant].tolist(), y=nps[significant].tolist(),
            mode="markers", name=labels.significant,
            marker={"size": 14, "symbol": "star",
                    "color": np.where(change > 0, CHANGE_UP_COLOR, CHANGE_DOWN_COLOR).tolist()},
            customdata=change.tolist(),
            hovertemplate="%{x}: %{customdata:+.1f}<extra></extra>",
            row=1, col=1,
        )  # fmt: skip
    figure.add_bar(
        x=x, y=periods["answers"].tolist(), name=labels.answers, marker_color="#9ecae1",
        showlegend=False, hovertemplate="%{x}: %{y:,}<extra></extra>", row=2, col=1,
    )  # fmt: skip
    figure.update_yaxes(title_text=labels.nps, row=1, col=1)
    figure.update_yaxes(title_text=labels.answers, row=2, col=1)
    figure.update_xaxes(type="category", row=2, col=1)
    figure.update_layout(
        height=CHART_HEIGHT + 80, margin=MARGIN,
        legend={"orientation": "h", "y": 1.08, "x": 0},
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class ShareLabels:
    share: str
    bands: Mapping[str, str]


def band_shares_figure(periods: pd.DataFrame, labels: ShareLabels) -> go.Figure:
    """Promoter, passive and detractor shares of each period's answers, stacked to
    100 %."""
    x = periods["period"].astype(str).tolist()
    answers = periods["answers"].to_numpy(dtype=float)
    figure = go.Figure()
    for band, column in (("detractor", "detractors"), ("passive", "passives"),
                         ("promoter", "promoters")):  # fmt: skip
        with np.errstate(invalid="ignore", divide="ignore"):
            share = 100.0 * periods[column].to_numpy(dtype=float) / answers
        figure.add_bar(
            x=x, y=share.tolist(), name=labels.bands[band], marker_color=BAND_COLORS[band],
            hovertemplate="%{x}: %{y:.1f}%<extra>" + labels.bands[band] + "</extra>",
        )  # fmt: skip
    figure.update_layout(
        barmode="stack", height=CHART_HEIGHT - 40, margin={**MARGIN, "t": 70},
        yaxis_range=[0, 100], xaxis_type="category", yaxis_title=labels.share,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class DistributionLabels:
    score: str
    answers: str
    bands: Mapping[str, str]


def score_distribution_figure(distribution: pd.DataFrame, labels: DistributionLabels) -> go.Figure:
    """Answers per score 0-10, coloured by band. `distribution` from
    voice.nps.score_distribution."""
    bands = distribution["band"].astype(str).to_numpy()
    figure = go.Figure(
        go.Bar(
            x=distribution["score"].tolist(), y=distribution["answers"].tolist(),
            marker_color=[BAND_COLORS[band] for band in bands],
            customdata=np.c_[distribution["share"].to_numpy(dtype=float),
                             [labels.bands[band] for band in bands]].tolist(),
            hovertemplate="%{x}: %{y:,} (%{customdata[0]:.1f}%) %{customdata[1]}<extra></extra>",
        )
    )  # fmt: skip
    figure.update_layout(
        height=CHART_HEIGHT - 80, margin=MARGIN, xaxis_title=labels.score,
        yaxis_title=labels.answers, xaxis={"tickmode": "linear", "dtick": 1},
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class IntervalLabels:
    value: str
    too_small: str


def interval_figure(
    table: pd.DataFrame, labels: IntervalLabels, value: str, low: str, high: str
) -> go.Figure:
    """One dot per group with its 95 % interval as a whisker (`value`, `low`, `high`
    columns of `table`), top to bottom in the table's order; groups not ranked are grey
    and drawn without a whisker. Group names in 'label', ranking in 'ranked'."""
    frame = table.iloc[::-1]
    values = frame[value].to_numpy(dtype=float)
    ranked = frame["ranked"].to_numpy(dtype=bool)
    lows = np.where(ranked, frame[low].to_numpy(dtype=float), values)
    highs = np.where(ranked, frame[high].to_numpy(dtype=float), values)
    names = frame["label"].astype(str).tolist()
    hover = [
        f"{name}: {v:.1f}" + (f" [{lo:.1f}, {hi:.1f}]" if r else f" ({labels.too_small})")
        for name, v, lo, hi, r in zip(names, values, lows, highs, ranked, strict=True)
    ]
    figure = go.Figure(
        go.Scatter(
            x=values.tolist(), y=names, mode="markers",
            marker={"size": 11, "color": np.where(ranked, RANKED_COLOR, UNRANKED_COLOR).tolist()},
            error_x={"type": "data", "symmetric": False,
                     "array": np.nan_to_num(highs - values).tolist(),
                     "arrayminus": np.nan_to_num(values - lows).tolist()},
            hovertext=hover, hoverinfo="text",
        )
    )  # fmt: skip
    figure.update_layout(
        height=max(MIN_HEIGHT, ROW_HEIGHT * len(frame) + 90), margin=MARGIN,
        xaxis_title=labels.value, yaxis={"type": "category"},
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class ImpactLabels:
    impact: str


def word_impact_figure(words: pd.DataFrame, labels: ImpactLabels, top: int = 20) -> go.Figure:
    """The `top` words with the largest NPS impact either way, as horizontal bars (green:
    the NPS would fall without the word, red: it would rise). `words` from
    voice.verbatims.word_impacts."""
    chosen = words.reindex(words["impact"].abs().sort_values(ascending=False).index).head(top)
    chosen = chosen.sort_values("impact")
    impact = chosen["impact"].to_numpy(dtype=float)
    figure = go.Figure(
        go.Bar(
            x=impact.tolist(), y=chosen["word"].astype(str).tolist(), orientation="h",
            marker_color=np.where(impact >= 0, CHANGE_UP_COLOR, CHANGE_DOWN_COLOR).tolist(),
            customdata=chosen["answers"].tolist(),
            hovertemplate="%{y}: %{x:+.2f} (n = %{customdata:,})<extra></extra>",
        )
    )  # fmt: skip
    figure.add_vline(x=0, line={"color": "#999999"})
    figure.update_layout(
        height=max(MIN_HEIGHT, ROW_HEIGHT * len(chosen) + 80), margin=MARGIN,
        xaxis_title=labels.impact, yaxis={"type": "category"},
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class TimesLabels:
    hours: str
    median: str
    p90: str
    stages: Mapping[str, str]


def response_times_figure(times: pd.DataFrame, labels: TimesLabels) -> go.Figure:
    """Median (solid) and 90th percentile (dotted) hours per period for first response
    and resolution. `times` from voice.service.response_times."""
    figure = go.Figure()
    for stage, rows in times.groupby("stage", sort=False):
        name = labels.stages.get(str(stage), str(stage))
        color = STAGE_COLORS.get(str(stage))
        x = rows["period"].astype(str).tolist()
        figure.add_scatter(
            x=x, y=rows["median_hours"].tolist(), mode="lines+markers",
            name=f"{name} · {labels.median}", line={"color": color},
            hovertemplate="%{x}: %{y:.1f} h<extra></extra>",
        )  # fmt: skip
        figure.add_scatter(
            x=x, y=rows["p90_hours"].tolist(), mode="lines",
            name=f"{name} · {labels.p90}", line={"color": color, "dash": "dot"},
            hovertemplate="%{x}: %{y:.1f} h<extra></extra>",
        )  # fmt: skip
    figure.update_layout(
        height=CHART_HEIGHT, margin=MARGIN, yaxis_title=labels.hours, xaxis_type="category",
        legend={"orientation": "h", "y": 1.12, "x": 0},
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class BacklogLabels:
    tickets: str
    bands: Mapping[str, str]
    priorities: Mapping[str, str]


def backlog_figure(backlog: pd.DataFrame, labels: BacklogLabels) -> go.Figure:
    """Open tickets per age band, stacked by priority in the order of
    `labels.priorities` (low at the bottom). `backlog` from voice.service.open_backlog."""
    figure = go.Figure()
    bands = list(dict.fromkeys(backlog["band"].astype(str)))
    names = [labels.bands.get(band, band) for band in bands]
    present = set(backlog["priority"].astype(str))
    known = [p for p in labels.priorities if p in present]
    order = known + sorted(present - set(known))
    for priority in order:
        rows = backlog[backlog["priority"].astype(str) == priority]
        counts = rows.set_index("band")["tickets"].reindex(bands, fill_value=0)
        name = labels.priorities.get(priority, priority)
        figure.add_bar(
            x=names, y=counts.tolist(), name=name,
            marker_color=BACKLOG_COLORS.get(str(priority)),
            hovertemplate="%{x}: %{y:,}<extra>" + name + "</extra>",
        )  # fmt: skip
    figure.update_layout(
        barmode="stack", height=CHART_HEIGHT - 60, margin=MARGIN, yaxis_title=labels.tickets,
        legend={"orientation": "h", "y": 1.12, "x": 0},
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class PerThousandLabels:
    per_thousand: str
    types: Mapping[str, str]


def per_thousand_figure(table: pd.DataFrame, labels: PerThousandLabels) -> go.Figure:
    """Tickets per 1,000 paid orders per month, one line per ticket type. `table` from
    voice.service.tickets_per_thousand_orders."""
    figure = go.Figure()
    for ticket_type, rows in table.groupby("ticket_type", sort=True):
        name = labels.types.get(str(ticket_type), str(ticket_type))
        figure.add_scatter(
            x=rows["period"].astype(str).tolist(), y=rows["per_thousand"].tolist(),
            mode="lines+markers", name=name,
            customdata=np.c_[rows["tickets"].to_numpy(), rows["orders"].to_numpy()].tolist(),
            hovertemplate="%{x}: %{y:.2f} (%{customdata[0]:,} / %{customdata[1]:,})<extra>"
            + name + "</extra>",
        )  # fmt: skip
    figure.update_layout(
        height=CHART_HEIGHT, margin=MARGIN, yaxis_title=labels.per_thousand,
        xaxis_type="category", legend={"orientation": "h", "y": 1.12, "x": 0},
    )  # fmt: skip
    return figure
