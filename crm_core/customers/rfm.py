"""R, F and M scores 1-5, by quantiles or by fixed cut-points.

Each axis has four cut-points c1 <= c2 <= c3 <= c4 in the metric's own unit (days for R,
purchases for F, shop currency for M). They are upper bounds, inclusive:

- F and M: score 1 when value <= c1, 2 when c1 < value <= c2, ... 5 when value > c4.
- R (recency_days, lower is better): score 5 when days <= c1, 4 when c1 < days <= c2,
  ... 1 when days > c4.

Quantile mode takes ck as the value at quantile k/5 of the scored customers (numpy's
"lower" method: an observed value). Because scores come from cut-points on values,
equal values always get equal scores; with many ties several cut-points coincide, some
scores stay empty, and `AxisScores.distinct_scores` says how many are left.

Only customers with at least one purchase in the window are scored. `prepare_facts`
indexes each metric once per facts load (sorted distinct values and each customer's
position among them); re-scoring with new cut-points is then a searchsorted over the
distinct values and one gather, fast enough for a slider at a million customers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from crm_core.errors import InputError

SCORE_LEVELS = 5
CUT_COUNT = SCORE_LEVELS - 1
AXES: tuple[str, ...] = ("r", "f", "m")
AXIS_METRIC: dict[str, str] = {"r": "recency_days", "f": "frequency", "m": "monetary"}
DESCENDING_AXES = frozenset({"r"})
SCORING_MODES: tuple[str, ...] = ("quantile", "fixed")
SPAN_QUANTILE = 0.995
QUANTILE_STOPS = 101
"""Stops of a slider over a column's percentiles: 0%, 1%, ..., 100%."""


@dataclass(frozen=True)
class Scoring:
    """How the metrics become scores: mode 'quantile' (cut-points from the data) or
    'fixed' (the cut-points in `cuts`, four per axis, see the module docstring)."""

    mode: str = "quantile"
    cuts: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in SCORING_MODES:
            raise InputError("rfm.error.scoring_mode", value=self.mode)
        checked = {axis: check_cuts(axis, values) for axis, values in self.cuts.items()}
        if self.mode == "fixed":
            missing = [axis for axis in AXES if axis not in checked]
            if missing:
                raise InputError("rfm.error.cuts_missing", axis=", ".join(missing).upper())
        object.__setattr__(self, "cuts", checked)

    def to_dict(self) -> dict:
        payload: dict = {"mode": self.mode}
        if self.mode == "fixed":
            for axis in AXES:
                payload[f"{axis}_cuts"] = [float(v) for v in self.cuts[axis]]
        return payload

    @classmethod
    def from_dict(cls, payload: Mapping | None) -> Scoring:
        if payload is None:
            return cls()
        if not isinstance(payload, Mapping):
            raise InputError("rfm.error.scoring_shape")
        mode = payload.get("mode", "quantile")
        cuts = {axis: payload[f"{axis}_cuts"] for axis in AXES if f"{axis}_cuts" in payload}
        return cls(mode=mode, cuts=cuts if mode == "fixed" else {})

    def with_cuts(self, cuts: Mapping[str, Sequence[float]]) -> Scoring:
        """Fixed scoring with these cut-points (axes not given keep theirs)."""
        merged = {**self.cuts, **{axis: tuple(values) for axis, values in cuts.items()}}
        return Scoring(mode="fixed", cuts=merged)


def check_cuts(axis: str, values: Sequence[float]) -> tuple[float, ...]:
    """Four finite, non-decreasing cut-points as floats, or InputError naming the axis."""
    if axis not in AXES:
        raise InputError("rfm.error.axis", value=axis)
    try:
        cuts = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError("rfm.error.cuts_number", axis=axis.upper()) from None
    if len(cuts) != CUT_COUNT:
        raise InputError("rfm.error.cuts_count", axis=axis.upper(), count=len(cuts))
    if not all(np.isfinite(cuts)):
        raise InputError("rfm.error.cuts_number", axis=axis.upper())
    if any(b < a for a, b in itertools.pairwise(cuts)):
        raise InputError(
            "rfm.error.cuts_order", axis=axis.upper(), cuts=", ".join(f"{v:g}" for v in cuts)
        )
    return cuts


