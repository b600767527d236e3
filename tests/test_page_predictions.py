"""AppTest of the Predictions page on a demo shop: every role in both languages sees the
newest run's figures as crm_core computed them; only analysts and admins run a fit, the
run form stores one; only admins change the cut points, and a wrong pair is refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.auth import Actor
from crm_core.customers.segments import preset
from crm_core.customers.tags import save_tag
from crm_core.i18n import translate
from crm_core.outreach.audiences import load_audience_facts
from crm_core.predict.runs import (
    latest_run,
    load_prediction_settings,
    load_run_scores,
    run_predictions,
)
from tests.support.apptest import demo_store_url, exception_text, open_page, store_engine
from ui.predict import KEY_LOOKUP

PAGE = "views/predictions.py"
AS_OF = dt.date(2026, 10, 31)
ROLES = ["viewer", "analyst", "admin"]


@pytest.fixture(scope="module")
def page_store_url(tmp_path_factory) -> str:
    url = demo_store_url(tmp_path_factory.mktemp("predict-page"), 2_500, 9, AS_OF)
    with pytest.MonkeyPatch.context() as patch, store_engine(url, patch) as engine:
        run_predictions(engine, AS_OF, actor=Actor("test-admin", "admin"))
    return url


@pytest.fixture
def engine(page_store_url, monkeypatch):
    with store_engine(page_store_url, monkeypatch) as engine:
        yield engine


def _tagged(engine, scored) -> pd.DataFrame:
    """The scored customers the tag high_value_at_risk holds in the audience facts."""
    facts = load_audience_facts(engine, scored.run.as_of, None, preset("rfm11"))
    in_tag = facts.tags.values[:, facts.tags.names.index("high_value_at_risk")]
    return scored.scores[scored.scores["customer_id"].isin(facts.customer_ids[in_tag])]


def _open(role: str, language: str = "en"):
    return open_page(PAGE, role, language=language, as_of=AS_OF, username=f"predict-{role}")


def _button(at, key: str, language: str):
    label = translate(key, language)
    return next(button for button in at.button if button.label == label)


def _labels(at, key: str, language: str) -> list[str]:
    return [button.label for button in at.button if button.label == translate(key, language)]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_newest_runs_figures(engine, role, language):
    at = _open(role, language)
    assert at.title[0].value == translate("predict.title", language)
    scored = load_run_scores(engine)
    names = ("value", "check", "churn", "at_risk", "record")
    assert [tab.label for tab in at.tabs] == [
        translate(f"predict.tab.{n}", language) for n in names
    ]
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics[translate("predict.metric.customers", language)] == f"{len(scored.scores):,}"
    levels = scored.levels
    for level in ("high", "medium", "low"):
        shown = metrics[translate(f"predict.level.{level}", language)]
        assert shown == f"{int((levels == level).sum()):,}"
    tables = [frame.value for frame in at.dataframe]
    backtest = next(table for table in tables if "roc_auc" in table.columns)
    np.testing.assert_allclose(
        backtest["roc_auc"].to_numpy(), scored.run.backtest.figures["roc_auc"].to_numpy()
    )
    at_risk = next(table for table in tables if "drivers" in table.columns and len(table) > 0)
    assert at_risk is not None
    listed = _tagged(engine, scored)
    assert any(len(table) == len(listed) for table in tables if "drivers" in table.columns)
    record = next(table for table in tables if "model_auc" in table.columns)
    assert record["id"].tolist() == [scored.run.id]
    may_run = role != "viewer"
    assert bool(_labels(at, "predict.run.button", language)) == may_run
    assert bool(_labels(at, "predict.settings.save", language)) == (role == "admin")
    assert translate("predict.stale", language) not in [w.value for w in at.warning]


def test_the_lookup_shows_one_customers_scores_and_drivers(engine):
    scored = load_run_scores(engine)
    wanted = scored.scores.loc[scored.scores["churn_drivers"].str.len() > 0].iloc[0]
    at = _open("viewer")
    at.text_input(key=KEY_LOOKUP).input(wanted["customer_id"]).run()
    assert not at.exception, exception_text(at)
    shown = [
        frame.value
        for frame in at.dataframe
        if "drivers" in frame.value and list(frame.value["customer_id"]) == [wanted["customer_id"]]
    ]
    assert shown, "the customer's row"
    first_driver = wanted["churn_drivers"].split(",")[0]
    assert translate(f"predict.fact.{first_driver}", "en") in shown[0]["drivers"].iloc[0]
    at.text_input(key=KEY_LOOKUP).input("no-such-customer").run()
    assert translate("predict.lookup.none", "en", customer="no-such-customer") in [
        info.value for info in at.info
    ]


def test_an_admin_changes_the_cut_points_and_a_wrong_pair_is_refused(engine):
    before = load_prediction_settings(engine)
    at = _open("admin")
    high = translate("predict.settings.high", "en")
    medium = translate("predict.settings.medium", "en")
    by_label = {widget.label: widget for widget in at.number_input}
    by_label[high].set_value(40.0)
    by_label[medium].set_value(60.0)
    _button(at, "predict.settings.save", "en").click().run()
    assert not at.exception, exception_text(at)
    assert any("medium-risk cut point" in error.value for error in at.error)
    assert load_prediction_settings(engine) == before
    by_label = {widget.label: widget for widget in at.number_input}
    by_label[high].set_value(70.0)
    by_label[medium].set_value(30.0)
    _button(at, "predict.settings.save", "en").click().run()
    assert not at.exception, exception_text(at)
    saved = load_prediction_settings(engine)
    assert (saved.high_risk, saved.medium_risk) == (0.7, 0.3)
    scored = load_run_scores(engine)
    shown = {metric.label: metric.value for metric in at.metric}
    assert (
        shown[translate("predict.level.high", "en")] == f"{int((scored.levels == 'high').sum()):,}"
    )


def test_an_analyst_runs_the_predictions_from_the_page(tmp_path, monkeypatch):
    url = demo_store_url(tmp_path, 1_500, 10, AS_OF)
    with store_engine(url, monkeypatch) as engine:
        at = _open("viewer")
        assert translate("predict.no_run_viewer", "en") in [info.value for info in at.info]
        at = _open("analyst")
        assert not at.tabs
        _button(at, "predict.run.button", "en").click().run()
        assert not at.exception, exception_text(at)
        made = latest_run(engine)
        assert made is not None and made.created_by == "predict-analyst"
        assert next(tab.label for tab in at.tabs) == translate("predict.tab.value", "en")
        assert translate("predict.run.saved", "en", run=made.id, customers=made.customers) in [
            success.value for success in at.success
        ]


def test_the_at_risk_list_follows_the_stored_rule_of_its_tag(tmp_path, monkeypatch):
    url = demo_store_url(tmp_path, 1_500, 12, AS_OF)
    with store_engine(url, monkeypatch) as engine:
        admin = Actor("test-admin", "admin")
        run_predictions(engine, AS_OF, actor=admin)
        wider = {"field": "churn_risk_level", "op": "in", "value": ["high", "medium"]}
        rule = {"all": [{"field": "clv_rank_pct", "op": "<", "value": 50}, wider]}
        save_tag(engine, "high_value_at_risk", rule, admin)
        scored = load_run_scores(engine)
        expected = _tagged(engine, scored)
        assert len(expected) > 0
        at = _open("analyst")
        caption = translate(
            "predict.at_risk.caption",
            "en",
            count=len(expected),
            high=scored.settings.high_risk * 100,
        )
        assert caption in [c.value for c in at.caption]
