"""Segment schemes: ordered named rules over customer facts and RFM scores.

A scheme is a list of rules; each customer gets the segment of the first rule whose
condition holds, and the last rule has no condition (everyone else). Schemes are JSON,
versioned in the `segment_schemes` table (saving creates version n+1; earlier versions
stay loadable). Presets cover the usual retail schemes (RFM 11 and RFM 10 segments,
lifecycle, membership pyramid, spend tiers, behaviour-aware layering).

The module has five parts:

1. The rule language (`evaluate_rule`, `validate_condition`, `condition_fields`), which
   the tags feature reuses. A condition is JSON, never evaluated as code:
   - {"all": [condition, ...]}: every condition holds (an empty list always holds)
   - {"any": [condition, ...]}: at least one holds (an empty list never holds)
   - {"not": condition}
   - {"field": NAME, "op": OP, "value": VALUE} with OP one of
     "==", "!=", "<", "<=", ">", ">=" (a number; "==" and "!=" also take text or
     true/false), "between" ([low, high], both inclusive), "in" / "not_in" (a list),
     "is_null" / "not_null" (no value).
   A missing value (NaN) never satisfies a comparison, "between" or "in".
2. Schemes (`Rule`, `Scheme`: JSON round trip with validation errors naming the rule).
3. Presets (`PRESETS`, `preset`).
4. Assignment and tables (`evaluate_scheme`, `assign_segments`, `segment_table`,
   `rf_grid`, `migration`): vectorised; a scheme whose rules read only scores is turned
   into a 125-cell lookup table over (R, F, M) and applied by one gather.
5. Storage (`save_scheme`, `load_scheme`, `list_saved_schemes`).

Fields a rule can read: every column of `customer_features` for scored customers,
plus r_score, f_score, m_score (1-5), fm_score ((F + M) / 2 rounded half up),
rf (10 * R + F, e.g. 54), r_fm (10 * R + FM), rfm (100 * R + 10 * F + M) and
monetary_rank_pct (percentage of scored customers with a higher monetary value).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from crm_core.auth import EDIT_SCHEMES, Actor, require
from crm_core.customers.rfm import AXES, SCORE_LEVELS, RfmFacts, RfmScores, Scoring, score
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, has_key, translate
from crm_core.store import models

# --------------------------------------------------------------------------------------
# 1. Rule language
# --------------------------------------------------------------------------------------

COMPARISON_OPS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=")
ORDER_OPS: tuple[str, ...] = ("<", "<=", ">", ">=")
LIST_OPS: tuple[str, ...] = ("in", "not_in")
NULL_OPS: tuple[str, ...] = ("is_null", "not_null")
OPERATORS: tuple[str, ...] = (*COMPARISON_OPS, "between", *LIST_OPS, *NULL_OPS)
MAX_DEPTH = 8
MAX_LIST_ITEMS = 1000

_COMPARE = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    return _is_number(value) or isinstance(value, str | bool)


def validate_condition(
    condition: Any, fields: Iterable[str] | None = None, where: str = "", depth: int = 0
) -> None:
    """Raise InputError (with `where` and the path inside the condition) unless
    `condition` is a well-formed condition; with `fields`, every field must be one."""
    known = None if fields is None else set(fields)
    _validate(condition, known, where or "$", depth)


def _validate(condition: Any, known: set[str] | None, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InputError("rfm.rule.error.depth", where=where, limit=MAX_DEPTH)
    if not isinstance(condition, Mapping):
        raise InputError("rfm.rule.error.shape", where=where)
    group = [key for key in ("all", "any", "not") if key in condition]
    if group:
        if len(condition) != 1:
            raise InputError("rfm.rule.error.shape", where=where)
        key = group[0]
        if key == "not":
            _validate(condition["not"], known, f"{where}.not", depth + 1)
            return
        children = condition[key]
        if not isinstance(children, list):
            raise InputError("rfm.rule.error.group_list", where=f"{where}.{key}", group=key)
        for position, child in enumerate(children):
            _validate(child, known, f"{where}.{key}[{position}]", depth + 1)
        return
    extra = set(condition) - {"field", "op", "value"}
    if extra or "field" not in condition or "op" not in condition:
        raise InputError("rfm.rule.error.shape", where=where)
    name, op = condition["field"], condition["op"]
    if not isinstance(name, str) or not name:
        raise InputError("rfm.rule.error.shape", where=where)
    if known is not None and name not in known:
        raise InputError("rfm.rule.error.unknown_field", where=where, field=name)
    if op not in OPERATORS:
        raise InputError(
            "rfm.rule.error.unknown_op", where=where, op=str(op), ops=", ".join(OPERATORS)
        )
    _validate_value(op, condition.get("value"), "value" in condition, where, name)


def _validate_value(op: str, value: Any, given: bool, where: str, name: str) -> None:
    def fail(expected: str) -> None:
        raise InputError(f"rfm.rule.error.value_{expected}", where=where, field=name, op=op)

    if op in NULL_OPS:
        if given and value is not None:
            fail("none")
    elif op in ORDER_OPS:
        if not (_is_number(value) or _is_iso_date(value)):
            fail("number")
    elif op in COMPARISON_OPS:
        if not _is_scalar(value):
            fail("scalar")
    elif op == "between":
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(_is_number(v) for v in value)
            and value[0] <= value[1]
        ):
            fail("pair")
    elif op in LIST_OPS and not (
        isinstance(value, list)
        and 0 < len(value) <= MAX_LIST_ITEMS
        and all(_is_scalar(v) for v in value)
    ):
        fail("list")


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def condition_fields(condition: Mapping | None) -> set[str]:
    """Every field a (valid) condition reads."""
    if condition is None:
        return set()
    if "all" in condition or "any" in condition:
        children = condition.get("all", condition.get("any")) or []
        return set().union(*(condition_fields(child) for child in children))
    if "not" in condition:
        return condition_fields(condition["not"])
    return {condition["field"]}


_OP_SYMBOLS = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def condition_text(condition: Mapping | None, field_label: Any = None) -> str:
    """A one-line reading of a (valid) condition, e.g. "recency_days ≤ 90 AND
    frequency ≥ 4"; `field_label(name)` may translate field names. None reads "*"."""
    label = field_label or (lambda name: name)
    if condition is None:
        return "*"
    for group, joiner in (("all", " AND "), ("any", " OR ")):
        if group in condition:
            parts = [condition_text(child, label) for child in condition[group]]
            if not parts:
                return "TRUE" if group == "all" else "FALSE"
            text = joiner.join(f"({p})" if (" AND " in p or " OR " in p) else p for p in parts)
            return text
    if "not" in condition:
        return f"NOT ({condition_text(condition['not'], label)})"
    name, op, value = label(condition["field"]), condition["op"], condition.get("value")
    if op in NULL_OPS:
        return f"{name} {'IS NULL' if op == 'is_null' else 'IS NOT NULL'}"
    if op == "between":
        return f"{value[0]:g} ≤ {name} ≤ {value[1]:g}"
    if op in LIST_OPS:
        items = ", ".join(str(v) for v in value)
        return f"{name} {'∈' if op == 'in' else '∉'} {{{items}}}"
    shown = f"{value:g}" if _is_number(value) else json.dumps(value, ensure_ascii=False)
    return f"{name} {_OP_SYMBOLS[op]} {shown}"


