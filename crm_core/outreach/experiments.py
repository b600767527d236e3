"""Statistics for campaign results and A/B tests: did the treated group do better than
the control group, and by how much?

Every function equals a reference implementation, named in its docstring (statsmodels or
SciPy, or the paper it follows); `tests/test_experiments.py` checks them against
statsmodels and SciPy on random inputs. Only NumPy and SciPy are used here.

- `two_proportion_test`: conversion rates (0/1 outcomes), pooled z-test, Wald interval.
- `welch_test` / `welch_test_from_moments`: means (revenue per recipient, ...), Welch's t.
- `holm_adjust`: Holm's step-down adjustment when one control is compared with several arms.
- `sample_ratio_check`: were the arms filled in the planned shares (a broken split)?
- `cuped_test`: Welch's t on values adjusted by a pre-period covariate (narrower interval).
- `holdout_size`: recipients needed to detect an uplift on a conversion rate.
- `ab_report` / `ab_report_from_counts`: the A/B calculator over a file or typed counts.

Rates and differences of rates are shares (0-1, a difference of 0.01 is one percentage
point); an interval is two-sided at level 1 - alpha.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, stats

from crm_core.errors import InputError, Named
from crm_core.ingest.values import clean_text, parse_booleans, parse_numbers

NAN = float("nan")


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise InputError("experiments.error.alpha", value=alpha)
    return float(alpha)


def _is_whole(value: object) -> bool:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number == int(number) and not isinstance(value, str)


# -- two proportions --------------------------------------------------------------------


@dataclass(frozen=True)
class ProportionTest:
    """Treated vs control on a 0/1 outcome.

    Rates are shares (0-1); `difference` = treated_rate - control_rate in share points
    (0.01 = one percentage point); `ci_low`/`ci_high` its unpooled (Wald) 1 - alpha
    interval; `z` and the two-sided `p_value` come from the pooled two-proportion z-test
    (= statsmodels.stats.proportion.proportions_ztest).
    """

    treated_n: int
    treated_successes: int
    control_n: int
    control_successes: int
    treated_rate: float
    control_rate: float
    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


def two_proportion_test(
    treated_successes: int,
    treated_n: int,
    control_successes: int,
    control_n: int,
    alpha: float = 0.05,
) -> ProportionTest:
    """Pooled two-proportion z-test with an unpooled (Wald) interval for the difference.

    z = (p_t - p_c) / sqrt(p_pool (1 - p_pool) (1/n_t + 1/n_c)), p two-sided
    (= statsmodels.stats.proportion.proportions_ztest([s_t, s_c], [n_t, n_c])); interval
    p_t - p_c ± z_{1-alpha/2} sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c)
    (= statsmodels confint_proportions_2indep(method="wald", compare="diff")).

    Edge cases (no warning, no exception):
    - n = 0 on either side: that rate, the difference, the interval, z and p are NaN.
    - pooled standard error 0 (every unit converted, or none did): the rates are equal,
      so z = 0 and p = 1 (statsmodels gives NaN); the interval is [0, 0].
    Raises InputError when a count is not a whole number with 0 <= successes <= n.
    """
    alpha = _check_alpha(alpha)
    for successes, n in ((treated_successes, treated_n), (control_successes, control_n)):
        if not (_is_whole(successes) and _is_whole(n) and 0 <= successes <= n):
            raise InputError("experiments.error.counts", successes=successes, n=n)
    s_t, n_t = int(treated_successes), int(treated_n)
    s_c, n_c = int(control_successes), int(control_n)
    rate_t = s_t / n_t if n_t else NAN
    rate_c = s_c / n_c if n_c else NAN
    if not (n_t and n_c):
        return ProportionTest(n_t, s_t, n_c, s_c, rate_t, rate_c, NAN, NAN, NAN, NAN, NAN)
    difference = rate_t - rate_c
    pooled = (s_t + s_c) / (n_t + n_c)
    pooled_se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_t + 1.0 / n_c))
    if pooled_se == 0.0:
        z, p_value = 0.0, 1.0
    else:
        z = difference / pooled_se
        p_value = float(2.0 * stats.norm.sf(abs(z)))
    se = math.sqrt(rate_t * (1.0 - rate_t) / n_t + rate_c * (1.0 - rate_c) / n_c)
    half = float(stats.norm.isf(alpha / 2.0)) * se
    low, high = difference - half, difference + half
    return ProportionTest(n_t, s_t, n_c, s_c, rate_t, rate_c, difference, low, high, z, p_value)


# -- two means (Welch) ------------------------------------------------------------------


@dataclass(frozen=True)
class MeanTest:
    """Welch's t-test of the treated mean minus the control mean.

    Means, `difference` and its 1 - alpha interval (`ci_low`, `ci_high`) are in the unit of
    the values (e.g. revenue per recipient in shop currency); `t` the statistic, `df` the
    Welch-Satterthwaite degrees of freedom, `p_value` two-sided.
    """

    treated_n: int
    control_n: int
    treated_mean: float
    control_mean: float
    difference: float
    ci_low: float
    ci_high: float
    t: float
    df: float
    p_value: float


def _sample_variance(values: np.ndarray) -> float:
    """Variance with ddof=1; exactly 0 when every value is equal (np.var can leave a
    rounding residue such as 1e-34 that would make t astronomically large)."""
    if len(values) < 2:
        return NAN
    if values.min() == values.max():
        return 0.0
    return float(np.var(values, ddof=1))


def _finite_values(values: ArrayLike, group: str) -> np.ndarray:
    array = np.asarray(values, dtype="float64").ravel()
    if not np.isfinite(array).all():
        raise InputError(
            "experiments.error.not_finite",
            group=Named("experiments.group.", (group,), with_code=False),
            count=int((~np.isfinite(array)).sum()),
        )
    return array


def welch_test(treated: ArrayLike, control: ArrayLike, alpha: float = 0.05) -> MeanTest:
    """Welch's unequal-variance t-test and interval on raw values
    (= scipy.stats.ttest_ind(treated, control, equal_var=False) and statsmodels
    CompareMeans(DescrStatsW(treated), DescrStatsW(control)).tconfint_diff(usevar="unequal")).

    Computed from the moments by `welch_test_from_moments` (same edge cases). Raises
    InputError for a value that is NaN or infinite.
    """
    treated_values = _finite_values(treated, "treated")
    control_values = _finite_values(control, "control")
    return welch_test_from_moments(
        len(treated_values),
        float(treated_values.mean()) if len(treated_values) else NAN,
        _sample_variance(treated_values),
        len(control_values),
        float(control_values.mean()) if len(control_values) else NAN,
        _sample_variance(control_values),
        alpha,
    )


def welch_test_from_moments(
    treated_n: int,
    treated_mean: float,
    treated_var: float,
    control_n: int,
    control_mean: float,
    control_var: float,
    alpha: float = 0.05,
) -> MeanTest:
    """Welch's t-test from each group's size, mean and sample variance (ddof=1)
    (= scipy.stats.ttest_ind_from_stats(..., equal_var=False) with std = sqrt(var)).

    se = sqrt(v_t/n_t + v_c/n_c); t = (m_t - m_c) / se; df (Welch-Satterthwaite) =
    se^4 / ((v_t/n_t)^2/(n_t-1) + (v_c/n_c)^2/(n_c-1)); interval diff ± t_{1-alpha/2, df} se.

    Edge cases (no warning, no exception):
    - fewer than 2 values on either side: t, df, p and the interval are NaN.
    - both variances 0 (e.g. all zeros): se = 0, df NaN, the interval is [diff, diff];
      equal means give t = 0 and p = 1, different means t = NaN and p = NaN (SciPy
      gives NaN or infinity there, with warnings).
    """
    alpha = _check_alpha(alpha)
    for n, variance in ((treated_n, treated_var), (control_n, control_var)):
        if (
            not _is_whole(n)
            or n < 0
            or (n >= 2 and not (math.isfinite(variance) and variance >= 0))
        ):
            raise InputError("experiments.error.moments", n=n, variance=variance)
    n_t, n_c = int(treated_n), int(control_n)
    mean_t = float(treated_mean) if n_t else NAN
    mean_c = float(control_mean) if n_c else NAN
    difference = mean_t - mean_c if n_t and n_c else NAN
    if n_t < 2 or n_c < 2:
        return MeanTest(n_t, n_c, mean_t, mean_c, difference, NAN, NAN, NAN, NAN, NAN)
    part_t, part_c = treated_var / n_t, control_var / n_c
    se = math.sqrt(part_t + part_c)
    if se == 0.0:
        t, p_value = (0.0, 1.0) if difference == 0.0 else (NAN, NAN)
        return MeanTest(
            n_t, n_c, mean_t, mean_c, difference, difference, difference, t, NAN, p_value
        )
    df = (part_t + part_c) ** 2 / (part_t**2 / (n_t - 1) + part_c**2 / (n_c - 1))
    t = difference / se
    p_value = float(2.0 * stats.t.sf(abs(t), df))
    half = float(stats.t.isf(alpha / 2.0, df)) * se
    return MeanTest(
        n_t, n_c, mean_t, mean_c, difference, difference - half, difference + half, t, df, p_value
    )


# -- several comparisons ----------------------------------------------------------------


def holm_adjust(p_values: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input's order and shape
    (= statsmodels.stats.multitest.multipletests(p, method="holm")[1]).

    The k-th smallest of m p-values becomes max over j <= k of min(1, (m - j + 1) p_(j)).
    NaN entries stay NaN and are not counted in m.
    """
    p = np.asarray(p_values, dtype="float64")
    flat = p.ravel()
    adjusted = np.full(flat.shape, np.nan)
    present = np.flatnonzero(~np.isnan(flat))
    if len(present):
        order = present[np.argsort(flat[present], kind="stable")]
        scaled = flat[order] * np.arange(len(order), 0, -1)
        adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted.reshape(p.shape)


