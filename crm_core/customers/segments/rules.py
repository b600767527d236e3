"""The rule language: JSON conditions over customer fields, validated and evaluated
vectorised (never run as code). The tags feature reuses it.

A condition is one of:

- {"all": [condition, ...]}: every condition holds (an empty list always holds)
- {"any": [condition, ...]}: at least one holds (an empty list never holds)
- {"not": condition}
- {"field": NAME, "op": OP, "value": VALUE} with OP one of "==", "!=", "<", "<=", ">",
  ">=" (a number; "==" and "!=" also take text or true/false), "between" ([low, high],
  both inclusive), "in" / "not_in" (a list), "is_null" / "not_null" (no value).

A missing value (NaN) never satisfies a comparison, "between" or "in".
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_core import numbers
from crm_core.errors import InputError
from crm_core.i18n import translate

COMPARISON_OPS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=")
ORDER_OPS: tuple[str, ...] = ("<", "<=", ">", ">=")
LIST_OPS: tuple[str, ...] = ("in", "not_in")
NULL_OPS: tuple[str, ...] = ("is_null", "not_null")
OPERATORS: tuple[str, ...] = (*COMPARISON_OPS, "between", *LIST_OPS, *NULL_OPS)
MAX_DEPTH = 8
MAX_LIST_ITEMS = 1000
MAX_CONDITIONS = 200
"""Field comparisons in one rule; a real segment or tag needs a handful."""
MAX_RULE_TEXT = 50_000
"""Characters of a rule or a scheme typed as JSON."""

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
    count = count_conditions(condition)
    if count > MAX_CONDITIONS:
        raise InputError(
            "rfm.rule.error.too_many", where=where or "$", count=count, limit=MAX_CONDITIONS
        )


def count_conditions(condition: Any) -> int:
    """The field comparisons (leaves) in a well-formed condition."""
    if not isinstance(condition, Mapping):
        return 0
    if "not" in condition:
        return count_conditions(condition["not"])
    for key in ("all", "any"):
        if key in condition:
            return sum(count_conditions(child) for child in condition[key])
    return 1


def parse_rule_text(text: str, error_key: str) -> Any:
    """JSON typed by a user (a rule or a scheme): InputError for text over MAX_RULE_TEXT
    characters, nesting deeper than the parser goes, or JSON mistakes (`error_key`,
    with the line and column)."""
    if len(text) > MAX_RULE_TEXT:
        raise InputError("rfm.rule.error.too_long", size=len(text), limit=MAX_RULE_TEXT)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            error_key, detail=error.msg, line=error.lineno, column=error.colno
        ) from None
    except RecursionError:
        raise InputError("rfm.rule.error.depth", where="$", limit=MAX_DEPTH) from None


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


CELL_FIELDS: dict[str, tuple[str, ...]] = {
    "rf": ("r_score", "f_score"),
    "r_fm": ("r_score", "fm_score"),
    "rfm": ("r_score", "f_score", "m_score"),
}
"""Score-cell fields and the score each digit stands for (55 on r_fm: R 5, FM 5)."""


VALUE_KEYS: dict[str, str] = {"churn_risk_level": "predict.level.{value}"}
"""Fields whose text values have their own words (high -> 高)."""


def _word_value(value: object, field_name: str, language: str) -> str:
    """A rule's value in words: yes/no for booleans, a level's name, grouped numbers."""
    if isinstance(value, bool):
        return translate(f"rule.words.{'yes' if value else 'no'}", language)
    template = VALUE_KEYS.get(field_name)
    if template is not None and isinstance(value, str):
        key = template.format(value=value)
        text = translate(key, language)
        return value if text == key else text
    return _word_number(value)


def _word_number(value: object) -> str:
    if isinstance(value, bool) or not _is_number(value):
        return str(value)
    return numbers.number_text(value, "value")


def _digits_text(digits: list[int], language: str) -> str:
    """Sorted score digits as runs: [4, 5] -> "4–5", [1, 3] -> "1, 3"."""
    runs: list[list[int]] = []
    for digit in sorted(set(digits)):
        if runs and digit == runs[-1][-1] + 1:
            runs[-1].append(digit)
        else:
            runs.append([digit])
    parts = [
        str(run[0])
        if len(run) == 1
        else translate("rule.words.range", language, low=run[0], high=run[-1])
        for run in runs
    ]
    return translate("app.list_separator", language).join(parts)


def _cells_words(field_name: str, cells: list[object], language: str, label: Any) -> str | None:
    """Score cells read as scores: r_fm in {55, 54, 45} -> "R score 5 and FM score 4–5;
    or R score 4 and FM score 5". None when a value is no cell of the field."""
    axes = CELL_FIELDS[field_name]
    texts = [str(int(cell)) if _is_number(cell) else str(cell) for cell in cells]
    if not texts or any(len(text) != len(axes) or not text.isdigit() for text in texts):
        return None
    by_first: dict[int, list[str]] = {}
    for text in texts:
        by_first.setdefault(int(text[0]), []).append(text[1:])
    groups = []
    for first in sorted(by_first, reverse=True):
        parts = [translate("rule.words.score", language, field=label(axes[0]), value=first)]
        rest = by_first[first]
        if len(axes) == 2:
            digits = _digits_text([int(r) for r in rest], language)
            parts.append(
                translate("rule.words.score", language, field=label(axes[1]), value=digits)
            )
        else:
            pairs = [
                translate("rule.words.and", language).join(
                    translate("rule.words.score", language, field=label(axis), value=digit)
                    for axis, digit in zip(axes[1:], r, strict=True)
                )
                for r in sorted(rest, reverse=True)
            ]
            joined = translate("rule.words.or", language).join(pairs)
            parts.append(
                joined if len(pairs) == 1 else translate("rule.words.group", language, text=joined)
            )
        groups.append(translate("rule.words.and", language).join(parts))
    return translate("rule.words.or", language).join(groups)


