"""Campaign and A/B statistics (`crm_core.outreach.experiments`) and the `ab` command.

- The Cookie Cats A/B test (../shared/data or $CRM_SHARED_DATA) gives its published
  figures through the Python API and the command line.
- Each test equals statsmodels or SciPy on random inputs (fixed seeds, 50 draws each):
  pooled z-test, Wald interval, Welch's t, Holm, the sample ratio check, the planner.
- CUPED narrows the interval when the pre-period covariate explains the outcome, stays
  unbiased, and changes nothing when it does not.
- Bad inputs raise InputError naming the value, row and column in English and Chinese;
  the command prints that one line and exits 2.

Sign convention: every difference, z and t is treated (the non-control arm) minus
control, so Cookie Cats' gate_40 - gate_30 is negative.
"""

from __future__ import annotations

import gc
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW
from statsmodels.stats.weightstats import ttest_ind as sm_ttest_ind

from crm_core import commands as cli
from crm_core.commands import ab as ab_command
from crm_core.errors import InputError
from crm_core.ingest.read import read_table
from crm_core.outreach.experiments import (
    ARM_COLUMNS,
    MEAN,
    PROPORTION,
    SRM_THRESHOLD,
    MeanTest,
    ab_report,
    ab_report_from_counts,
    cuped_test,
    holdout_size,
    holm_adjust,
    sample_ratio_check,
    two_proportion_test,
    welch_test,
    welch_test_from_moments,
)
from tests.support.requirements import shared_file

DRAWS = 50
ALPHAS = (0.01, 0.05, 0.1, 0.2)
COOKIE_CATS = "cookie_cats_ab_test/cookie_cats.csv"


def _statsmodels_holm(p_values) -> np.ndarray:
    """statsmodels' Holm-adjusted p-values. Its multipletests(method="holm") runs
    gc.collect() on every call (statsmodels 0.15), ~0.2 s in a test session full of
    objects; frozen objects are not scanned, so the call is fast and its figures the same."""
    gc.freeze()
    try:
        return multipletests(np.asarray(p_values, dtype="float64"), method="holm")[1]
    finally:
        gc.unfreeze()


# -- Cookie Cats: the published figures --------------------------------------------------


@pytest.fixture(scope="module")
def cookie_cats_path() -> Path:
    return shared_file(COOKIE_CATS)


@pytest.fixture(scope="module")
def cookie_cats(cookie_cats_path) -> pd.DataFrame:
    """The file as the command reads it (text columns, index = file row)."""
    return read_table(cookie_cats_path)


@pytest.fixture(scope="module")
def cookie_cats_raw(cookie_cats_path) -> pd.DataFrame:
    """The file read independently by pandas (retention_* become bool)."""
    return pd.read_csv(cookie_cats_path)


def _cookie_args(path, outcome: str, *more: str) -> list[str]:
    return ["ab", str(path), "--variant-column", "version", "--outcome-column", outcome, *more]


SRM_LINE = (
    "sample ratio (planned equal shares): gate_30 44,700, gate_40 45,489; chi-square = 6.902 "
    "(df 1), p = 0.00861: no mismatch (flagged when p < 0.001)"
)


def _check_cookie_srm(srm) -> None:
    assert srm.observed == (44_700, 45_489)
    assert srm.expected == (45_094.5, 45_094.5)
    assert round(srm.chi_square, 3) == 6.902
    assert f"{srm.p_value:.2g}" == "0.0086"
    assert SRM_THRESHOLD == 0.001 and srm.p_value > SRM_THRESHOLD and not srm.mismatch


@pytest.mark.slow
def test_cookie_cats_retention_7_through_the_api(cookie_cats, cookie_cats_raw):
    report = ab_report(cookie_cats, "version", "retention_7")
    assert (report.kind, report.control, report.alpha) == (PROPORTION, "gate_30", 0.05)
    expected = cookie_cats_raw.groupby("version")["retention_7"].agg(["size", "sum"])
    assert report.arms["variant"].tolist() == ["gate_30", "gate_40"]
    assert report.arms["n"].tolist() == expected["size"].tolist() == [44_700, 45_489]
    assert report.arms["successes"].tolist() == expected["sum"].tolist() == [8_502, 8_279]

    test = report.comparisons["gate_40"]
    assert test == two_proportion_test(8_279, 45_489, 8_502, 44_700)
    assert (round(test.treated_rate * 100, 2), round(test.control_rate * 100, 2)) == (18.20, 19.02)
    assert test.difference == pytest.approx(8_279 / 45_489 - 8_502 / 44_700, abs=1e-15)
    assert test.difference < 0 and test.z < 0  # gate_40 - gate_30
    assert round(test.z, 4) == -3.1644
    assert f"{test.p_value:.3g}" == "0.00155"
    assert (round(test.ci_low * 100, 2), round(test.ci_high * 100, 2)) == (-1.33, -0.31)
    row = report.arms.iloc[1]
    assert (row["statistic"], row["p_value"], row["p_holm"]) == (test.z, test.p_value, test.p_value)
    assert report.arms.iloc[0][["difference", "statistic", "p_value", "p_holm"]].isna().all()
    _check_cookie_srm(report.srm)


@pytest.mark.slow
def test_cookie_cats_retention_1_through_the_api(cookie_cats):
    report = ab_report(cookie_cats, "version", "retention_1", control="gate_30")
    test = report.comparisons["gate_40"]
    assert (test.treated_successes, test.control_successes) == (20_119, 20_034)
    assert (round(test.treated_rate * 100, 2), round(test.control_rate * 100, 2)) == (44.23, 44.82)
    assert round(test.z, 4) == -1.7841
    assert f"{test.p_value:.3g}" == "0.0744"
    assert test.ci_low < 0 < test.ci_high  # not significant at 5 %
    _check_cookie_srm(report.srm)


def test_cookie_cats_sample_ratio_from_the_published_counts():
    _check_cookie_srm(sample_ratio_check([44_700, 45_489], [0.5, 0.5]))


@pytest.mark.slow
def test_cookie_cats_retention_7_through_the_command(cookie_cats_path, capsys):
    assert cli.main(_cookie_args(cookie_cats_path, "retention_7")) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        "retention_7 by version (yes/no outcome, rates); control gate_30; 90,189 rows",
        "gate_40 vs gate_30: 18.20% vs 19.02%, difference -0.82 pp (95% CI -1.33 to -0.31 pp), "
        "z = -3.1644, p = 0.00155",
        SRM_LINE,
    ]


