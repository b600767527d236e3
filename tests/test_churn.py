"""Churn risk (crm_core.predict.churn): facts as of a cut that never read past it, the
backtest beside its two baselines on CDNOW and UCI Online Retail, and BG/NBD's
probability of no purchase against a numerical integration."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from crm_core.customers.features import customer_features
from crm_core.demo import generate_shop, load_shop
from crm_core.errors import InputError
from crm_core.predict import churn
from crm_core.predict.churn import (
    BGNBD,
    MODEL,
    RECENCY,
    SCORERS,
    ChurnHistory,
    ChurnModel,
    backtest,
    backtest_table,
    churn_facts,
    churned_after,
    load_churn_history,
)
from crm_core.predict.clv import BetaGeoModel
from tests.support.requirements import shared_file

CUT = dt.date(2026, 6, 30)


def _history() -> ChurnHistory:
    purchases = pd.DataFrame(
        [
            ("C1", "2026-01-10 10:00", 100.0),
            ("C1", "2026-03-01 09:00", 50.0),
            ("C1", "2026-03-01 18:00", 25.0),
            ("C1", "2026-06-15 12:00", 80.0),
            ("C1", "2026-09-28 20:00", 10.0),  # the 90th day after the cut: not churned
            ("C2", "2026-06-30 23:00", 40.0),
            ("C2", "2026-09-29 08:00", 40.0),  # the 91st day: churned
            ("C3", "2026-07-01 00:00", 30.0),  # after the cut: not a buyer on it
        ],
        columns=["customer_id", "ordered_at", "amount"],
    )
    complaints = pd.DataFrame(
        [("C1", "2026-01-01 10:00"), ("C1", "2026-05-01 10:00"), ("C2", "2026-07-02 10:00")],
        columns=["customer_id", "created_at"],
    )
    answers = pd.DataFrame(
        [
            ("C1", "2026-02-01 10:00", 3),
            ("C1", "2026-06-01 10:00", 9),
            ("C1", "2026-07-05 10:00", 0),  # after the cut
            ("C2", "2026-06-30 10:00", 7),
            ("C2", "2026-06-30 10:00", 8),  # the same moment, later row: the newer answer
        ],
        columns=["customer_id", "responded_at", "nps"],
    )
    purchases["ordered_at"] = pd.to_datetime(purchases["ordered_at"])
    complaints["created_at"] = pd.to_datetime(complaints["created_at"])
    answers["responded_at"] = pd.to_datetime(answers["responded_at"])
    return ChurnHistory.from_frames(purchases, complaints, answers)


def test_churn_facts_follow_their_definitions():
    facts = churn_facts(_history(), CUT).set_index("customer_id")
    assert list(facts.index) == ["C1", "C2"]
    c1, c2 = facts.loc["C1"], facts.loc["C2"]
    assert c1["recency_days"] == 15
    assert c1["tenure_days"] == (CUT - dt.date(2026, 1, 10)).days
    assert (c1["frequency"], c1["purchase_days"]) == (4, 3)
    assert c1["purchase_amount"] == 255 and c1["avg_order_value"] == 63.75
    assert (c1["orders_12m"], c1["spend_12m"]) == (4, 255)
    assert (c1["orders_90d"], c1["orders_prior_90d"]) == (1, 3)  # 90 days: from 2 April
    assert c1["mean_gap_days"] == (dt.date(2026, 6, 15) - dt.date(2026, 1, 10)).days / 2
    assert c1["overdue_ratio"] == pytest.approx(15 / 78)
    assert (c1["complaints_90d"], c1["last_nps"]) == (1, 9)
    assert (c2["recency_days"], c2["tenure_days"], c2["frequency"]) == (0, 0, 1)
    assert np.isnan(c2["mean_gap_days"]) and np.isnan(c2["overdue_ratio"])
    assert (c2["complaints_90d"], c2["last_nps"]) == (0, 8)
    churned = churned_after(_history(), CUT, 90, facts.index.to_series())
    assert churned.tolist() == [False, True]


def _shifted_after(history: ChurnHistory, cut: dt.date) -> ChurnHistory:
    """Every order, complaint and answer after the cut moved 400 days later, with other
    amounts and scores, plus a new order after the cut for every customer."""
    end = pd.Timestamp(cut) + pd.Timedelta(days=1)
    purchases = history.purchases()
    later = purchases["ordered_at"] >= end
    purchases.loc[later, "ordered_at"] += pd.Timedelta(days=400)
    purchases.loc[later, "amount"] *= 3
    extra = pd.DataFrame(
        {
            "customer_id": history.customer_ids,
            "ordered_at": end + pd.Timedelta(hours=1),
            "amount": 5.0,
        }
    )
    complaints = pd.DataFrame(
        {
            "customer_id": history.customer_ids[history.complaint_customer],
            "created_at": history.complaint_time,
        }
    )
    complaints.loc[complaints["created_at"] >= end, "created_at"] += pd.Timedelta(days=400)
    answers = pd.DataFrame(
        {
            "customer_id": history.customer_ids[history.answer_customer],
            "responded_at": history.answer_time,
            "nps": history.answer_score,
        }
    )
    answers.loc[answers["responded_at"] >= end, "nps"] = 10 - answers["nps"]
    return ChurnHistory.from_frames(pd.concat([purchases, extra]), complaints, answers)


def test_no_fact_reads_past_the_cut():
    shop = generate_shop(400, seed=11, end_date=dt.date(2026, 10, 31))
    orders = shop["orders"][shop["orders"]["status"] == "paid"]
    tickets = shop["tickets"][shop["tickets"]["is_complaint"]]
    history = ChurnHistory.from_frames(
        orders[["customer_id", "ordered_at", "amount"]],
        tickets[["customer_id", "created_at"]],
        shop["survey_responses"][["customer_id", "responded_at", "nps"]],
    )
    cut = dt.date(2026, 5, 31)
    before = churn_facts(history, cut)
    assert len(before) > 100 and before["complaints_90d"].sum() > 0
    assert before["last_nps"].notna().sum() > 0
    after = churn_facts(_shifted_after(history, cut), cut)
    pd.testing.assert_frame_equal(before, after)


def test_churn_facts_mean_what_customer_features_mean(store):
    """The facts both compute (all history as window) are equal on a demo shop, SQLite
    and PostgreSQL: churn reads the same orders, complaints and answers."""
    load_shop(store, generate_shop(300, seed=12, end_date=dt.date(2026, 10, 31)))
    cut = dt.date(2026, 7, 15)
    facts = churn_facts(load_churn_history(store, cut), cut).set_index("customer_id")
    features = customer_features(store, cut).set_index("customer_id").loc[facts.index]
    shared = [
        "recency_days", "tenure_days", "frequency", "purchase_amount", "avg_order_value",
        "orders_12m", "spend_12m", "complaints_90d", "last_nps",
    ]  # fmt: skip
    for name in shared:
        np.testing.assert_allclose(
            facts[name].to_numpy(dtype=float), features[name].to_numpy(dtype=float),
            rtol=1e-9, equal_nan=True, err_msg=name,
        )  # fmt: skip
    assert features.loc[~features["is_prospect"]].index.equals(facts.index)


def test_bgnbd_probability_of_no_purchase_equals_a_numerical_integration():
    """P(no purchase in t weeks | x, t_x, T) integrated numerically over the posterior of
    the purchase rate (the drop-out probability integrated in closed form by Beta
    functions), against the closed form."""
    model = BetaGeoModel(r_=0.2426, alpha_=4.4136, a_=0.7929, b_=2.4259)
    r, alpha, a, b = model.params_
    t = 13.0
    for x, t_x, age in ((2, 30.43, 38.86), (0, 0.0, 38.86), (7, 35.0, 38.86), (1, 2.0, 38.86)):
        survive = np.exp(special.betaln(a, b + x) - special.betaln(a, b))  # E[(1-p)^x]
        drop = (
            np.exp(special.betaln(a + 1, b + x - 1) - special.betaln(a, b)) if x > 0 else 0.0
        )  # E[p (1-p)^(x-1)]

        def weight(lam, quiet, x=x, t_x=t_x, age=age, survive=survive, drop=drop):
            prior = np.exp(
                r * np.log(alpha) + (r - 1) * np.log(lam) - alpha * lam - special.gammaln(r)
            )
            alive = survive * lam**x * np.exp(-lam * (age + quiet))
            return prior * (alive + drop * lam**x * np.exp(-lam * t_x))

        def integral(quiet):
            return integrate.quad(
                weight, 0, np.inf, args=(quiet,), epsabs=0, epsrel=1e-9, limit=500
            )[0]

        expected = integral(t) / integral(0.0)
        assert float(model.probability_no_purchase(t, x, t_x, age)) == pytest.approx(
            expected, rel=1e-6
        ), (x, t_x, age)


def _cdnow_history(name: str) -> ChurnHistory:
    path = shared_file(f"cdnow/{name}")
    rows = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    rows = rows[rows.iloc[:, -3].str.isdigit()]  # CDNOW_master has a header line
    frame = pd.DataFrame(
        {
            "customer_id": rows.iloc[:, -4].to_numpy(),
            "ordered_at": pd.to_datetime(rows.iloc[:, -3], format="%Y%m%d").to_numpy(),
            "amount": rows.iloc[:, -1].astype(float).to_numpy(),
        }
    )
    return ChurnHistory.from_frames(frame[frame["amount"] > 0])


def _uci_history() -> ChurnHistory:
    lines = pd.read_csv(
        shared_file("online_retail_uci/online_retail.csv.gz"),
        encoding="latin1",
        dtype={"CustomerID": str, "InvoiceNo": str},
    )
    paid = lines[
        lines["CustomerID"].notna()
        & ~lines["InvoiceNo"].str.startswith("C")
        & (lines["Quantity"] > 0)
    ]
    orders = (
        paid.assign(amount=paid["Quantity"] * paid["UnitPrice"])
        .groupby(["InvoiceNo", "CustomerID"], as_index=False)
        .agg(ordered_at=("InvoiceDate", "first"), amount=("amount", "sum"))
        .rename(columns={"CustomerID": "customer_id"})
    )
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    return ChurnHistory.from_frames(orders)


def _check_backtest(history: ChurnHistory, as_of: dt.date, capsys) -> churn.ChurnBacktest:
    report = backtest(history, as_of)
    with capsys.disabled():
        print(f"\n{backtest_table(report)}")
    figures = report.figures.set_index("scorer")
    assert list(figures.index) == list(SCORERS)
    assert figures["roc_auc"].between(0.6, 1.0).all()
    assert figures["pr_auc"].between(report.churn_rate, 1.0).all()  # above a random ranking
    assert (figures["top_decile_lift"] >= 1.0).all()
    assert (figures["brier"] < report.churn_rate * (1 - report.churn_rate)).all()
    assert report.training_cuts[-1] == report.cut - dt.timedelta(days=report.horizon_days)
    deciles = report.calibration.groupby("scorer")["decile"].apply(list)
    assert all(values == list(range(1, 11)) for values in deciles)
    by_decile = report.calibration[report.calibration["scorer"] == MODEL]
    assert by_decile["actual"].iloc[-1] > by_decile["actual"].iloc[0]
    assert report.importance["importance"].iloc[0] == report.importance["importance"].max()
    assert report.importance["importance"].iloc[0] > 0.01
    return report


def test_backtest_on_cdnow_shows_the_model_beside_both_baselines(capsys):
    report = _check_backtest(_cdnow_history("CDNOW_master.txt"), dt.date(1998, 6, 30), capsys)
    # every CDNOW customer bought in early 1997; 68 of the 23,570 only for $0
    assert report.customers == 23_502
    assert report.model_beats_recency
    assert report.importance["fact"].iloc[0] == "recency_days"


def test_backtest_on_uci_online_retail_shows_the_model_beside_both_baselines(capsys):
    report = _check_backtest(_uci_history(), dt.date(2011, 12, 9), capsys)
    figures = report.figures.set_index("scorer")["roc_auc"]
    assert figures[MODEL] > figures[RECENCY] and figures[BGNBD] > figures[RECENCY]


def test_the_scores_come_from_recency_alone_where_the_model_does_not_beat_it(monkeypatch):
    history = _cdnow_history("CDNOW_sample.txt")
    as_of = dt.date(1998, 6, 30)
    real = backtest(history, as_of)
    figures = real.figures.copy()
    figures.loc[figures["scorer"] == MODEL, "roc_auc"] = 0.5
    monkeypatch.setattr(
        churn, "backtest", lambda *_a, **_k: dataclasses.replace(real, figures=figures)
    )
    model = ChurnModel().fit(history, as_of)
    assert not model.uses_model_ and model.classifier_ is None
    facts = churn_facts(history, as_of)
    np.testing.assert_array_equal(
        model.risk(facts), model.recency_.predict(facts["recency_days"].to_numpy())
    )
    assert set(model.drivers(facts)) == {"recency_days"}
    older = facts["recency_days"].to_numpy() > 300
    assert model.risk(facts)[older].min() >= model.risk(facts)[~older].max() - 1e-12


def test_the_model_names_each_customers_drivers():
    history = _cdnow_history("CDNOW_master.txt")
    model = ChurnModel().fit(history, dt.date(1998, 6, 30))
    assert model.uses_model_ and model.driver_facts_[0] == "recency_days"
    facts = churn_facts(history, dt.date(1998, 6, 30)).iloc[:2000]
    drivers = model.drivers(facts)
    named = [name for text in drivers if text for name in text.split(",")]
    assert named and set(named) <= set(model.driver_facts_)
    assert max(len(text.split(",")) for text in drivers) <= churn.DRIVERS_SHOWN
    # a driver lowers the risk when it is set to its median
    row = next(i for i, text in enumerate(drivers) if text)
    first = drivers[row].split(",")[0]
    changed = facts.iloc[[row]].copy()
    changed[first] = model.reference_[model.facts_.index(first)]
    assert model.risk(changed)[0] < model.risk(facts.iloc[[row]])[0]


def test_too_short_a_history_and_a_bad_horizon_are_clear_errors():
    history = _history()
    with pytest.raises(InputError) as short:
        backtest(history, dt.date(2026, 8, 31))  # the first training cut: 3 January
    assert short.value.key == "predict.error.churn_history"
    with pytest.raises(InputError) as few:
        backtest(history, dt.date(2026, 10, 31))
    assert few.value.key == "predict.error.churn_rows"
    assert "4 (summed over the cuts; 1 churned, 3 bought again)" in few.value.message()
    with pytest.raises(InputError) as horizon:
        backtest(history, dt.date(2026, 10, 31), horizon_days=3)
    assert horizon.value.key == "predict.error.horizon"
