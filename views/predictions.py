"""Predictions: each customer's lifetime value (BG/NBD + Gamma-Gamma), churn risk and
expected next order, how well they held on past data, and the valuable customers at
risk. Analysts and admins run a fit here; every role reads the newest run. The parts
are in ui/predict/tabs.py."""

from __future__ import annotations

import streamlit as st

from ui.context import run_context, t
from ui.predict import run_scores
from ui.predict.tabs import (
    at_risk_tab,
    check_tab,
    churn_tab,
    record_tab,
    run_panel,
    run_summary,
    value_tab,
)


def main() -> None:
    ctx = run_context()
    st.title(t("predict.title"))
    st.caption(t("predict.caption"))
    with st.expander(t("predict.definitions.title"), icon=":material/help:"):
        st.markdown(t("predict.definitions.text"))
    _key, scored = run_scores(ctx, None)
    run_panel(ctx, scored)
    if scored is None:
        return
    run_summary(ctx, scored)
    value, check, churn, at_risk, record = st.tabs(
        [
            t("predict.tab.value"),
            t("predict.tab.check"),
            t("predict.tab.churn"),
            t("predict.tab.at_risk"),
            t("predict.tab.record"),
        ]
    )
    with value:
        value_tab(ctx, scored)
    with check:
        check_tab(ctx)
    with churn:
        churn_tab(ctx, scored)
    with at_risk:
        at_risk_tab(ctx, scored)
    with record:
        record_tab(ctx)


main()
