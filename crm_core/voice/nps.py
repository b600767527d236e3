"""Net Promoter Score and CSAT of survey answers: estimates with intervals, by period
and by group.

Definitions (also in the Customer voice page's help):

- An answer's NPS score is 0-10: promoters 9-10, passives 7-8, detractors 0-6.
  NPS [points, -100 to 100] = 100 x (promoters - detractors) / answers. Every answer
  counts (a customer who answered twice counts twice); the Overview's tile counts only
  each customer's last answer in its period.
- Its 95% interval is the adjusted Wald interval (add 3 to n and 3/4 to promoters and
  to detractors; variance (p + d - (p - d)^2) / n on the adjusted shares p and d). The
  interval is centred on the adjusted estimate, which is shown beside the plain NPS.
- A change between two periods is a z-test of the adjusted estimates with their
  variances added (two-sided).
- CSAT on 1-5: the share of answers of 4 or 5 [%], with a Wilson 95% interval, and the
  mean score beside it.
- A group with fewer than MIN_ANSWERS answers is shown greyed and never ranked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from sqlalchemy import Engine, select

from crm_core import asof
from crm_core.errors import InputError
from crm_core.store import models, raw_value, read_frame

PROMOTER_MIN = 9
DETRACTOR_MAX = 6
CSAT_SATISFIED_MIN = 4
MIN_ANSWERS = 30
Z_95 = float(stats.norm.ppf(0.975))
ADDED_ANSWERS = 3.0
ADDED_PER_SIDE = 0.75
PERIODS: dict[str, str] = {"week": "W-SUN", "month": "M", "quarter": "Q"}
"""Period name -> pandas period frequency (weeks run Monday to Sunday)."""

ANSWER_COLUMNS: tuple[str, ...] = (
    "response_id",
    "customer_id",
    "responded_at",
    "nps",
    "csat",
    "comment",
)
PERIOD_COLUMNS: tuple[str, ...] = (
    "period",
    "period_start",
    "answers",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_adjusted",
    "ci_low",
    "ci_high",
    "change",
    "change_p",
    "significant_change",
)
GROUP_COLUMNS: tuple[str, ...] = (
    "group",
    "answers",
    "promoters",
    "detractors",
    "nps",
    "nps_adjusted",
    "ci_low",
    "ci_high",
    "csat_answers",
    "csat_share",
    "csat_low",
    "csat_high",
    "csat_mean",
    "ranked",
)


@dataclass(frozen=True)
class NpsEstimate:
    """NPS figures for one or more groups (arrays, one value per group): `nps` the plain
    score, `adjusted` the adjusted Wald estimate, `low`/`high` its 95% interval and
    `variance` the variance of the adjusted estimate, all in points (-100 to 100); NaN
    where a group has no answer."""

    nps: np.ndarray
    adjusted: np.ndarray
    low: np.ndarray
    high: np.ndarray
    variance: np.ndarray


def nps_estimate(promoters: ArrayLike, detractors: ArrayLike, answers: ArrayLike) -> NpsEstimate:
    """NPS and its adjusted Wald 95% interval from counts (scalars or arrays)."""
    p = np.asarray(promoters, dtype=np.float64)
    d = np.asarray(detractors, dtype=np.float64)
    n = np.asarray(answers, dtype=np.float64)
    if np.any(n < 0) or np.any(p < 0) or np.any(d < 0) or np.any(p + d > n):
        raise ValueError("promoters and detractors must be counts within the answers")
    with np.errstate(invalid="ignore", divide="ignore"):
        plain = np.where(n > 0, 100.0 * (p - d) / n, np.nan)
        adjusted_n = n + ADDED_ANSWERS
        p_share = (p + ADDED_PER_SIDE) / adjusted_n
        d_share = (d + ADDED_PER_SIDE) / adjusted_n
        centre = p_share - d_share
        variance = (p_share + d_share - centre**2) / adjusted_n
    half = Z_95 * np.sqrt(variance)
    empty = n <= 0
    adjusted = np.where(empty, np.nan, 100.0 * centre)
    return NpsEstimate(
        nps=plain,
        adjusted=adjusted,
        low=np.where(empty, np.nan, 100.0 * np.maximum(centre - half, -1.0)),
        high=np.where(empty, np.nan, 100.0 * np.minimum(centre + half, 1.0)),
        variance=np.where(empty, np.nan, 10_000.0 * variance),
    )


def nps_change_p(before: NpsEstimate, after: NpsEstimate) -> np.ndarray:
    """Two-sided p value of the change between the adjusted estimates (z-test with the
    variances added); NaN where either side has no answer."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (after.adjusted - before.adjusted) / np.sqrt(before.variance + after.variance)
    return 2.0 * stats.norm.sf(np.abs(z))


