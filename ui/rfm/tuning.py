"""The tuning panel: scoring mode, the twelve cut-points and every rule threshold as a
slider paired with a number input, and the table of the cut-points in use."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from crm_core import numbers
from crm_core.customers.rfm import AXES, AXIS_METRIC, CUT_COUNT, RfmFacts, Scoring, quantile_cuts
from crm_core.customers.segments import (
    SCORE_FIELDS,
    Scheme,
    SchemeResult,
    scheme_thresholds,
    segment_label,
    threshold_range,
    with_thresholds,
)
from crm_core.errors import CrmError
from ui.context import RunContext, current_language, show_error, t
from ui.rfm import KEY_MODE, SLIDER_SUFFIX, cut_key, field_label, threshold_key, translator


def keep_cuts_in_order(axis: str, moved: int, count: int) -> None:
    """After cut-point `moved` of `axis` changed, push the others so that the four stay
    non-decreasing (like the handles of one multi-handle slider)."""
    value = float(st.session_state[cut_key(axis, moved)])
    for index in range(count):
        key = cut_key(axis, index)
        if key not in st.session_state or index == moved:
            continue
        current = float(st.session_state[key])
        if (index > moved and current < value) or (index < moved and current > value):
            st.session_state[key] = value


def _stop_text(value: float, integral: bool) -> str:
    return numbers.number_text(value, "count" if integral else "money")


def paired_input(
    label: str,
    key: str,
    low: float,
    high: float,
    integral: bool,
    on_change: Callable[[], None] | None = None,
    help_text: str | None = None,
    stops: np.ndarray | None = None,
) -> float:
    """A slider to drag and a number input to type, kept in step; the number input
    (`key`, set by the caller beforehand) holds the value, which may lie outside the
    slider's range. With `stops` (a column's percentiles, RfmFacts.quantile_stops) the
    slider stops there, so a drag moves through the customers evenly however skewed
    the values; else it runs from `low` to `high`. Returns the value."""
    slider_key = key + SLIDER_SUFFIX
    value = float(st.session_state[key])
    use_stops = stops is not None and len(stops) >= 3

    def slider_moved() -> None:
        st.session_state[key] = float(st.session_state[slider_key])
        if on_change:
            on_change()

    def number_typed() -> None:
        if on_change:
            on_change()

    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        if use_stops:
            options = [float(stop) for stop in stops]
            nearest = int(np.abs(np.asarray(stops) - value).argmin())
            st.session_state[slider_key] = options[nearest]
            st.select_slider(
                label,
                options=options,
                key=slider_key,
                format_func=partial(_stop_text, integral=integral),
                on_change=slider_moved,
                help=help_text or t("rfm.slider.quantile_help"),
            )
        else:
            step = 1.0 if integral or high - low > 100 else 0.1
            clipped = min(max(value, float(low)), float(high))
            st.session_state[slider_key] = round(clipped) if step == 1.0 else clipped
            st.slider(
                label,
                min_value=float(low),
                max_value=float(high),
                step=step,
                key=slider_key,
                format="%d" if step == 1.0 else "%.1f",
                on_change=slider_moved,
                help=help_text,
            )
    with right:
        st.number_input(
            label,
            key=key,
            step=1.0 if integral else 0.01,
            format="%.0f" if integral else "%.2f",
            on_change=number_typed,
            label_visibility="hidden",
        )
    return float(st.session_state[key])


def _cut_moved(axis: str, index: int) -> None:
    """A cut-point was dragged or typed: scoring becomes fixed, order is kept."""
    st.session_state[KEY_MODE] = "fixed"
    keep_cuts_in_order(axis, index, CUT_COUNT)


def _cut_inputs(facts: RfmFacts, draft: Scheme, mode: str) -> dict[str, list[float]]:
    """The four cut-points of each axis, as typed or dragged (the quantiles in quantile
    mode)."""
    quantiles = quantile_cuts(facts)
    starting = draft.scoring.cuts if draft.scoring.mode == "fixed" else quantiles
    cuts: dict[str, list[float]] = {}
    for axis in AXES:
        metric = AXIS_METRIC[axis]
        with st.expander(t(f"rfm.axis.{axis}.cuts"), expanded=axis == "r"):
            st.caption(t(f"rfm.axis.{axis}.cuts_help"))
            values = []
            for index in range(CUT_COUNT):
                key = cut_key(axis, index)
                if mode == "quantile" or key not in st.session_state:
                    fallback = quantiles[axis][index] if mode == "quantile" else None
                    start = starting[axis][index] if fallback is None else fallback
                    st.session_state[key] = float(start) if np.isfinite(start) else 0.0
                low, high, integral = threshold_range(facts, metric, st.session_state[key])
                values.append(
                    paired_input(
                        t("rfm.cut_label", axis=axis.upper(), number=index + 1),
                        key,
                        low,
                        high,
                        integral,
                        on_change=partial(_cut_moved, axis, index),
                        stops=facts.quantile_stops(metric, integral),
                    )
                )
            cuts[axis] = values
    return cuts


def _threshold_inputs(ctx: RunContext, facts: RfmFacts, draft: Scheme) -> dict[str, float]:
    """Every number inside the draft's rules, by `Threshold.key`, as typed or dragged."""
    thresholds = scheme_thresholds(draft)
    tuned: dict[str, float] = {}
    if thresholds:
        st.markdown(f"**{t('rfm.tuning.rules')}**")
    for threshold in thresholds:
        key = threshold_key(threshold.key)
        if key not in st.session_state:
            st.session_state[key] = float(threshold.value)
        low, high, integral = threshold_range(facts, threshold.field, st.session_state[key])
        bound = "" if threshold.bound is None else t(f"rfm.bound.{threshold.bound}")
        label = t(
            "rfm.threshold_label",
            segment=segment_label(threshold.segment, ctx.language),
            field=field_label(threshold.field),
            op=threshold.op,
            bound=bound,
        )
        stops = (
            facts.quantile_stops(threshold.field, integral)
            if threshold.field in facts.column_names and threshold.field not in SCORE_FIELDS
            else None
        )
        tuned[threshold.key] = paired_input(label, key, low, high, integral, stops=stops)
    return tuned


