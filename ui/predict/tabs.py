"""The Predictions page's parts: the run form, the newest run's summary, and the tabs
lifetime value, "is it right?" (calibration against the holdout), churn risk, high value
at risk, and the model record."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from crm_core import numbers
from crm_core.auth import DOWNLOAD, EDIT_SHOP_SETTINGS, RUN_PREDICTIONS
from crm_core.customers.tags import BUILTIN_TAGS, load_tags
from crm_core.errors import CrmError
from crm_core.figures.predict import (
    ActualPredictedLabels,
    calibration_figure,
    clv_histogram,
    conditional_figure,
    importance_figure,
    risk_histogram,
    tracking_figure,
)
from crm_core.predict.churn import CHURN_FACTS, DEFAULT_HORIZON_DAYS, MODEL, SCORERS
from crm_core.predict.clv import MIN_HISTORY_DAYS
from crm_core.predict.runs import (
    RISK_LEVELS,
    PredictionRun,
    PredictionSettings,
    RunScores,
    prediction_runs,
    run_predictions,
    save_prediction_settings,
    scored_tag_members,
)
from ui.audiences import show_notice
from ui.context import RunContext, show_error, t
from ui.predict import (
    KEY_CALIBRATION_END,
    KEY_CUMULATIVE,
    KEY_HORIZON,
    KEY_LIST_DOWNLOAD,
    KEY_LIST_FORMAT,
    KEY_LOOKUP,
    KEY_NOTICE,
    KEY_RUN_AS_OF,
    KEY_RUN_FORM,
    KEY_SETTINGS_FORM,
    calibration_check,
)
from ui.tables import MISSING, number_column, table_download
from ui.voice import whole_history_facts

TOP_CUSTOMERS = 100
AT_RISK_SHOWN = 500
HIGH_VALUE_AT_RISK = "high_value_at_risk"
CONDITIONAL_MOST = 7


def fact_label(name: str) -> str:
    return t(f"predict.fact.{name}")


def drivers_text(drivers: pd.Series) -> pd.Series:
    """Comma-separated fact names as translated labels ("—" where none were found)."""
    names = {name: fact_label(name) for name in CHURN_FACTS}
    separator = t("app.list_separator")

    def one(text: object) -> str:
        if not isinstance(text, str) or not text:
            return MISSING
        return separator.join(names.get(name, name) for name in text.split(","))

    return drivers.map(one)


def level_names() -> dict[str, str]:
    return {level: t(f"predict.level.{level}") for level in RISK_LEVELS}


def scorer_names() -> dict[str, str]:
    return {scorer: t(f"predict.scorer.{scorer}") for scorer in SCORERS}


def run_panel(ctx: RunContext, scored: RunScores | None) -> None:
    """The form that fits and scores (for roles that may run predictions)."""
    show_notice(KEY_NOTICE)
    if ctx.actor is None or not ctx.actor.may(RUN_PREDICTIONS):
        if scored is None:
            st.info(t("predict.no_run_viewer"), icon=":material/info:")
        return
    with st.expander(t("predict.run.title"), expanded=scored is None, icon=":material/play_arrow:"):
        with st.form(KEY_RUN_FORM, border=False):
            left, right = st.columns(2)
            as_of = left.date_input(
                t("predict.run.as_of"),
                value=ctx.as_of,
                key=KEY_RUN_AS_OF,
                help=t("predict.run.as_of_help"),
            )
            horizon = right.number_input(
                t("predict.run.horizon"),
                min_value=7,
                max_value=365,
                step=1,
                value=DEFAULT_HORIZON_DAYS,
                key=KEY_HORIZON,
                help=t("predict.run.horizon_help"),
            )
            start = st.form_submit_button(t("predict.run.button"), type="primary")
        if start:
            _run(ctx, as_of, int(horizon))


def _run(ctx: RunContext, as_of: dt.date, horizon: int) -> None:
    with st.status(t("predict.run.working"), expanded=True) as status:

        def progress(step: str) -> None:
            status.update(label=t(f"predict.step.{step}"))
            status.write(t(f"predict.step.{step}"))

        try:
            made = run_predictions(
                ctx.engine, as_of, actor=ctx.actor, horizon_days=horizon, progress=progress
            )
        except CrmError as error:
            status.update(label=t("predict.run.failed"), state="error")
            show_error(error)
            return
        status.update(label=t("predict.run.done"), state="complete")
    st.session_state[KEY_NOTICE] = t("predict.run.saved", run=made.id, customers=made.customers)
    st.rerun()


def run_summary(ctx: RunContext, scored: RunScores) -> None:
    """Which run the scores come from, and whether the data changed since."""
    run = scored.run
    st.caption(
        t(
            "predict.summary",
            run=run.id,
            as_of=run.as_of.isoformat(),
            user=run.created_by,
            at=run.created_at.strftime("%Y-%m-%d %H:%M"),
            customers=run.customers,
            horizon=run.horizon_days,
        )
    )
    if run.data_version is not None and run.data_version != str(ctx.data_version):
        st.warning(t("predict.stale"), icon=":material/update:")


def value_tab(ctx: RunContext, scored: RunScores) -> None:
    scores, run = scored.scores, scored.run
    language = ctx.language
    columns = st.columns(4)
    columns[0].metric(
        t("predict.metric.customers"), numbers.number_text(len(scores), "count", language)
    )
    columns[1].metric(
        t("predict.metric.alive"),
        numbers.number_text(scores["probability_alive"].mean(), "share", language),
        help=t("predict.metric.alive_help"),
    )
    columns[2].metric(
        t("predict.metric.purchases_90d"),
        numbers.number_text(scores["purchases_90d"].sum(), "count", language),
        help=t("predict.metric.purchases_90d_help"),
    )
    columns[3].metric(
        t("predict.metric.clv_total"),
        numbers.number_text(scores["clv_12m"].sum(), "money", language),
        help=t(
            "predict.metric.clv_total_help",
            margin=run.details["margin"] * 100,
            discount=run.details["monthly_discount"] * 100,
        ),
    )
    st.plotly_chart(
        clv_histogram(
            scores["clv_12m"].to_numpy(),
            t("predict.clv_12m"),
            t("predict.customers"),
            t("predict.clv_chart"),
        ),
        width="stretch",
    )
    st.subheader(t("predict.params.title"))
    bgnbd, gamma = run.details["bgnbd"], run.details["gamma_gamma"]
    left, right = st.columns(2)
    left.dataframe(
        pd.DataFrame(
            {
                "parameter": ["r", "α", "a", "b", t("predict.params.loglik")],
                "value": [bgnbd["r"], bgnbd["alpha"], bgnbd["a"], bgnbd["b"], bgnbd["loglik"]],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "parameter": t("predict.params.bgnbd"),
            "value": st.column_config.NumberColumn(t("predict.params.value"), format="%.4f"),
        },
    )
    right.dataframe(
        pd.DataFrame(
            {
                "parameter": ["p", "q", "γ", t("predict.params.loglik")],
                "value": [gamma["p"], gamma["q"], gamma["gamma"], gamma["loglik"]],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "parameter": t("predict.params.gamma_gamma"),
            "value": st.column_config.NumberColumn(t("predict.params.value"), format="%.4f"),
        },
    )
    st.subheader(t("predict.top.title", count=TOP_CUSTOMERS))
    top = scores.nlargest(TOP_CUSTOMERS, "clv_12m")
    st.dataframe(
        _customer_table(top, scored),
        hide_index=True,
        width="stretch",
        column_config=_customer_columns(),
    )


def _customer_table(rows: pd.DataFrame, scored: RunScores) -> pd.DataFrame:
    positions = scored.scores.index.get_indexer(rows.index)
    level = pd.Series(scored.levels[positions], index=rows.index)
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "clv_12m": rows["clv_12m"].round(2),
            "churn_risk": rows["churn_risk"] * 100,
            "level": level.map(level_names()),
            "drivers": drivers_text(rows["churn_drivers"]),
            "probability_alive": rows["probability_alive"] * 100,
            "purchases_90d": rows["purchases_90d"],
            "next_order_date": pd.to_datetime(rows["next_order_date"]).dt.date,
            "expected_order_value": rows["expected_order_value"].round(2),
        }
    )


def _customer_columns() -> dict:
    return {
        "customer_id": t("predict.column.customer_id"),
        "clv_12m": number_column(t("predict.clv_12m"), "money"),
        "churn_risk": number_column(t("predict.column.churn_risk"), "percent"),
        "level": t("predict.column.level"),
        "drivers": st.column_config.TextColumn(t("predict.column.drivers"), width="large"),
        "probability_alive": number_column(t("predict.column.alive"), "percent"),
        "purchases_90d": number_column(t("predict.column.purchases_90d"), "decimal"),
        "next_order_date": st.column_config.DateColumn(t("predict.column.next_order")),
        "expected_order_value": number_column(t("predict.column.order_value"), "money"),
    }


def check_tab(ctx: RunContext) -> None:
    st.caption(t("predict.check.caption"))
    earliest = ctx.as_of - dt.timedelta(days=3650)
    default = ctx.as_of - dt.timedelta(days=26 * 7)
    end = st.columns([1, 2])[0].date_input(
        t("predict.check.end"),
        value=default,
        min_value=earliest,
        max_value=ctx.as_of - dt.timedelta(days=7),
        key=KEY_CALIBRATION_END,
        help=t("predict.check.end_help", days=MIN_HISTORY_DAYS, as_of=ctx.as_of.isoformat()),
    )
    try:
        with st.spinner(t("predict.check.loading")):
            check = calibration_check(ctx, end)
    except CrmError as error:
        show_error(error)
        return
    model = check.model
    st.caption(
        t(
            "predict.check.fit",
            buyers=check.buyers,
            r=model.r_,
            alpha=model.alpha_,
            a=model.a_,
            b=model.b_,
            weeks=len(check.tracking),
        )
    )
    cumulative = st.toggle(t("predict.check.cumulative"), key=KEY_CUMULATIVE)
    purchase_labels = ActualPredictedLabels(
        t("predict.check.week"),
        t("predict.check.repeat_purchases"),
        t("predict.actual"),
        t("predict.predicted"),
    )
    st.plotly_chart(
        tracking_figure(
            check.tracking,
            purchase_labels,
            t("predict.check.tracking_title"),
            cumulative=cumulative,
        ),
        width="stretch",
    )
    conditional_labels = ActualPredictedLabels(
        t("predict.check.calibration_purchases"),
        t("predict.check.holdout_purchases"),
        t("predict.actual"),
        t("predict.predicted"),
    )
    st.plotly_chart(
        conditional_figure(
            check.conditional,
            conditional_labels,
            t("predict.check.conditional_title"),
            f"{CONDITIONAL_MOST}+",
        ),
        width="stretch",
    )


def churn_tab(ctx: RunContext, scored: RunScores) -> None:
    backtest = scored.run.backtest
    st.caption(
        t(
            "predict.churn.caption",
            cut=backtest.cut.isoformat(),
            horizon=backtest.horizon_days,
            customers=backtest.customers,
            rate=backtest.churn_rate * 100,
            cuts=", ".join(cut.isoformat() for cut in backtest.training_cuts),
        )
    )
    if scored.run.churn_scorer == MODEL:
        st.success(t("predict.churn.uses_model"), icon=":material/check_circle:")
    else:
        st.warning(t("predict.churn.uses_recency"), icon=":material/info:")
    names = scorer_names()
    figures = backtest.figures.assign(scorer=backtest.figures["scorer"].map(names))
    number = st.column_config.NumberColumn
    st.dataframe(
        figures,
        hide_index=True,
        width="stretch",
        column_config={
            "scorer": t("predict.churn.scorer"),
            "roc_auc": number(
                t("predict.churn.roc_auc"), format="%.3f", help=t("predict.churn.roc_auc_help")
            ),
            "pr_auc": number(
                t("predict.churn.pr_auc"), format="%.3f", help=t("predict.churn.pr_auc_help")
            ),
            "top_decile_lift": number_column(
                t("predict.churn.lift"), "decimal", help=t("predict.churn.lift_help")
            ),
            "brier": number(
                t("predict.churn.brier"), format="%.4f", help=t("predict.churn.brier_help")
            ),
        },
    )
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            calibration_figure(
                backtest.calibration,
                names,
                ActualPredictedLabels(
                    "", "", t("predict.churn.actual_rate"), t("predict.churn.predicted_rate")
                ),
                t("predict.churn.calibration_title"),
            ),
            width="stretch",
        )
    with right:
        st.plotly_chart(
            importance_figure(
                backtest.importance,
                {name: fact_label(name) for name in CHURN_FACTS},
                t("predict.churn.importance_axis"),
                t("predict.churn.importance_title"),
            ),
            width="stretch",
        )
    _levels(ctx, scored)
    _lookup(scored)


def _levels(ctx: RunContext, scored: RunScores) -> None:
    st.subheader(t("predict.levels.title"))
    settings = scored.settings
    levels = pd.Series(scored.levels)
    names = level_names()
    columns = st.columns(3)
    for column, level in zip(columns, RISK_LEVELS, strict=True):
        column.metric(
            names[level], numbers.number_text(int((levels == level).sum()), "count", ctx.language)
        )
    st.caption(
        t("predict.levels.cuts", high=settings.high_risk * 100, medium=settings.medium_risk * 100)
    )
    st.plotly_chart(
        risk_histogram(
            scored.scores["churn_risk"].to_numpy(),
            settings.high_risk,
            settings.medium_risk,
            names,
            t("predict.column.churn_risk"),
            t("predict.customers"),
            t("predict.levels.chart"),
        ),
        width="stretch",
    )
    if ctx.actor is not None and ctx.actor.may(EDIT_SHOP_SETTINGS):
        _settings_form(ctx, settings)


def _percent_input(column: DeltaGenerator, label: str, share: float) -> float:
    """A cut point typed in whole percent (0-99)."""
    return column.number_input(
        label, min_value=0.0, max_value=99.0, step=1.0, value=share * 100, format="%.0f"
    )


def _settings_form(ctx: RunContext, settings: PredictionSettings) -> None:
    with st.form(KEY_SETTINGS_FORM):
        st.markdown(t("predict.settings.title"))
        left, middle, right = st.columns(3)
        high = _percent_input(left, t("predict.settings.high"), settings.high_risk)
        medium = _percent_input(middle, t("predict.settings.medium"), settings.medium_risk)
        discount = right.number_input(
            t("predict.settings.discount"),
            min_value=0.0,
            max_value=99.0,
            step=0.1,
            value=settings.monthly_discount * 100,
            format="%.1f",
            help=t("predict.settings.discount_help"),
        )
        if st.form_submit_button(t("predict.settings.save")):
            try:
                changed = PredictionSettings(
                    monthly_discount=round(discount / 100, 6),
                    high_risk=round(high / 100, 6),
                    medium_risk=round(medium / 100, 6),
                )
                save_prediction_settings(ctx.engine, changed, actor=ctx.actor)
            except CrmError as error:
                show_error(error)
                return
            st.session_state[KEY_NOTICE] = t("predict.settings.saved")
            st.rerun()


def _lookup(scored: RunScores) -> None:
    st.subheader(t("predict.lookup.title"))
    wanted = st.text_input(t("predict.lookup.label"), key=KEY_LOOKUP).strip()
    if not wanted:
        return
    scores = scored.scores
    found = scores.index[scores["customer_id"] == wanted]
    if not len(found):
        st.info(t("predict.lookup.none", customer=wanted), icon=":material/search_off:")
        return
    st.dataframe(
        _customer_table(scores.loc[found], scored),
        hide_index=True,
        width="stretch",
        column_config=_customer_columns(),
    )


def high_value_at_risk(ctx: RunContext, scored: RunScores) -> pd.DataFrame:
    """The scored customers in the tag high_value_at_risk as stored (by default the top
    CLV fifth with a high churn risk) on the run's day, largest CLV first."""
    stored = {tag.name: tag for tag in load_tags(ctx.engine)}
    tag = stored.get(HIGH_VALUE_AT_RISK)
    condition = tag.condition if tag is not None else BUILTIN_TAGS[HIGH_VALUE_AT_RISK]
    members = scored_tag_members(scored, condition)
    if members is None:  # a rule on other fields too: the audience facts of the run's day
        facts = whole_history_facts(dataclasses.replace(ctx, as_of=scored.run.as_of))
        in_tag = facts.tags.values[:, facts.tags.names.index(HIGH_VALUE_AT_RISK)]
        members = scored.scores["customer_id"].isin(facts.customer_ids[in_tag]).to_numpy()
    rows = scored.scores.loc[members]
    return rows.sort_values("clv_12m", ascending=False, kind="stable")