def evaluate_rule(condition: Mapping, frame: Any) -> np.ndarray:
    """Where `condition` holds, one bool per row of `frame`.

    `frame` is a DataFrame or any object with len() and [field] -> array-like (such as
    `RuleFields`). The condition is validated first; a field missing from `frame` or a
    value that cannot be compared with the field's values raises InputError.
    """
    validate_condition(condition)
    return _evaluate(condition, frame, len(frame), "$")


def _evaluate(condition: Mapping, frame: Any, rows: int, where: str) -> np.ndarray:
    if "all" in condition:
        result = np.ones(rows, dtype=bool)
        for position, child in enumerate(condition["all"]):
            result &= _evaluate(child, frame, rows, f"{where}.all[{position}]")
        return result
    if "any" in condition:
        result = np.zeros(rows, dtype=bool)
        for position, child in enumerate(condition["any"]):
            result |= _evaluate(child, frame, rows, f"{where}.any[{position}]")
        return result
    if "not" in condition:
        return ~_evaluate(condition["not"], frame, rows, f"{where}.not")
    return _leaf(condition, frame, where)


def _field_values(frame: Any, name: str, where: str) -> np.ndarray:
    try:
        values = frame[name]
    except KeyError:
        raise InputError("rfm.rule.error.unknown_field", where=where, field=name) from None
    if isinstance(values, pd.Series):
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
            values.dtype
        ):
            return values.to_numpy()
        if pd.api.types.is_numeric_dtype(values.dtype):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return values.to_numpy(dtype=object, na_value=np.nan)
    return np.asarray(values)


