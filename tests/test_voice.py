"""NPS, CSAT and verbatims (crm_core.voice.nps, crm_core.voice.verbatims) on hand-written
answers, with statsmodels as the oracle of the Wilson interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from crm_core.errors import InputError
from crm_core.voice.nps import (
    nps_by_group,
    nps_by_membership,
    nps_by_period,
    nps_change_p,
    nps_estimate,
    score_distribution,
    wilson_interval,
)
from crm_core.voice.verbatims import comment_words, verbatims, word_impacts, words_by_group
from tests.support.actors import ADMIN, VIEWER


def _answers(scores, at="2026-10-01", comments=None, csat=None) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame(
        {
            "response_id": [f"R{i}" for i in range(n)],
            "customer_id": [f"C{i}" for i in range(n)],
            "responded_at": pd.to_datetime(at if isinstance(at, list) else [at] * n),
            "nps": pd.array(scores, dtype="Int16"),
            "csat": pd.array(csat if csat is not None else [None] * n, dtype="Int16"),
            "comment": pd.array(comments if comments is not None else [None] * n, dtype="str"),
        }
    )


def test_adjusted_wald_on_the_issues_hand_written_answers():
    estimate = nps_estimate(100, 40, 200)
    assert float(estimate.nps) == pytest.approx(30.0)
    assert round(float(estimate.adjusted), 1) == 29.6
    assert round(float(estimate.low), 1) == 18.8
    assert round(float(estimate.high), 1) == 40.3
    # variance of the adjusted estimate: (p + d - (p - d)^2) / (n + 3), in points squared
    p, d = 100.75 / 203, 40.75 / 203
    assert float(estimate.variance) == pytest.approx(1e4 * (p + d - (p - d) ** 2) / 203)


def test_nps_estimate_rejects_counts_that_do_not_add_up_and_leaves_empty_groups_nan():
    with pytest.raises(ValueError):
        nps_estimate(10, 5, 12)
    empty = nps_estimate([0], [0], [0])
    assert np.isnan(empty.nps[0]) and np.isnan(empty.low[0])


def test_nps_by_period_counts_bands_marks_a_significant_change_and_fills_gaps():
    # September: 100 answers, 20 promoters, 50 detractors -> NPS -30
    # November: 100 answers, 60 promoters, 10 detractors -> NPS +50; October has none
    september = [10] * 20 + [7] * 30 + [3] * 50
    november = [9] * 60 + [8] * 30 + [0] * 10
    answers = _answers(
        september + november,
        at=["2026-09-10"] * 100 + ["2026-11-20"] * 100,
    )
    table = nps_by_period(answers, "month")
    assert table["period"].tolist() == ["2026-09", "2026-10", "2026-11"]
    assert table["answers"].tolist() == [100, 0, 100]
    assert table["promoters"].tolist() == [20, 0, 60]
    assert table["passives"].tolist() == [30, 0, 30]
    assert table["detractors"].tolist() == [50, 0, 10]
    assert table.loc[0, "nps"] == pytest.approx(-30.0)
    assert table.loc[2, "nps"] == pytest.approx(50.0)
    assert np.isnan(table.loc[1, "nps"])
    # the change is tested against the previous listed period: October has no answers
    assert not table["significant_change"].any()
    two = nps_by_period(answers[answers["responded_at"].dt.month != 10], "quarter")
    assert two["period"].tolist() == ["2026Q3", "2026Q4"]
    before = nps_estimate(20, 50, 100)
    after = nps_estimate(60, 10, 100)
    z = (after.adjusted - before.adjusted) / np.sqrt(before.variance + after.variance)
    assert two.loc[1, "change"] == pytest.approx(float(after.adjusted - before.adjusted))
    assert two.loc[1, "change_p"] == pytest.approx(float(nps_change_p(before, after)))
    assert float(z) > 5 and bool(two.loc[1, "significant_change"])


def test_weeks_run_monday_to_sunday_and_are_named_by_their_monday():
    answers = _answers([10, 0, 9], at=["2026-10-04", "2026-10-05", "2026-10-11"])  # Sun, Mon, Sun
    table = nps_by_period(answers, "week")
    assert table["period"].tolist() == ["2026-09-28", "2026-10-05"]
    assert table["answers"].tolist() == [1, 2]
    with pytest.raises(InputError):
        nps_by_period(answers, "fortnight")


def test_score_distribution_has_every_score():
    table = score_distribution(_answers([0, 0, 6, 7, 10]))
    assert table["score"].tolist() == list(range(11))
    assert table["answers"].tolist() == [2, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1]
    assert table["band"].tolist() == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
    assert table["share"].sum() == pytest.approx(100.0)


def test_wilson_interval_equals_statsmodels():
    rng = np.random.default_rng(7)
    trials = rng.integers(1, 400, 50)
    successes = rng.integers(0, trials + 1)
    low, high = wilson_interval(successes, trials)
    expected_low, expected_high = proportion_confint(successes, trials, method="wilson")
    np.testing.assert_allclose(low, expected_low, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(high, expected_high, rtol=1e-10, atol=1e-15)


def test_groups_under_30_answers_are_not_ranked_and_come_last():
    scores = [10] * 40 + [0] * 40 + [10] * 5
    csat = [5] * 40 + [1] * 40 + [4] * 5
    answers = _answers(scores, csat=csat)
    groups = pd.Series(["happy"] * 40 + ["sad"] * 40 + ["tiny"] * 5)
    table = nps_by_group(answers, groups)
    assert table["group"].tolist() == ["happy", "sad", "tiny"]
    assert table["ranked"].tolist() == [True, True, False]
    assert table["nps"].tolist() == [100.0, -100.0, 100.0]
    assert table["csat_share"].tolist() == [100.0, 0.0, 100.0]
    assert table["csat_mean"].tolist() == [5.0, 1.0, 4.0]
    low, high = proportion_confint(0, 40, method="wilson")
    assert table.loc[1, "csat_low"] == pytest.approx(100 * low)
    assert table.loc[1, "csat_high"] == pytest.approx(100 * high)


def test_an_answer_counts_in_every_tag_its_customer_has():
    answers = _answers([10, 0, 8])
    members = pd.DataFrame({"vip": [True, True, False], "new": [False, True, True]})
    table = nps_by_membership(answers, members, min_answers=1).set_index("group")
    assert table.loc["vip", "answers"] == 2 and table.loc["vip", "nps"] == 0.0
    assert table.loc["new", "answers"] == 2 and table.loc["new", "nps"] == -50.0


def test_comment_words_split_chinese_and_english_and_leave_out_stop_words_and_contacts():
    assert comment_words("物流太慢了，客服态度很好") == ["物流", "太慢", "客服", "态度"]
    assert comment_words("The delivery was late, call me on 13800138000") == [
        "delivery",
        "late",
        "call",
    ]
    assert comment_words("write to li.lei@example.com") == ["write"]
    assert comment_words(None) == []


def test_a_words_impact_is_all_answers_nps_minus_the_nps_without_it():
    comments = ["发货太慢了", "发货太慢了", "质量不错", "质量不错", None, None]
    answers = _answers([0, 2, 10, 9, 8, 10], comments=comments)
    table = word_impacts(answers, min_answers=1).set_index("word")
    # all six: 3 promoters, 2 detractors -> NPS 16.7; without the two '太慢' answers:
    # 3 promoters of 4 -> 75; impact 16.7 - 75 = -58.3
    assert table.loc["太慢", "answers"] == 2
    assert table.loc["太慢", "nps_with"] == pytest.approx(-100.0)
    assert table.loc["太慢", "nps_without"] == pytest.approx(75.0)
    assert table.loc["太慢", "impact"] == pytest.approx(100 / 6 - 75.0)
    # without the two '不错' answers: 1 promoter and 2 detractors of 4 -> -25
    assert table.loc["不错", "impact"] == pytest.approx(100 / 6 - (-25.0))
    assert table.loc["发货", "share"] == pytest.approx(100 * 2 / 6)


def test_words_by_group_lists_only_groups_with_enough_answers():
    comments = ["包装很好"] * 30 + ["包装破损"] * 3
    answers = _answers([10] * 30 + [1] * 3, comments=comments)
    groups = pd.Series(["big"] * 30 + ["small"] * 3)
    table = words_by_group(answers, groups)
    assert set(table["group"]) == {"big"}
    assert table.loc[0, "word"] == "包装" and table.loc[0, "answers"] == 30


def test_verbatims_mask_contacts_for_roles_without_personal_data():
    comments = ["太慢了，请打我电话 13800138000", "很好 write me at li.lei@example.com", None]
    answers = _answers([2, 10, 9], comments=comments, at=["2026-10-01", "2026-10-02", "2026-10-03"])
    seen_by_viewer = verbatims(answers, VIEWER)
    assert len(seen_by_viewer) == 2
    assert seen_by_viewer["responded_at"].is_monotonic_decreasing
    assert "13800138000" not in " ".join(seen_by_viewer["comment"])
    assert "138****8000" in seen_by_viewer["comment"].iloc[1]
    assert "li.lei@example.com" not in seen_by_viewer["comment"].iloc[0]
    seen_by_admin = verbatims(answers, ADMIN)
    assert "13800138000" in " ".join(seen_by_admin["comment"])
    detractors = verbatims(answers, ADMIN, bands=["detractor"])
    assert detractors["band"].tolist() == ["detractor"]
    assert verbatims(answers, ADMIN, word="WRITE")["nps"].tolist() == [10]
    # a viewer cannot find a comment by the number that is masked from them
    assert verbatims(answers, VIEWER, word="13800138000").empty