# -- sample ratio mismatch --------------------------------------------------------------

SRM_THRESHOLD = 0.001
"""p below which arm sizes are flagged as not matching the planned split (GrowthBook's
default)."""


@dataclass(frozen=True)
class SampleRatioCheck:
    """Observed arm sizes against the planned shares: `expected` arm sizes (units),
    Pearson `chi_square` with arms - 1 degrees of freedom and its `p_value`; `mismatch`
    when p < the threshold (0.001, as GrowthBook flags it): the split is broken and the
    arms' results cannot be trusted."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi_square: float
    p_value: float
    mismatch: bool


def sample_ratio_check(
    observed: Sequence[int], planned_shares: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Pearson chi-square goodness of fit of the arm sizes to the planned shares
    (normalised to sum 1) (= scipy.stats.chisquare(observed, expected)).

    With no unit at all, chi-square and p are NaN and there is no mismatch. Raises
    InputError for fewer than two arms, counts that are not whole numbers >= 0, or
    shares that are not positive.
    """
    if len(observed) != len(planned_shares) or len(observed) < 2:
        raise InputError(
            "experiments.error.srm_arms", observed=len(observed), shares=len(planned_shares)
        )
    if not all(_is_whole(count) and count >= 0 for count in observed):
        raise InputError("experiments.error.srm_counts")
    shares = np.asarray(planned_shares, dtype="float64")
    if not (np.isfinite(shares).all() and (shares > 0).all()):
        raise InputError("experiments.error.srm_shares")
    counts = np.asarray([int(count) for count in observed], dtype="float64")
    expected = counts.sum() * shares / shares.sum()
    if counts.sum() == 0:
        chi_square, p_value = NAN, NAN
    else:
        chi_square = float(((counts - expected) ** 2 / expected).sum())
        p_value = float(stats.chi2.sf(chi_square, len(counts) - 1))
    return SampleRatioCheck(
        observed=tuple(int(count) for count in observed),
        expected=tuple(float(value) for value in expected),
        chi_square=chi_square,
        p_value=p_value,
        mismatch=bool(p_value < threshold),
    )


