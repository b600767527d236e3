"""The Campaigns page's A/B calculator and holdout planner, for tests that are not
campaigns: typed counts or an uploaded file (a variant column and a 0/1 or numeric
outcome column) give the same statistics as the campaign results; the planner says how
many recipients a holdout needs."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from crm_core import numbers
from crm_core.errors import CrmError
from crm_core.ingest.read import read_table
from crm_core.outreach.experiments import (
    PROPORTION,
    ABReport,
    ab_report,
    ab_report_from_counts,
    holdout_size,
)
from ui.audiences import labels
from ui.campaigns import (
    KEY_AB_CONTROL,
    KEY_AB_COUNTS,
    KEY_AB_FILE,
    KEY_AB_MODE,
    KEY_AB_OUTCOME,
    KEY_AB_VARIANT,
    KEY_PLAN_FORM,
    interval_text,
)
from ui.context import current_language, show_error, t
from ui.tables import number_column
from ui.uploads import file_uploader

STARTING_COUNTS = pd.DataFrame(
    {"variant": ["A", "B"], "units": [1_000, 1_000], "conversions": [100, 120]}
)


def _counts_report() -> ABReport | None:
    st.caption(t("campaigns.ab.counts_caption"))
    edited = st.data_editor(
        STARTING_COUNTS,
        num_rows="dynamic",
        hide_index=True,
        key=KEY_AB_COUNTS,
        column_config={
            "variant": st.column_config.TextColumn(t("campaigns.ab.variant"), required=True),
            "units": st.column_config.NumberColumn(
                t("campaigns.ab.units"), min_value=0, step=1, required=True
            ),
            "conversions": st.column_config.NumberColumn(
                t("campaigns.ab.conversions"), min_value=0, step=1, required=True
            ),
        },
    )
    rows = edited.dropna(subset=["variant"])
    variants = [str(v).strip() for v in rows["variant"] if str(v).strip()]
    if len(variants) < 2:
        st.info(t("campaigns.ab.two_variants"))
        return None
    control = st.selectbox(t("campaigns.ab.control"), variants, key=KEY_AB_CONTROL)
    counts = {
        str(row.variant).strip(): (row.conversions, row.units)
        for row in rows.itertuples(index=False)
        if str(row.variant).strip()
    }
    return ab_report_from_counts(counts, control)


def _file_report() -> ABReport | None:
    upload = file_uploader(
        t("campaigns.ab.file"), ["csv", "txt", "xlsx"], KEY_AB_FILE,
        help=t("campaigns.ab.file_help"),
    )  # fmt: skip
    if upload is None:
        return None
    frame = read_table(upload)
    columns = [str(c) for c in frame.columns]
    left, middle, right = st.columns(3)
    variant_column = left.selectbox(t("campaigns.ab.variant_column"), columns, key=KEY_AB_VARIANT)
    outcome_column = middle.selectbox(
        t("campaigns.ab.outcome_column"),
        columns,
        index=min(1, len(columns) - 1),
        key=KEY_AB_OUTCOME,
    )
    variants = sorted(frame[variant_column].dropna().astype(str).str.strip().unique().tolist())
    control = right.selectbox(t("campaigns.ab.control"), variants, key=KEY_AB_CONTROL)
    return ab_report(frame, variant_column, outcome_column, control)


def _number(value: float, spec: str, unit: str = "") -> str:
    """`value` formatted by `spec` with `unit`; an em dash on the control's row (NaN)."""
    return "—" if not math.isfinite(value) else f"{value:{spec}}{unit}"