def _leaf(condition: Mapping, frame: Any, where: str) -> np.ndarray:
    name, op, value = condition["field"], condition["op"], condition.get("value")
    values = _field_values(frame, name, where)
    if op in NULL_OPS:
        missing = pd.isna(values)
        return np.asarray(missing if op == "is_null" else ~missing, dtype=bool)
    try:
        if np.issubdtype(values.dtype, np.datetime64) and isinstance(value, str | list):
            value = _as_datetimes(value, values.dtype)
        if op == "between":
            low, high = value
            return np.asarray((values >= low) & (values <= high), dtype=bool)
        if op in LIST_OPS:
            inside = _isin(values, value)
            if op == "not_in":
                return ~inside & ~np.asarray(pd.isna(values), dtype=bool)
            return inside
        if values.dtype == object:
            present = ~np.asarray(pd.isna(values), dtype=bool)
            result = np.zeros(len(values), dtype=bool)
            result[present] = _COMPARE[op](values[present], value).astype(bool)
            if op == "!=":
                result[~present] = False
            return result
        result = np.asarray(_COMPARE[op](values, value), dtype=bool)
        if op == "!=" and values.dtype.kind in "fM":
            result &= ~np.asarray(pd.isna(values), dtype=bool)
        return result
    except (TypeError, ValueError):
        raise InputError(
            "rfm.rule.error.type", where=where, field=name, value=json.dumps(value, default=str)
        ) from None


def _as_datetimes(value: Any, dtype: np.dtype) -> Any:
    if isinstance(value, list):
        return [np.datetime64(v).astype(dtype) if isinstance(v, str) else v for v in value]
    return np.datetime64(value).astype(dtype)


def _isin(values: np.ndarray, options: Sequence[Any]) -> np.ndarray:
    if values.dtype.kind in "iub" and all(_is_number(v) or isinstance(v, bool) for v in options):
        return np.isin(values, np.asarray(options))
    return pd.Series(values, copy=False).isin(options).to_numpy(dtype=bool)


# --------------------------------------------------------------------------------------
# 2. Schemes
# --------------------------------------------------------------------------------------

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
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(
                "rfm.scheme.error.json", detail=error.msg, line=error.lineno, column=error.colno
            ) from None
        return cls.from_dict(payload)

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


def scheme_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
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


# --------------------------------------------------------------------------------------
# 3. Presets
# --------------------------------------------------------------------------------------


def _cells(field_name: str, cells: list[int]) -> dict:
    return {"field": field_name, "op": "in", "value": cells}


def _all(*conditions: dict) -> dict:
    return {"all": list(conditions)}


def _cmp(field_name: str, op: str, value: Any) -> dict:
    return {"field": field_name, "op": op, "value": value}