@pytest.fixture
def cookie_cats_already_read(cookie_cats, cookie_cats_path, monkeypatch):
    """The command over the frame the fixture read (the reading itself is covered by the
    retention_7 command test; reading 90,189 rows again would double the runtime)."""

    def read(path):
        assert Path(path) == cookie_cats_path
        return cookie_cats

    monkeypatch.setattr(ab_command, "read_table", read)


@pytest.mark.slow
def test_cookie_cats_retention_1_through_the_command(
    cookie_cats_path, cookie_cats_already_read, capsys
):
    args = _cookie_args(cookie_cats_path, "retention_1", "--control", "gate_30")
    assert cli.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "retention_1 by version (yes/no outcome, rates); control gate_30; 90,189 rows",
        "gate_40 vs gate_30: 44.23% vs 44.82%, difference -0.59 pp (95% CI -1.24 to 0.06 pp), "
        "z = -1.7841, p = 0.0744",
        SRM_LINE,
    ]


@pytest.mark.slow
def test_cookie_cats_game_rounds_are_compared_as_scipy_does(
    cookie_cats, cookie_cats_raw, cookie_cats_path, cookie_cats_already_read, capsys
):
    report = ab_report(cookie_cats, "version", "sum_gamerounds")
    assert report.kind == MEAN and report.control == "gate_30"
    rounds = cookie_cats_raw.groupby("version")["sum_gamerounds"]
    gate_30, gate_40 = rounds.get_group("gate_30"), rounds.get_group("gate_40")
    reference = stats.ttest_ind(gate_40, gate_30, equal_var=False)
    interval = reference.confidence_interval(0.95)
    test = report.comparisons["gate_40"]
    assert (test.treated_n, test.control_n) == (45_489, 44_700)
    assert (round(test.treated_mean, 2), round(test.control_mean, 2)) == (51.30, 52.46)
    assert test.treated_mean == pytest.approx(gate_40.mean(), rel=1e-12)
    assert test.t == pytest.approx(reference.statistic, rel=1e-9)
    assert test.df == pytest.approx(reference.df, rel=1e-9)
    assert test.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert (test.ci_low, test.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9)
    assert report.arms["successes"].isna().all()

    assert cli.main(_cookie_args(cookie_cats_path, "sum_gamerounds")) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line == (
        "gate_40 vs gate_30: mean 51.30 vs 52.46, difference -1.16 "
        f"(95% CI {interval.low:,.2f} to {interval.high:,.2f}), "
        f"t = {reference.statistic:.4f} (df {reference.df:,.1f}), p = {reference.pvalue:.3g}"
    )
    assert f"t = {reference.statistic:.4f}" == "t = -0.8854"


# -- equal to statsmodels and SciPy on random inputs --------------------------------------


def _proportion_draws(seed: int):
    """DRAWS (successes, n) pairs per arm, some tiny, some large, never all or none
    converted across both arms (statsmodels gives NaN there)."""
    rng = np.random.default_rng(seed)
    drawn = 0
    while drawn < DRAWS:
        n_t, n_c = (int(n) for n in rng.integers(2, [50, 200_000][drawn % 2], size=2))
        s_t = int(rng.binomial(n_t, rng.uniform(0.005, 0.995)))
        s_c = int(rng.binomial(n_c, rng.uniform(0.005, 0.995)))
        if 0 < s_t + s_c < n_t + n_c:
            drawn += 1
            yield s_t, n_t, s_c, n_c, float(rng.choice(ALPHAS))


def test_two_proportion_test_equals_statsmodels():
    for s_t, n_t, s_c, n_c, alpha in _proportion_draws(seed=20240601):
        ours = two_proportion_test(s_t, n_t, s_c, n_c, alpha=alpha)
        z, p = proportions_ztest([s_t, s_c], [n_t, n_c])
        low, high = confint_proportions_2indep(
            s_t, n_t, s_c, n_c, method="wald", compare="diff", alpha=alpha
        )
        case = (s_t, n_t, s_c, n_c, alpha)
        assert ours.z == pytest.approx(z, rel=1e-12, abs=1e-12), case
        assert ours.p_value == pytest.approx(p, rel=1e-10, abs=1e-300), case
        assert ours.ci_low == pytest.approx(low, abs=1e-12), case
        assert ours.ci_high == pytest.approx(high, abs=1e-12), case
        assert ours.difference == pytest.approx(s_t / n_t - s_c / n_c, abs=1e-15), case
        assert (ours.treated_rate, ours.control_rate) == (s_t / n_t, s_c / n_c)


def test_two_proportion_test_edge_cases():
    everyone = two_proportion_test(40, 40, 25, 25)
    assert (everyone.difference, everyone.z, everyone.p_value) == (0.0, 0.0, 1.0)
    assert (everyone.ci_low, everyone.ci_high) == (0.0, 0.0)
    with np.errstate(all="ignore"):
        assert math.isnan(proportions_ztest([40, 25], [40, 25])[0])  # why we differ there
    nobody = two_proportion_test(0, 40, 0, 25)
    assert (nobody.z, nobody.p_value, nobody.ci_low, nobody.ci_high) == (0.0, 1.0, 0.0, 0.0)
    empty = two_proportion_test(0, 0, 5, 25)
    assert empty.control_rate == 0.2
    assert all(math.isnan(v) for v in (empty.treated_rate, empty.difference, empty.z))
    assert all(math.isnan(v) for v in (empty.ci_low, empty.ci_high, empty.p_value))
    # Whole numbers written as floats are counts; the interval follows alpha.
    assert two_proportion_test(30.0, 100.0, 20, 100) == two_proportion_test(30, 100, 20, 100)
    wide = two_proportion_test(30, 100, 20, 100, alpha=0.01)
    narrow = two_proportion_test(30, 100, 20, 100, alpha=0.2)
    assert wide.ci_low < narrow.ci_low < 0.1 < narrow.ci_high < wide.ci_high


def _mean_draws(seed: int):
    """DRAWS pairs of samples of different sizes, spreads and shapes, and an alpha."""
    rng = np.random.default_rng(seed)
    for draw in range(DRAWS):
        n_t, n_c = (int(n) for n in rng.integers(2, 400, size=2))
        if draw % 3 == 0:  # skewed, like revenue per recipient
            treated = rng.lognormal(3.0, 1.2, n_t)
            control = rng.lognormal(2.9, 0.8, n_c)
        elif draw % 3 == 1:
            treated = rng.normal(10.0, rng.uniform(0.1, 20.0), n_t)
            control = rng.normal(9.0, rng.uniform(0.1, 20.0), n_c)
        else:  # mostly zeros, a few buyers
            treated = rng.binomial(1, 0.2, n_t) * rng.gamma(2.0, 40.0, n_t)
            control = rng.binomial(1, 0.15, n_c) * rng.gamma(2.0, 40.0, n_c)
        yield treated, control, float(rng.choice(ALPHAS))