# -- CUPED ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CupedTest:
    """Welch test on CUPED-adjusted values (Deng et al. 2013): y - theta (x - mean x),
    theta = cov(x, y) / var(x) over both arms pooled; `plain` is the unadjusted test and
    `width_reduction` = 1 - adjusted interval width / plain width (share, 0.3 = 30 %
    narrower; NaN when the plain interval has no width)."""

    adjusted: MeanTest
    plain: MeanTest
    theta: float
    width_reduction: float


def cuped_test(
    treated_y: ArrayLike,
    treated_x: ArrayLike,
    control_y: ArrayLike,
    control_x: ArrayLike,
    alpha: float = 0.05,
) -> CupedTest:
    """CUPED (Deng, Xu, Kohavi, Walker 2013, "Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data"): y is the outcome, x the
    same unit's pre-period covariate (e.g. revenue in the weeks before the campaign).

    theta = cov(x, y) / var(x) over both arms pooled; each y becomes
    y - theta (x - pooled mean of x), which leaves the difference of means unbiased and
    removes the share of variance x explains; then `welch_test`. When var(x) is 0 (or
    fewer than two units), theta = 0 and the adjusted test equals the plain one.
    Raises InputError when an arm has not one x per y, or a value is not finite.
    """
    arrays = {}
    for group, y, x in (("treated", treated_y, treated_x), ("control", control_y, control_x)):
        y_values, x_values = _finite_values(y, group), _finite_values(x, group)
        if len(y_values) != len(x_values):
            raise InputError(
                "experiments.error.cuped_lengths",
                group=Named("experiments.group.", (group,), with_code=False),
                outcomes=len(y_values),
                covariates=len(x_values),
            )
        arrays[group] = (y_values, x_values)
    (y_t, x_t), (y_c, x_c) = arrays["treated"], arrays["control"]
    plain = welch_test(y_t, y_c, alpha)
    x_all, y_all = np.concatenate([x_t, x_c]), np.concatenate([y_t, y_c])
    x_var = _sample_variance(x_all)
    if not x_var > 0:  # 0 or NaN
        theta, x_mean = 0.0, 0.0
    else:
        x_mean = float(x_all.mean())
        covariance = float(((x_all - x_mean) * (y_all - y_all.mean())).sum() / (len(x_all) - 1))
        theta = covariance / x_var
    adjusted = (
        plain
        if theta == 0.0
        else welch_test(y_t - theta * (x_t - x_mean), y_c - theta * (x_c - x_mean), alpha)
    )
    plain_width = plain.ci_high - plain.ci_low
    reduction = (
        1.0 - (adjusted.ci_high - adjusted.ci_low) / plain_width
        if math.isfinite(plain_width) and plain_width > 0
        else NAN
    )
    return CupedTest(adjusted=adjusted, plain=plain, theta=theta, width_reduction=reduction)


