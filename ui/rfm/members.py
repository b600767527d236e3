"""The customers of one segment or one R x F cell (picked in the list, the table or the
grid), highest monetary first, personal data masked by role; with each customer's churn
risk, predicted 12-month CLV, probability still active and expected next order from the
newest prediction run, once there is one, and the categories they are most likely to buy
next (crm_core.customers.baskets.next_best_categories), once order lines are loaded."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core import numbers
from crm_core.customers.rfm import RfmFacts
from crm_core.customers.segments import SchemeResult, member_mask, members
from crm_core.i18n import translate
from crm_core.outreach.privacy import mask_personal_columns
from crm_core.predict.runs import RISK_LEVELS, RunScores, prediction_fields
from ui.baskets import lines_loaded, purchase_history
from ui.context import RunContext, current_language, t
from ui.predict import run_scores
from ui.rfm import KEY_MEMBERS, KEY_MEMBERS_PICK, field_label
from ui.tables import number_column

MEMBERS_SHOWN = 1_000
MEMBER_COLUMNS = ("name", "phone", "email", "province", "city", "avg_order_value")
PREDICTION_COLUMNS = (
    "churn_risk_level",
    "churn_risk",
    "clv_12m",
    "probability_alive",
    "next_order_in_days",
)
"""Columns from the newest prediction run (left out before the first run)."""


def _pick_from_list() -> None:
    choice = st.session_state.get(KEY_MEMBERS_PICK)
    st.session_state[KEY_MEMBERS] = {"segment": choice} if choice else None


def _column_title(name: str) -> str:
    key = f"rfm.col.{name}"
    text = t(key)
    return field_label(name) if text == key else text


def prediction_columns(
    customer_ids: pd.Series, scored: RunScores, as_of: dt.date, language: str
) -> pd.DataFrame:
    """PREDICTION_COLUMNS of `customer_ids` (`predict.runs.prediction_fields`, empty for
    a customer the run did not score): the level translated, churn risk and probability
    still active in %."""
    fields = prediction_fields(scored, customer_ids, as_of)
    level_names = {level: translate(f"predict.level.{level}", language) for level in RISK_LEVELS}
    return pd.DataFrame(
        {
            "churn_risk_level": fields["churn_risk_level"].map(level_names),
            "churn_risk": fields["churn_risk"] * 100,
            "clv_12m": fields["clv_12m"].round(2),
            "probability_alive": fields["probability_alive"] * 100,
            "next_order_in_days": pd.array(fields["next_order_in_days"], dtype="Int64"),
        },
        index=customer_ids.index,
    )


def next_best_column(customer_ids: pd.Series, best: pd.DataFrame) -> pd.Series:
    """Each customer's next best categories as text, best first, each with its score in
    % ("gifts 34% · baby 20%"); empty for a customer without one."""
    chosen = best[best["customer_id"].isin(set(customer_ids.astype(str)))]
    chosen = chosen.sort_values(["customer_id", "rank"])
    text = (
        chosen["category"].astype(str)
        + " "
        + (100 * chosen["score"]).round().astype(int).astype(str)
        + "%"
    )
    joined = text.groupby(chosen["customer_id"].to_numpy()).agg(" · ".join)
    return customer_ids.astype(str).map(joined).fillna("").rename("next_best_categories")


@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def _member_next_best(
    _ctx: RunContext, data_key: tuple[str, int], as_of: dt.date, customer_ids: tuple[str, ...]
) -> pd.DataFrame:
    return purchase_history(_ctx, as_of).next_best_of(list(customer_ids))


def member_next_best(ctx: RunContext, customer_ids: tuple[str, ...]) -> pd.DataFrame:
    """The next best categories of the listed customers only (their purchases read
    through their own orders; the category rules kept in the store), cached per list."""
    if not lines_loaded(ctx):
        return pd.DataFrame({"customer_id": [], "rank": [], "category": [], "score": []})
    return _member_next_best(ctx, ctx.data_key, ctx.as_of, customer_ids)


MEMBER_KINDS = {
    "r_score": "count",
    "f_score": "count",
    "m_score": "count",
    "recency_days": "days",
    "frequency": "count",
    "monetary": "money",
    "avg_order_value": "money",
}
"""The kind of number (crm_core.numbers) of each numeric column of the member list."""


def _member_column_config(columns: pd.Index) -> dict:
    return {
        _column_title(name): number_column(_column_title(name), kind)
        for name, kind in MEMBER_KINDS.items()
        if name in columns
    }


def _prediction_column_config() -> dict:
    def column(name: str, kind: str) -> st.column_config.NumberColumn:
        return number_column(_column_title(name), kind, help=t(f"rfm.col.{name}_help"))

    return {
        _column_title("churn_risk_level"): st.column_config.TextColumn(
            help=t("rfm.col.churn_risk_level_help")
        ),
        _column_title("churn_risk"): column("churn_risk", "percent"),
        _column_title("clv_12m"): column("clv_12m", "money"),
        _column_title("probability_alive"): column("probability_alive", "percent"),
        _column_title("next_order_in_days"): column("next_order_in_days", "days"),
    }


def member_list(
    ctx: RunContext, facts: RfmFacts, result: SchemeResult, labels: dict[str, str]
) -> None:
    """A segment picker and the list of the chosen segment's or cell's customers."""
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
    language = current_language()
    st.markdown(
        t(
            "rfm.members.showing",
            what=what,
            count=numbers.number_text(count, "count", language),
            shown=numbers.number_text(len(frame), "count", language),
        )
    )
    shown = mask_personal_columns(frame, ctx.actor)
    shown = shown.assign(segment=shown["segment"].astype(str).map(labels))
    config = _member_column_config(shown.columns)
    _key, scored = run_scores(ctx, ctx.as_of)
    if scored is not None:
        predicted = prediction_columns(shown["customer_id"], scored, ctx.as_of, ctx.language)
        shown = pd.concat([shown, predicted], axis=1)
        config.update(_prediction_column_config())
        st.caption(t("rfm.members.predictions", run=scored.run.id, date=scored.run.as_of))
    with st.spinner(t("baskets.next.loading")):
        best = member_next_best(ctx, tuple(shown["customer_id"].astype(str)))
    if not best.empty:
        shown = shown.assign(next_best_categories=next_best_column(shown["customer_id"], best))
        config[_column_title("next_best_categories")] = st.column_config.TextColumn(
            help=t("rfm.col.next_best_categories_help")
        )
    st.dataframe(
        shown.rename(columns=_column_title), hide_index=True, width="stretch", column_config=config
    )