def tuning_panel(ctx: RunContext, facts: RfmFacts, draft: Scheme) -> Scheme:
    """Scoring mode, the 12 cut-points and every rule threshold as paired slider and
    number inputs; returns the draft with those values (or the draft unchanged, with
    the error shown, when the values do not make a valid scheme)."""
    st.subheader(t("rfm.tuning.title"), help=t("rfm.tuning.help"))
    st.radio(
        t("rfm.mode"),
        options=["quantile", "fixed"],
        format_func=translator("rfm.mode.{option}", ctx.language),
        key=KEY_MODE,
        horizontal=True,
        help=t("rfm.mode_help"),
    )
    mode = st.session_state[KEY_MODE]
    cuts = _cut_inputs(facts, draft, mode)
    tuned = _threshold_inputs(ctx, facts, draft)
    try:
        scoring = Scoring(mode="fixed", cuts=cuts) if mode == "fixed" else Scoring()
        return with_thresholds(draft.with_scoring(scoring), tuned)
    except CrmError as error:
        show_error(error)
        return draft


AXIS_KINDS = {"r": "days", "f": "count", "m": "money"}
"""The kind of number (crm_core.numbers) of each axis's metric."""


def _value_range(low: float, high: float, kind: str, language: str) -> str:
    low_text = numbers.number_text(low, kind, language)
    return low_text if low == high else f"{low_text} – {numbers.number_text(high, kind, language)}"


def cut_points(result: SchemeResult) -> None:
    """The cut-points in use per axis (one column each), the scores used and the
    customers per score, and a note for an axis whose ties leave some scores empty."""
    language = current_language()
    columns = {}
    for axis in AXES:
        scores = result.scores.axes[axis]
        column = [numbers.number_text(cut, AXIS_KINDS[axis], language) for cut in scores.cuts]
        column.append(numbers.number_text(scores.distinct_scores, "count", language))
        column += [numbers.number_text(count, "count", language) for count in scores.counts]
        columns[t(f"rfm.axis.{axis}")] = column
    rows = [f"c{i + 1}" for i in range(CUT_COUNT)] + [t("rfm.cuts.distinct")]
    rows += [t("rfm.cuts.score_customers", score=score) for score in range(1, 6)]
    table = pd.DataFrame(columns, index=pd.Index(rows, name=t("rfm.cuts.axis")))
    st.markdown(f"**{t('rfm.cuts.title')}**", help=t("rfm.cuts.help"))
    st.dataframe(
        table,
        width="stretch",
        height="content",
        column_config={
            name: st.column_config.TextColumn(alignment="right") for name in table.columns
        },
    )
    for axis in AXES:
        scores = result.scores.axes[axis]
        if scores.has_empty_scores:
            ranges = "; ".join(
                t(
                    "rfm.cuts.range",
                    score=score,
                    values=_value_range(low, high, AXIS_KINDS[axis], language),
                )
                for score, (low, high) in enumerate(scores.value_ranges, start=1)
                if np.isfinite(low)
            )
            st.warning(
                t(
                    "rfm.cuts.ties",
                    axis=t(f"rfm.axis.{axis}"),
                    distinct=scores.distinct_scores,
                    ranges=ranges,
                ),
                icon=":material/info:",
            )