# -- sample size for a hold-out ---------------------------------------------------------


@dataclass(frozen=True)
class HoldoutPlan:
    """Recipients needed to detect an absolute uplift of `min_uplift` (share points, 0.01
    = one percentage point) on `baseline_rate` (share 0-1) with a two-sided test at
    `alpha` and the given `power`; the control group is `control_share` of all
    recipients. `control_n`, `treated_n` and `total_n` are recipients (rounded up)."""

    baseline_rate: float
    min_uplift: float
    alpha: float
    power: float
    control_share: float
    control_n: int
    treated_n: int
    total_n: int


def _two_sided_power(effect: float, control_n: float, ratio: float, alpha: float) -> float:
    """Power of the two-sided z-test for Cohen's h `effect` with `control_n` control and
    control_n * ratio treated units, both tails counted (= statsmodels NormalIndPower().power)."""
    crit = float(stats.norm.isf(alpha / 2.0))
    shift = effect * math.sqrt(1.0 / (1.0 / control_n + 1.0 / (control_n * ratio)))
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


def holdout_size(
    baseline_rate: float,
    min_uplift: float,
    alpha: float = 0.05,
    power: float = 0.8,
    control_share: float = 0.5,
) -> HoldoutPlan:
    """Group sizes from Cohen's h = 2 asin(sqrt(baseline + uplift)) - 2 asin(sqrt(baseline))
    and the normal approximation, both tails of the two-sided test counted: equals
    statsmodels NormalIndPower().solve_power(effect_size=proportion_effectsize(baseline +
    uplift, baseline), alpha=alpha, power=power, ratio=treated/control,
    alternative="two-sided") for nobs1 = control (solved here with brentq on the same
    power function), rounded up; treated = control * ratio, rounded up.

    Raises InputError for a rate outside (0, 1), an uplift of 0, a rate + uplift outside
    (0, 1), a share outside (0, 1), alpha outside (0, 1), or power not in (alpha, 1).
    """
    alpha = _check_alpha(alpha)
    numbers = (baseline_rate, min_uplift, power, control_share)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers):
        raise InputError("experiments.error.plan_number")
    if not 0.0 < baseline_rate < 1.0:
        raise InputError("experiments.error.baseline_rate", value=baseline_rate)
    if min_uplift == 0:
        raise InputError("experiments.error.uplift_zero")
    if not 0.0 < baseline_rate + min_uplift < 1.0:
        raise InputError("experiments.error.uplift_range", value=baseline_rate + min_uplift)
    if not 0.0 < control_share < 1.0:
        raise InputError("experiments.error.control_share", value=control_share)
    if not alpha < power < 1.0:
        raise InputError("experiments.error.power", value=power, alpha=alpha)
    effect = abs(
        2.0 * math.asin(math.sqrt(baseline_rate + min_uplift))
        - 2.0 * math.asin(math.sqrt(baseline_rate))
    )
    ratio = (1.0 - control_share) / control_share
    # One tail alone reaches `power` at `upper`; the other tail only adds, so the root is
    # below it. Near 0 units the power falls to alpha < power.
    z_sum = float(stats.norm.isf(alpha / 2.0) + stats.norm.ppf(power))
    upper = (z_sum / effect) ** 2 * (1.0 + 1.0 / ratio)
    lower = upper * 1e-9
    control_exact = optimize.brentq(
        lambda n: _two_sided_power(effect, n, ratio, alpha) - power,
        lower,
        upper,
        xtol=1e-9,
        rtol=1e-12,
    )
    control_n = math.ceil(round(control_exact, 6))
    treated_n = math.ceil(round(control_exact * ratio, 6))
    return HoldoutPlan(
        baseline_rate=float(baseline_rate),
        min_uplift=float(min_uplift),
        alpha=alpha,
        power=float(power),
        control_share=float(control_share),
        control_n=control_n,
        treated_n=treated_n,
        total_n=control_n + treated_n,
    )