def test_welch_test_equals_statsmodels_and_scipy():
    for treated, control, alpha in _mean_draws(seed=7):
        ours = welch_test(treated, control, alpha=alpha)
        t, p, df = sm_ttest_ind(treated, control, usevar="unequal")
        sm_low, sm_high = CompareMeans(DescrStatsW(treated), DescrStatsW(control)).tconfint_diff(
            alpha=alpha, usevar="unequal"
        )
        scipy_result = stats.ttest_ind(treated, control, equal_var=False)
        scipy_interval = scipy_result.confidence_interval(1 - alpha)
        case = (len(treated), len(control), alpha)
        assert ours.t == pytest.approx(t, rel=1e-9, abs=1e-12), case
        assert ours.p_value == pytest.approx(p, rel=1e-9, abs=1e-300), case
        assert ours.df == pytest.approx(df, rel=1e-9), case
        assert (ours.ci_low, ours.ci_high) == pytest.approx((sm_low, sm_high), rel=1e-9), case
        assert ours.t == pytest.approx(scipy_result.statistic, rel=1e-9, abs=1e-12), case
        assert ours.p_value == pytest.approx(scipy_result.pvalue, rel=1e-9, abs=1e-300), case
        assert ours.df == pytest.approx(scipy_result.df, rel=1e-9), case
        assert ours.ci_low == pytest.approx(scipy_interval.low, rel=1e-9), case
        assert ours.ci_high == pytest.approx(scipy_interval.high, rel=1e-9), case
        assert ours.difference == pytest.approx(treated.mean() - control.mean(), rel=1e-12)
        assert (ours.treated_n, ours.control_n) == (len(treated), len(control))


def test_welch_test_from_moments_equals_welch_test_and_scipy():
    for treated, control, alpha in _mean_draws(seed=11):
        moments = (
            len(treated),
            float(treated.mean()),
            float(treated.var(ddof=1)),
            len(control),
            float(control.mean()),
            float(control.var(ddof=1)),
        )
        from_moments = welch_test_from_moments(*moments, alpha=alpha)
        from_values = welch_test(treated, control, alpha=alpha)
        for field in MeanTest.__dataclass_fields__:
            assert getattr(from_moments, field) == pytest.approx(
                getattr(from_values, field), rel=1e-12
            ), field
        n_t, m_t, v_t, n_c, m_c, v_c = moments
        reference = stats.ttest_ind_from_stats(
            m_t, math.sqrt(v_t), n_t, m_c, math.sqrt(v_c), n_c, equal_var=False
        )
        assert from_moments.t == pytest.approx(reference.statistic, rel=1e-9)
        assert from_moments.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)


def test_welch_test_edge_cases():
    one = welch_test([5.0], [1.0, 2.0, 3.0])
    assert (one.treated_mean, one.control_mean, one.difference) == (5.0, 2.0, 3.0)
    assert all(math.isnan(v) for v in (one.t, one.df, one.p_value, one.ci_low, one.ci_high))
    same = welch_test([0.0] * 10, [0.0] * 7)
    assert (same.t, same.p_value, same.ci_low, same.ci_high) == (0.0, 1.0, 0.0, 0.0)
    assert math.isnan(same.df)
    apart = welch_test([2.0] * 10, [1.0] * 7)
    assert (apart.difference, apart.ci_low, apart.ci_high) == (1.0, 1.0, 1.0)
    assert math.isnan(apart.t) and math.isnan(apart.p_value)
    # A value repeated many times has variance exactly 0, not a rounding residue.
    residue = welch_test([0.1] * 1000, [0.1] * 1000)
    assert (residue.t, residue.p_value) == (0.0, 1.0)


def test_holm_adjust_equals_statsmodels():
    rng = np.random.default_rng(3)
    for draw in range(DRAWS):
        m = int(rng.integers(1, 16))
        p = rng.uniform(0.0, [0.05, 0.3, 1.0][draw % 3], m)
        if draw % 4 == 0:
            p = np.round(p, 2)  # ties
        expected = _statsmodels_holm(p)
        np.testing.assert_allclose(holm_adjust(p), expected, rtol=1e-15, atol=0)
        np.testing.assert_allclose(holm_adjust(list(p)), expected, rtol=1e-15, atol=0)
    grid = rng.uniform(0, 0.1, (3, 4))
    expected = _statsmodels_holm(grid.ravel()).reshape(3, 4)
    np.testing.assert_allclose(holm_adjust(grid), expected, rtol=1e-15, atol=0)
    # NaN stays NaN and does not count in m.
    with_nan = holm_adjust([0.01, np.nan, 0.04, 0.03])
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2, 3]], [0.03, 0.06, 0.06], rtol=1e-15)
    assert holm_adjust([]).shape == (0,)


def test_sample_ratio_check_equals_scipy():
    rng = np.random.default_rng(5)
    flagged = 0
    for draw in range(DRAWS):
        arms = int(rng.integers(2, 6))
        shares = rng.uniform(0.1, 1.0, arms)
        if draw % 5 == 0:
            shares = shares * 100  # shares need not sum to 1
        planned = shares / shares.sum()
        observed = rng.multinomial(int(rng.integers(100, 200_000)), planned)
        if draw % 2:  # a broken split: one arm loses a tenth of its units
            observed[0] = int(observed[0] * 0.9)
        check = sample_ratio_check(observed.tolist(), shares.tolist())
        expected = observed.sum() * planned
        reference = stats.chisquare(observed, f_exp=expected)
        assert check.observed == tuple(observed.tolist())
        np.testing.assert_allclose(check.expected, expected, rtol=1e-12)
        assert check.chi_square == pytest.approx(reference.statistic, rel=1e-10)
        assert check.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
        assert check.mismatch == (reference.pvalue < 0.001)
        flagged += check.mismatch
    assert 0 < flagged < DRAWS  # both verdicts were exercised