_PRESET_DEFINITIONS: dict[str, dict] = {
    "rfm11": {
        "name": "rfm11",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "champions", "when": _cells("r_fm", [55, 54, 45])},
            {"segment": "loyal", "when": _cells("r_fm", [53, 44, 35, 34])},
            {"segment": "potential_loyalist", "when": _cells("r_fm", [52, 42, 43, 33])},
            {"segment": "new_customers", "when": _cells("r_fm", [51])},
            {"segment": "promising", "when": _cells("r_fm", [41, 31])},
            {"segment": "need_attention", "when": _cells("r_fm", [32, 23, 22])},
            {"segment": "about_to_sleep", "when": _cells("r_fm", [21])},
            {"segment": "at_risk", "when": _cells("r_fm", [25, 24, 13])},
            {"segment": "cant_lose", "when": _cells("r_fm", [15, 14])},
            {"segment": "hibernating", "when": _cells("r_fm", [12])},
            {"segment": "lost"},
        ],
    },
    "rfm10": {
        "name": "rfm10",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "champions", "when": _cells("rf", [54, 55])},
            {"segment": "loyal", "when": _cells("rf", [34, 35, 44, 45])},
            {"segment": "potential_loyalist", "when": _cells("rf", [42, 43, 52, 53])},
            {"segment": "new_customers", "when": _cells("rf", [51])},
            {"segment": "promising", "when": _cells("rf", [41])},
            {"segment": "need_attention", "when": _cells("rf", [33])},
            {"segment": "about_to_sleep", "when": _cells("rf", [31, 32])},
            {"segment": "at_risk", "when": _cells("rf", [13, 14, 23, 24])},
            {"segment": "cant_lose", "when": _cells("rf", [15, 25])},
            {"segment": "hibernating"},
        ],
    },
    "lifecycle": {
        "name": "lifecycle",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "active", "when": _cmp("recency_days", "<=", 90)},
            {"segment": "sleeping", "when": _cmp("recency_days", "<=", 180)},
            {"segment": "pre_churn", "when": _cmp("recency_days", "<=", 365)},
            {"segment": "churned"},
        ],
    },
    "membership": {
        "name": "membership",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "supreme_vip", "when": _cmp("monetary_rank_pct", "<", 10)},
            {"segment": "vip", "when": _cmp("monetary_rank_pct", "<", 25)},
            {"segment": "senior", "when": _cmp("monetary_rank_pct", "<", 50)},
            {"segment": "ordinary"},
        ],
    },
    "spend_tiers": {
        "name": "spend_tiers",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "dormant", "when": _cmp("recency_days", ">", 90)},
            {"segment": "super", "when": _cmp("spend_12m", ">", 10000)},
            {"segment": "high_value", "when": _cmp("spend_12m", ">", 5000)},
            {"segment": "ordinary"},
        ],
    },
    "behaviour": {
        "name": "behaviour",
        "scoring": {"mode": "quantile"},
        "rules": [
            {
                "segment": "loyal",
                "when": _all(
                    _cmp("recency_days", "<", 15),
                    _cmp("frequency", ">=", 4),
                    _cmp("monetary", ">=", 500),
                ),
            },
            {
                "segment": "potential",
                "when": _all(
                    _cmp("recency_days", "<", 30),
                    _cmp("frequency", "between", [2, 3]),
                    _cmp("browse_events_30d", ">=", 3),
                ),
            },
            {
                "segment": "wake_up",
                "when": _all(
                    _cmp("recency_days", ">", 90),
                    _cmp("frequency", "==", 1),
                    _cmp("complaints", ">=", 1),
                ),
            },
            {"segment": "new", "when": _cmp("tenure_days", "<=", 30)},
            {
                "segment": "high_value_at_risk",
                "when": _all(
                    _cmp("recency_days", ">", 60),
                    _cmp("recency_days", "<=", 180),
                    _cmp("monetary", ">=", 500),
                ),
            },
            {"segment": "regular", "when": _cmp("recency_days", "<=", 60)},
            {"segment": "sleeping", "when": _cmp("recency_days", "<=", 180)},
            {"segment": "lost"},
        ],
    },
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESET_DEFINITIONS)


def preset(name: str) -> Scheme:
    """A fresh copy of the preset scheme `name` (one of PRESET_NAMES)."""
    if name not in _PRESET_DEFINITIONS:
        raise InputError("rfm.scheme.error.not_found", name=name)
    return Scheme.from_dict(copy.deepcopy(_PRESET_DEFINITIONS[name]))


PRESETS: dict[str, Scheme] = {name: preset(name) for name in PRESET_NAMES}


# --------------------------------------------------------------------------------------
# 4. Assignment and tables
# --------------------------------------------------------------------------------------


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


SEGMENT_TABLE_COLUMNS: dict[str, str] = {
    "segment": "segment name (rule order)",
    "customers": "scored customers in the segment",
    "customer_share": "customers / all scored customers (0-1)",
    "revenue": "sum of monetary (net of refunds), shop currency",
    "revenue_share": "revenue / revenue of all scored customers (NaN when that is <= 0)",
    "avg_r_score": "mean R score 1-5",
    "avg_f_score": "mean F score 1-5",
    "avg_m_score": "mean M score 1-5",
    "avg_recency_days": "mean days since the last purchase",
    "avg_frequency": "mean purchases per customer",
    "avg_monetary": "mean monetary per customer, shop currency",
    "avg_order_value": "purchase amounts / purchases in the segment, shop currency",
}


def _per_code(codes: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=size)[:size]


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray | float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(denominator) != 0, numerator / denominator, np.nan)