def at_risk_tab(ctx: RunContext, scored: RunScores) -> None:
    rows = high_value_at_risk(ctx, scored)
    st.caption(t("predict.at_risk.caption", count=len(rows), high=scored.settings.high_risk * 100))
    if rows.empty:
        st.info(t("predict.at_risk.none"), icon=":material/inbox:")
        return
    table = _customer_table(rows, scored)
    st.dataframe(
        table.head(AT_RISK_SHOWN),
        hide_index=True,
        width="stretch",
        column_config=_customer_columns(),
    )
    if len(rows) > AT_RISK_SHOWN:
        st.caption(t("predict.at_risk.more", shown=AT_RISK_SHOWN, count=len(rows)))
    st.page_link(
        "views/audiences.py", label=t("predict.at_risk.audiences"), icon=":material/groups:"
    )
    headers = {
        "customer_id": t("predict.column.customer_id"),
        "clv_12m": t("predict.clv_12m"),
        "churn_risk": t("predict.column.churn_risk"),
        "level": t("predict.column.level"),
        "drivers": t("predict.column.drivers"),
        "probability_alive": t("predict.column.alive"),
        "purchases_90d": t("predict.column.purchases_90d"),
        "next_order_date": t("predict.column.next_order"),
        "expected_order_value": t("predict.column.order_value"),
    }
    if ctx.actor is not None and ctx.actor.may(DOWNLOAD):
        table_download(
            ctx,
            table,
            headers,
            label=t("predict.at_risk.download"),
            file_stem=f"high-value-at-risk-{scored.run.as_of.isoformat()}",
            format_key=KEY_LIST_FORMAT,
            download_key=KEY_LIST_DOWNLOAD,
        )


