"""Migration flows the RFM page shows, computed by crm_core on hand-written facts: what
moves when a draft replaces the saved scheme, how customers moved between two as-of
dates (aligned by id, revenue on each side), buying flows, labels and slider ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from crm_core.customers.rfm import prepare_facts
from crm_core.customers.segments import (
    NOT_KNOWN,
    NOT_SCORED,
    aligned_values,
    buying_flows,
    evaluate_scheme,
    labelled_flows,
    moved_customers,
    period_flows,
    preset,
    scheme_change_flows,
    scheme_codes,
    segment_labels,
    threshold_range,
    with_thresholds,
)


def features(ids, recency, frequency, monetary) -> pd.DataFrame:
    """A customer_features-like frame; frequency 0 is a customer with no purchase."""
    return pd.DataFrame(
        {
            "customer_id": ids,
            "recency_days": np.asarray(recency, dtype=float),
            "frequency": np.asarray(frequency, dtype=np.int64),
            "monetary": np.asarray(monetary, dtype=float),
            "purchase_amount": np.abs(np.asarray(monetary, dtype=float)),
        }
    )


def flows_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=["from_segment", "to_segment", "customers", "revenue_before", "revenue_after"],
    )
    return frame.astype(
        {
            "from_segment": "str",
            "to_segment": "str",
            "customers": "int64",
            "revenue_before": "float64",
            "revenue_after": "float64",
        }
    )


def test_buying_flows_drop_customers_who_bought_on_neither_side():
    flows = flows_frame(
        [
            ("active", "active", 3, 30.0, 30.0),
            ("active", NOT_SCORED, 1, 5.0, 0.0),
            (NOT_SCORED, NOT_SCORED, 7, 0.0, 0.0),
            (NOT_KNOWN, NOT_SCORED, 2, 0.0, 0.0),
            (NOT_KNOWN, "active", 4, 0.0, 12.0),
        ]
    )
    kept = buying_flows(flows)
    assert kept[["from_segment", "to_segment"]].values.tolist() == [
        ["active", "active"],
        ["active", NOT_SCORED],
        [NOT_KNOWN, "active"],
    ]
    assert kept.index.tolist() == [0, 1, 2]
    assert moved_customers(kept) == 5


def test_aligned_values_follow_the_after_side_and_zero_the_unknown():
    positions = np.array([2, -1, 0])
    assert aligned_values(np.array([10.0, 20.0, 30.0]), positions).tolist() == [30.0, 0.0, 10.0]
    assert aligned_values(np.array([]), np.array([-1, -1])).tolist() == [0.0, 0.0]


def test_scheme_codes_give_prospects_the_not_scored_code():
    facts = prepare_facts(features(["a", "b", "c"], [10, np.nan, 200], [2, 0, 1], [50, 0, 9]))
    lifecycle = preset("lifecycle")
    codes = scheme_codes(facts, lifecycle)
    # active = 0, pre_churn = 2, not scored = len(rules) = 4
    assert codes.tolist() == [0, 4, 2]
    assert codes.dtype == np.int16


def test_what_moves_when_a_draft_tightens_a_threshold():
    facts = prepare_facts(
        features(
            ["c0", "c1", "c2", "c3", "c4", "c5"],
            [10, 50, 100, 200, 400, np.nan],
            [3, 2, 1, 1, 1, 0],
            [300.0, 120.0, 40.0, 25.5, 10.0, 0.0],
        )
    )
    saved = preset("lifecycle")
    draft = with_thresholds(saved, {"1:when": 30})
    result = evaluate_scheme(facts, draft)
    flows = scheme_change_flows(facts, saved, result)
    expected = flows_frame(
        [
            ("active", "active", 1, 300.0, 300.0),
            ("active", "sleeping", 1, 120.0, 120.0),
            ("sleeping", "sleeping", 1, 40.0, 40.0),
            ("pre_churn", "pre_churn", 1, 25.5, 25.5),
            ("churned", "churned", 1, 10.0, 10.0),
        ]
    )
    assert_frame_equal(flows, expected)
    assert moved_customers(flows) == 1
    # the cached baseline codes give the same flows
    assert_frame_equal(
        scheme_change_flows(facts, saved, result, scheme_codes(facts, saved)), expected
    )


def test_period_flows_align_customers_by_id_and_carry_revenue_of_each_side():
    before = prepare_facts(
        features(
            ["c0", "c1", "c2", "c3"],
            [10, 100, np.nan, 400],
            [2, 3, 0, 1],
            [100.0, 200.0, 0.0, 50.0],
        )
    )
    after = prepare_facts(
        features(
            ["c3", "c1", "c4", "c2"],
            [20, 250, 5, np.nan],
            [2, 4, 1, 0],
            [80.0, 210.0, 30.0, 0.0],
        )
    )
    result = evaluate_scheme(after, preset("lifecycle"))
    flows = period_flows(before, after, result)
    # c0 left (only after-side customers count), c2 bought on neither side
    expected = flows_frame(
        [
            ("sleeping", "pre_churn", 1, 200.0, 210.0),
            ("churned", "active", 1, 50.0, 80.0),
            (NOT_KNOWN, "active", 1, 0.0, 30.0),
        ]
    )
    assert_frame_equal(flows, expected)
    positions = np.array([3, 1, -1, 2])
    assert_frame_equal(period_flows(before, after, result, positions), expected)


def test_segment_labels_in_order_with_the_two_extra_segments():
    labels = segment_labels(preset("lifecycle"), "en")
    assert list(labels) == ["active", "sleeping", "pre_churn", "churned", NOT_SCORED, NOT_KNOWN]
    assert labels["pre_churn"] == "Pre-churn"
    assert segment_labels(preset("rfm11"), "zh-CN")["champions"] == "重要价值客户"


def test_labelled_flows_show_names_biggest_flow_first():
    flows = flows_frame([("active", "sleeping", 2, 1.0, 1.0), ("sleeping", "churned", 5, 2.0, 2.0)])
    table = labelled_flows(flows, {"active": "A", "sleeping": "S", "churned": "C"})
    assert table[["from_segment", "to_segment", "customers"]].values.tolist() == [
        ["S", "C", 5],
        ["A", "S", 2],
    ]
    assert flows["from_segment"].tolist() == ["active", "sleeping"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("r_score", 3.0, (1.0, 5.0, True)),
        ("rf", 45.0, (1.0, 55.0, True)),
        ("rfm", 500.0, (1.0, 555.0, True)),
        ("monetary_rank_pct", 10.0, (0.0, 100.0, False)),
        # 1..100 days: up to the 99.5th percentile (99.505) rounded up, from 0
        ("recency_days", 30.0, (0, 100, True)),
        ("recency_days", 250.0, (0, 250, True)),
        # money (10..1,000) moves in cents even at a whole value; 99.5th pct 995.05
        ("monetary", 500.0, (0, 996, False)),
        # a field the facts lack: 0 to twice the value
        ("browse_events_30d", 3.0, (0, 6, True)),
    ],
)
def test_threshold_range_covers_the_observed_values(field, value, expected):
    days = np.arange(1, 101)
    facts = prepare_facts(features([f"c{i}" for i in days], days, np.ones(100), days * 10.0))
    assert threshold_range(facts, field, value) == expected