# -- the A/B calculator -----------------------------------------------------------------

PROPORTION = "proportion"
MEAN = "mean"
ARM_COLUMNS: tuple[str, ...] = (
    "variant", "n", "successes", "mean", "difference", "ci_low", "ci_high", "statistic",
    "p_value", "p_holm",
)  # fmt: skip
MAX_VALUE_SHOWN = 60  # characters of a bad cell quoted in a message


@dataclass(frozen=True)
class ABReport:
    """An A/B test's arms compared with the control arm.

    kind: "proportion" (0/1 outcome: `mean` is the conversion rate, a share 0-1; the
      difference is in share points, the statistic is the pooled z) or "mean" (numeric
      outcome: `mean` in the outcome's unit; the statistic is Welch's t).
    arms: one row per variant, the control first, then the others in sorted order, with
      columns ARM_COLUMNS: n (units), successes (proportion only, else NaN), mean, and for
      the non-control rows difference (arm - control), its 1 - alpha interval ci_low /
      ci_high, statistic, two-sided p_value and p_holm (Holm across the non-control
      comparisons; equal to p_value when there is one). The control row holds NaN there.
    srm: the sample ratio check of the arm sizes (in `arms` order) against equal shares.
    comparisons: the full test of each non-control variant (df of a Welch test, ...).
    """

    kind: str
    control: str
    alpha: float
    arms: pd.DataFrame
    srm: SampleRatioCheck
    comparisons: Mapping[str, ProportionTest | MeanTest]