def wilson_interval(successes: ArrayLike, trials: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95% interval of a share [0-1]; NaN where there are no trials."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = k / n
        z2 = Z_95**2
        centre = (share + z2 / (2 * n)) / (1 + z2 / n)
        half = Z_95 * np.sqrt(share * (1 - share) / n + z2 / (4 * n**2)) / (1 + z2 / n)
    empty = n <= 0
    low = np.clip(centre - half, 0.0, 1.0)
    high = np.clip(centre + half, 0.0, 1.0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def survey_answers(engine: Engine, as_of: dt.date, since: dt.date | None = None) -> pd.DataFrame:
    """The survey answers up to the end of `as_of` (from the start of `since` when given):
    ANSWER_COLUMNS, nps 0-10 and csat 1-5 as nullable integers, oldest first."""
    s = models.survey_responses
    statement = select(
        *(
            raw_value(s.c[name]).label(name) if name == "responded_at" else s.c[name]
            for name in ANSWER_COLUMNS
        )
    ).where(s.c.responded_at < asof.end_of(as_of))
    if since is not None:
        statement = statement.where(s.c.responded_at >= asof.day_start(since))
    with engine.connect() as conn:
        frame = read_frame(conn, statement, times=("responded_at",), numbers=("nps", "csat"))
    for name in ("nps", "csat"):
        frame[name] = pd.array(frame[name], dtype="Int16")
    frame = frame.sort_values(["responded_at", "response_id"], kind="stable", ignore_index=True)
    return frame[list(ANSWER_COLUMNS)]


def nps_bands(scores: pd.Series) -> pd.Series:
    """'promoter', 'passive' or 'detractor' per 0-10 score; missing where no score."""
    values = pd.to_numeric(scores).astype("Float64")
    band = np.select(
        [values >= PROMOTER_MIN, values > DETRACTOR_MAX, values >= 0],
        ["promoter", "passive", "detractor"],
        default="",
    )
    return pd.Series(band, index=scores.index).replace("", pd.NA).astype("string")


def _counts(frame: pd.DataFrame, keys: pd.Series | list) -> pd.DataFrame:
    """Answers, promoters, passives, detractors (NPS) and CSAT answers, satisfied, sum
    per key."""
    nps = frame["nps"].astype("Float64")
    csat = frame["csat"].astype("Float64")
    parts = pd.DataFrame(
        {
            "answers": nps.notna().to_numpy(),
            "promoters": (nps >= PROMOTER_MIN).fillna(False).to_numpy(),
            "passives": ((nps > DETRACTOR_MAX) & (nps < PROMOTER_MIN)).fillna(False).to_numpy(),
            "detractors": (nps <= DETRACTOR_MAX).fillna(False).to_numpy(),
            "csat_answers": csat.notna().to_numpy(),
            "csat_satisfied": (csat >= CSAT_SATISFIED_MIN).fillna(False).to_numpy(),
            "csat_sum": csat.fillna(0).to_numpy(dtype=np.float64),
        },
        index=frame.index,
    )
    counts = parts.groupby(keys, sort=True, observed=True).sum()
    for name in counts.columns:
        if name != "csat_sum":
            counts[name] = counts[name].astype(np.int64)
    return counts


def period_labels(moments: pd.Series, period: str) -> pd.PeriodIndex:
    """The period (week Monday-Sunday, month or quarter) of each moment."""
    if period not in PERIODS:
        raise InputError("voice.error.period", period=period, choices=", ".join(PERIODS))
    return pd.PeriodIndex(pd.DatetimeIndex(moments), freq=PERIODS[period])


def nps_by_period(
    answers: pd.DataFrame, period: str = "month", alpha: float = 0.05
) -> pd.DataFrame:
    """NPS per period of the answers with an NPS score: PERIOD_COLUMNS. period is the
    label (2026-10, 2026Q4, or the week's Monday as 2026-10-26), period_start its first
    day; periods without answers between the first and the last are listed with 0
    answers. change [points] is the adjusted estimate minus the previous listed
    period's, change_p its p value, significant_change whether change_p < alpha."""
    scored = answers[answers["nps"].notna()]
    if scored.empty:
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in PERIOD_COLUMNS})
    labels = period_labels(scored["responded_at"], period)
    counts = _counts(scored, labels)
    every = pd.period_range(counts.index.min(), counts.index.max(), freq=counts.index.freq)
    counts = counts.reindex(every, fill_value=0)
    estimate = nps_estimate(counts["promoters"], counts["detractors"], counts["answers"])
    previous = NpsEstimate(*(np.r_[np.nan, values[:-1]] for values in vars(estimate).values()))
    change_p = nps_change_p(previous, estimate)
    starts = every.start_time
    frame = pd.DataFrame(
        {
            "period": [
                start.strftime("%Y-%m-%d") if period == "week" else str(label)
                for label, start in zip(every, starts, strict=True)
            ],
            "period_start": starts.date,
            "answers": counts["answers"].to_numpy(),
            "promoters": counts["promoters"].to_numpy(),
            "passives": counts["passives"].to_numpy(),
            "detractors": counts["detractors"].to_numpy(),
            "nps": estimate.nps,
            "nps_adjusted": estimate.adjusted,
            "ci_low": estimate.low,
            "ci_high": estimate.high,
            "change": estimate.adjusted - previous.adjusted,
            "change_p": change_p,
        }
    )
    frame["significant_change"] = (frame["change_p"] < alpha).to_numpy()
    return frame


