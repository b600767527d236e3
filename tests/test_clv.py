"""BG/NBD and Gamma-Gamma (crm_core.predict.clv) against the published CDNOW values
(Fader, Hardie & Lee 2005; Fader & Hardie 2013) and on hand-written purchases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from crm_core import commands as cli
from crm_core.errors import InputError
from crm_core.predict.clv import (
    PREDICTION_COLUMNS,
    BetaGeoModel,
    GammaGammaModel,
    conditional_expectations,
    customer_predictions,
    holdout_tracking,
    purchase_summary,
)
from crm_core.store import bulk_insert, models
from tests.support.requirements import shared_file

CALIBRATION_END = dt.date(1997, 9, 30)  # the end of week 39


@pytest.fixture(scope="module")
def cdnow_rows() -> pd.DataFrame:
    """The CDNOW sample's transactions: customer_id (the sample's), ordered_at, amount."""
    rows = pd.read_csv(
        shared_file("cdnow/CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
        dtype={"master_id": str, "customer_id": str, "date": str},
    )
    rows["ordered_at"] = pd.to_datetime(rows["date"], format="%Y%m%d")
    return rows


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_rows) -> pd.DataFrame:
    return purchase_summary(cdnow_rows, CALIBRATION_END, check=True)


def test_bgnbd_on_cdnow_equals_the_published_fit(cdnow_summary):
    assert len(cdnow_summary) == 2357
    model = BetaGeoModel().fit(cdnow_summary)
    for fitted, published in zip(model.params_, (0.2426, 4.4136, 0.7929, 2.4259), strict=True):
        assert fitted == pytest.approx(published, rel=0.005)
    assert model.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    # the paper's worked example: x = 2, t_x = 30.43, T = 38.86, the next 39 weeks
    assert float(model.expected_purchases(39, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=5e-4)


def test_gamma_gamma_on_cdnows_repeat_buyers_equals_the_published_fit(cdnow_summary):
    repeat = cdnow_summary[cdnow_summary["frequency"] > 0]
    assert len(repeat) == 946
    model = GammaGammaModel().fit(cdnow_summary)
    for fitted, published in zip(
        (model.p_, model.q_, model.gamma_), (6.25, 3.74, 15.44), strict=True
    ):
        assert fitted == pytest.approx(published, rel=0.005)
    assert model.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)
    x, m = 4, 30.0
    expected = (model.gamma_ + m * x) * model.p_ / (model.p_ * x + model.q_ - 1)
    assert float(model.expected_average_value(x, m)) == pytest.approx(expected)
    population = model.p_ * model.gamma_ / (model.q_ - 1)
    assert float(model.expected_average_value(0, np.nan)) == pytest.approx(population)


def test_probability_alive_and_the_new_customer_curve(cdnow_summary):
    model = BetaGeoModel().fit(cdnow_summary)
    alive = model.probability_alive(
        cdnow_summary["frequency"], cdnow_summary["recency_weeks"], cdnow_summary["age_weeks"]
    )
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[cdnow_summary["frequency"].to_numpy() == 0] == 1.0)
    # the same history, but the last purchase longer ago, is less likely alive
    recent, stale = model.probability_alive([3, 3], [35.0, 5.0], [38.0, 38.0])
    assert recent > stale
    curve = model.expected_purchases_new([0.0, 13.0, 26.0, 39.0, 78.0])
    assert curve[0] == pytest.approx(0.0) and np.all(np.diff(curve) > 0)


def test_purchase_summary_counts_purchase_days_in_weeks():
    purchases = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "B", "C"],
            "ordered_at": pd.to_datetime(
                [
                    "2026-01-01 09:00",
                    "2026-01-01 18:00",  # the same day: one purchase, amounts summed
                    "2026-01-15 00:00",
                    "2026-02-12 00:00",
                    "2026-01-08 00:00",
                    "2026-03-01 00:00",  # after the calibration end: not seen
                ]
            ),
            "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 99.0],
        }
    )
    summary = purchase_summary(purchases, dt.date(2026, 2, 26)).set_index("customer_id")
    assert list(summary.index) == ["A", "B"]
    assert summary.loc["A", "frequency"] == 2
    assert summary.loc["A", "recency_weeks"] == pytest.approx(6.0)
    assert summary.loc["A", "age_weeks"] == pytest.approx(8.0)
    assert summary.loc["A", "monetary_value"] == pytest.approx(30.0)  # (20 + 40) / 2
    assert summary.loc["B", "frequency"] == 0 and np.isnan(summary.loc["B", "monetary_value"])
    with pytest.raises(InputError) as error:
        purchase_summary(purchases, dt.date(2026, 2, 26), check=True)
    assert "500" in error.value.message()


def test_customer_predictions_follow_their_definitions(cdnow_summary):
    beta_geo = BetaGeoModel().fit(cdnow_summary)
    gamma_gamma = GammaGammaModel().fit(cdnow_summary)
    table = customer_predictions(
        cdnow_summary,
        beta_geo,
        gamma_gamma,
        calibration_end=CALIBRATION_END,
        margin=0.3,
        monthly_discount=0.01,
    ).set_index("customer_id")
    assert list(table.columns) == list(PREDICTION_COLUMNS[1:])
    row = cdnow_summary.set_index("customer_id").loc["0006"]
    x, t_x, age, m = row["frequency"], row["recency_weeks"], row["age_weeks"], row["monetary_value"]
    value = float(gamma_gamma.expected_average_value(x, m))
    months = [float(beta_geo.expected_purchases(i * 52 / 12, x, t_x, age)) for i in range(13)]
    expected_clv = sum((months[i] - months[i - 1]) * value * 0.3 / 1.01**i for i in range(1, 13))
    assert table.loc["0006", "clv_12m"] == pytest.approx(expected_clv)
    assert table.loc["0006", "expected_order_value"] == pytest.approx(value)
    assert table.loc["0006", "purchases_90d"] == pytest.approx(
        float(beta_geo.expected_purchases(90 / 7, x, t_x, age))
    )
    # the next order's day: expected purchases reach one on that day, not the day before
    days = (pd.Timestamp(table.loc["0006", "next_order_date"]) - pd.Timestamp(CALIBRATION_END)).days
    assert float(beta_geo.expected_purchases(days / 7, x, t_x, age)) >= 1.0
    assert float(beta_geo.expected_purchases((days - 1) / 7, x, t_x, age)) < 1.0
    # one-time buyers of long ago are not expected to buy within two years
    assert pd.isna(table.loc["0002", "next_order_date"])
    assert table["probability_alive"].between(0, 1).all()


def test_holdout_tracking_and_conditional_expectations_agree_with_the_data(cdnow_rows):
    summary = purchase_summary(cdnow_rows, CALIBRATION_END)
    model = BetaGeoModel().fit(summary)
    holdout_end = dt.date(1998, 6, 30)  # weeks 40-78
    tracking = holdout_tracking(cdnow_rows, model, CALIBRATION_END, holdout_end)
    assert tracking["week"].tolist() == list(range(1, 40))
    assert tracking["week_start"].iloc[0] == dt.date(1997, 10, 1)
    conditional = conditional_expectations(cdnow_rows, model, CALIBRATION_END, holdout_end)
    assert conditional["frequency"].tolist() == list(range(8))
    assert conditional["customers"].sum() == 2357
    # the two views count the same holdout purchase days
    total = (conditional["customers"] * conditional["actual"]).sum()
    assert tracking["actual"].sum() == pytest.approx(total)
    total_predicted = (conditional["customers"] * conditional["predicted"]).sum()
    # the model tracks CDNOW closely: within 15% over the 39 weeks, both unconditionally
    # (the tracking curve) and given each customer's history, rising with frequency
    assert tracking["cumulative_predicted"].iloc[-1] == pytest.approx(total, rel=0.15)
    assert total_predicted == pytest.approx(total, rel=0.15)
    assert conditional["predicted"].is_monotonic_increasing
    assert conditional.loc[0, "predicted"] == pytest.approx(conditional.loc[0, "actual"], rel=0.1)


@pytest.fixture
def cdnow_store(store, cdnow_rows, monkeypatch):
    """The CDNOW sample as customers and paid orders in a store (SQLite, PostgreSQL)."""
    ids = sorted(cdnow_rows["customer_id"].unique())
    orders = pd.DataFrame(
        {
            "order_id": [f"O{n:05d}" for n in range(len(cdnow_rows))],
            "customer_id": cdnow_rows["customer_id"].to_numpy(),
            "ordered_at": cdnow_rows["ordered_at"].to_numpy(),
            "amount": cdnow_rows["amount"].to_numpy(),
            "status": "paid",
        }
    )
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ids}))
        bulk_insert(conn, models.orders, orders)
    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    return store


def test_clv_command_prints_the_published_parameters_and_writes_each_customer(
    cdnow_store, tmp_path, capsys
):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "clv.csv"
    code = cli.main(["clv", "--calibration-end", CALIBRATION_END.isoformat(), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    bgnbd = dict(item.split("=") for item in printed[0].split()[1:])
    assert printed[0].startswith("bgnbd ")
    assert float(bgnbd["r"]) == pytest.approx(0.2426, rel=0.005)
    assert float(bgnbd["alpha"]) == pytest.approx(4.4136, rel=0.005)
    assert float(bgnbd["loglik"]) == pytest.approx(-9582.43, abs=0.01)
    assert len(bgnbd["alpha"].replace(".", "").lstrip("0")) == 6  # 6 significant digits
    gamma_gamma = dict(item.split("=") for item in printed[1].split()[1:])
    assert float(gamma_gamma["p"]) == pytest.approx(6.25, rel=0.005)
    assert float(gamma_gamma["loglik"]) == pytest.approx(-4055.92, abs=0.01)
    written = pd.read_csv(out, encoding="utf-8-sig", dtype={"customer_id": str})
    assert len(written) == 2357
    assert {"probability_alive", "clv_12m", "next_order_date"} <= set(written.columns)
    # a month of history is too little to fit: a message, exit 2
    assert cli.main(["clv", "--calibration-end", "1997-02-01"]) == 2
    assert "180" in capsys.readouterr().err


def test_the_bgnbd_gradient_equals_a_numerical_one():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 60).astype(float)
    age = rng.uniform(5.0, 40.0, 60)
    t_x = np.where(x > 0, age * rng.uniform(0.0, 1.0, 60), 0.0)
    weights = rng.integers(1, 4, 60).astype(float)
    params = np.array([0.3, 4.0, 0.8, 2.5])

    def value(p: np.ndarray) -> float:
        return float(np.dot(weights, BetaGeoModel.log_likelihood(p, x, t_x, age)))

    total, gradient = BetaGeoModel._log_likelihood_and_gradient(params, x, t_x, age, weights)
    assert total == pytest.approx(value(params))
    numerical = optimize.approx_fprime(params, value, 1e-7)
    np.testing.assert_allclose(gradient, numerical, rtol=1e-4)


def _summary_by_pandas(purchases: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """The purchase summary written plainly with pandas groupby (the test's oracle)."""
    day = pd.to_datetime(purchases["ordered_at"]).dt.normalize()
    kept = purchases.assign(day=day)[day.notna() & (day <= pd.Timestamp(end))]
    days = kept.groupby(["customer_id", "day"], as_index=False)["amount"].sum()  # NaN as 0
    grouped = days.groupby("customer_id", sort=True)
    first, last, count = grouped["day"].min(), grouped["day"].max(), grouped.size()
    repeat = grouped["amount"].sum() - grouped["amount"].first()
    frequency = count - 1
    return pd.DataFrame(
        {
            "customer_id": first.index.astype(str),
            "frequency": frequency.to_numpy(dtype=np.int64),
            "recency_weeks": ((last - first).dt.days / 7).to_numpy(),
            "age_weeks": ((pd.Timestamp(end) - first).dt.days / 7).to_numpy(),
            "monetary_value": np.where(frequency > 0, repeat / frequency.replace(0, 1), np.nan),
        }
    )


def test_purchase_summary_equals_a_pandas_groupby_with_gaps_in_the_data():
    rng = np.random.default_rng(5)
    rows = 3_000
    purchases = pd.DataFrame(
        {
            "customer_id": [f"C{n:03d}" for n in rng.integers(0, 400, rows)],
            "ordered_at": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 700 * 24 * 3600, rows), unit="s"),
            "amount": rng.gamma(2.0, 30.0, rows).round(2),
        }
    )
    purchases.loc[::97, "amount"] = np.nan  # counts as 0
    purchases.loc[5, "ordered_at"] = pd.NaT  # left out
    end = dt.date(2026, 6, 30)  # some orders come after it
    pd.testing.assert_frame_equal(
        purchase_summary(purchases, end), _summary_by_pandas(purchases, end), check_dtype=False
    )
    empty = purchase_summary(purchases.iloc[:0], end)
    assert list(empty.columns) == list(purchase_summary(purchases, end).columns)
    assert empty["frequency"].dtype == np.int64 and len(empty) == 0