def test_sample_ratio_check_by_hand():
    # 500 vs 650 planned 50/50: chi-square = 2 * 75^2 / 575 = 19.565..., p ~ 9.7e-6.
    broken = sample_ratio_check([500, 650], [1, 1])
    assert broken.chi_square == pytest.approx(2 * 75**2 / 575, rel=1e-12)
    assert broken.p_value == pytest.approx(math.erfc(math.sqrt(2 * 75**2 / 575 / 2)), rel=1e-9)
    assert broken.mismatch
    # 20/80 planned, 1,000 units observed 200/800 exactly: nothing to flag.
    exact = sample_ratio_check([200, 800], [0.2, 0.8])
    assert (exact.chi_square, exact.p_value, exact.mismatch) == (0.0, 1.0, False)
    # A stricter or looser threshold moves the verdict, not the figures.
    cookie = sample_ratio_check([44_700, 45_489], [1, 1], threshold=0.01)
    assert cookie.mismatch and cookie.chi_square == pytest.approx(6.9024, abs=1e-4)
    nobody = sample_ratio_check([0, 0], [1, 1])
    assert math.isnan(nobody.chi_square) and math.isnan(nobody.p_value) and not nobody.mismatch


def test_holdout_size_equals_statsmodels_power_solver():
    rng = np.random.default_rng(17)
    solver = NormalIndPower()
    z_sum = stats.norm.isf(0.025) + stats.norm.ppf(0.8)
    for _ in range(DRAWS):
        baseline = float(rng.uniform(0.005, 0.7))
        uplift = float(rng.uniform(0.002, 0.1) * rng.choice([-1, 1]))
        if not 0 < baseline + uplift < 1:
            uplift = -uplift
        control_share = float(rng.uniform(0.1, 0.9))
        plan = holdout_size(baseline, uplift, control_share=control_share)
        assert (plan.alpha, plan.power) == (0.05, 0.8)  # the defaults
        case = (baseline, uplift, control_share)

        effect = proportion_effectsize(baseline + uplift, baseline)  # Cohen's h
        assert abs(effect) == pytest.approx(
            abs(2 * math.asin(math.sqrt(baseline + uplift)) - 2 * math.asin(math.sqrt(baseline)))
        )
        ratio = (1 - control_share) / control_share
        exact = solver.solve_power(
            effect_size=effect, alpha=0.05, power=0.8, ratio=ratio, alternative="two-sided"
        )
        assert exact - 1e-6 <= plan.control_n < exact + 1, case
        assert exact * ratio - 1e-6 <= plan.treated_n < exact * ratio + 1, case
        assert plan.total_n == plan.control_n + plan.treated_n

        # By hand, counting only the upper tail: (z_{1-a/2} + z_power)^2 (1 + 1/r) / h^2.
        # The lower tail adds at most ~1e-6 of power, so at most one unit fewer.
        by_hand = math.ceil(z_sum**2 * (1 + 1 / ratio) / effect**2)
        assert by_hand - 1 <= plan.control_n <= by_hand, case

        achieved = solver.power(
            effect, nobs1=plan.control_n, alpha=0.05, ratio=plan.treated_n / plan.control_n
        )
        assert achieved >= 0.8 - 1e-9, case
        one_fewer = solver.power(effect, nobs1=plan.control_n - 1, alpha=0.05, ratio=ratio)
        assert one_fewer < 0.8, case  # the smallest size that reaches the power


def test_holdout_size_known_plans():
    # 10 % -> 11 %, 50/50, alpha 5 %, power 80 %: Cohen's h = 0.03262, 14,745 per arm.
    assert proportion_effectsize(0.11, 0.10) == pytest.approx(0.03262, abs=1e-5)
    plan = holdout_size(0.10, 0.01)
    assert (plan.control_n, plan.treated_n, plan.total_n) == (14_745, 14_745, 29_490)
    assert plan.control_n == math.ceil(
        NormalIndPower().solve_power(
            effect_size=proportion_effectsize(0.11, 0.10), alpha=0.05, power=0.8, ratio=1.0
        )
    )
    # A decrease needs the same units as the equal increase in Cohen's h terms, and a
    # 10 % hold-out needs fewer control units than an even split, but more in total.
    assert holdout_size(0.11, -0.01).control_n == plan.control_n
    holdout = holdout_size(0.10, 0.01, control_share=0.1)
    assert holdout.treated_n == pytest.approx(9 * holdout.control_n, abs=9)
    assert holdout.control_n < plan.control_n and holdout.total_n > plan.total_n
    stricter = holdout_size(0.10, 0.01, alpha=0.01, power=0.9)
    assert stricter.control_n == math.ceil(
        NormalIndPower().solve_power(
            effect_size=proportion_effectsize(0.11, 0.10), alpha=0.01, power=0.9, ratio=1.0
        )
    )


# -- CUPED ---------------------------------------------------------------------------------

TRUE_EFFECT = 5.0


def _spend_experiment(rng, n: int, slope: float):
    """Pre-period spend x (gamma, mean 100) and post spend y = 20 + slope x + noise, the
    treated arm TRUE_EFFECT higher."""
    x_t, x_c = rng.gamma(2.0, 50.0, n), rng.gamma(2.0, 50.0, n)
    y_t = 20.0 + slope * x_t + rng.normal(0.0, 30.0, n) + TRUE_EFFECT
    y_c = 20.0 + slope * x_c + rng.normal(0.0, 30.0, n)
    return y_t, x_t, y_c, x_c


def _width(test: MeanTest) -> float:
    return test.ci_high - test.ci_low


def test_cuped_narrows_the_interval_when_pre_spend_explains_post_spend():
    y_t, x_t, y_c, x_c = _spend_experiment(np.random.default_rng(23), 20_000, slope=0.8)
    result = cuped_test(y_t, x_t, y_c, x_c)
    x_all, y_all = np.concatenate([x_t, x_c]), np.concatenate([y_t, y_c])
    assert result.theta == pytest.approx(
        np.cov(x_all, y_all, ddof=1)[0, 1] / np.var(x_all, ddof=1), rel=1e-12
    )
    assert result.theta == pytest.approx(0.8, abs=0.02)  # the true slope
    assert result.plain == welch_test(y_t, y_c)
    adjusted_by_hand = welch_test(
        y_t - result.theta * (x_t - x_all.mean()), y_c - result.theta * (x_c - x_all.mean())
    )
    for field in MeanTest.__dataclass_fields__:
        assert getattr(result.adjusted, field) == pytest.approx(
            getattr(adjusted_by_hand, field), rel=1e-9
        ), field
    # Corr^2 = 0.64 * 5,000 / (3,200 + 900) ~ 0.78: the interval ~ sqrt(1 - 0.78) as wide.
    rho = np.corrcoef(x_all, y_all)[0, 1]
    ratio = _width(result.adjusted) / _width(result.plain)
    assert ratio == pytest.approx(math.sqrt(1 - rho**2), abs=0.01)
    assert result.width_reduction == pytest.approx(1 - ratio, rel=1e-12)
    assert result.width_reduction > 0.45
    assert abs(result.adjusted.difference - TRUE_EFFECT) < 3 * _width(result.adjusted) / 3.92
    assert result.adjusted.ci_low < TRUE_EFFECT < result.adjusted.ci_high
    assert result.adjusted.difference == pytest.approx(
        result.plain.difference - result.theta * (x_t.mean() - x_c.mean()), rel=1e-9
    )


