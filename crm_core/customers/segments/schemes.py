"""Schemes: an ordered list of named rules plus how R, F and M are scored.

Each customer gets the segment of the first rule whose condition holds; the last rule has
no condition (everyone else). A scheme round-trips through JSON, with validation errors
naming the rule. The numbers inside the rules are the thresholds a user can tune.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from crm_core.customers.rfm import RfmFacts, Scoring
from crm_core.customers.segments.rules import (
    COMPARISON_OPS,
    condition_fields,
    parse_rule_text,
    validate_condition,
)
from crm_core.customers.segments.rules import _is_number as _is_number
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, has_key, translate

SEGMENT_NAME_MAX = 64
NOT_SCORED = "not_scored"
NOT_KNOWN = "not_known"
SCORE_FIELDS: frozenset[str] = frozenset(
    {"r_score", "f_score", "m_score", "fm_score", "rf", "r_fm", "rfm"}
)


@dataclass(frozen=True)
class Rule:
    """One named rule; `when` is None for the final catch-all."""

    segment: str
    when: Mapping | None = None

    def to_dict(self) -> dict:
        payload: dict = {"segment": self.segment}
        if self.when is not None:
            payload["when"] = copy.deepcopy(dict(self.when))
        return payload


@dataclass(frozen=True)
class Scheme:
    """An ordered list of rules plus how scores are computed.

    `version` is the saved version (None for presets and unsaved drafts).
    """

    name: str
    rules: tuple[Rule, ...]
    scoring: Scoring = field(default_factory=Scoring)
    version: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        _validate_scheme(self)

    @property
    def segment_names(self) -> list[str]:
        return [rule.segment for rule in self.rules]

    def fields(self) -> set[str]:
        return set().union(*(condition_fields(rule.when) for rule in self.rules))

    def uses_only_scores(self) -> bool:
        return self.fields() <= SCORE_FIELDS

    def to_dict(self) -> dict:
        """The scheme as JSON-ready data (the stored definition; version not included)."""
        return {
            "name": self.name,
            "scoring": self.scoring.to_dict(),
            "rules": [rule.to_dict() for rule in self.rules],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, payload: Any, version: int | None = None) -> Scheme:
        if not isinstance(payload, Mapping) or not isinstance(payload.get("rules"), list):
            raise InputError("rfm.scheme.error.shape")
        unknown = set(payload) - {"name", "scoring", "rules"}
        if unknown:
            raise InputError("rfm.scheme.error.unknown_keys", keys=", ".join(sorted(unknown)))
        rules = []
        for number, entry in enumerate(payload["rules"], start=1):
            if not isinstance(entry, Mapping) or set(entry) - {"segment", "when"}:
                raise InputError("rfm.scheme.error.rule_shape", number=number)
            rules.append(Rule(segment=entry.get("segment"), when=entry.get("when")))
        return cls(
            name=payload.get("name"),
            rules=tuple(rules),
            scoring=Scoring.from_dict(payload.get("scoring")),
            version=version,
        )

    @classmethod
    def from_json(cls, text: str) -> Scheme:
        """Parse a scheme typed in the rule editor; InputError says what and where."""
        return cls.from_dict(parse_rule_text(text, "rfm.scheme.error.json"))

    def with_rules(self, rules: Sequence[Rule]) -> Scheme:
        return replace(self, rules=tuple(rules), version=None)

    def with_scoring(self, scoring: Scoring) -> Scheme:
        return replace(self, scoring=scoring, version=None)


def _validate_scheme(scheme: Scheme) -> None:
    if not isinstance(scheme.name, str) or not 0 < len(scheme.name.strip()) <= 128:
        raise InputError("rfm.scheme.error.name")
    if not scheme.rules:
        raise InputError("rfm.scheme.error.no_rules")
    seen: set[str] = set()
    last = len(scheme.rules)
    for number, rule in enumerate(scheme.rules, start=1):
        name = rule.segment
        if not isinstance(name, str) or not 0 < len(name.strip()) <= SEGMENT_NAME_MAX:
            raise InputError("rfm.scheme.error.segment_name", number=number, limit=SEGMENT_NAME_MAX)
        if name in seen or name in (NOT_SCORED, NOT_KNOWN):
            raise InputError("rfm.scheme.error.duplicate", number=number, segment=name)
        seen.add(name)
        if number == last:
            if rule.when is not None:
                raise InputError("rfm.scheme.error.catch_all", number=number, segment=name)
        elif rule.when is None:
            raise InputError("rfm.scheme.error.when_missing", number=number, segment=name)
        else:
            validate_condition(rule.when, where=f"#{number} {name}")


def segment_label(segment: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A segment's display name: the translation of a preset's segment, else the name."""
    key = f"rfm.segment.{segment}"
    return translate(key, language) if has_key(key, language) else segment