def record_tab(ctx: RunContext) -> None:
    st.caption(t("predict.record.caption"))
    runs = prediction_runs(ctx.engine)
    st.dataframe(
        record_table(runs),
        hide_index=True,
        width="stretch",
        column_config={
            "id": st.column_config.NumberColumn(t("predict.record.id"), format="%d"),
            "created_at": st.column_config.DatetimeColumn(
                t("predict.record.created_at"), format="YYYY-MM-DD HH:mm"
            ),
            "created_by": t("predict.record.created_by"),
            "as_of": st.column_config.DateColumn(t("predict.record.as_of")),
            "horizon_days": number_column(t("predict.record.horizon"), "days"),
            "customers": number_column(t("predict.record.customers"), "count"),
            "orders": number_column(t("predict.record.orders"), "count"),
            "scorer": t("predict.record.scorer"),
            "model_auc": st.column_config.NumberColumn(
                t("predict.record.model_auc"), format="%.3f"
            ),
            "recency_auc": st.column_config.NumberColumn(
                t("predict.record.recency_auc"), format="%.3f"
            ),
            "bgnbd": t("predict.record.bgnbd"),
        },
    )


def record_table(runs: list[PredictionRun]) -> pd.DataFrame:
    """One row per run: who, when, on which day, the data, the scorer used and the
    backtest ROC AUCs, BG/NBD's parameters as text."""
    rows = []
    names = scorer_names()
    for run in runs:
        auc = {row["scorer"]: row["roc_auc"] for row in run.details["churn"]["figures"]}
        bgnbd = run.details["bgnbd"]
        rows.append(
            {
                "id": run.id,
                "created_at": run.created_at,
                "created_by": run.created_by,
                "as_of": run.as_of,
                "horizon_days": run.horizon_days,
                "customers": run.customers,
                "orders": run.orders,
                "scorer": names.get(run.churn_scorer, run.churn_scorer),
                "model_auc": auc.get("model", np.nan),
                "recency_auc": auc.get("recency", np.nan),
                "bgnbd": " ".join(
                    f"{label}={bgnbd[name]:.4g}"
                    for label, name in (("r", "r"), ("α", "alpha"), ("a", "a"), ("b", "b"))
                ),
            }
        )
    return pd.DataFrame(rows)