def test_cuped_is_unbiased_and_keeps_its_coverage_over_many_experiments():
    rng = np.random.default_rng(29)
    runs, covered = 400, 0
    adjusted, plain = [], []
    for _ in range(runs):
        result = cuped_test(*_spend_experiment(rng, 200, slope=0.8))
        adjusted.append(result.adjusted.difference)
        plain.append(result.plain.difference)
        covered += result.adjusted.ci_low < TRUE_EFFECT < result.adjusted.ci_high
    adjusted, plain = np.asarray(adjusted), np.asarray(plain)
    assert abs(adjusted.mean() - TRUE_EFFECT) < 4 * adjusted.std(ddof=1) / math.sqrt(runs)
    assert abs(plain.mean() - TRUE_EFFECT) < 4 * plain.std(ddof=1) / math.sqrt(runs)
    assert adjusted.std(ddof=1) < 0.6 * plain.std(ddof=1)  # sqrt(1 - 0.78) ~ 0.47
    assert 0.92 <= covered / runs <= 0.98  # a 95 % interval


def test_cuped_with_an_unrelated_covariate_changes_about_nothing():
    rng = np.random.default_rng(31)
    y_t, _, y_c, _ = _spend_experiment(rng, 20_000, slope=0.8)
    unrelated_t, unrelated_c = rng.gamma(2.0, 50.0, 20_000), rng.gamma(2.0, 50.0, 20_000)
    result = cuped_test(y_t, unrelated_t, y_c, unrelated_c)
    assert abs(result.theta) < 0.02
    assert abs(result.width_reduction) < 0.005
    assert result.adjusted.difference == pytest.approx(result.plain.difference, abs=0.5)
    # A constant covariate explains nothing at all: theta 0 and the plain test.
    flat = cuped_test(y_t, np.full(20_000, 7.0), y_c, np.full(20_000, 7.0))
    assert (flat.theta, flat.width_reduction) == (0.0, 0.0)
    assert flat.adjusted == flat.plain == welch_test(y_t, y_c)


# -- errors, in English and Chinese --------------------------------------------------------


def _raises(call, key: str, english: str, chinese: str) -> None:
    with pytest.raises(InputError) as raised:
        call()
    assert raised.value.key == key
    assert raised.value.message("en") == english == str(raised.value)
    assert raised.value.message("zh-CN") == chinese


ALPHA_CASES = [
    pytest.param(
        lambda: two_proportion_test(1, 10, 2, 10, alpha=0),
        "The significance level must be between 0 and 1 (got 0).",
        "显著性水平必须在 0 和 1 之间（当前为 0）。",
        id="two_proportion_alpha_0",
    ),
    pytest.param(
        lambda: welch_test([1, 2], [3, 4], alpha=1.5),
        "The significance level must be between 0 and 1 (got 1.5).",
        "显著性水平必须在 0 和 1 之间（当前为 1.5）。",
        id="welch_alpha_1.5",
    ),
    pytest.param(
        lambda: holdout_size(0.1, 0.01, alpha=1),
        "The significance level must be between 0 and 1 (got 1).",
        "显著性水平必须在 0 和 1 之间（当前为 1）。",
        id="planner_alpha_1",
    ),
    pytest.param(
        lambda: ab_report_from_counts({"A": (1, 10), "B": (2, 10)}, "A", alpha=float("nan")),
        "The significance level must be between 0 and 1 (got nan).",
        "显著性水平必须在 0 和 1 之间（当前为 nan）。",
        id="report_alpha_nan",
    ),
]


@pytest.mark.parametrize(("call", "english", "chinese"), ALPHA_CASES)
def test_a_bad_alpha_is_refused(call, english, chinese):
    _raises(call, "experiments.error.alpha", english, chinese)


@pytest.mark.parametrize(
    ("call", "key", "english", "chinese"),
    [
        pytest.param(
            lambda: two_proportion_test(11, 10, 2, 10),
            "experiments.error.counts",
            "Conversions must be whole numbers from 0 up to the number of units (got 11 of 10).",
            "转化数必须是 0 到样本数之间的整数（当前为 10 个中的 11 个）。",
            id="successes_beyond_n",
        ),
        pytest.param(
            lambda: two_proportion_test(1, 10, -2, 10),
            "experiments.error.counts",
            "Conversions must be whole numbers from 0 up to the number of units (got -2 of 10).",
            "转化数必须是 0 到样本数之间的整数（当前为 10 个中的 -2 个）。",
            id="negative_successes",
        ),
        pytest.param(
            lambda: two_proportion_test(1, 10.5, 2, 10),
            "experiments.error.counts",
            "Conversions must be whole numbers from 0 up to the number of units (got 1 of 10.5).",
            "转化数必须是 0 到样本数之间的整数（当前为 10.5 个中的 1 个）。",
            id="fractional_n",
        ),
        pytest.param(
            lambda: ab_report_from_counts({"A": (1, 10), "B": (12, 10)}, "A"),
            "experiments.error.counts",
            "Conversions must be whole numbers from 0 up to the number of units (got 12 of 10).",
            "转化数必须是 0 到样本数之间的整数（当前为 10 个中的 12 个）。",
            id="typed_counts_beyond_n",
        ),
        pytest.param(
            lambda: welch_test_from_moments(10, 1.0, -0.5, 10, 1.0, 1.0),
            "experiments.error.moments",
            "A group's size must be a whole number of at least 0 and its variance a number "
            "of at least 0 (got n = 10, variance = -0.5).",
            "组的样本数必须是不小于 0 的整数，方差必须是不小于 0 的数"
            "（当前 n = 10，方差 = -0.5）。",
            id="negative_variance",
        ),
        pytest.param(
            lambda: welch_test_from_moments(10, 1.0, 1.0, -3, 1.0, 1.0),
            "experiments.error.moments",
            "A group's size must be a whole number of at least 0 and its variance a number "
            "of at least 0 (got n = -3, variance = 1.0).",
            "组的样本数必须是不小于 0 的整数，方差必须是不小于 0 的数（当前 n = -3，方差 = 1.0）。",
            id="negative_size",
        ),
        pytest.param(
            lambda: welch_test([1.0, 2.0], [1.0, np.nan, np.inf]),
            "experiments.error.not_finite",
            "The control group has 2 values that are not finite numbers.",
            "对照组有 2 个值不是有限数字。",
            id="welch_not_finite",
        ),
        pytest.param(
            lambda: sample_ratio_check([100], [1.0]),
            "experiments.error.srm_arms",
            "The sample ratio check needs an observed size and a planned share for each of "
            "at least two arms (got 1 sizes and 1 shares).",
            "样本比例检验需要至少两个组，每组一个实际人数和一个计划占比"
            "（当前有 1 个人数和 1 个占比）。",
            id="srm_one_arm",
        ),
        pytest.param(
            lambda: sample_ratio_check([100, 120, 90], [0.5, 0.5]),
            "experiments.error.srm_arms",
            "The sample ratio check needs an observed size and a planned share for each of "
            "at least two arms (got 3 sizes and 2 shares).",
            "样本比例检验需要至少两个组，每组一个实际人数和一个计划占比"
            "（当前有 3 个人数和 2 个占比）。",
            id="srm_lengths_differ",
        ),
        pytest.param(
            lambda: sample_ratio_check([100, -1], [0.5, 0.5]),
            "experiments.error.srm_counts",
            "Observed arm sizes must be whole numbers of at least 0.",
            "各组实际人数必须是不小于 0 的整数。",
            id="srm_negative_count",
        ),
        pytest.param(
            lambda: sample_ratio_check([100, 100], [1.0, 0.0]),
            "experiments.error.srm_shares",
            "Planned arm shares must be positive numbers.",
            "各组计划占比必须是正数。",
            id="srm_zero_share",
        ),
        pytest.param(
            lambda: cuped_test([1.0, 2.0, 3.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0]),
            "experiments.error.cuped_lengths",
            "CUPED needs one pre-period value per outcome value; the treated group has 3 "
            "outcomes and 2 pre-period values.",
            "CUPED 要求每个结果值对应一个实验前的值；实验组有 3 个结果值和 2 个实验前的值。",
            id="cuped_lengths",
        ),
    ],
)
def test_bad_counts_moments_and_arms_are_refused(call, key, english, chinese):
    _raises(call, key, english, chinese)