def segment_labels(scheme: Scheme, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Display name of each segment of `scheme`, then of NOT_SCORED and NOT_KNOWN, in
    that order (the order of the migration views' rows and columns)."""
    names = [*scheme.segment_names, NOT_SCORED, NOT_KNOWN]
    return {name: segment_label(name, language) for name in names}


def scheme_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A scheme's display name: the translation of a preset's name, else the name."""
    key = f"rfm.scheme.{name}"
    return translate(key, language) if has_key(key, language) else name


@dataclass(frozen=True)
class Threshold:
    """A number inside a rule that the user can tune: rule `number` (1-based), the
    condition `path` inside it (keys and list positions), and its current value;
    `bound` is 0 or 1 for the low or high end of "between", else None."""

    number: int
    segment: str
    path: tuple[str | int, ...]
    field: str
    op: str
    value: float
    bound: int | None = None

    @property
    def key(self) -> str:
        suffix = "" if self.bound is None else f"[{self.bound}]"
        return f"{self.number}:when" + "".join(f".{p}" for p in self.path) + suffix


def scheme_thresholds(scheme: Scheme) -> list[Threshold]:
    """Every numeric value compared in the scheme's rules, in rule order."""
    found: list[Threshold] = []
    for number, rule in enumerate(scheme.rules, start=1):
        if rule.when is not None:
            for path, leaf in _leaves(rule.when, ()):
                op, value = leaf["op"], leaf.get("value")
                if op in COMPARISON_OPS and _is_number(value):
                    found.append(
                        Threshold(number, rule.segment, path, leaf["field"], op, float(value))
                    )
                elif op == "between":
                    for bound in (0, 1):
                        found.append(
                            Threshold(
                                number,
                                rule.segment,
                                path,
                                leaf["field"],
                                op,
                                float(value[bound]),
                                bound,
                            )
                        )
    return found


def _leaves(condition: Mapping, path: tuple) -> Iterator[tuple[tuple, Mapping]]:
    for group in ("all", "any"):
        if group in condition:
            for position, child in enumerate(condition[group]):
                yield from _leaves(child, (*path, group, position))
            return
    if "not" in condition:
        yield from _leaves(condition["not"], (*path, "not"))
        return
    yield path, condition


def with_thresholds(scheme: Scheme, values: Mapping[str, float]) -> Scheme:
    """A copy of `scheme` whose thresholds (by `Threshold.key`) take `values`; an
    integral number stays an int in the JSON."""
    if not values:
        return scheme
    rules = [copy.deepcopy(rule.to_dict()) for rule in scheme.rules]
    for threshold in scheme_thresholds(scheme):
        if threshold.key not in values:
            continue
        new_value = float(values[threshold.key])
        if not math.isfinite(new_value):
            raise InputError("rfm.error.threshold_number", segment=threshold.segment)
        node = rules[threshold.number - 1]["when"]
        for step in threshold.path:
            node = node[step]
        number = int(new_value) if new_value.is_integer() else new_value
        if threshold.bound is None:
            node["value"] = number
        else:
            node["value"][threshold.bound] = number
            if node["value"][0] > node["value"][1]:
                node["value"] = sorted(node["value"])
    return Scheme.from_dict({**scheme.to_dict(), "rules": rules})


MONEY_FIELDS: frozenset[str] = frozenset(
    {"monetary", "purchase_amount", "avg_order_value", "refunds", "spend_12m"}
)
"""Fields in shop currency: their thresholds are tuned in cents, never as whole numbers."""


def threshold_range(facts: RfmFacts, field_name: str, value: float) -> tuple[float, float, bool]:
    """(low, high, integral) a tuning slider for a threshold on `field_name` covers:
    1-5 for a score (up to 55 for rf and r_fm, 555 for rfm), 0-100 for
    monetary_rank_pct, else the field's observed range up to its 99.5th percentile among
    the scored customers (computed once per facts load), widened to include 0 and
    `value`. `integral` says whether the value moves in whole steps."""
    if field_name in SCORE_FIELDS:
        high = 55.0 if field_name in ("rf", "r_fm") else 555.0 if field_name == "rfm" else 5.0
        return 1.0, high, True
    if field_name == "monetary_rank_pct":
        return 0.0, 100.0, False
    integral = float(value).is_integer() and field_name not in MONEY_FIELDS
    span = facts.value_span(field_name) if field_name in facts.column_names else None
    if span is None:
        return math.floor(min(0.0, value)), math.ceil(max(1.0, value * 2)), integral
    low = math.floor(min(span[0], 0.0, value))
    return low, math.ceil(max(span[1], value, low + 1)), integral