def segment_table(facts: RfmFacts, result: SchemeResult) -> pd.DataFrame:
    """One row per segment of the scheme (rule order, empty segments kept) with the
    columns of SEGMENT_TABLE_COLUMNS."""
    names = result.scheme.segment_names
    size = len(names)
    codes = result.codes.astype(np.intp, copy=False)
    customers = _per_code(codes, size)
    monetary = facts.column("monetary")
    revenue = _per_code(codes, size, monetary)
    total_revenue = float(revenue.sum())
    frequency_sum = _per_code(codes, size, facts.column("frequency"))
    table = pd.DataFrame(
        {
            "segment": pd.array(names, dtype="str"),
            "customers": customers.astype(np.int64),
            "customer_share": _safe_divide(customers, max(int(customers.sum()), 1)),
            "revenue": np.round(revenue, 2),
            "revenue_share": revenue / total_revenue
            if total_revenue > 0
            else np.full(size, np.nan),
            "avg_r_score": _safe_divide(_per_code(codes, size, result.scores.r), customers),
            "avg_f_score": _safe_divide(_per_code(codes, size, result.scores.f), customers),
            "avg_m_score": _safe_divide(_per_code(codes, size, result.scores.m), customers),
            "avg_recency_days": _safe_divide(
                _per_code(codes, size, facts.column("recency_days")), customers
            ),
            "avg_frequency": _safe_divide(frequency_sum, customers),
            "avg_monetary": _safe_divide(revenue, customers),
            "avg_order_value": _safe_divide(
                _per_code(codes, size, facts.column("purchase_amount")), frequency_sum
            ),
        }
    )
    return table


def rf_grid(facts: RfmFacts, scores: RfmScores) -> pd.DataFrame:
    """The 5 x 5 R x F grid as 25 rows (r_score, f_score from 1 to 5): customers,
    customer_share (0-1), revenue (sum of monetary), revenue_share (0-1, NaN when total
    revenue <= 0) and avg_monetary per cell (NaN for an empty cell)."""
    cell = (scores.r.astype(np.intp) - 1) * SCORE_LEVELS + (scores.f.astype(np.intp) - 1)
    cells = SCORE_LEVELS * SCORE_LEVELS
    customers = _per_code(cell, cells)
    revenue = _per_code(cell, cells, facts.column("monetary"))
    total_revenue = float(revenue.sum())
    levels = np.arange(1, SCORE_LEVELS + 1)
    return pd.DataFrame(
        {
            "r_score": np.repeat(levels, SCORE_LEVELS),
            "f_score": np.tile(levels, SCORE_LEVELS),
            "customers": customers.astype(np.int64),
            "customer_share": _safe_divide(customers, max(int(customers.sum()), 1)),
            "revenue": np.round(revenue, 2),
            "revenue_share": revenue / total_revenue
            if total_revenue > 0
            else np.full(cells, np.nan),
            "avg_monetary": _safe_divide(revenue, customers),
        }
    )


def population_summary(facts: RfmFacts) -> dict[str, int]:
    """Who is and is not scored: customers, scored, prospects (never bought up to
    as_of), no_purchase_in_window, non_positive_monetary (scored, monetary <= 0)."""
    return {
        "customers": len(facts.features),
        "scored": facts.scored_count,
        "prospects": facts.prospect_count,
        "no_purchase_in_window": facts.no_purchase_in_window_count,
        "non_positive_monetary": facts.non_positive_monetary_count,
    }


def customer_segments(facts: RfmFacts, result: SchemeResult) -> pd.Series:
    """The segment of every customer in `facts.features` (NOT_SCORED for those without
    a purchase in the window), indexed by customer_id."""
    names = [*result.scheme.segment_names, NOT_SCORED]
    codes = np.full(len(facts.features), len(names) - 1, dtype=np.int16)
    codes[facts.features["frequency"].to_numpy() > 0] = result.codes
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=names),
        index=pd.Index(facts.features["customer_id"], name="customer_id"),
        name="segment",
    )


SCORED_TABLE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "segment",
)