@pytest.mark.parametrize(
    ("kwargs", "key", "english", "chinese"),
    [
        pytest.param(
            {"baseline_rate": 0.0},
            "experiments.error.baseline_rate",
            "The baseline conversion rate must be a share between 0 and 1, both excluded "
            "(got 0.0).",
            "基准转化率必须是 0 到 1 之间的比例，不含 0 和 1（当前为 0.0）。",
            id="baseline_0",
        ),
        pytest.param(
            {"baseline_rate": 12.0},
            "experiments.error.baseline_rate",
            "The baseline conversion rate must be a share between 0 and 1, both excluded "
            "(got 12.0).",
            "基准转化率必须是 0 到 1 之间的比例，不含 0 和 1（当前为 12.0）。",
            id="baseline_as_percent",
        ),
        pytest.param(
            {"min_uplift": 0.0},
            "experiments.error.uplift_zero",
            "The smallest uplift to detect must not be 0.",
            "要检测的最小提升幅度不能为 0。",
            id="uplift_0",
        ),
        pytest.param(
            {"min_uplift": 0.8},
            "experiments.error.uplift_range",
            "The baseline rate plus the uplift must stay between 0 and 1, both excluded (got 1.0).",
            "基准转化率加上提升幅度必须在 0 和 1 之间，不含 0 和 1（当前为 1.0）。",
            id="uplift_reaches_1",
        ),
        pytest.param(
            {"control_share": 1.0},
            "experiments.error.control_share",
            "The control group's share must be between 0 and 1, both excluded (got 1.0).",
            "对照组占比必须在 0 和 1 之间，不含 0 和 1（当前为 1.0）。",
            id="share_1",
        ),
        pytest.param(
            {"power": 0.05},
            "experiments.error.power",
            "The power must be above the significance level (0.05) and below 1 (got 0.05).",
            "检验功效必须大于显著性水平（0.05）且小于 1（当前为 0.05）。",
            id="power_equals_alpha",
        ),
        pytest.param(
            {"power": 1.0},
            "experiments.error.power",
            "The power must be above the significance level (0.05) and below 1 (got 1.0).",
            "检验功效必须大于显著性水平（0.05）且小于 1（当前为 1.0）。",
            id="power_1",
        ),
        pytest.param(
            {"min_uplift": float("nan")},
            "experiments.error.plan_number",
            "The baseline rate, uplift, power and control share must be numbers.",
            "基准转化率、提升幅度、检验功效和对照组占比必须是数字。",
            id="uplift_nan",
        ),
        pytest.param(
            {"baseline_rate": "0.2"},
            "experiments.error.plan_number",
            "The baseline rate, uplift, power and control share must be numbers.",
            "基准转化率、提升幅度、检验功效和对照组占比必须是数字。",
            id="baseline_text",
        ),
    ],
)
def test_bad_planner_inputs_are_refused(kwargs, key, english, chinese):
    arguments = {"baseline_rate": 0.2, "min_uplift": 0.02, **kwargs}
    _raises(lambda: holdout_size(**arguments), key, english, chinese)


UNITS = pd.DataFrame({"variant": ["A", "B", "A", "B", "A"], "converted": ["1", "0", "1", "1", "0"]})