def condition_words(condition: Mapping | None, language: str, field_label: Any = None) -> str:
    """A (valid) condition in words of `language`, for managers: "R score 5 and FM
    score 4–5; or R score 4 and FM score 5" rather than "r_fm ∈ {55, 54, 45}";
    `field_label(name)` names the fields (default: the rfm.field.<name> strings)."""

    def default_label(name: str) -> str:
        key = f"rfm.field.{name}"
        text = translate(key, language)
        return name if text == key else text

    label = field_label or default_label
    if condition is None:
        return translate("rule.words.true", language)
    for group, joiner in (("all", "rule.words.and"), ("any", "rule.words.or")):
        if group in condition:
            children = condition[group]
            if not children:
                return translate(
                    "rule.words.true" if group == "all" else "rule.words.false", language
                )
            parts = []
            for child in children:
                text = condition_words(child, language, label)
                nested = "all" in child or "any" in child
                parts.append(translate("rule.words.group", language, text=text) if nested else text)
            return translate(joiner, language).join(parts)
    if "not" in condition:
        inner = condition_words(condition["not"], language, label)
        return translate("rule.words.not", language, text=inner)
    name, op, value = condition["field"], condition["op"], condition.get("value")
    if name in CELL_FIELDS and op in ("==", "in"):
        cells = list(value) if op == "in" else [value]
        words = _cells_words(name, cells, language, label)
        if words is not None:
            return words
    key = f"rule.words.op.{op}"
    if op in NULL_OPS:
        return translate(key, language, field=label(name))
    if op == "between":
        low, high = (_word_number(v) for v in value)
        return translate(key, language, field=label(name), low=low, high=high)
    if op in LIST_OPS:
        items = translate("app.list_separator", language).join(
            _word_value(v, name, language) for v in value
        )
        return translate(key, language, field=label(name), value=items)
    shown = _word_value(value, name, language)
    return translate(key, language, field=label(name), value=shown)


COMBINES: tuple[str, ...] = ("all", "any")
"""How the rule builder joins its rows: all of them (AND) or any of them (OR)."""
_LIST_SPLIT = re.compile(r"\s*[,，、;；]\s*")


@dataclass(frozen=True)
class RuleRow:
    """One row of the rule builder: a field, an operator (OPERATORS) and the value as
    typed ("" for is_null/not_null; "low, high" for between; items separated by
    commas for in/not_in)."""

    field: str
    op: str
    value: str = ""


def _typed_value(text: str, as_text: bool = False) -> Any:
    """A value typed in the builder: the text itself (trimmed) for a text field
    (`as_text`: a code "001" stays "001"), else a number when it reads as one, true or
    false as a bool, else the text."""
    cleaned = text.strip()
    if as_text:
        return cleaned
    if cleaned.lower() in ("true", "false"):
        return cleaned.lower() == "true"
    try:
        number = float(cleaned.replace(",", "")) if cleaned else None
    except ValueError:
        return cleaned
    if number is None or not math.isfinite(number):
        return cleaned
    return int(number) if number.is_integer() and "." not in cleaned else number


def condition_from_rows(
    rows: Sequence[RuleRow], combine: str = "all", text_fields: Iterable[str] = ()
) -> dict:
    """The condition the rule builder's rows make: one leaf for one row, else all/any
    (`combine`) of them. Values are read as typed (`_typed_value`; the fields in
    `text_fields` keep text), lists split at commas; the result is not validated here
    (validate_condition does that with the fields it may read)."""
    if combine not in COMBINES:
        raise InputError("rfm.rule.error.combine", value=combine)
    texts = set(text_fields)
    leaves = []
    for row in rows:
        leaf: dict = {"field": row.field, "op": row.op}
        as_text = row.field in texts
        if row.op in LIST_OPS or row.op == "between":
            items = _LIST_SPLIT.split(row.value.strip())
            leaf["value"] = [_typed_value(item, as_text) for item in items if item]
        elif row.op not in NULL_OPS:
            leaf["value"] = _typed_value(row.value, as_text)
        leaves.append(leaf)
    if len(leaves) == 1:
        return leaves[0]
    return {combine: leaves}


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def rows_of_condition(condition: Any) -> tuple[str, list[RuleRow]] | None:
    """(combine, rows) of a condition the rule builder can show as it is: one
    comparison, or all/any of comparisons, whose values survive the trip through the
    builder's text boxes. None for anything else (a nested rule, a list item holding a
    comma, a malformed rule), which is edited as JSON only."""
    if not isinstance(condition, Mapping):
        return None
    combine, leaves = "all", [condition]
    for group in COMBINES:
        if group in condition:
            combine, leaves = group, condition[group]
    if not isinstance(leaves, list | tuple):
        return None
    rows = []
    for leaf in leaves:
        if not isinstance(leaf, Mapping) or "field" not in leaf or leaf.get("op") not in OPERATORS:
            return None
        op, value = leaf["op"], leaf.get("value")
        if op in LIST_OPS or op == "between":
            if not isinstance(value, list | tuple):
                return None
            items = [_value_text(item) for item in value]
            if any(_LIST_SPLIT.search(item) or not item.strip() for item in items):
                return None  # the text box could not give it back as it is
            text = ", ".join(items)
        elif op in NULL_OPS:
            text = ""
        elif isinstance(value, Mapping | list | tuple) or value is None:
            return None
        else:
            text = _value_text(value)
        rows.append(RuleRow(str(leaf["field"]), str(op), text))
    return (combine, rows) if rows else None


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