def scored_table(
    facts: RfmFacts,
    result: SchemeResult,
    extra_columns: Sequence[str] = (),
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per scored customer (or per position of `rows` among the scored
    customers, in that order): SCORED_TABLE_COLUMNS (segment = the rule's segment name)
    followed by `extra_columns` of the facts."""
    picked = np.arange(facts.scored_count) if rows is None else np.asarray(rows, dtype=np.intp)
    frame = facts.features.iloc[facts.scored_rows[picked]].reset_index(drop=True)
    names = result.scheme.segment_names
    table = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "recency_days": frame["recency_days"].astype("int64"),
            "frequency": frame["frequency"],
            "monetary": frame["monetary"],
            "r_score": result.scores.r[picked],
            "f_score": result.scores.f[picked],
            "m_score": result.scores.m[picked],
            "segment": pd.Categorical.from_codes(result.codes[picked], categories=names),
        }
    )
    for name in extra_columns:
        if name not in table.columns:
            table[name] = frame[name] if name in frame.columns else facts.column(name)[picked]
    return table


def member_mask(
    facts: RfmFacts,
    result: SchemeResult,
    segment: str | None = None,
    r_score: int | None = None,
    f_score: int | None = None,
) -> np.ndarray:
    """Which scored customers belong to `segment` and/or the R x F cell (all when no
    filter is given)."""
    keep = np.ones(facts.scored_count, dtype=bool)
    if segment is not None:
        names = result.scheme.segment_names
        if segment not in names:
            raise InputError("rfm.error.unknown_segment", segment=segment)
        keep &= result.codes == names.index(segment)
    if r_score is not None:
        keep &= result.scores.r == r_score
    if f_score is not None:
        keep &= result.scores.f == f_score
    return keep


def members(
    facts: RfmFacts,
    result: SchemeResult,
    segment: str | None = None,
    r_score: int | None = None,
    f_score: int | None = None,
    extra_columns: Sequence[str] = (),
    limit: int | None = None,
) -> pd.DataFrame:
    """The scored customers of one segment and/or one R x F cell (all when no filter
    is given) as `scored_table` rows, highest monetary first, at most `limit` of them.
    Only the rows returned are built, so a list of a big segment stays cheap."""
    positions = np.flatnonzero(member_mask(facts, result, segment, r_score, f_score))
    order = np.argsort(-facts.column("monetary")[positions], kind="stable")
    if limit is not None:
        order = order[:limit]
    return scored_table(facts, result, extra_columns, rows=positions[order])


def customer_codes(facts: RfmFacts, result: SchemeResult) -> np.ndarray:
    """The segment code of every customer of `facts.features` (int16); customers
    without a purchase in the window get len(segment_names), i.e. NOT_SCORED in
    `migration_labels(scheme)`."""
    codes = np.full(len(facts.features), len(result.scheme.rules), dtype=np.int16)
    codes[facts.features["frequency"].to_numpy() > 0] = result.codes
    return codes


def migration_labels(scheme: Scheme) -> list[str]:
    """Segment names followed by NOT_SCORED and NOT_KNOWN (the codes of customer_codes
    and of customers absent on one side)."""
    return [*scheme.segment_names, NOT_SCORED, NOT_KNOWN]


def align_customers(before_ids: pd.Series, after_ids: pd.Series) -> np.ndarray:
    """For each customer of `after_ids`, its row in `before_ids` or -1 (computed once
    per pair of facts loads, so re-assigning segments needs no string matching)."""
    return pd.Index(before_ids).get_indexer(pd.Index(after_ids))


def aligned_codes(before_codes: np.ndarray, positions: np.ndarray, not_known: int) -> np.ndarray:
    """`before_codes` re-ordered to the after-side customers (`align_customers`);
    customers unknown before get `not_known`."""
    found = positions >= 0
    return np.where(found, before_codes[np.where(found, positions, 0)], not_known)


def migration(
    before: pd.Series,
    after: pd.Series,
    revenue_before: pd.Series | None = None,
    revenue_after: pd.Series | None = None,
) -> pd.DataFrame:
    """How customers moved from segment `before` to segment `after`.

    `before` and `after` are segment labels indexed by customer_id (e.g. from
    `customer_segments`). A customer missing from one side is NOT_KNOWN there.
    Returns one row per non-empty flow: from_segment, to_segment, customers,
    revenue_before and revenue_after (sums of the given monetary series over the
    flow's customers, 0 where not given), ordered by the segments' category order.
    """
    ids = before.index.union(after.index, sort=False)
    labels_before = _labels(before)
    labels_after = _labels(after)
    codes_before = _codes_on(before, ids, labels_before)
    codes_after = _codes_on(after, ids, labels_after)
    return migration_flows(
        codes_before,
        labels_before,
        codes_after,
        labels_after,
        _values_on(revenue_before, ids),
        _values_on(revenue_after, ids),
    )


def _labels(series: pd.Series) -> list[str]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        labels = [str(c) for c in series.cat.categories]
    else:
        labels = sorted(str(v) for v in pd.unique(series.dropna()))
    return [*labels, *(extra for extra in (NOT_SCORED, NOT_KNOWN) if extra not in labels)]


def _codes_on(series: pd.Series, ids: pd.Index, labels: list[str]) -> np.ndarray:
    aligned = series.reindex(ids)
    text = aligned.astype(object).where(aligned.notna(), NOT_KNOWN)
    text = text.where(ids.isin(series.index), NOT_KNOWN)
    return pd.Categorical(text, categories=labels).codes.astype(np.intp)


def _values_on(values: pd.Series | None, ids: pd.Index) -> np.ndarray:
    if values is None:
        return np.zeros(len(ids))
    return values.reindex(ids).to_numpy(dtype=np.float64, na_value=0.0)


def migration_flows(
    codes_before: np.ndarray,
    labels_before: Sequence[str],
    codes_after: np.ndarray,
    labels_after: Sequence[str],
    revenue_before: np.ndarray | None = None,
    revenue_after: np.ndarray | None = None,
) -> pd.DataFrame:
    """Flows between two aligned code arrays (same customers, same order)."""
    width = len(labels_after)
    cells = len(labels_before) * width
    flow = np.asarray(codes_before, dtype=np.intp) * width + np.asarray(codes_after, np.intp)
    customers = np.bincount(flow, minlength=cells)
    before_sum = (
        np.bincount(flow, weights=revenue_before, minlength=cells)
        if revenue_before is not None
        else np.zeros(cells)
    )
    after_sum = (
        np.bincount(flow, weights=revenue_after, minlength=cells)
        if revenue_after is not None
        else np.zeros(cells)
    )
    present = np.flatnonzero(customers)
    return pd.DataFrame(
        {
            "from_segment": pd.array(
                np.asarray(labels_before, dtype=object)[present // width], dtype="str"
            ),
            "to_segment": pd.array(
                np.asarray(labels_after, dtype=object)[present % width], dtype="str"
            ),
            "customers": customers[present].astype(np.int64),
            "revenue_before": np.round(before_sum[present], 2),
            "revenue_after": np.round(after_sum[present], 2),
        }
    )


def migration_matrix(
    flows: pd.DataFrame, value: str = "customers", order: Sequence[str] | None = None
) -> pd.DataFrame:
    """The flows as a from x to matrix of `value` (customers or a revenue column); rows
    and columns follow `order` (e.g. migration_labels) when given, else first
    appearance in `flows`."""
    matrix = flows.pivot_table(
        index="from_segment", columns="to_segment", values=value, aggfunc="sum", fill_value=0
    )
    sequence = (
        list(order)
        if order is not None
        else list(dict.fromkeys([*flows["from_segment"], *flows["to_segment"]]))
    )
    rows = [name for name in sequence if name in matrix.index]
    columns = [name for name in sequence if name in matrix.columns]
    return matrix.loc[rows, columns]


# --------------------------------------------------------------------------------------
# 5. Storage
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedScheme:
    id: int
    name: str
    version: int


def save_scheme(
    engine: Engine,
    scheme: Scheme,
    actor: Actor,
    note: str | None = None,
    saved_at: dt.datetime | None = None,
) -> SavedScheme:
    """Store `scheme` as the next version of its name (1 for a new name); `saved_at`
    (default: now, shop local time) is recorded as created_at and the actor's username
    as created_by. PermissionDenied unless `actor` may edit schemes."""
    require(actor, EDIT_SCHEMES)
    table = models.segment_schemes
    for _attempt in range(3):
        try:
            with engine.begin() as conn:
                latest = conn.execute(
                    select(func.max(table.c.version)).where(table.c.name == scheme.name)
                ).scalar()
                version = int(latest or 0) + 1
                new_id = conn.execute(
                    insert(table)
                    .values(
                        name=scheme.name,
                        version=version,
                        definition=scheme.to_dict(),
                        created_by=actor.username,
                        created_at=saved_at or dt.datetime.now().replace(microsecond=0),
                        note=note,
                    )
                    .returning(table.c.id)
                ).scalar_one()
            return SavedScheme(int(new_id), scheme.name, version)
        except IntegrityError:
            continue
    raise InputError("rfm.scheme.error.concurrent", name=scheme.name)


def load_scheme(engine: Engine, name: str, version: int | None = None) -> Scheme:
    """The saved scheme `name` at `version` (newest when None)."""
    table = models.segment_schemes
    stmt = select(table.c.definition, table.c.version).where(table.c.name == name)
    stmt = (
        stmt.where(table.c.version == version)
        if version is not None
        else stmt.order_by(table.c.version.desc()).limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        if version is None:
            raise InputError("rfm.scheme.error.not_found", name=name)
        raise InputError("rfm.scheme.error.version_not_found", name=name, version=version)
    definition = row.definition if isinstance(row.definition, dict) else json.loads(row.definition)
    return Scheme.from_dict(definition, version=int(row.version))


def list_saved_schemes(engine: Engine) -> pd.DataFrame:
    """Every saved version: id, name, version, created_by, created_at, note (newest
    version of each name first)."""
    table = models.segment_schemes
    stmt = select(
        table.c.id,
        table.c.name,
        table.c.version,
        table.c.created_by,
        table.c.created_at,
        table.c.note,
    ).order_by(table.c.name, table.c.version.desc())
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(
        rows, columns=["id", "name", "version", "created_by", "created_at", "note"]
    ).astype({"id": "int64", "version": "int64"})


@dataclass(frozen=True)
class SchemeChoice:
    """A scheme a user can pick: a saved one with its versions (newest first), or a
    preset (no versions)."""

    name: str
    versions: tuple[int, ...] = ()

    @property
    def saved(self) -> bool:
        return bool(self.versions)


def scheme_choices(engine: Engine) -> list[SchemeChoice]:
    """The schemes every page offers: saved schemes first (by name), then the presets no
    saved scheme shadows. A name means one scheme everywhere: once a team saves its own
    'rfm11', pages, exports and the command line all use it, not the shipped preset."""
    saved = list_saved_schemes(engine)
    choices = [
        SchemeChoice(str(name), tuple(int(v) for v in group["version"]))
        for name, group in saved.groupby("name", sort=True)
    ]
    taken = {choice.name for choice in choices}
    return choices + [SchemeChoice(name) for name in PRESET_NAMES if name not in taken]


def resolve_scheme_ref(engine: Engine, name: str, version: int | None = None) -> tuple:
    """(scheme, segment_schemes.id) of a saved scheme (newest version when None), or
    (preset, None) when no scheme of that name was saved."""
    table = models.segment_schemes
    stmt = select(table.c.id, table.c.version).where(table.c.name == name)
    stmt = (
        stmt.where(table.c.version == version)
        if version is not None
        else stmt.order_by(table.c.version.desc()).limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        if version is not None:
            raise InputError("rfm.scheme.error.version_not_found", name=name, version=version)
        return preset(name), None
    return load_scheme(engine, name, int(row.version)), int(row.id)


def resolve_scheme(engine: Engine, name: str) -> Scheme:
    """The newest saved version of `name`, else the preset of that name."""
    return resolve_scheme_ref(engine, name)[0]


__all__ = [
    "AXES",
    "NOT_KNOWN",
    "NOT_SCORED",
    "OPERATORS",
    "PRESETS",
    "PRESET_NAMES",
    "Rule",
    "RuleFields",
    "SavedScheme",
    "Scheme",
    "SchemeChoice",
    "SchemeResult",
    "Threshold",
    "align_customers",
    "aligned_codes",
    "assign_segments",
    "condition_fields",
    "condition_text",
    "customer_codes",
    "customer_segments",
    "evaluate_rule",
    "evaluate_scheme",
    "list_saved_schemes",
    "load_scheme",
    "member_mask",
    "members",
    "migration",
    "migration_flows",
    "migration_labels",
    "migration_matrix",
    "population_summary",
    "preset",
    "resolve_scheme",
    "resolve_scheme_ref",
    "rf_grid",
    "save_scheme",
    "scheme_choices",
    "scheme_label",
    "scheme_thresholds",
    "scored_table",
    "segment_codes",
    "segment_label",
    "segment_lookup",
    "segment_table",
    "validate_condition",
    "with_thresholds",
]