@pytest.mark.parametrize(
    ("frame", "kwargs", "key", "english", "chinese"),
    [
        pytest.param(
            UNITS,
            {"outcome_column": "bought"},
            "experiments.error.missing_column",
            "There is no column bought; the columns found are: variant, converted.",
            "没有列 bought；现有的列为：variant, converted。",
            id="missing_column",
        ),
        pytest.param(
            UNITS,
            {"outcome_column": "variant"},
            "experiments.error.same_column",
            "The variant and the outcome cannot both be column variant.",
            "分组列和结果列不能同为 variant。",
            id="same_column",
        ),
        pytest.param(
            UNITS.iloc[:0],
            {},
            "experiments.error.no_rows",
            "There are no rows to compare.",
            "没有可比较的数据行。",
            id="no_rows",
        ),
        pytest.param(
            UNITS.assign(variant=["A", "B", " ", "B", "A"]),
            {},
            "experiments.error.variant_missing",
            "Row 4: the variant in column variant is empty.",
            "第 4 行：列 variant 中的分组为空。",
            id="variant_empty",
        ),
        pytest.param(
            UNITS.assign(converted=["1", "0", "1", None, "0"]),
            {},
            "experiments.error.outcome_missing",
            "Row 5: the outcome in column converted is empty.",
            "第 5 行：列 converted 中的结果为空。",
            id="outcome_empty",
        ),
        pytest.param(
            UNITS.assign(converted=[1.0, 0.0, np.nan, 1.0, 0.0]),
            {},
            "experiments.error.outcome_missing",
            "Row 4: the outcome in column converted is empty.",
            "第 4 行：列 converted 中的结果为空。",
            id="numeric_outcome_nan",
        ),
        pytest.param(
            UNITS.assign(converted=["yes", "no", "maybe", "yes", "no"]),
            {},
            "experiments.error.outcome_not_yes_no",
            'Row 4: "maybe" in column converted is not a yes/no outcome (1/0, true/false, yes/no).',
            "第 4 行：列 converted 中的“maybe”不是是/否结果（1/0、true/false、yes/no、是/否）。",
            id="outcome_not_yes_no",
        ),
        pytest.param(
            UNITS.assign(converted=["12.5", "3", "0", "7 apples", "4"]),
            {},
            "experiments.error.outcome_not_number",
            'Row 5: "7 apples" in column converted is not a number.',
            "第 5 行：列 converted 中的“7 apples”不是数字。",
            id="outcome_not_number",
        ),
        pytest.param(
            UNITS.assign(converted=["12.5", "3", "0", "x" * 100, "4"]),
            {},
            "experiments.error.outcome_not_number",
            f'Row 5: "{"x" * 59}…" in column converted is not a number.',
            f"第 5 行：列 converted 中的“{'x' * 59}…”不是数字。",
            id="long_cell_cut",
        ),
        pytest.param(
            UNITS.assign(variant="A"),
            {},
            "experiments.error.too_few_variants",
            "An A/B comparison needs at least two variants; found: A.",
            "A/B 比较至少需要两个分组；找到的分组：A。",
            id="one_variant",
        ),
        pytest.param(
            UNITS,
            {"control": "C"},
            "experiments.error.unknown_control",
            "The control variant C is not among the variants found: A, B.",
            "对照组 C 不在找到的分组中：A, B。",
            id="unknown_control",
        ),
    ],
)
def test_a_bad_frame_is_refused_naming_row_and_column(frame, kwargs, key, english, chinese):
    arguments = {"variant_column": "variant", "outcome_column": "converted", **kwargs}
    _raises(lambda: ab_report(frame, **arguments), key, english, chinese)


def test_typed_counts_with_an_unknown_control_are_refused():
    _raises(
        lambda: ab_report_from_counts({"A": (1, 10), "B": (2, 10)}, "control"),
        "experiments.error.unknown_control",
        "The control variant control is not among the variants found: A, B.",
        "对照组 control 不在找到的分组中：A, B。",
    )
    _raises(
        lambda: ab_report_from_counts({"A": (1, 10)}, "A"),
        "experiments.error.too_few_variants",
        "An A/B comparison needs at least two variants; found: A.",
        "A/B 比较至少需要两个分组；找到的分组：A。",
    )


def _write(tmp_path: Path, text: str, name: str = "units.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_FILE = "variant,converted,spend\nA,1,12.5\nB,0,3\nA,0,0\nB,1,7\nA,1,4\n"


@pytest.mark.parametrize(
    ("text", "options", "english", "chinese"),
    [
        pytest.param(
            GOOD_FILE,
            ["--outcome-column", "bought"],
            "There is no column bought; the columns found are: variant, converted, spend.",
            "没有列 bought；现有的列为：variant, converted, spend。",
            id="missing_column",
        ),
        pytest.param(
            GOOD_FILE,
            ["--outcome-column", "converted", "--control", "C"],
            "The control variant C is not among the variants found: A, B.",
            "对照组 C 不在找到的分组中：A, B。",
            id="unknown_control",
        ),
        pytest.param(
            "variant,converted\nA,yes\nB,no\nA,yes\nB,perhaps\nA,no\n",
            ["--outcome-column", "converted"],
            'Row 5: "perhaps" in column converted is not a yes/no outcome '
            "(1/0, true/false, yes/no).",
            "第 5 行：列 converted 中的“perhaps”不是是/否结果（1/0、true/false、yes/no、是/否）。",
            id="bad_yes_no_cell",
        ),
        pytest.param(
            "variant,spend\nA,12.5\nB,3\nA,n/a\nB,7\nA,4\n",
            ["--outcome-column", "spend"],
            "Row 4: the outcome in column spend is empty.",
            "第 4 行：列 spend 中的结果为空。",
            id="empty_number_cell",
        ),
        pytest.param(
            'variant,spend\nA,12.5\nB,3\nA,0\nB,"12,5"\nA,4\n',
            ["--outcome-column", "spend"],
            'Row 5: "12,5" in column spend is not a number.',
            "第 5 行：列 spend 中的“12,5”不是数字。",
            id="decimal_comma_cell",
        ),
        pytest.param(
            "variant,converted\nA,1\n,0\nB,1\n",
            ["--outcome-column", "converted"],
            "Row 3: the variant in column variant is empty.",
            "第 3 行：列 variant 中的分组为空。",
            id="empty_variant_cell",
        ),
        pytest.param(
            GOOD_FILE,
            ["--outcome-column", "converted", "--alpha", "5"],
            "The significance level must be between 0 and 1 (got 5.0).",
            "显著性水平必须在 0 和 1 之间（当前为 5.0）。",
            id="alpha_as_percent",
        ),
    ],
)
def test_the_command_refuses_bad_input_in_one_line(
    tmp_path, capsys, text, options, english, chinese
):
    path = _write(tmp_path, text)
    argv = ["ab", str(path), "--variant-column", "variant", *options]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {english}\n"  # one line, no traceback
    # The same error, raised by the command's handler, in Chinese.
    args = cli.build_parser().parse_args(argv)
    with pytest.raises(InputError) as raised:
        args.handler(args)
    assert raised.value.message("en") == english
    assert raised.value.message("zh-CN") == chinese


def test_the_command_refuses_a_missing_file_in_one_line(tmp_path, capsys):
    argv = ["ab", str(tmp_path / "nowhere.csv"), "--variant-column", "v", "--outcome-column", "y"]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "nowhere.csv" in captured.err and "Traceback" not in captured.err


# -- the A/B calculator: typed counts, unit rows, several arms ----------------------------

COUNTS = {"A": (120, 1_000), "B": (150, 1_010), "C": (95, 990)}


def _units(counts, outcome) -> pd.DataFrame:
    """One row per unit, shuffled, with `outcome(converted: bool)` as the outcome cell."""
    rows = [
        (variant, outcome(i < successes))
        for variant, (successes, n) in counts.items()
        for i in range(n)
    ]
    order = np.random.default_rng(41).permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order], columns=["variant", "converted"])


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(int, id="0_1_numbers"),
        pytest.param(bool, id="bool_column"),
        pytest.param(lambda flag: "TRUE" if flag else "FALSE", id="TRUE_FALSE_text"),
        pytest.param(lambda flag: " yes " if flag else "No", id="yes_no_text"),
        pytest.param(lambda flag: "是" if flag else "否", id="chinese_yes_no"),
    ],
)
def test_typed_counts_give_the_report_of_the_unit_rows(outcome):
    from_units = ab_report(_units(COUNTS, outcome), "variant", "converted", control="A")
    from_counts = ab_report_from_counts(COUNTS, "A")
    assert from_units.kind == from_counts.kind == PROPORTION
    pd.testing.assert_frame_equal(from_units.arms, from_counts.arms)
    assert from_units.srm == from_counts.srm
    assert from_units.comparisons == from_counts.comparisons

    arms = from_counts.arms
    assert list(arms.columns) == list(ARM_COLUMNS)
    assert arms["variant"].tolist() == ["A", "B", "C"]  # control first, then sorted
    assert arms["n"].tolist() == [1_000, 1_010, 990]
    assert arms["successes"].tolist() == [120, 150, 95]
    np.testing.assert_allclose(arms["mean"], [0.12, 150 / 1_010, 95 / 990], rtol=1e-15)
    for variant in ("B", "C"):
        successes, n = COUNTS[variant]
        z, p = proportions_ztest([successes, 120], [n, 1_000])
        row = arms.set_index("variant").loc[variant]
        assert row["statistic"] == pytest.approx(z, rel=1e-12)
        assert row["p_value"] == pytest.approx(p, rel=1e-12)
    expected_holm = _statsmodels_holm(arms["p_value"].iloc[1:])
    np.testing.assert_allclose(arms["p_holm"].iloc[1:], expected_holm, rtol=1e-15)
    reference = stats.chisquare([1_000, 1_010, 990])
    assert from_counts.srm.chi_square == pytest.approx(reference.statistic, rel=1e-12)
    assert from_counts.srm.p_value == pytest.approx(reference.pvalue, rel=1e-12)


