"""AppTest of the RFM page: the grid and segments render, moving a threshold changes the
segment counts, saving creates a new version, the rule editor reports errors in the
user's language, personal data is masked by role.

Most tests run the page on its own over the shared demo store (session state set as
app.py would); one opens it through the real app with the shared harness."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select
from streamlit.testing.v1 import AppTest

from crm_core.customers.features import customer_features
from crm_core.customers.segments import (
    list_saved_schemes,
    load_scheme,
    preset,
    save_scheme,
    team_scheme,
)
from crm_core.i18n import translate
from crm_core.predict.runs import load_run_scores, run_predictions
from crm_core.store import make_engine, models
from tests.support.actors import ADMIN
from tests.support.apptest import demo_store_url, exception_text, open_app
from tests.support.apptest import open_page as open_app_page
from ui import rfm as ui_rfm
from ui.context import KEY_WINDOW
from ui.rfm import (
    KEY_EDITOR,
    KEY_MEMBERS_PICK,
    KEY_MODE,
    KEY_SAVE_NOTE,
    KEY_SCHEME,
    KEY_TAB,
    KEY_VERSION,
    SLIDER_SUFFIX,
    TABS,
    cut_key,
    threshold_key,
)

PAGE = "views/rfm.py"
PREDICTED_AS_OF = dt.date(2026, 10, 31)
PREDICTION_HEADERS = (
    "Churn risk level",
    "Churn risk",
    "Predicted 12-month CLV",
    "Probability still active",
    "Expected next order (days)",
)


@pytest.fixture
def rfm_store(demo_store_url, monkeypatch):
    """The demo store (DATABASE_URL set) and its newest order date."""
    monkeypatch.setenv("DATABASE_URL", demo_store_url)
    engine = make_engine(demo_store_url)
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    engine.dispose()
    latest = pd.Timestamp(latest).date()
    return demo_store_url, latest


@pytest.fixture(scope="module")
def predicted_store_url(tmp_path_factory) -> str:
    """A store of its own with a prediction run on a known day."""
    url = demo_store_url(tmp_path_factory.mktemp("rfm-predictions"), 2_000, 11, PREDICTED_AS_OF)
    engine = make_engine(url)
    try:
        run_predictions(engine, PREDICTED_AS_OF, actor=ADMIN)
    finally:
        engine.dispose()
    return url


def open_page(rfm_store, role: str = "analyst", language: str = "en") -> AppTest:
    """The page on RFM 11 (other tests save schemes in the shared store, and a new
    session opens on the one saved last)."""
    _url, as_of = rfm_store
    return open_app_page(PAGE, role, language=language, as_of=as_of, timeout=180, scheme="rfm11")


def open_tab(at: AppTest, name: str, language: str = "en") -> AppTest:
    """Switch the explorer to tab `name` (ui.rfm.TABS) as a click on it would."""
    at.session_state[KEY_TAB] = translate(f"rfm.tab.{name}", language)
    at.run()
    assert not at.exception, exception_text(at)
    return at


def drag_cut(at: AppTest, axis: str, index: int, to: str) -> float:
    """Drag a cut-point's slider, which stops at the metric's percentiles, to its
    option shown as `to` ("first" or "last" for its ends); returns the value."""
    slider = at.select_slider(key=cut_key(axis, index) + SLIDER_SUFFIX)
    shown = slider.options[0 if to == "first" else -1] if to in ("first", "last") else to
    value = float(shown.replace(",", ""))
    slider.set_value(value)  # the page's own format_func finds the option shown so
    return value


def segment_counts(at: AppTest) -> pd.Series:
    """Customers per segment as shown in the segment table."""
    for frame in at.dataframe:
        value = frame.value
        if {"segment", "customers", "revenue_share"} <= set(value.columns):
            return value.set_index("segment")["customers"]
    raise AssertionError("segment table not found")


def test_page_renders_grid_segments_and_definitions(rfm_store):
    at = open_page(rfm_store)
    counts = segment_counts(at)
    assert counts.sum() > 0
    assert "Champions" in counts.index
    assert any("R × F" in s.value for s in at.subheader)
    assert len(at.get("plotly_chart")) == 2  # the grid and, on the open tab, the treemap
    assert [tab.label for tab in at.tabs] == [translate(f"rfm.tab.{n}") for n in TABS]


def test_moving_a_cut_point_slider_changes_the_segment_counts(rfm_store):
    at = open_page(rfm_store)
    before = segment_counts(at)
    assert at.radio(key=KEY_MODE).value == "quantile"
    slider = at.select_slider(key=cut_key("r", 0) + SLIDER_SUFFIX)
    assert len(slider.options) > 50  # recency in days has most of its 101 percentiles
    dragged = drag_cut(at, "r", 0, "last")
    at.run()
    assert not at.exception, exception_text(at)
    after = segment_counts(at)
    assert at.radio(key=KEY_MODE).value == "fixed"
    assert at.number_input(key=cut_key("r", 0)).value == dragged
    assert after.sum() == before.sum()
    assert not after.equals(before)
    # c1 up to the slider's end (the longest recency) makes every scored customer
    # R 5: the segments of R 1-2 shrink
    low_r = ["Lost", "Hibernating", "Can't lose them", "At risk"]
    assert after[low_r].sum() < before[low_r].sum()
    assert after["Champions"] > before["Champions"]


def test_typing_a_rule_threshold_moves_customers(rfm_store):
    at = open_page(rfm_store)
    at.selectbox(key=KEY_SCHEME).set_value("preset:lifecycle").run()
    assert not at.exception, exception_text(at)
    before = segment_counts(at)
    assert list(before.index) == ["Active", "Sleeping", "Pre-churn", "Churned"]
    active = at.number_input(key=threshold_key("1:when"))
    assert active.value == 90
    active.set_value(30).run()
    after = segment_counts(at)
    assert after["Active"] < before["Active"]
    assert after["Sleeping"] > before["Sleeping"]
    assert after.sum() == before.sum()


def test_saving_creates_a_new_version_that_stays_selected(rfm_store):
    url, _ = rfm_store
    engine = make_engine(url)
    saved_before = list_saved_schemes(engine)
    existing = saved_before.loc[saved_before["name"] == "membership", "version"]
    try:
        _save_membership_and_check(rfm_store, engine, existing)
    finally:  # a new session opens on the scheme saved last: other tests expect none
        with engine.begin() as conn:
            conn.execute(
                delete(models.segment_schemes).where(
                    models.segment_schemes.c.id.not_in(saved_before["id"].tolist())
                )
            )
        engine.dispose()


def _save_membership_and_check(rfm_store, engine, existing) -> None:
    at = open_page(rfm_store)
    at.selectbox(key=KEY_SCHEME).set_value("preset:membership").run()
    at.number_input(key=threshold_key("1:when")).set_value(5).run()
    at.text_input(key=KEY_SAVE_NOTE).set_value("top 5% only").run()
    save = next(b for b in at.button if b.label == "Save as new version")
    save.click().run()
    assert not at.exception, exception_text(at)
    saved_after = list_saved_schemes(engine)
    versions = saved_after.loc[saved_after["name"] == "membership"]
    assert len(versions) == len(existing) + 1
    newest = versions.iloc[0]
    assert newest["note"] == "top 5% only" and newest["created_by"] == "test-analyst"
    assert load_scheme(engine, "membership").rules[0].when["value"] == 5
    assert at.selectbox(key=KEY_SCHEME).value == "saved:membership"
    assert at.selectbox(key=KEY_VERSION).value == newest["version"]
    assert any("Saved membership as version" in s.value for s in at.success)


def test_rule_editor_errors_are_shown_translated(rfm_store):
    at = open_tab(open_page(rfm_store, language="zh-CN"), "rules", "zh-CN")
    rules = at.table[0].value.set_index("分群")
    assert rules.loc["重要价值客户", "条件"] == "R 分 5，且FM 分 4–5；或R 分 4，且FM 分 5"
    assert rules.loc["重要价值客户", "原始写法"] == "R·FM 格子 ∈ {55, 54, 45}"
    at.text_area(key=KEY_EDITOR).set_value('{"name": "x", "rules": [').run()
    next(b for b in at.button if b.label == "应用到草稿").click().run()
    assert not at.exception, exception_text(at)
    assert any("不是有效的 JSON" in e.value for e in at.error)
    broken = preset("lifecycle").to_dict()
    broken["rules"][0]["when"]["op"] = "≈"
    at.text_area(key=KEY_EDITOR).set_value(json.dumps(broken)).run()
    next(b for b in at.button if b.label == "应用到草稿").click().run()
    assert any("未知运算符" in e.value and "#1 active" in e.value for e in at.error)


def test_rule_editor_applies_a_valid_scheme(rfm_store):
    at = open_tab(open_page(rfm_store), "rules")
    scheme = {
        "name": "two groups",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "repeat buyers", "when": {"field": "frequency", "op": ">=", "value": 2}},
            {"segment": "one-off"},
        ],
    }
    at.text_area(key=KEY_EDITOR).set_value(json.dumps(scheme)).run()
    next(b for b in at.button if b.label == "Apply to the draft").click().run()
    assert not at.exception, exception_text(at)
    counts = segment_counts(open_tab(at, "segments"))
    assert list(counts.index) == ["repeat buyers", "one-off"]
    assert counts.sum() > 0
    assert at.number_input(key=threshold_key("1:when")).value == 2


def test_customer_list_masks_personal_data_by_role(rfm_store):
    for role, masked in (("analyst", True), ("admin", False)):
        at = open_tab(open_page(rfm_store, role=role), "customers")
        at.selectbox(key=KEY_MEMBERS_PICK).set_value("champions").run()
        assert not at.exception, exception_text(at)
        listing = next(f.value for f in at.dataframe if "Phone" in f.value.columns)
        assert len(listing) > 0 and (listing["Segment"] == "Champions").all()
        phones = listing["Phone"].dropna()
        assert phones.str.contains(r"\*").all() == masked
        assert listing["Monetary"].is_monotonic_decreasing
        assert set(PREDICTION_HEADERS) <= set(listing.columns)  # the demo's first run


def test_viewer_may_tune_but_not_save(rfm_store):
    at = open_page(rfm_store, role="viewer")
    assert not [b for b in at.button if b.label == "Save as new version"]
    assert any("not save" in c.value for c in at.caption)


def test_window_choice_changes_who_is_scored(rfm_store):
    at = open_page(rfm_store)
    everyone = segment_counts(at).sum()
    at.radio(key=KEY_WINDOW).set_value("12m").run()
    assert not at.exception, exception_text(at)
    assert segment_counts(at).sum() < everyone


def test_page_in_chinese_translates_segments(rfm_store):
    at = open_page(rfm_store, language="zh-CN")
    assert "重要价值客户" in segment_counts(at).index
    assert at.title[0].value == "RFM 分析"


def test_page_opens_through_the_real_app(monkeypatch, rfm_store):
    url, _ = rfm_store
    at = open_app(monkeypatch, url, "analyst", page="views/rfm.py")
    assert not at.exception, exception_text(at)
    assert segment_counts(at).sum() > 0


def test_tuning_rescores_cached_facts_without_querying_the_store(rfm_store, monkeypatch):
    calls = []

    def counting_features(engine, as_of, window_days=None):
        calls.append(as_of)
        return customer_features(engine, as_of, window_days)

    monkeypatch.setattr(ui_rfm, "stored_customer_features", counting_features)
    ui_rfm._facts.clear()
    at = open_page(rfm_store)
    _, as_of = rfm_store
    assert calls == [as_of]  # the earlier date's facts wait for the Migration tab
    before = segment_counts(at)
    at.number_input(key=cut_key("f", 0)).set_value(3).run()
    at.radio(key=KEY_MODE).set_value("quantile").run()
    drag_cut(at, "m", 3, "first")
    at.run()
    assert not at.exception, exception_text(at)
    assert not segment_counts(at).equals(before)
    assert len(calls) == 1
    open_tab(at, "migration")
    assert sorted(calls) == [as_of - dt.timedelta(days=90), as_of]


def test_what_moves_counts_the_customers_a_threshold_moves(rfm_store):
    at = open_page(rfm_store)
    at.selectbox(key=KEY_SCHEME).set_value("preset:lifecycle").run()
    before = segment_counts(at)
    open_tab(at, "moves")
    moved = next(m for m in at.metric if m.label == "Customers changing segment")
    assert moved.value.startswith("0 (")
    assert translate("rfm.moves.none") in [c.value for c in at.caption]
    assert len(at.get("plotly_chart")) == 1  # the grid only: no flows drawn
    at.number_input(key=threshold_key("1:when")).set_value(30).run()
    assert not at.exception, exception_text(at)
    assert len(at.get("plotly_chart")) == 3  # the grid, the flows and their matrix
    after = segment_counts(open_tab(at, "segments"))
    # lowering "active" from 90 to 30 days moves exactly the active customers it drops
    shifted = int(before["Active"] - after["Active"])
    assert shifted > 0
    open_tab(at, "moves")
    moved = next(m for m in at.metric if m.label == "Customers changing segment")
    assert moved.value.startswith(f"{shifted:,} (")


def test_customer_list_shows_the_newest_prediction_run(predicted_store_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", predicted_store_url)
    at = open_page((predicted_store_url, PREDICTED_AS_OF), language="zh-CN")
    open_tab(at, "customers", "zh-CN")
    at.selectbox(key=KEY_MEMBERS_PICK).set_value("at_risk").run()
    assert not at.exception, exception_text(at)
    listing = next(f.value for f in at.dataframe if "流失风险等级" in f.value.columns)
    engine = make_engine(predicted_store_url)
    try:
        scored = load_run_scores(engine)
    finally:
        engine.dispose()
    scores = scored.scores.set_index("customer_id")
    levels = pd.Series(scored.levels, index=scores.index)
    shown = listing.set_index("客户编号")
    assert len(shown) > 0 and shown.index.isin(scores.index).all()
    names = {"high": "高", "medium": "中", "low": "低"}
    assert (shown["流失风险等级"] == levels[shown.index].map(names)).all()
    assert np.allclose(shown["流失风险"], scores.loc[shown.index, "churn_risk"] * 100)
    assert np.allclose(shown["预测 12 个月 CLV"], scores.loc[shown.index, "clv_12m"].round(2))
    assert np.allclose(shown["仍活跃概率"], scores.loc[shown.index, "probability_alive"] * 100)
    next_order = pd.to_datetime(scores.loc[shown.index, "next_order_date"])
    days = (next_order - pd.Timestamp(PREDICTED_AS_OF)).dt.days
    pd.testing.assert_series_equal(
        shown["预计下次下单（天后）"].astype("Float64"), days.astype("Float64"), check_names=False
    )
    assert any("第 " in c.value and "次预测运行" in c.value for c in at.caption)
    # the categories each customer is most likely to buy next, best first, with scores
    from crm_core.customers.baskets import PurchaseHistory

    engine = make_engine(predicted_store_url)
    try:
        best = PurchaseHistory(engine, PREDICTED_AS_OF).next_best()
    finally:
        engine.dispose()
    first = best[best["rank"] == 1].set_index("customer_id")["category"]
    column = shown["下一个推荐品类"]
    with_best = column[column != ""]
    assert len(with_best) > 0
    assert (with_best.str.split(" ").str[0] == first.reindex(with_best.index)).all()
    counts = best.groupby("customer_id").size().reindex(with_best.index)
    assert (with_best.str.count(" · ") + 1 == counts).all()
    assert column[column == ""].index.isin(first.index).sum() == 0


def test_a_new_session_opens_on_the_scheme_the_team_saved_last(tmp_path, monkeypatch):
    url = demo_store_url(tmp_path, 300, 5, PREDICTED_AS_OF)
    monkeypatch.setenv("DATABASE_URL", url)
    engine = make_engine(url)
    try:
        save_scheme(engine, replace(preset("lifecycle"), name="our_lifecycle"), actor=ADMIN)
        assert team_scheme(engine) == "our_lifecycle"
    finally:
        engine.dispose()
    at = open_app_page(PAGE, "viewer", as_of=PREDICTED_AS_OF)
    assert at.selectbox(key=KEY_SCHEME).value == "saved:our_lifecycle"
    assert list(segment_counts(at).index) == ["Active", "Sleeping", "Pre-churn", "Churned"]
