"""RFM explorer: the R x F grid, R/F/M histograms with their cut-points, segment table
and treemap, live threshold tuning, the rule editor, saved versions and migrations.

The facts are loaded once per (store, data version, as-of date, window); everything
below the selectors runs in one fragment that re-scores those cached facts, so a slider
move reruns only that panel and never queries the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from crm_core import auth
from crm_core.asof import WINDOW_DAYS
from crm_core.customers.rfm import AXES, AXIS_METRIC, CUT_COUNT, RfmFacts, Scoring, quantile_cuts
from crm_core.customers.segments import (
    NOT_KNOWN,
    NOT_SCORED,
    Scheme,
    SchemeResult,
    aligned_codes,
    condition_text,
    customer_codes,
    evaluate_scheme,
    load_scheme,
    member_mask,
    members,
    migration_flows,
    migration_labels,
    migration_matrix,
    population_summary,
    preset,
    rf_grid,
    save_scheme,
    scheme_choices,
    scheme_thresholds,
    segment_label,
    segment_table,
    with_thresholds,
)
from crm_core.errors import CrmError
from crm_core.figures.rfm import (
    FlowLabels,
    GridLabels,
    HistogramLabels,
    TreemapLabels,
    histogram_figure,
    migration_matrix_figure,
    migration_sankey_figure,
    rf_grid_figure,
    segment_treemap_figure,
)
from crm_core.i18n import translate
from crm_core.outreach.privacy import mask_personal_columns
from ui.context import (
    KEY_WINDOW,
    current_as_of,
    current_language,
    current_user,
    run_context,
    show_error,
    t,
)
from ui.data import get_engine
from ui.rfm import (
    KEY_DRAFT,
    KEY_DRAFT_BASE,
    KEY_EARLIER,
    KEY_EDITOR,
    KEY_EDITOR_ERROR,
    KEY_GRID_CHART,
    KEY_GRID_VALUE,
    KEY_MEMBERS,
    KEY_MEMBERS_PICK,
    KEY_MODE,
    KEY_PENDING,
    KEY_SAVE_NAME,
    KEY_SAVE_NOTE,
    KEY_SAVED_NOTICE,
    KEY_SCHEME,
    KEY_SEGMENT_TABLE,
    KEY_VERSION,
    alignment,
    baseline_codes,
    cut_key,
    histograms,
    keep_cuts_in_order,
    load_facts,
    paired_input,
    reset_tuning_widgets,
    slider_range,
    threshold_key,
)
from ui.schemes import SAVED_PREFIX, scheme_option, scheme_picker

EARLIER_DEFAULT_DAYS = 90
MEMBERS_SHOWN = 1_000
MEMBER_COLUMNS = ("name", "phone", "email", "province", "city", "avg_order_value")


def _segment_labels(scheme: Scheme) -> dict[str, str]:
    language = current_language()
    names = [*scheme.segment_names, NOT_SCORED, NOT_KNOWN]
    return {name: segment_label(name, language) for name in names}


def _field_label(name: str) -> str:
    key = f"rfm.field.{name}"
    text = t(key)
    return name if text == key else text


# ---------------------------------------------------------------- scheme selection


def _translator(pattern: str) -> Callable[[object], str]:
    """A format_func for widget options: `pattern` with {option} filled in, translated
    in the language of this run (AppTest calls format_func outside the run)."""
    language = current_language()
    return lambda option: translate(pattern.format(option=option), language)


def _apply_pending_selection() -> None:
    pending = st.session_state.pop(KEY_PENDING, None)
    if pending:
        st.session_state[KEY_SCHEME], st.session_state[KEY_VERSION] = pending


def _selected_scheme() -> tuple[Scheme, tuple[str, int | None]]:
    """The scheme chosen in the shared picker (a preset or a saved version) and its id."""
    choice, version = scheme_picker(
        scheme_choices(get_engine()),
        scheme_key=KEY_SCHEME,
        version_key=KEY_VERSION,
        label_key="rfm.scheme",
        help_key="rfm.scheme_help",
        version_help_key="rfm.version_help",
    )
    option = scheme_option(choice)
    if version is None:
        return preset(choice.name), (option, None)
    return load_scheme(get_engine(), choice.name, version), (option, version)


def _start_draft(scheme: Scheme, source: tuple[str, int | None]) -> None:
    """Make `scheme` the draft being edited when another scheme or version was chosen."""
    if st.session_state.get(KEY_DRAFT_BASE) == source and KEY_DRAFT in st.session_state:
        return
    st.session_state[KEY_DRAFT_BASE] = source
    _replace_draft(scheme)


def _replace_draft(scheme: Scheme) -> None:
    st.session_state[KEY_DRAFT] = scheme
    st.session_state[KEY_MODE] = scheme.scoring.mode
    st.session_state[KEY_EDITOR] = scheme.to_json()
    st.session_state.pop(KEY_EDITOR_ERROR, None)
    st.session_state.pop(KEY_MEMBERS, None)
    st.session_state[KEY_SAVE_NAME] = scheme.name
    reset_tuning_widgets()


# ------------------------------------------------------------------------ tuning


def _cut_moved(axis: str, index: int) -> None:
    """A cut-point was dragged or typed: scoring becomes fixed, order is kept."""
    st.session_state[KEY_MODE] = "fixed"
    keep_cuts_in_order(axis, index, CUT_COUNT)


def _tuning_panel(facts: RfmFacts, draft: Scheme) -> Scheme:
    """Scoring mode, the 12 cut-points and every rule threshold as paired slider and
    number inputs; returns the draft with those values (or the draft unchanged, with
    the error shown, when the values do not make a valid scheme)."""
    st.subheader(t("rfm.tuning.title"), help=t("rfm.tuning.help"))
    st.radio(
        t("rfm.mode"),
        options=["quantile", "fixed"],
        format_func=_translator("rfm.mode.{option}"),
        key=KEY_MODE,
        horizontal=True,
        help=t("rfm.mode_help"),
    )
    mode = st.session_state[KEY_MODE]
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
                low, high, integral = slider_range(facts, metric, st.session_state[key])
                values.append(
                    paired_input(
                        t("rfm.cut_label", axis=axis.upper(), number=index + 1),
                        key,
                        low,
                        high,
                        integral,
                        on_change=partial(_cut_moved, axis, index),
                    )
                )
            cuts[axis] = values
    thresholds = scheme_thresholds(draft)
    tuned: dict[str, float] = {}
    if thresholds:
        st.markdown(f"**{t('rfm.tuning.rules')}**")
        for threshold in thresholds:
            key = threshold_key(threshold.key)
            if key not in st.session_state:
                st.session_state[key] = float(threshold.value)
            low, high, integral = slider_range(facts, threshold.field, st.session_state[key])
            bound = "" if threshold.bound is None else t(f"rfm.bound.{threshold.bound}")
            label = t(
                "rfm.threshold_label",
                segment=segment_label(threshold.segment, current_language()),
                field=_field_label(threshold.field),
                op=threshold.op,
                bound=bound,
            )
            tuned[threshold.key] = paired_input(label, key, low, high, integral)
    try:
        scoring = Scoring(mode="fixed", cuts=cuts) if mode == "fixed" else Scoring()
        return with_thresholds(draft.with_scoring(scoring), tuned)
    except CrmError as error:
        show_error(error)
        return draft


# ----------------------------------------------------------------------- results


def _cut_points(result: SchemeResult) -> None:
    rows = []
    for axis in AXES:
        scores = result.scores.axes[axis]
        rows.append(
            {
                t("rfm.cuts.axis"): t(f"rfm.axis.{axis}"),
                **{f"c{i + 1}": scores.cuts[i] for i in range(CUT_COUNT)},
                t("rfm.cuts.mode"): t(f"rfm.mode.{scores.mode}"),
                t("rfm.cuts.distinct"): scores.distinct_scores,
                t("rfm.cuts.per_score"): " / ".join(f"{int(c):,}" for c in scores.counts),
            }
        )
    st.markdown(f"**{t('rfm.cuts.title')}**", help=t("rfm.cuts.help"))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for axis in AXES:
        scores = result.scores.axes[axis]
        if scores.has_empty_scores:
            ranges = "; ".join(
                t("rfm.cuts.range", score=score, values=_value_range(low, high))
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


def _value_range(low: float, high: float) -> str:
    return f"{low:,.6g}" if low == high else f"{low:,.6g} – {high:,.6g}"


def _pick_cell() -> None:
    event = st.session_state.get(KEY_GRID_CHART)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points:
        st.session_state[KEY_MEMBERS] = {"r": int(points[0]["y"]), "f": int(points[0]["x"])}


def _pick_segment_row(names: list[str]) -> None:
    event = st.session_state.get(KEY_SEGMENT_TABLE)
    rows = (event or {}).get("selection", {}).get("rows", []) if event else []
    if rows:
        st.session_state[KEY_MEMBERS] = {"segment": names[rows[0]]}


def _pick_from_list() -> None:
    choice = st.session_state.get(KEY_MEMBERS_PICK)
    st.session_state[KEY_MEMBERS] = {"segment": choice} if choice else None


def _grid(facts: RfmFacts, result: SchemeResult, as_of: dt.date, window_days: int | None) -> None:
    st.subheader(t("rfm.grid.title"), help=t("rfm.grid.help"))
    value = st.segmented_control(
        t("rfm.grid.value"),
        options=["customers", "revenue_share"],
        format_func=_translator("rfm.grid.value.{option}"),
        default="customers",
        key=KEY_GRID_VALUE,
    )
    figure = rf_grid_figure(
        rf_grid(facts, result.scores),
        GridLabels(
            r_score=t("rfm.axis.r_score"),
            f_score=t("rfm.axis.f_score"),
            customers=t("rfm.col.customers"),
            avg_monetary=t("rfm.col.avg_monetary"),
            revenue_share=t("rfm.col.revenue_share"),
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
    bins = histograms(as_of, window_days)
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
                        value=_field_label(AXIS_METRIC[axis]),
                        customers=t("rfm.col.customers"),
                        cut="c",
                    ),
                ),
                width="stretch",
            )


def _segments(facts: RfmFacts, result: SchemeResult, labels: dict[str, str]) -> None:
    st.subheader(t("rfm.segments.title"), help=t("rfm.segments.help"))
    table = segment_table(facts, result)
    shown = table.assign(segment=table["segment"].map(labels))
    names = table["segment"].tolist()
    left, right = st.columns([3, 2])
    with left:
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            key=KEY_SEGMENT_TABLE,
            on_select=lambda: _pick_segment_row(names),
            selection_mode="single-row",
            column_config={
                "segment": st.column_config.TextColumn(t("rfm.col.segment")),
                "customers": st.column_config.NumberColumn(
                    t("rfm.col.customers"), format="localized"
                ),
                "customer_share": st.column_config.NumberColumn(
                    t("rfm.col.customer_share"), format="percent"
                ),
                "revenue": st.column_config.NumberColumn(t("rfm.col.revenue"), format="localized"),
                "revenue_share": st.column_config.NumberColumn(
                    t("rfm.col.revenue_share"), format="percent"
                ),
                "avg_r_score": st.column_config.NumberColumn(t("rfm.col.avg_r"), format="%.2f"),
                "avg_f_score": st.column_config.NumberColumn(t("rfm.col.avg_f"), format="%.2f"),
                "avg_m_score": st.column_config.NumberColumn(t("rfm.col.avg_m"), format="%.2f"),
                "avg_recency_days": st.column_config.NumberColumn(
                    t("rfm.col.avg_recency"), format="%.1f"
                ),
                "avg_frequency": st.column_config.NumberColumn(
                    t("rfm.col.avg_frequency"), format="%.2f"
                ),
                "avg_monetary": st.column_config.NumberColumn(
                    t("rfm.col.avg_monetary"), format="%.2f"
                ),
                "avg_order_value": st.column_config.NumberColumn(
                    t("rfm.col.avg_order_value"), format="%.2f"
                ),
            },
        )
        st.caption(t("rfm.segments.click"))
    with right:
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


def _members(facts: RfmFacts, result: SchemeResult, labels: dict[str, str]) -> None:
    st.subheader(t("rfm.members.title"), help=t("rfm.members.help"))
    names = result.scheme.segment_names
    chosen = st.session_state.get(KEY_MEMBERS) or {}
    st.session_state[KEY_MEMBERS_PICK] = (
        chosen.get("segment") if chosen.get("segment") in names else None
    )
    st.selectbox(
        t("rfm.members.pick"),
        options=names,
        format_func=lambda name: labels.get(name, name),
        index=None,
        placeholder=t("rfm.members.placeholder"),
        key=KEY_MEMBERS_PICK,
        on_change=_pick_from_list,
    )
    if not chosen or ("segment" in chosen and chosen["segment"] not in names):
        st.caption(t("rfm.members.none"))
        return
    filters = {
        "segment": chosen.get("segment"),
        "r_score": chosen.get("r"),
        "f_score": chosen.get("f"),
    }
    count = int(member_mask(facts, result, **filters).sum())
    frame = members(facts, result, **filters, extra_columns=MEMBER_COLUMNS, limit=MEMBERS_SHOWN)
    what = (
        labels.get(chosen["segment"], chosen["segment"])
        if "segment" in chosen
        else t("rfm.members.cell", r=chosen["r"], f=chosen["f"])
    )
    st.markdown(t("rfm.members.showing", what=what, count=f"{count:,}", shown=f"{len(frame):,}"))
    shown = mask_personal_columns(frame, current_user())
    shown = shown.assign(segment=shown["segment"].astype(str).map(labels))
    st.dataframe(
        shown.rename(columns=lambda name: _column_title(name)), hide_index=True, width="stretch"
    )


def _column_title(name: str) -> str:
    key = f"rfm.col.{name}"
    text = t(key)
    return _field_label(name) if text == key else text


def _flows_view(
    flows: pd.DataFrame, labels: dict[str, str], flow_labels: FlowLabels, key: str
) -> None:
    if flows.empty:
        st.caption(t("rfm.flows.empty"))
        return
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            migration_sankey_figure(flows, labels, flow_labels), width="stretch", key=f"{key}.s"
        )
    with right:
        st.plotly_chart(
            migration_matrix_figure(
                migration_matrix(flows, order=list(labels)), labels, flow_labels
            ),
            width="stretch",
            key=f"{key}.m",
        )
    table = flows.assign(
        from_segment=flows["from_segment"].map(labels), to_segment=flows["to_segment"].map(labels)
    ).sort_values("customers", ascending=False)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "from_segment": st.column_config.TextColumn(flow_labels.before),
            "to_segment": st.column_config.TextColumn(flow_labels.after),
            "customers": st.column_config.NumberColumn(t("rfm.col.customers"), format="localized"),
            "revenue_before": st.column_config.NumberColumn(
                t("rfm.col.revenue_before"), format="localized"
            ),
            "revenue_after": st.column_config.NumberColumn(
                t("rfm.col.revenue_after"), format="localized"
            ),
        },
    )


def _buying_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """Flows without customers who bought on neither side."""
    idle = flows["to_segment"].eq(NOT_SCORED) & flows["from_segment"].isin([NOT_SCORED, NOT_KNOWN])
    return flows.loc[~idle].reset_index(drop=True)


def _what_moves(
    facts: RfmFacts,
    result: SchemeResult,
    saved: Scheme,
    as_of: dt.date,
    window_days: int | None,
    labels: dict[str, str],
) -> None:
    st.subheader(t("rfm.moves.title"), help=t("rfm.moves.help"))
    if saved.segment_names != result.scheme.segment_names:
        labels = {**labels, **_segment_labels(saved)}
    before = baseline_codes(as_of, window_days, saved)
    after = customer_codes(facts, result)
    before_labels, after_labels = migration_labels(saved), migration_labels(result.scheme)
    monetary = facts.features["monetary"].to_numpy(dtype=np.float64)
    flows = _buying_flows(
        migration_flows(before, before_labels, after, after_labels, monetary, monetary)
    )
    moved = int(flows.loc[flows["from_segment"] != flows["to_segment"], "customers"].sum())
    st.metric(
        t("rfm.moves.moved"),
        f"{moved:,} ({moved / max(facts.scored_count, 1):.1%})",
        help=t("rfm.moves.moved_help"),
    )
    _flows_view(
        flows,
        labels,
        FlowLabels(
            before=t("rfm.moves.saved"),
            after=t("rfm.moves.draft"),
            customers=t("rfm.col.customers"),
            revenue=t("rfm.col.revenue"),
        ),
        "crm.rfm.moves",
    )


def _migration(
    facts: RfmFacts,
    result: SchemeResult,
    as_of: dt.date,
    earlier: dt.date,
    window_days: int | None,
    labels: dict[str, str],
) -> None:
    st.subheader(
        t("rfm.migration.title", earlier=earlier.isoformat(), as_of=as_of.isoformat()),
        help=t("rfm.migration.help"),
    )
    earlier_facts = load_facts(earlier, window_days)
    earlier_result = evaluate_scheme(earlier_facts, result.scheme)
    names = migration_labels(result.scheme)
    positions = alignment(earlier, as_of, window_days)
    before = aligned_codes(customer_codes(earlier_facts, earlier_result), positions, len(names) - 1)
    after = customer_codes(facts, result)
    before_monetary = earlier_facts.features["monetary"].to_numpy(dtype=np.float64)
    revenue_before = np.where(positions >= 0, before_monetary[np.maximum(positions, 0)], 0.0)
    revenue_after = facts.features["monetary"].to_numpy(dtype=np.float64)
    flows = _buying_flows(
        migration_flows(before, names, after, names, revenue_before, revenue_after)
    )
    _flows_view(
        flows,
        labels,
        FlowLabels(
            before=earlier.isoformat(),
            after=as_of.isoformat(),
            customers=t("rfm.col.customers"),
            revenue=t("rfm.col.revenue"),
        ),
        "crm.rfm.migration",
    )


def _apply_editor() -> None:
    """Callback of the editor's button: the typed JSON becomes the draft, or its error
    is kept to be shown (runs before the widgets, so it may reset them)."""
    try:
        edited = Scheme.from_json(st.session_state[KEY_EDITOR])
    except CrmError as error:
        st.session_state[KEY_EDITOR_ERROR] = error
    else:
        _replace_draft(edited)


def _rules(draft: Scheme, labels: dict[str, str]) -> None:
    st.subheader(t("rfm.rules.title"), help=t("rfm.rules.help"))
    st.dataframe(
        pd.DataFrame(
            {
                t("rfm.rules.order"): range(1, len(draft.rules) + 1),
                t("rfm.col.segment"): [labels.get(r.segment, r.segment) for r in draft.rules],
                t("rfm.rules.condition"): [
                    condition_text(rule.when, _field_label)
                    if rule.when is not None
                    else t("rfm.rules.everyone_else")
                    for rule in draft.rules
                ],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    with st.expander(t("rfm.editor.title"), icon=":material/edit:"):
        st.caption(t("rfm.editor.help"))
        st.text_area(t("rfm.editor.json"), key=KEY_EDITOR, height=320)
        st.button(t("rfm.editor.apply"), icon=":material/check:", on_click=_apply_editor)
        error = st.session_state.get(KEY_EDITOR_ERROR)
        if error is not None:
            show_error(error)


def _save(draft: Scheme) -> None:
    st.subheader(t("rfm.save.title"), help=t("rfm.save.help"))
    notice = st.session_state.pop(KEY_SAVED_NOTICE, None)
    if notice:
        st.success(t("rfm.save.done", name=notice[0], version=notice[1]), icon=":material/check:")
    actor = current_user()
    if not actor.may(auth.EDIT_SCHEMES):
        st.caption(t("rfm.save.not_allowed"))
        return
    if KEY_SAVE_NAME not in st.session_state:
        st.session_state[KEY_SAVE_NAME] = draft.name
    left, right = st.columns(2)
    with left:
        st.text_input(t("rfm.save.name"), key=KEY_SAVE_NAME, max_chars=128)
    with right:
        st.text_input(t("rfm.save.note"), key=KEY_SAVE_NOTE, max_chars=500)
    if st.button(t("rfm.save.button"), type="primary", icon=":material/save:"):
        try:
            named = Scheme(
                name=st.session_state[KEY_SAVE_NAME].strip(),
                rules=draft.rules,
                scoring=draft.scoring,
            )
            saved = save_scheme(
                get_engine(),
                named,
                actor,
                note=st.session_state.get(KEY_SAVE_NOTE) or None,
            )
        except CrmError as error:
            show_error(error)
            return
        option = f"{SAVED_PREFIX}{saved.name}"
        st.session_state[KEY_PENDING] = (option, saved.version)
        st.session_state[KEY_DRAFT_BASE] = (option, saved.version)
        st.session_state[KEY_DRAFT] = Scheme(
            name=saved.name, rules=named.rules, scoring=named.scoring, version=saved.version
        )
        st.session_state[KEY_SAVED_NOTICE] = (saved.name, saved.version)
        st.session_state.pop(KEY_SAVE_NOTE, None)
        st.rerun()


@st.fragment
def _explorer(
    facts: RfmFacts,
    saved: Scheme,
    as_of: dt.date,
    earlier: dt.date,
    window_days: int | None,
) -> None:
    """Everything that only re-scores the cached facts: a widget here reruns this
    fragment alone."""
    base = st.session_state[KEY_DRAFT]
    controls, results = st.columns([1, 2], gap="large")
    with controls:
        draft = _tuning_panel(facts, base)
    result = evaluate_scheme(facts, draft)
    labels = _segment_labels(draft)
    with results:
        _cut_points(result)
        _grid(facts, result, as_of, window_days)
    _segments(facts, result, labels)
    _members(facts, result, labels)
    _what_moves(facts, result, saved, as_of, window_days, labels)
    _migration(facts, result, as_of, earlier, window_days, labels)
    _rules(draft, labels)
    _save(draft)


def _population(facts: RfmFacts) -> None:
    summary = population_summary(facts)
    columns = st.columns(5)
    for column, key in zip(
        columns,
        ("customers", "scored", "prospects", "no_purchase_in_window", "non_positive_monetary"),
        strict=True,
    ):
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


def main() -> None:
    st.title(t("rfm.title"))
    with st.expander(t("rfm.definitions.title"), icon=":material/help:"):
        st.markdown(t("rfm.definitions.body"))
    if run_context().latest_order is None:
        st.info(t("rfm.empty"), icon=":material/inbox:")
        return
    _apply_pending_selection()
    as_of = current_as_of()
    top = st.columns([2, 3, 2])
    with top[0]:
        window = st.radio(
            t("rfm.window"),
            options=list(WINDOW_DAYS),
            format_func=_translator("rfm.window.{option}"),
            key=KEY_WINDOW,
            horizontal=True,
            help=t("rfm.window_help"),
        )
    with top[1]:
        saved_scheme, source = _selected_scheme()
    with top[2]:
        if KEY_EARLIER not in st.session_state:
            st.session_state[KEY_EARLIER] = as_of - dt.timedelta(days=EARLIER_DEFAULT_DAYS)
        earlier = st.date_input(
            t("rfm.earlier"), key=KEY_EARLIER, max_value=as_of, help=t("rfm.earlier_help")
        )
    window_days = WINDOW_DAYS[window]
    st.caption(t("rfm.caption", as_of=as_of.isoformat(), window=t(f"rfm.window.{window}")))
    _start_draft(saved_scheme, source)
    with st.spinner(t("rfm.loading")):
        facts = load_facts(as_of, window_days)
        load_facts(min(earlier, as_of), window_days)
    _population(facts)
    if facts.scored_count == 0:
        st.info(t("rfm.no_scored"), icon=":material/inbox:")
        return
    _explorer(facts, saved_scheme, as_of, min(earlier, as_of), window_days)


main()