def test_the_default_control_is_the_first_variant_and_names_are_trimmed():
    units = _units(COUNTS, int)
    assert ab_report(units, "variant", "converted").control == "A"
    spaced = units.assign(variant=" " + units["variant"] + "  ")
    assert ab_report(spaced, "variant", "converted", control="B").arms.equals(
        ab_report(units, "variant", "converted", control="B").arms
    )
    # A control typed with spaces is the trimmed variant, for typed counts and unit rows.
    typed = ab_report_from_counts({" A ": COUNTS["A"], "B": COUNTS["B"]}, " A")
    assert typed.control == "A" and typed.arms["variant"].tolist() == ["A", "B"]
    assert ab_report(units, "variant", "converted", control=" B ").control == "B"


def test_a_numeric_outcome_is_compared_with_welch_as_scipy_does():
    rng = np.random.default_rng(43)
    spend = {"A": rng.gamma(2.0, 30.0, 300), "B": rng.gamma(2.2, 30.0, 280)}
    spend["C"] = rng.gamma(2.0, 33.0, 310)
    frame = pd.DataFrame(
        [(variant, value) for variant, values in spend.items() for value in values],
        columns=["variant", "spend"],
    )
    report = ab_report(frame, "variant", "spend", alpha=0.1)
    assert (report.kind, report.control, report.alpha) == (MEAN, "A", 0.1)
    arms = report.arms.set_index("variant")
    for variant in ("B", "C"):
        reference = stats.ttest_ind(spend[variant], spend["A"], equal_var=False)
        interval = reference.confidence_interval(0.9)
        test = report.comparisons[variant]
        assert test.t == pytest.approx(reference.statistic, rel=1e-9)
        assert test.p_value == pytest.approx(reference.pvalue, rel=1e-9)
        assert test.df == pytest.approx(reference.df, rel=1e-9)
        assert (test.ci_low, test.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9)
        assert arms.at[variant, "mean"] == pytest.approx(spend[variant].mean(), rel=1e-12)
        assert arms.at[variant, "statistic"] == test.t
    expected_holm = _statsmodels_holm(report.arms["p_value"].iloc[1:])
    np.testing.assert_allclose(report.arms["p_holm"].iloc[1:], expected_holm, rtol=1e-15)
    # The same figures from text cells as a file gives them.
    as_text = frame.assign(spend=[repr(float(value)) for value in frame["spend"]])
    assert ab_report(as_text, "variant", "spend", alpha=0.1).comparisons == report.comparisons


def test_the_command_prints_each_arm_with_holm_at_the_chosen_level(tmp_path, capsys):
    lines = ["arm,bought"]
    for variant, (successes, n) in COUNTS.items():
        lines += [f"{variant},{int(i < successes)}" for i in range(n)]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    argv = ["ab", str(path), "--variant-column", "arm", "--outcome-column", "bought"]
    assert cli.main([*argv, "--alpha", "0.1"]) == 0
    out = capsys.readouterr().out.splitlines()
    report = ab_report_from_counts(COUNTS, "A", alpha=0.1)
    b, c = report.comparisons["B"], report.comparisons["C"]
    holm_b, holm_c = _statsmodels_holm([b.p_value, c.p_value])
    assert out[0] == "bought by arm (yes/no outcome, rates); control A; 3,000 rows"
    assert out[1] == (
        f"B vs A: {150 / 10.10:.2f}% vs 12.00%, difference {b.difference * 100:+.2f} pp "
        f"(90% CI {b.ci_low * 100:.2f} to {b.ci_high * 100:.2f} pp), z = {b.z:.4f}, "
        f"p = {b.p_value:.3g}, Holm p = {holm_b:.3g}"
    )
    assert out[2].startswith(f"C vs A: {95 / 9.90:.2f}% vs 12.00%, ")
    assert out[2].endswith(f"z = {c.z:.4f}, p = {c.p_value:.3g}, Holm p = {holm_c:.3g}")
    assert out[3] == (
        "sample ratio (planned equal shares): A 1,000, B 1,010, C 990; chi-square = 0.200 "
        f"(df 2), p = {stats.chisquare([1_000, 1_010, 990]).pvalue:.3g}: no mismatch "
        "(flagged when p < 0.001)"
    )
    assert len(out) == 4