def score_distribution(answers: pd.DataFrame) -> pd.DataFrame:
    """Answers per NPS score 0-10: score, answers, band, share [%]."""
    scores = answers["nps"].dropna().astype(np.int64)
    counts = np.bincount(scores.clip(0, 10), minlength=11)[:11]
    total = counts.sum()
    frame = pd.DataFrame({"score": np.arange(11), "answers": counts})
    frame["band"] = nps_bands(frame["score"]).to_numpy()
    frame["share"] = 100.0 * counts / total if total else np.nan
    return frame


def nps_by_group(
    answers: pd.DataFrame, groups: pd.Series, min_answers: int = MIN_ANSWERS
) -> pd.DataFrame:
    """NPS and CSAT per group: GROUP_COLUMNS. `groups` holds each answer's group name
    (aligned with `answers`; missing names are left out). csat_share and its interval
    csat_low/csat_high are percentages, csat_mean on 1-5. A group is ranked only with at
    least `min_answers` NPS answers; ranked groups come first, best NPS first, then the
    others by size."""
    names = pd.Series(groups, index=answers.index).astype("string")
    keep = names.notna()
    if not keep.any():
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in GROUP_COLUMNS})
    counts = _counts(answers[keep], names[keep])
    estimate = nps_estimate(counts["promoters"], counts["detractors"], counts["answers"])
    low, high = wilson_interval(counts["csat_satisfied"], counts["csat_answers"])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 100.0 * counts["csat_satisfied"] / counts["csat_answers"]
        mean = counts["csat_sum"] / counts["csat_answers"]
    frame = pd.DataFrame(
        {
            "group": counts.index.astype(str),
            "answers": counts["answers"].to_numpy(),
            "promoters": counts["promoters"].to_numpy(),
            "detractors": counts["detractors"].to_numpy(),
            "nps": estimate.nps,
            "nps_adjusted": estimate.adjusted,
            "ci_low": estimate.low,
            "ci_high": estimate.high,
            "csat_answers": counts["csat_answers"].to_numpy(),
            "csat_share": share.to_numpy(dtype=np.float64),
            "csat_low": 100.0 * low,
            "csat_high": 100.0 * high,
            "csat_mean": mean.to_numpy(dtype=np.float64),
        }
    )
    ranked = (frame["answers"] >= min_answers).to_numpy()
    frame["ranked"] = ranked
    best_first = np.where(ranked, -frame["nps"].to_numpy(dtype=np.float64), 0.0)
    order = np.lexsort((-frame["answers"].to_numpy(), best_first, ~ranked))
    return frame.iloc[order].reset_index(drop=True)


def nps_by_membership(
    answers: pd.DataFrame, members: pd.DataFrame, min_answers: int = MIN_ANSWERS
) -> pd.DataFrame:
    """`nps_by_group` for groups an answer can share (tags): `members` holds one boolean
    column per group, aligned with `answers`; an answer counts in every group it is in."""
    values = members.to_numpy(dtype=bool)
    rows, columns = np.nonzero(values)
    long = answers.iloc[rows].reset_index(drop=True)
    groups = pd.Series(np.asarray(members.columns, dtype=object)[columns], dtype="string")
    return nps_by_group(long, groups, min_answers)
