"""Plotly figures of the Campaigns page: pure functions, frame and translated labels in,
`go.Figure` out. The frames are those of crm_core.outreach.campaigns; every visible word
is passed in by the caller so the figures follow the user's language. Shares are drawn
as percentages (uplift in percentage points)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
CHART_HEIGHT = 420
CHANNEL_COLORS = {"sms": "#1f77b4", "email": "#ff7f0e", "wecom": "#2ca02c"}
TREATED_COLOR = "#1f77b4"
CONTROL_COLOR = "#7f7f7f"
GAIN_COLOR = "#2ca02c"
LOSS_COLOR = "#d62728"
NEUTRAL_COLOR = "#1f77b4"
UNRANKED_COLOR = "#c7c7c7"
GROUP_ROW_HEIGHT = 28
GROUP_MIN_HEIGHT = 240


@dataclass(frozen=True)
class TimelineLabels:
    started: str
    roi: str
    uplift: str
    channels: Mapping[str, str]


def roi_uplift_figure(
    summary: pd.DataFrame, labels: TimelineLabels, min_control: int = 1
) -> go.Figure:
    """Two panels over the start date, one series per channel: ROI (the x of 1 : x) on
    top, uplift in percentage points with its 95 % interval below (campaigns with at
    least `min_control` customers held out: a tiny control's interval would flatten
    the others). `summary` has the columns of campaign_summary."""
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=(labels.roi, labels.uplift),
    )  # fmt: skip
    frame = summary.sort_values("started_at")
    for channel, rows in frame.groupby("channel", sort=True):
        name = labels.channels.get(str(channel), str(channel))
        color = CHANNEL_COLORS.get(str(channel))
        started = pd.to_datetime(rows["started_at"])
        names = rows["name"].astype(str).to_numpy(dtype=object)
        has_roi = np.isfinite(rows["roi"].to_numpy(dtype=float))
        figure.add_scatter(
            x=started[has_roi], y=rows.loc[has_roi, "roi"], name=name, legendgroup=name,
            mode="lines+markers", line={"color": color}, customdata=names[has_roi],
            hovertemplate="%{customdata}<br>%{x|%Y-%m-%d}: 1 : %{y:.2f}<extra>" + name
            + "</extra>",
            row=1, col=1,
        )  # fmt: skip
        uplift = rows["uplift"].to_numpy(dtype=float) * 100
        has_uplift = np.isfinite(uplift) & (rows["control"].to_numpy() >= min_control)
        if not has_uplift.any():
            continue
        low = rows["uplift_ci_low"].to_numpy(dtype=float)[has_uplift] * 100
        high = rows["uplift_ci_high"].to_numpy(dtype=float)[has_uplift] * 100
        shown = uplift[has_uplift]
        figure.add_scatter(
            x=started[has_uplift], y=shown, name=name, legendgroup=name, showlegend=False,
            mode="markers", marker={"color": color, "size": 9},
            error_y={"type": "data", "symmetric": False, "array": high - shown,
                     "arrayminus": shown - low},
            customdata=names[has_uplift],
            hovertemplate="%{customdata}<br>%{x|%Y-%m-%d}: %{y:+.2f} pp<extra>" + name
            + "</extra>",
            row=2, col=1,
        )  # fmt: skip
    figure.add_hline(y=0, line={"color": "#999999", "dash": "dot"}, row=2, col=1)
    figure.update_yaxes(title_text="1 : x", row=1, col=1)
    figure.update_yaxes(title_text="pp", row=2, col=1)
    figure.update_xaxes(title_text=labels.started, row=2, col=1)
    figure.update_layout(
        height=CHART_HEIGHT + 120, margin=MARGIN, legend={"orientation": "h", "y": -0.15}
    )
    return figure


@dataclass(frozen=True)
class FunnelLabels:
    steps: Mapping[str, str]
    arms: Mapping[str, str]


def funnel_figure(funnel: pd.DataFrame, labels: FunnelLabels) -> go.Figure:
    """Sent -> opened -> clicked -> converted, one funnel per arm (`funnel` from
    campaigns.funnel: arm, step, customers)."""
    figure = go.Figure()
    for arm, rows in funnel.groupby("arm", sort=False):
        name = labels.arms.get(str(arm), str(arm))
        figure.add_trace(
            go.Funnel(
                name=name,
                y=[labels.steps.get(step, step) for step in rows["step"]],
                x=rows["customers"].tolist(),
                textinfo="value+percent initial",
            )
        )
    figure.update_layout(height=CHART_HEIGHT - 60, margin=MARGIN)
    return figure


@dataclass(frozen=True)
class CumulativeLabels:
    day: str
    conversion: str
    treated: str
    control: str
    window_end: str


def cumulative_figure(
    cumulative: pd.DataFrame, window_days: int, labels: CumulativeLabels
) -> go.Figure:
    """Share who bought by the end of each day since the reference time, treated and
    control, in %; a dashed line where the conversion window ends."""
    figure = go.Figure()
    for side, name, color in (
        ("treated", labels.treated, TREATED_COLOR),
        ("control", labels.control, CONTROL_COLOR),
    ):
        rows = cumulative.loc[cumulative["side"] == side]
        if rows.empty:
            continue
        figure.add_scatter(
            x=(rows["day"] + 1).tolist(), y=(rows["conversion_rate"] * 100).tolist(),
            name=name, mode="lines+markers", line={"color": color, "shape": "hv"},
            hovertemplate="%{x}: %{y:.2f}%<extra>" + name + "</extra>",
        )  # fmt: skip
    figure.add_vline(
        x=window_days, line={"color": "#d62728", "dash": "dash"},
        annotation_text=labels.window_end, annotation_position="top left",
    )  # fmt: skip
    figure.update_layout(
        height=CHART_HEIGHT - 60,
        margin=MARGIN,
        xaxis_title=labels.day,
        yaxis_title=labels.conversion,
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


@dataclass(frozen=True)
class GroupLabels:
    uplift: str
    too_small: str


def uplift_by_group_figure(table: pd.DataFrame, labels: GroupLabels) -> go.Figure:
    """One bar per group: uplift in percentage points with its 95 % interval, green for a
    significant gain, red for a significant loss, grey (no interval) for groups too small
    to rank. `table` from campaigns.uplift_by_group, with display names in 'label'."""
    frame = table.iloc[::-1]
    uplift = frame["uplift"].to_numpy(dtype=float) * 100
    ranked = frame["ranked"].to_numpy(dtype=bool)
    significant = frame["p_value"].to_numpy(dtype=float) < 0.05
    colors = np.where(
        ~ranked,
        UNRANKED_COLOR,
        np.where(significant & (uplift > 0), GAIN_COLOR,
                 np.where(significant & (uplift < 0), LOSS_COLOR, NEUTRAL_COLOR)),
    )  # fmt: skip
    low = np.where(ranked, frame["ci_low"].to_numpy(dtype=float) * 100, uplift)
    high = np.where(ranked, frame["ci_high"].to_numpy(dtype=float) * 100, uplift)
    names = frame["label"].astype(str).tolist()
    hover = [
        f"{name}: {value:+.2f} pp" + ("" if is_ranked else f" ({labels.too_small})")
        for name, value, is_ranked in zip(names, uplift, ranked, strict=True)
    ]
    figure = go.Figure(
        go.Bar(
            x=np.nan_to_num(uplift).tolist(), y=names, orientation="h",
            marker_color=colors.tolist(),
            error_x={"type": "data", "symmetric": False,
                     "array": np.nan_to_num(high - uplift).tolist(),
                     "arrayminus": np.nan_to_num(uplift - low).tolist()},
            hovertext=hover, hoverinfo="text",
        )
    )  # fmt: skip
    figure.add_vline(x=0, line={"color": "#999999"})
    figure.update_layout(
        height=max(GROUP_MIN_HEIGHT, GROUP_ROW_HEIGHT * len(frame) + 80),
        margin=MARGIN,
        xaxis_title=labels.uplift,
    )
    return figure