@dataclass(frozen=True)
class MetricIndex:
    """One metric of the scored customers, indexed once per facts load.

    `distinct` holds the sorted distinct values, `position` each customer's index into
    it (int32), `counts` how many customers hold each distinct value.
    """

    metric: str
    distinct: np.ndarray
    position: np.ndarray
    counts: np.ndarray

    @classmethod
    def build(cls, metric: str, values: np.ndarray) -> MetricIndex:
        distinct, position, counts = np.unique(
            np.asarray(values, dtype=np.float64), return_inverse=True, return_counts=True
        )
        return cls(metric, distinct, position.astype(np.int32), counts.astype(np.int64))

    @property
    def size(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(self.counts)

    def quantile_cuts(self) -> tuple[float, ...]:
        """The values at quantiles 1/5 .. 4/5 (method 'lower'); NaN when empty."""
        n = self.size
        if n == 0:
            return (float("nan"),) * CUT_COUNT
        positions = np.floor(np.arange(1, SCORE_LEVELS) / SCORE_LEVELS * (n - 1)).astype(np.int64)
        distinct_index = np.searchsorted(self.cumulative, positions, side="right")
        return tuple(float(v) for v in self.distinct[distinct_index])


def score_lookup(distinct: np.ndarray, cuts: Sequence[float], descending: bool) -> np.ndarray:
    """The score 1-5 of each distinct value under `cuts` (int8)."""
    below = np.searchsorted(np.asarray(cuts, dtype=np.float64), distinct, side="left")
    if descending:
        return (SCORE_LEVELS - below).astype(np.int8)
    return (1 + below).astype(np.int8)


@dataclass(frozen=True)
class AxisScores:
    """The scores of one axis: cut-points in use, customers per score 1-5 and, per
    score, the lowest and highest value actually holding it (NaN when empty)."""

    axis: str
    metric: str
    mode: str
    cuts: tuple[float, ...]
    counts: np.ndarray
    value_ranges: tuple[tuple[float, float], ...]

    @property
    def distinct_scores(self) -> int:
        """How many scores 1-5 hold at least one customer."""
        return int(np.count_nonzero(self.counts))

    @property
    def has_empty_scores(self) -> bool:
        return self.distinct_scores < SCORE_LEVELS and int(self.counts.sum()) > 0


@dataclass(frozen=True)
class RfmScores:
    """Scores of the scored customers (`RfmFacts.scored_rows` order), int8 1-5."""

    r: np.ndarray
    f: np.ndarray
    m: np.ndarray
    axes: Mapping[str, AxisScores]
    scoring: Scoring

    def for_axis(self, axis: str) -> np.ndarray:
        return {"r": self.r, "f": self.f, "m": self.m}[axis]

    @property
    def fm(self) -> np.ndarray:
        """(F + M) / 2 rounded half up, int8 1-5."""
        return ((self.f.astype(np.int16) + self.m + 1) // 2).astype(np.int8)

    def cuts(self) -> dict[str, tuple[float, ...]]:
        return {axis: self.axes[axis].cuts for axis in AXES}


@dataclass
class RfmFacts:
    """Customer facts prepared for repeated scoring (built once per facts load).

    `features` is the customer_features frame (every customer); the scored customers
    are its rows `scored_rows` (at least one purchase in the window). Columns of the
    scored customers are handed out as NumPy arrays by `column`, converted once and
    kept, so the frame is never copied. Besides the features' columns there is
    `monetary_rank_pct`: the percentage of scored customers with a strictly higher
    monetary value (0 for the top customer; ties share a value), so "top 10%" is
    monetary_rank_pct < 10.
    """

    features: pd.DataFrame
    scored_rows: np.ndarray
    index: Mapping[str, MetricIndex]
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _spans: dict[str, tuple[float, float] | None] = field(default_factory=dict, repr=False)
    _stops: dict[tuple[str, bool], np.ndarray | None] = field(default_factory=dict, repr=False)

    @property
    def scored_count(self) -> int:
        return len(self.scored_rows)

    @property
    def scored_frame(self) -> pd.DataFrame:
        """The scored customers' rows of `features` plus monetary_rank_pct (a new
        frame on every call; use `column` on hot paths)."""
        frame = self.features.iloc[self.scored_rows].reset_index(drop=True)
        frame["monetary_rank_pct"] = self.column("monetary_rank_pct")
        return frame

    @property
    def column_names(self) -> list[str]:
        return [*self.features.columns, "monetary_rank_pct"]

    @property
    def prospect_count(self) -> int:
        """Customers with no purchase up to as_of at all."""
        return int(self.features["is_prospect"].sum())

    @property
    def no_purchase_in_window_count(self) -> int:
        """Customers who bought before the window but not in it (0 without a window)."""
        return int(len(self.features) - self.scored_count - self.prospect_count)

    @property
    def non_positive_monetary_count(self) -> int:
        """Scored customers whose refunds equal or exceed their purchases (monetary <= 0)."""
        return int(np.count_nonzero(self.column("monetary") <= 0))

    def column(self, name: str) -> np.ndarray:
        """A column of the scored customers as a NumPy array (numbers as float64 with
        NaN for missing), converted once and kept."""
        if name not in self._arrays:
            values = self.features[name]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                array = values.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                array = values.to_numpy()
            self._arrays[name] = array[self.scored_rows]
        return self._arrays[name]

    def value_span(self, name: str) -> tuple[float, float] | None:
        """(lowest value, value at the 99.5th percentile) of a numeric column of the
        scored customers, NaN ignored: the range a slider for it should cover. None
        for a text or empty column. Computed once per column."""
        if name not in self._spans:
            values = self.column(name)
            span = None
            if values.dtype.kind in "fiu":
                finite = values[np.isfinite(values)]
                if finite.size:
                    span = (float(finite.min()), float(np.quantile(finite, SPAN_QUANTILE)))
            self._spans[name] = span
        return self._spans[name]

    def quantile_stops(self, name: str, integral: bool) -> np.ndarray | None:
        """The values at the 0th, 1st, ..., 100th percentiles of a numeric column of the
        scored customers (NaN ignored), rounded to whole numbers when `integral` else to
        cents, without repeats: where a slider over this column may stop, so each step
        moves about 1% of the customers. None for a text or empty column. Computed once
        per column."""
        key = (name, integral)
        if key not in self._stops:
            values = self.column(name)
            stops = None
            if values.dtype.kind in "fiu":
                finite = values[np.isfinite(values)]
                if finite.size:
                    levels = np.quantile(finite, np.linspace(0.0, 1.0, QUANTILE_STOPS))
                    stops = np.unique(np.round(levels, 0 if integral else 2))
            self._stops[key] = stops
        return self._stops[key]


def prepare_facts(features: pd.DataFrame) -> RfmFacts:
    """Index the scored customers' recency, frequency and monetary for fast re-scoring."""
    missing = [c for c in ("customer_id", *AXIS_METRIC.values()) if c not in features.columns]
    if missing:
        raise ValueError(f"customer features lack columns: {missing}")
    if "is_prospect" not in features.columns:
        features = features.assign(is_prospect=features["frequency"].to_numpy() <= 0)
    scored_rows = np.flatnonzero(features["frequency"].to_numpy() > 0)
    facts = RfmFacts(features=features, scored_rows=scored_rows, index={})
    facts.index = {
        axis: MetricIndex.build(metric, facts.column(metric))
        for axis, metric in AXIS_METRIC.items()
    }
    facts._arrays["monetary_rank_pct"] = _share_strictly_above(facts.index["m"])
    return facts


def _share_strictly_above(metric: MetricIndex) -> np.ndarray:
    """Per customer, 100 * (customers with a strictly higher value) / customers."""
    n = metric.size
    if n == 0:
        return np.zeros(0)
    above = n - metric.cumulative
    return (100.0 * above / n)[metric.position]


def quantile_cuts(facts: RfmFacts) -> dict[str, tuple[float, ...]]:
    """The quantile cut-points of every axis on these facts."""
    return {axis: facts.index[axis].quantile_cuts() for axis in AXES}


def score_axis(metric: MetricIndex, axis: str, cuts: Sequence[float], mode: str) -> tuple:
    """(scores per customer int8, AxisScores) for one axis under `cuts`."""
    descending = axis in DESCENDING_AXES
    lookup = score_lookup(metric.distinct, cuts, descending)
    scores = lookup[metric.position]
    counts = np.bincount(lookup, weights=metric.counts, minlength=SCORE_LEVELS + 1)[1:]
    return scores, AxisScores(
        axis=axis,
        metric=metric.metric,
        mode=mode,
        cuts=tuple(float(c) for c in cuts),
        counts=counts.astype(np.int64),
        value_ranges=_value_ranges(metric.distinct, cuts, descending),
    )


def _value_ranges(
    distinct: np.ndarray, cuts: Sequence[float], descending: bool
) -> tuple[tuple[float, float], ...]:
    """Observed (lowest, highest) value per score 1-5; NaN pair for an empty score."""
    edges = np.concatenate(
        ([0], np.searchsorted(distinct, np.asarray(cuts, dtype=np.float64), "right"))
    )
    edges = np.append(edges, len(distinct))
    ranges = []
    for lo, hi in itertools.pairwise(edges):
        ranges.append(
            (float(distinct[lo]), float(distinct[hi - 1])) if hi > lo else (np.nan, np.nan)
        )
    return tuple(reversed(ranges)) if descending else tuple(ranges)


def score(facts: RfmFacts, scoring: Scoring | None = None) -> RfmScores:
    """Scores 1-5 of every scored customer under `scoring` (quantile by default)."""
    scoring = scoring or Scoring()
    results = {}
    for axis in AXES:
        metric = facts.index[axis]
        cuts = scoring.cuts[axis] if scoring.mode == "fixed" else metric.quantile_cuts()
        results[axis] = score_axis(metric, axis, cuts, scoring.mode)
    return RfmScores(
        r=results["r"][0],
        f=results["f"][0],
        m=results["m"][0],
        axes={axis: results[axis][1] for axis in AXES},
        scoring=scoring,
    )


def scored_customers(facts: RfmFacts, scores: RfmScores) -> pd.DataFrame:
    """The scored customers' facts with r_score, f_score, m_score and fm_score columns."""
    return facts.scored_frame.assign(
        r_score=scores.r, f_score=scores.f, m_score=scores.m, fm_score=scores.fm
    )