def _show(report: ABReport) -> None:
    proportion = report.kind == PROPORTION
    arms = report.arms
    scale = 100 if proportion else 1
    unit = " pp" if proportion else ""
    shown = pd.DataFrame(
        {
            "variant": arms["variant"],
            "n": arms["n"],
            "mean": arms["mean"] * scale,
            "difference": [_number(v * scale, "+,.2f", unit) for v in arms["difference"]],
            "interval": [
                interval_text(lo, hi, proportion)
                for lo, hi in zip(arms["ci_low"], arms["ci_high"], strict=True)
            ],
            "statistic": [_number(v, ".4f") for v in arms["statistic"]],
            "p_value": [_number(v, ".4f") for v in arms["p_value"]],
            "p_holm": [_number(v, ".4f") for v in arms["p_holm"]],
        }
    )
    mean = (
        st.column_config.NumberColumn(t("campaigns.ab.rate"), format="%.2f%%")
        if proportion
        else number_column(t("campaigns.ab.mean"), "decimal")
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "variant": st.column_config.TextColumn(t("campaigns.ab.variant")),
            "n": number_column(t("campaigns.ab.units"), "count"),
            "mean": mean,
            "difference": st.column_config.TextColumn(t("campaigns.ab.difference")),
            "interval": st.column_config.TextColumn(t("campaigns.incremental.interval")),
            "statistic": st.column_config.TextColumn("z" if proportion else "t"),
            "p_value": st.column_config.TextColumn(t("campaigns.column.p_value")),
            "p_holm": st.column_config.TextColumn(
                t("campaigns.variants.p_holm"), help=t("campaigns.variants.holm_help")
            ),
        },
    )
    test_name = t("campaigns.ab.z_test") if proportion else t("campaigns.ab.welch")
    st.caption(t("campaigns.ab.caption", control=report.control, test=test_name))
    srm = report.srm
    message = t(
        "campaigns.ab.srm",
        chi_square=f"{srm.chi_square:.3f}",
        df=len(srm.observed) - 1,
        p=f"{srm.p_value:.3g}",
    )
    if srm.mismatch:
        st.error(message + " " + t("campaigns.ab.srm_mismatch"), icon=":material/warning:")
    else:
        st.caption(message)


def _planner() -> None:
    st.subheader(t("campaigns.plan.title"))
    st.caption(t("campaigns.plan.caption"))
    with st.form(KEY_PLAN_FORM):
        left, middle, right = st.columns(3)
        baseline = left.number_input(
            t("campaigns.plan.baseline"), min_value=0.01, max_value=99.0, value=5.0, step=0.5
        )
        uplift = middle.number_input(
            t("campaigns.plan.uplift"), min_value=0.01, max_value=50.0, value=1.0, step=0.1
        )
        share = right.number_input(
            t("campaigns.plan.share"), min_value=1.0, max_value=50.0, value=10.0, step=1.0
        )
        submitted = st.form_submit_button(t("campaigns.plan.button"))
    if not submitted:
        return
    try:
        plan = holdout_size(baseline / 100, uplift / 100, control_share=share / 100)
    except CrmError as error:
        show_error(error)
        return
    language = current_language()
    tiles = st.columns(3)
    tiles[0].metric(
        t("campaigns.plan.control_n"),
        numbers.number_text(plan.control_n, "count", language),
        border=True,
    )
    tiles[1].metric(
        t("campaigns.plan.treated_n"),
        numbers.number_text(plan.treated_n, "count", language),
        border=True,
    )
    tiles[2].metric(
        t("campaigns.plan.total_n"),
        numbers.number_text(plan.total_n, "count", language),
        border=True,
    )


def calculator_tab() -> None:
    """The A/B calculator and the holdout planner."""
    mode = st.radio(
        t("campaigns.ab.mode"),
        ["counts", "file"],
        format_func=labels({"counts": t("campaigns.ab.mode_counts"),
                            "file": t("campaigns.ab.mode_file")}),
        key=KEY_AB_MODE,
        horizontal=True,
    )  # fmt: skip
    try:
        report = _counts_report() if mode == "counts" else _file_report()
    except CrmError as error:
        show_error(error)
        report = None
    if report is not None:
        _show(report)
    _planner()
