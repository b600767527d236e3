"""R, F, M scores: quantile and fixed cut-points, ties, prospects, negative monetary."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from crm_core.auth import Actor
from crm_core.commands import rfm as rfm_command
from crm_core.customers.rfm import (
    Scoring,
    check_cuts,
    prepare_facts,
    quantile_cuts,
    score,
    scored_customers,
)
from crm_core.customers.segments import preset, save_scheme, scheme_thresholds, with_thresholds
from crm_core.errors import InputError
from crm_core.store import bulk_insert, models


def facts_frame(recency, frequency, monetary) -> pd.DataFrame:
    """A minimal customer_features-like frame (customer ids c0, c1, ...)."""
    n = len(frequency)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency_days": np.asarray(recency, dtype=float),
            "frequency": np.asarray(frequency, dtype=np.int64),
            "monetary": np.asarray(monetary, dtype=float),
            "purchase_amount": np.abs(np.asarray(monetary, dtype=float)),
        }
    )


def test_quantile_scores_split_distinct_values_into_fifths():
    values = np.arange(1, 101)
    facts = prepare_facts(facts_frame(values, values, values * 10.0))
    scores = score(facts)
    expected_up = np.repeat([1, 2, 3, 4, 5], 20)
    assert scores.f.tolist() == expected_up.tolist()
    assert scores.m.tolist() == expected_up.tolist()
    # fewer days since the last purchase is better: 1-20 days is R 5
    assert scores.r.tolist() == expected_up[::-1].tolist()
    assert scores.axes["f"].cuts == (20.0, 40.0, 60.0, 80.0)
    assert scores.axes["r"].counts.tolist() == [20] * 5
    assert scores.axes["r"].value_ranges[4] == (1.0, 20.0)
    assert scores.axes["r"].value_ranges[0] == (81.0, 100.0)


def test_quantile_cuts_match_numpy_lower_quantiles():
    rng = np.random.default_rng(7)
    n = 5_001
    recency = rng.integers(0, 400, n)
    frequency = rng.geometric(0.4, n)
    monetary = np.round(rng.lognormal(4, 1.2, n), 2)
    facts = prepare_facts(facts_frame(recency, frequency, monetary))
    cuts = quantile_cuts(facts)
    levels = [0.2, 0.4, 0.6, 0.8]
    for axis, values in (("r", recency), ("f", frequency), ("m", monetary)):
        expected = np.quantile(values.astype(float), levels, method="lower")
        assert cuts[axis] == pytest.approx(tuple(expected))


def test_equal_values_always_get_equal_scores_under_heavy_ties():
    rng = np.random.default_rng(3)
    n = 10_000
    frequency = rng.choice([1, 1, 1, 2, 3, 7], size=n)
    recency = rng.choice([0, 5, 5, 5, 30, 200], size=n)
    monetary = rng.choice([9.9, 9.9, 20.0, 99.0], size=n)
    facts = prepare_facts(facts_frame(recency, frequency, monetary))
    scored = scored_customers(facts, score(facts))
    for metric, column in (("frequency", "f_score"), ("recency_days", "r_score")):
        assert (scored.groupby(metric)[column].nunique() == 1).all()
        assert (scored.groupby(column)[metric].nunique() >= 1).all()


def test_ties_leave_fewer_distinct_scores_and_report_real_cut_points():
    # 60 customers bought once, 20 twice, 20 three times
    frequency = [1] * 60 + [2] * 20 + [3] * 20
    facts = prepare_facts(facts_frame(range(100), frequency, range(1, 101)))
    axis = score(facts).axes["f"]
    assert axis.cuts == (1.0, 1.0, 1.0, 2.0)
    assert axis.counts.tolist() == [60, 0, 0, 20, 20]
    assert axis.distinct_scores == 3
    assert axis.has_empty_scores
    assert axis.value_ranges[0] == (1.0, 1.0)
    assert np.isnan(axis.value_ranges[1][0])
    assert axis.value_ranges[3] == (2.0, 2.0)
    assert axis.value_ranges[4] == (3.0, 3.0)


def test_fixed_cut_points_are_inclusive_upper_bounds():
    recency = [0, 30, 31, 60, 61, 90, 91, 180, 181, 999]
    frequency = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    monetary = [-5, 0, 100, 100.01, 250, 500, 500.01, 1000, 1000.01, 5000]
    scoring = Scoring(
        mode="fixed",
        cuts={"r": (30, 60, 90, 180), "f": (1, 2, 4, 8), "m": (0, 100, 500, 1000)},
    )
    scores = score(prepare_facts(facts_frame(recency, frequency, monetary)), scoring)
    assert scores.r.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores.f.tolist() == [1, 2, 3, 3, 4, 4, 4, 4, 5, 5]
    assert scores.m.tolist() == [1, 1, 2, 3, 3, 3, 4, 4, 5, 5]
    assert scores.cuts()["m"] == (0.0, 100.0, 500.0, 1000.0)
    assert scores.axes["m"].mode == "fixed"


def test_fm_score_is_the_mean_rounded_half_up():
    scoring = Scoring(
        mode="fixed",
        cuts={"r": (1, 2, 3, 4), "f": (1, 2, 3, 4), "m": (1, 2, 3, 4)},
    )
    f = [1, 1, 2, 3, 4, 5, 5]
    m = [1, 2, 2, 4, 5, 4, 5]
    facts = prepare_facts(facts_frame([1] * 7, f, m))
    scored = scored_customers(facts, score(facts, scoring))
    assert scored["fm_score"].tolist() == [1, 2, 2, 4, 5, 5, 5]


def test_prospects_are_not_scored_and_negative_monetary_is_scored_and_counted():
    frame = facts_frame(
        [np.nan, 10, 20, 400, np.nan], [0, 1, 3, 2, 0], [0.0, -30.0, 300.0, 0.0, 0.0]
    )
    frame["is_prospect"] = [True, False, False, False, False]
    facts = prepare_facts(frame)
    assert facts.scored_frame["customer_id"].tolist() == ["c1", "c2", "c3"]
    assert facts.prospect_count == 1
    assert facts.no_purchase_in_window_count == 1
    assert facts.non_positive_monetary_count == 2
    scoring = Scoring(
        mode="fixed", cuts={"r": (30, 60, 90, 180), "f": (1, 2, 3, 4), "m": (0, 100, 200, 250)}
    )
    scores = score(facts, scoring)
    assert scores.m.tolist() == [1, 5, 1]


def test_monetary_rank_pct_shares_ties():
    facts = prepare_facts(facts_frame([1] * 5, [1] * 5, [500, 100, 500, 50, 10]))
    assert facts.scored_frame["monetary_rank_pct"].tolist() == [0.0, 40.0, 0.0, 60.0, 80.0]


def test_bad_cut_points_raise_input_errors_naming_the_axis():
    with pytest.raises(InputError) as decreasing:
        check_cuts("f", [1, 3, 2, 4])
    assert decreasing.value.key == "rfm.error.cuts_order"
    assert decreasing.value.params["axis"] == "F"
    with pytest.raises(InputError) as too_few:
        check_cuts("m", [1, 2, 3])
    assert too_few.value.key == "rfm.error.cuts_count"
    with pytest.raises(InputError) as not_number:
        check_cuts("r", [1, "x", 3, 4])
    assert not_number.value.key == "rfm.error.cuts_number"
    with pytest.raises(InputError) as missing:
        Scoring(mode="fixed", cuts={"r": (1, 2, 3, 4)})
    assert missing.value.key == "rfm.error.cuts_missing"
    assert "F, M" in missing.value.message("en")
    with pytest.raises(InputError) as mode:
        Scoring(mode="deciles")
    assert mode.value.key == "rfm.error.scoring_mode"


def test_scoring_round_trips_through_json_data():
    fixed = Scoring(
        mode="fixed", cuts={"r": (7, 30, 90, 365), "f": (1, 2, 3, 5), "m": (50, 100, 300, 800.5)}
    )
    assert Scoring.from_dict(fixed.to_dict()) == fixed
    assert Scoring.from_dict({"mode": "quantile"}) == Scoring()
    tuned = Scoring().with_cuts({"r": [1, 2, 3, 4], "f": [1, 1, 2, 3], "m": [0, 1, 2, 3]})
    assert tuned.mode == "fixed" and tuned.cuts["f"] == (1.0, 1.0, 2.0, 3.0)


def test_no_scored_customers_gives_empty_scores():
    facts = prepare_facts(facts_frame([np.nan], [0], [0.0]))
    scores = score(facts)
    assert len(scores.r) == 0
    assert all(np.isnan(c) for c in scores.axes["m"].cuts)
    assert scores.axes["m"].counts.tolist() == [0] * 5


# ------------------------------------------------------------------ command line


def run_rfm_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    rfm_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["rfm", *argv])
    return args.handler(args)


def test_command_writes_one_row_per_scored_customer(sqlite_store, monkeypatch, tmp_path, capsys):
    customers = pd.DataFrame({"customer_id": ["=cmd", "b", "c", "p"]})
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4", "5"],
            "customer_id": ["=cmd", "=cmd", "b", "c", "c"],
            "ordered_at": pd.to_datetime(
                ["2024-06-01", "2024-06-20", "2024-01-15", "2023-01-01", "2023-01-03"]
            ),
            "amount": [100.0, 50.0, 30.0, 20.0, 25.0],
            "status": ["paid", "paid", "paid", "paid", "refunded"],
        }
    )
    with sqlite_store.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, orders)
    lifecycle = preset("lifecycle")
    save_scheme(
        sqlite_store,
        with_thresholds(lifecycle, {scheme_thresholds(lifecycle)[0].key: 10}),
        Actor("test", "admin"),
    )
    monkeypatch.setenv("DATABASE_URL", str(sqlite_store.url))
    out = tmp_path / "rfm.csv"
    assert (
        run_rfm_command(["--as-of", "2024-06-30", "--scheme", "lifecycle", "--out", str(out)]) == 0
    )
    written = pd.read_csv(out, dtype={"customer_id": str})
    assert list(written.columns) == [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "segment",
    ]
    assert written["customer_id"].tolist() == ["'=cmd", "b", "c"]  # formula defused
    assert written["recency_days"].tolist() == [10, 167, 546]
    assert written["frequency"].tolist() == [2, 1, 1]
    assert written["monetary"].tolist() == [150.0, 30.0, -5.0]
    # the saved version (active up to 10 days) is used, not the preset (90 days)
    assert written["segment"].tolist() == ["active", "sleeping", "churned"]
    assert written[["r_score", "f_score", "m_score"]].isin([1, 2, 3, 4, 5]).all().all()
    console = capsys.readouterr().out
    assert "1 prospects" in console and "v1" in console

    windowed = tmp_path / "window.csv"
    run_rfm_command(["--as-of", "2024-06-30", "--window-days", "30", "--out", str(windowed)])
    assert pd.read_csv(windowed)["frequency"].tolist() == [2]
    with pytest.raises(InputError):
        run_rfm_command(["--as-of", "2024-06-30", "--scheme", "nope", "--out", str(out)])


def test_value_span_covers_scored_customers_up_to_the_995th_percentile():
    values = np.arange(1, 1001, dtype=float)
    frame = facts_frame(values, np.ones(1000, dtype=int), values)
    frame["spend_12m"] = np.where(values > 500, np.nan, values)
    frame.loc[0, "frequency"] = 0  # not scored: its value 1 is left out
    facts = prepare_facts(frame)
    low, high = facts.value_span("monetary")
    assert low == 2.0 and high == pytest.approx(np.quantile(values[1:], 0.995))
    assert facts.value_span("spend_12m") == (2.0, pytest.approx(np.quantile(values[1:500], 0.995)))
    assert facts.value_span("customer_id") is None