def _row_numbers(frame: pd.DataFrame) -> np.ndarray:
    """The file row of each data row: the index when it is one of integers other than the
    default 0, 1, 2, ... (`read_table` numbers rows as the file does), else the position
    + 2 (the header is row 1)."""
    index = frame.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if pd.api.types.is_integer_dtype(index.dtype) and not default:
        return index.to_numpy()
    return np.arange(len(frame)) + 2


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_VALUE_SHOWN else text[: MAX_VALUE_SHOWN - 1] + "…"


def _outcome(column: pd.Series, name: str, rows: np.ndarray) -> tuple[str, np.ndarray]:
    """The outcome's kind and its values as float64 (0/1 for a proportion). A cell is
    bad when empty or, for the kind chosen, unreadable; the kind is the one with fewer
    unreadable cells, a proportion on a tie (a column of 0 and 1 only)."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        missing = ~np.isfinite(values)
        if missing.any():
            row = rows[int(np.argmax(missing))]
            raise InputError("experiments.error.outcome_missing", row=row, column=name)
        binary = pd.api.types.is_bool_dtype(dtype) or np.isin(values, (0.0, 1.0)).all()
        return (PROPORTION if binary else MEAN), values
    text = clean_text(column.astype("str"))
    missing = text.isna().to_numpy()
    if missing.any():
        row = rows[int(np.argmax(missing))]
        raise InputError("experiments.error.outcome_missing", row=row, column=name)
    flags, bool_bad = parse_booleans(text)
    numbers, number_bad = parse_numbers(text)
    bool_bad, number_bad = bool_bad.to_numpy(dtype=bool), number_bad.to_numpy(dtype=bool)
    if bool_bad.sum() <= number_bad.sum():
        kind, bad, key = PROPORTION, bool_bad, "experiments.error.outcome_not_yes_no"
        values = flags.to_numpy(dtype="float64", na_value=np.nan)
    else:
        kind, bad, key = MEAN, number_bad, "experiments.error.outcome_not_number"
        values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    if bad.any():
        position = int(np.argmax(bad))
        raise InputError(key, row=rows[position], column=name, value=_shown(text.iloc[position]))
    return kind, values


Comparison = ProportionTest | MeanTest


def _report(
    kind: str,
    control: str,
    alpha: float,
    arms: list[tuple[str, int, int | None, float]],
    comparisons: dict[str, Comparison],
) -> ABReport:
    """The report from (variant, n, successes, mean) per arm, the control first."""
    others = list(comparisons)
    holm = dict(zip(others, holm_adjust([comparisons[v].p_value for v in others]), strict=True))
    rows = []
    for variant, n, successes, mean in arms:
        test = comparisons.get(variant)
        rows.append(
            {
                "variant": variant,
                "n": n,
                "successes": NAN if successes is None else successes,
                "mean": mean,
                "difference": test.difference if test else NAN,
                "ci_low": test.ci_low if test else NAN,
                "ci_high": test.ci_high if test else NAN,
                "statistic": NAN if test is None else _statistic(test),
                "p_value": test.p_value if test else NAN,
                "p_holm": float(holm[variant]) if test else NAN,
            }
        )
    frame = pd.DataFrame(rows, columns=list(ARM_COLUMNS))
    srm = sample_ratio_check(frame["n"].tolist(), [1.0] * len(frame))
    return ABReport(kind, control, alpha, frame, srm, comparisons)


def _statistic(test: Comparison) -> float:
    return test.z if isinstance(test, ProportionTest) else test.t


def _proportion_report(
    counts: Mapping[str, tuple[int, int]], control: str, alpha: float
) -> ABReport:
    control_successes, control_n = counts[control]
    control_rate = control_successes / control_n if control_n else NAN
    arms = [(control, control_n, control_successes, control_rate)]
    comparisons: dict[str, Comparison] = {}
    for variant in sorted(v for v in counts if v != control):
        successes, n = counts[variant]
        test = two_proportion_test(successes, n, control_successes, control_n, alpha)
        comparisons[variant] = test
        arms.append((variant, n, successes, test.treated_rate))
    return _report(PROPORTION, control, alpha, arms, comparisons)


def _check_variants(variants: Sequence[str], control: str | None) -> str:
    found = sorted(variants)
    if len(found) < 2:
        raise InputError("experiments.error.too_few_variants", variants=", ".join(found))
    if control is None:
        return found[0]
    if control not in found:
        raise InputError(
            "experiments.error.unknown_control", control=control, variants=", ".join(found)
        )
    return control


def ab_report(
    frame: pd.DataFrame,
    variant_column: str,
    outcome_column: str,
    control: str | None = None,
    alpha: float = 0.05,
) -> ABReport:
    """Compare every variant of an A/B test with the control, from one row per unit.

    `variant_column` names the arm (text, trimmed); `outcome_column` is either a yes/no
    outcome (0/1, true/false, yes/no, 是/否 or a bool column: conversion rates,
    `two_proportion_test`) or numbers (means, `welch_test`). `control` defaults to the
    first variant in sorted text order. The Holm adjustment runs across the non-control
    comparisons; the sample ratio check assumes equal planned shares.

    Raises InputError for a column not in the frame (naming the columns found), an
    empty variant or outcome cell or an unreadable outcome (naming its file row: the
    frame's index when it came from `read_table`, else the position + 2, and the
    column), fewer than two variants, or a named control that is not a variant.
    """
    alpha = _check_alpha(alpha)
    for column in (variant_column, outcome_column):
        if column not in frame.columns:
            found = ", ".join(str(name) for name in frame.columns)
            raise InputError("experiments.error.missing_column", column=column, columns=found)
    if variant_column == outcome_column:
        raise InputError("experiments.error.same_column", column=variant_column)
    if frame.empty:
        raise InputError("experiments.error.no_rows")
    rows = _row_numbers(frame)
    variants = clean_text(frame[variant_column].astype("str"))
    missing = variants.isna().to_numpy()
    if missing.any():
        row = rows[int(np.argmax(missing))]
        raise InputError("experiments.error.variant_missing", row=row, column=variant_column)
    kind, values = _outcome(frame[outcome_column], outcome_column, rows)
    labels = variants.to_numpy(dtype=object)
    by_variant = {str(v): values[labels == v] for v in pd.unique(labels)}
    control = _check_variants(list(by_variant), None if control is None else str(control).strip())
    if kind == PROPORTION:
        counts = {v: (int(arm.sum()), len(arm)) for v, arm in by_variant.items()}
        return _proportion_report(counts, control, alpha)
    control_values = by_variant[control]
    arms = [(control, len(control_values), None, float(control_values.mean()))]
    comparisons: dict[str, Comparison] = {}
    for variant in sorted(v for v in by_variant if v != control):
        test = welch_test(by_variant[variant], control_values, alpha)
        comparisons[variant] = test
        arms.append((variant, test.treated_n, None, test.treated_mean))
    return _report(MEAN, control, alpha, arms, comparisons)


def ab_report_from_counts(
    counts: Mapping[str, tuple[int, int]], control: str, alpha: float = 0.05
) -> ABReport:
    """`ab_report` for a 0/1 outcome from typed counts: variant -> (successes, n).

    Raises InputError for fewer than two variants, a control not among them, or counts
    that are not whole numbers with 0 <= successes <= n.
    """
    alpha = _check_alpha(alpha)
    counts = {str(variant).strip(): pair for variant, pair in counts.items()}
    control = _check_variants(list(counts), str(control).strip())
    for successes, n in counts.values():
        if not (_is_whole(successes) and _is_whole(n) and 0 <= successes <= n):
            raise InputError("experiments.error.counts", successes=successes, n=n)
    clean = {variant: (int(s), int(n)) for variant, (s, n) in counts.items()}
    return _proportion_report(clean, control, alpha)
