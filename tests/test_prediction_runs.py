"""Prediction runs (crm_core.predict.runs): the model record, each customer's scores, and
their use in tags, audience filters, exports and the `churn` command, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_core import commands as cli
from crm_core.auth import Actor
from crm_core.customers.segments import preset
from crm_core.demo import generate_shop, load_shop
from crm_core.errors import InputError
from crm_core.outreach.audiences import (
    Audience,
    audience_filters,
    export_audience,
    export_record,
    list_signature,
    load_audience_facts,
    redownload_export,
    select_members,
)
from crm_core.outreach.policy import ContactPolicy
from crm_core.predict import runs
from crm_core.predict.churn import SCORERS
from crm_core.predict.runs import (
    PredictionSettings,
    latest_run,
    load_run_scores,
    prediction_runs,
    risk_levels,
    run_predictions,
    save_prediction_settings,
)
from crm_core.store import data_version, models
from crm_core.voice.recovery import load_customer_tiers
from crm_core.voice.sla import SlaPolicy, Tier

AS_OF = dt.date(2026, 10, 31)
ADMIN = Actor("test-admin", "admin")
ANALYST = Actor("test-analyst", "analyst")


@pytest.fixture
def shop(store):
    load_shop(store, generate_shop(2_500, seed=21, end_date=AS_OF))
    return store


def _buyers(engine) -> int:
    orders = models.orders
    with engine.connect() as conn:
        return conn.execute(
            select(func.count(func.distinct(orders.c.customer_id))).where(orders.c.status == "paid")
        ).scalar_one()


def test_a_run_records_its_fit_and_scores_every_buyer(shop):
    assert latest_run(shop) is None and load_run_scores(shop) is None
    steps: list[str] = []
    made = run_predictions(shop, AS_OF, actor=ANALYST, progress=steps.append)
    assert steps == list(runs.STEPS)
    assert (made.created_by, made.as_of, made.horizon_days) == ("test-analyst", AS_OF, 90)
    assert made.data_version == str(data_version(shop))
    assert made.customers == _buyers(shop)
    assert made.churn_scorer in ("model", "recency")
    assert set(made.details["bgnbd"]) == {"r", "alpha", "a", "b", "loglik"}
    assert set(made.details["gamma_gamma"]) == {"p", "q", "gamma", "loglik"}
    assert list(made.backtest.figures["scorer"]) == list(SCORERS)
    assert latest_run(shop) == made
    scored = load_run_scores(shop)
    scores = scored.scores
    assert scored.run.id == made.id and len(scores) == made.customers
    assert scores["customer_id"].is_unique and scores["customer_id"].is_monotonic_increasing
    assert scores["churn_risk"].between(0, 1).all()
    assert scores["probability_alive"].between(0, 1).all()
    assert (scores["clv_12m"] >= 0).all()
    assert scores["churn_drivers"].notna().all()  # a small shop: every customer's drivers
    levels = pd.Series(scored.levels)
    assert set(levels) <= {"high", "medium", "low"}
    high = scores["churn_risk"] >= scored.settings.high_risk
    assert (levels[high] == "high").all() and (levels[~high] != "high").all()


def test_older_runs_keep_their_record_but_not_their_scores(shop, monkeypatch):
    monkeypatch.setattr(runs, "KEEP_SCORED_RUNS", 1)
    first = run_predictions(shop, AS_OF, actor=ADMIN)
    second = run_predictions(shop, AS_OF - dt.timedelta(days=30), actor=ADMIN)
    assert [run.id for run in prediction_runs(shop)] == [second.id, first.id]
    assert latest_run(shop).id == second.id
    with shop.connect() as conn:
        kept = conn.execute(select(func.distinct(models.customer_predictions.c.run_id))).all()
    assert [row[0] for row in kept] == [second.id]


def test_risk_levels_follow_the_stored_cut_points(shop):
    settings = PredictionSettings(monthly_discount=0.02, high_risk=0.9, medium_risk=0.6)
    levels = risk_levels(np.array([0.95, 0.9, 0.7, 0.6, 0.1, np.nan]), settings)
    assert list(levels[:5]) == ["high", "high", "medium", "medium", "low"]
    assert levels[5] != levels[5]  # NaN where there is no score
    save_prediction_settings(shop, settings, actor=ADMIN)
    assert runs.load_prediction_settings(shop) == settings
    with pytest.raises(InputError) as wrong:
        PredictionSettings(high_risk=0.5, medium_risk=0.7)
    assert wrong.value.key == "predict.error.risk_order"
    with pytest.raises(InputError):
        PredictionSettings(monthly_discount=1.5)


def test_audiences_filter_by_churn_risk_and_the_high_value_at_risk_tag(shop):
    before = load_audience_facts(shop, AS_OF, None, preset("rfm11"))
    assert before.prediction_run is None
    assert not select_members(before, Audience(churn_risk_levels=("high",))).any()

    made = run_predictions(shop, AS_OF, actor=ADMIN)
    facts = load_audience_facts(shop, AS_OF, None, preset("rfm11"))
    assert facts.prediction_run == made.id
    everyone = select_members(facts, Audience())
    high = select_members(facts, Audience(churn_risk_levels=("high",)))
    level = np.asarray(facts.fields["churn_risk_level"], dtype=object)
    assert 0 < high.sum() < everyone.sum()
    assert high.sum() == (level == "high").sum()
    not_high = select_members(facts, Audience(churn_risk_levels=("medium", "low")))
    assert not (high & not_high).any()
    assert (high | not_high).sum() == made.customers  # prospects have no level

    valuable = select_members(facts, Audience(clv_12m=(100.0, None)))
    clv = np.asarray(facts.fields["clv_12m"], dtype=float)
    assert valuable.sum() == (clv >= 100).sum() > 0

    at_risk = facts.tags.values[:, facts.tags.names.index("high_value_at_risk")]
    rank = np.asarray(facts.fields["clv_rank_pct"], dtype=float)
    assert at_risk.sum() > 0
    assert (rank[at_risk] < 20).all() and (level[at_risk] == "high").all()
    assert at_risk.sum() == ((rank < 20) & (level == "high")).sum()

    exported, _ = export_audience(
        shop,
        facts,
        Audience(include_tags=("high_value_at_risk",)),
        channel=None,
        policy=ContactPolicy(),
        actor=ADMIN,
        columns=["customer_id", "clv_12m", "churn_risk"],
    )
    record = export_record(shop, exported.export_id)
    assert record.filters["prediction_run"] == made.id
    table = pd.read_csv(io.BytesIO(exported.content), encoding="utf-8-sig")
    assert len(table) == exported.row_count > 0
    assert table.iloc[:, 1].notna().all() and table.iloc[:, 2].between(0, 1).all()


def test_the_churn_command_prints_the_backtest_and_writes_each_score(
    shop, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", shop.url.render_as_string(hide_password=False))
    out = tmp_path / "churn.csv"
    code = cli.main(["churn", "--as-of", AS_OF.isoformat(), "--horizon", "60", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("backtest cut 2026-09-01  horizon 60 days")
    assert [line.split()[0] for line in printed[2:5]] == list(SCORERS)
    for line in printed[2:5]:
        assert 0.5 < float(line.split()[1]) <= 1.0  # ROC AUC
    assert printed[5] in ("scores from: model", "scores from: recency")
    run = latest_run(shop)
    assert run.created_by == "command-line" and run.horizon_days == 60
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"customer_id": str})
    assert len(table) == run.customers
    assert {"churn_risk", "churn_risk_level", "churn_drivers", "clv_12m"} <= set(table.columns)

    assert cli.main(["churn", "--as-of", AS_OF.isoformat(), "--horizon", "3"]) == 2
    assert "7 to 365" in capsys.readouterr().err


def test_figures_of_a_day_use_the_newest_run_made_as_of_that_day(shop):
    older = run_predictions(shop, AS_OF - dt.timedelta(days=30), actor=ADMIN)
    newer = run_predictions(shop, AS_OF, actor=ADMIN)
    scheme = preset("rfm11")
    assert load_audience_facts(shop, AS_OF, None, scheme).prediction_run == newer.id
    between = AS_OF - dt.timedelta(days=10)  # the newer run saw orders after this day
    assert load_audience_facts(shop, between, None, scheme).prediction_run == older.id
    before = load_audience_facts(shop, AS_OF - dt.timedelta(days=60), None, scheme)
    assert before.prediction_run is None
    assert np.isnan(np.asarray(before.fields["churn_risk"], dtype=float)).all()
    assert latest_run(shop).id == newer.id  # the Predictions page shows the newest
    assert runs.predictions_key(shop, between) != runs.predictions_key(shop)


def test_a_run_after_the_last_order_is_refused(shop):
    with pytest.raises(InputError) as late:
        run_predictions(shop, AS_OF + dt.timedelta(days=5), actor=ADMIN)
    assert late.value.key == "predict.error.after_data"
    assert latest_run(shop) is None


def test_a_download_again_uses_the_scores_of_its_run(shop):
    first = run_predictions(shop, AS_OF, actor=ADMIN)
    facts = load_audience_facts(shop, AS_OF, None, preset("rfm11"))
    audience = Audience(churn_risk_levels=("high",))
    columns = ["customer_id", "clv_12m", "churn_risk"]
    exported, _ = export_audience(
        shop, facts, audience, channel=None, policy=ContactPolicy(), actor=ADMIN, columns=columns
    )
    settings = PredictionSettings(high_risk=0.9, medium_risk=0.6)
    save_prediction_settings(shop, settings, actor=ADMIN)
    second = run_predictions(shop, AS_OF, actor=ADMIN, horizon_days=60)
    again = redownload_export(shop, exported.export_id, actor=ADMIN)
    original = pd.read_csv(io.BytesIO(exported.content), encoding="utf-8-sig")
    copied = pd.read_csv(io.BytesIO(again.content), encoding="utf-8-sig")
    pd.testing.assert_frame_equal(original, copied)  # run 1's scores, not run 2's
    # the same audience under the new run is another list for the frequency cap
    newer = load_audience_facts(shop, AS_OF, None, preset("rfm11"))
    assert newer.prediction_run == second.id != first.id
    assert list_signature(audience_filters(newer, audience), None) != list_signature(
        export_record(shop, exported.export_id).filters, None
    )


def test_an_sla_tier_may_be_the_high_value_at_risk_tag(shop):
    run_predictions(shop, AS_OF, actor=ADMIN)
    policy = SlaPolicy(tiers=(Tier("retain", tag="high_value_at_risk"),))
    tiers = load_customer_tiers(shop, AS_OF, policy)
    facts = load_audience_facts(shop, AS_OF, None, preset("rfm11"))
    tagged = facts.tags.values[:, facts.tags.names.index("high_value_at_risk")]
    assert len(tiers) == tagged.sum() > 0
    assert set(tiers.index) == set(facts.customer_ids[tagged])
