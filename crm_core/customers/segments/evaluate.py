"""Scoring and assignment: the fields rules read, and the segment code of every scored
customer. A scheme whose rules read only scores becomes a 125-cell lookup table over
(R, F, M), applied by one gather; other schemes are evaluated rule by rule, vectorised.

Fields a rule can read: every column of `customer_features` for scored customers, plus
r_score, f_score, m_score (1-5), fm_score ((F + M) / 2 rounded half up), rf (10 * R + F,
e.g. 54), r_fm (10 * R + FM), rfm (100 * R + 10 * F + M) and monetary_rank_pct
(percentage of scored customers with a higher monetary value).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_core.customers.rfm import SCORE_LEVELS, RfmFacts, RfmScores, score
from crm_core.customers.segments.rules import _evaluate
from crm_core.customers.segments.schemes import SCORE_FIELDS, Scheme


class RuleFields(Mapping):
    """The fields rules read for the scored customers: facts columns (converted to NumPy
    once per facts load) plus the score fields of one scoring."""

    def __init__(self, facts: RfmFacts, scores: RfmScores) -> None:
        self._facts = facts
        self._scores = scores
        self._score_fields: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self._facts.scored_count

    def __iter__(self) -> Iterator[str]:
        yield from self._facts.column_names
        yield from sorted(SCORE_FIELDS)

    def __contains__(self, name: object) -> bool:
        return name in SCORE_FIELDS or name in self._facts.column_names

    def __getitem__(self, name: str) -> np.ndarray:
        if name in SCORE_FIELDS:
            if name not in self._score_fields:
                self._score_fields[name] = score_fields(
                    self._scores.r, self._scores.f, self._scores.m
                )[name]
            return self._score_fields[name]
        if name not in self._facts.column_names:
            raise KeyError(name)
        return self._facts.column(name)


def score_fields(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> dict[str, np.ndarray]:
    """The score fields rules can read, from R, F and M scores (int16 arrays)."""
    r16, f16, m16 = (np.asarray(a, dtype=np.int16) for a in (r, f, m))
    fm = (f16 + m16 + 1) // 2
    return {
        "r_score": r16,
        "f_score": f16,
        "m_score": m16,
        "fm_score": fm,
        "rf": 10 * r16 + f16,
        "r_fm": 10 * r16 + fm,
        "rfm": 100 * r16 + 10 * f16 + m16,
    }


def _score_cube() -> dict[str, np.ndarray]:
    """Every (R, F, M) combination once: cell = (R-1)*25 + (F-1)*5 + (M-1)."""
    levels = np.arange(1, SCORE_LEVELS + 1)
    r, f, m = np.meshgrid(levels, levels, levels, indexing="ij")
    return score_fields(r.ravel(), f.ravel(), m.ravel())


class _Columns:
    def __init__(self, columns: Mapping[str, np.ndarray], rows: int) -> None:
        self._columns, self._rows = columns, rows

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]


def segment_lookup(scheme: Scheme) -> np.ndarray:
    """For a scheme reading only score fields: the segment code of each of the 125
    (R, F, M) cells, int16, cell = (R-1)*25 + (F-1)*5 + (M-1)."""
    cube = _score_cube()
    return _first_match(scheme, _Columns(cube, SCORE_LEVELS**3))


def _first_match(scheme: Scheme, fields: Any) -> np.ndarray:
    codes = np.full(len(fields), len(scheme.rules) - 1, dtype=np.int16)
    for number in range(len(scheme.rules) - 2, -1, -1):
        rule = scheme.rules[number]
        where = f"#{number + 1} {rule.segment}"
        codes[_evaluate(rule.when, fields, len(fields), where)] = number
    return codes


def segment_codes(fields: Any, scheme: Scheme) -> np.ndarray:
    """The segment code (index into scheme.segment_names) of each row of `fields`
    (int16). Score-only schemes go through the 125-cell lookup table."""
    if scheme.uses_only_scores():
        lookup = segment_lookup(scheme)
        cell = (
            (np.asarray(fields["r_score"], dtype=np.int16) - 1) * 25
            + (np.asarray(fields["f_score"], dtype=np.int16) - 1) * 5
            + (np.asarray(fields["m_score"], dtype=np.int16) - 1)
        )
        return lookup[cell]
    return _first_match(scheme, fields)


@dataclass(frozen=True)
class SchemeResult:
    """A scheme applied to prepared facts: the scores and, per scored customer, the
    code of its segment (index into `scheme.segment_names`)."""

    scheme: Scheme
    scores: RfmScores
    codes: np.ndarray

    def segments(self) -> pd.Categorical:
        return pd.Categorical.from_codes(self.codes, categories=self.scheme.segment_names)


def evaluate_scheme(facts: RfmFacts, scheme: Scheme) -> SchemeResult:
    """Score the facts with the scheme's scoring and assign every scored customer."""
    scores = score(facts, scheme.scoring)
    return SchemeResult(scheme, scores, segment_codes(RuleFields(facts, scores), scheme))


def assign_segments(scored: pd.DataFrame, scheme: Scheme) -> pd.Categorical:
    """The segment of each row of `scored` (a frame of facts with r_score, f_score and
    m_score columns, e.g. from `rfm.scored_customers`), categories in rule order."""
    missing = [c for c in ("r_score", "f_score", "m_score") if c not in scored.columns]
    if missing:
        raise ValueError(f"scored frame lacks columns: {missing}")
    derived = score_fields(
        scored["r_score"].to_numpy(), scored["f_score"].to_numpy(), scored["m_score"].to_numpy()
    )
    extra = {name: values for name, values in derived.items() if name not in scored.columns}
    codes = segment_codes(scored.assign(**extra), scheme)
    return pd.Categorical.from_codes(codes, categories=scheme.segment_names)
