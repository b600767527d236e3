"""Numbers as every page shows them: one way per kind of number, in the user's language.

Both languages group thousands with "," and mark decimals with "." (as mainland China
writes them); amounts of money keep two decimals, counts and days none, shares are
percentages with one decimal, and a change of a share is in percentage points ("pp",
"个百分点"). A missing number (None, NaN, infinite) is an em dash.

Pages call `number_text` for texts (tiles, captions, chart labels) and use
`column_format` for table columns, so a number is never formatted twice two ways.
Call them through the module (`numbers.number_text(...)`): a test swaps the function to
find numbers that did not come from here.
"""

from __future__ import annotations

import math

from crm_core.i18n import DEFAULT_LANGUAGE, translate

MISSING = "—"
KINDS: tuple[str, ...] = (
    "count", "money", "share", "percent", "points", "days", "decimal", "score", "p_value",
    "value",
)  # fmt: skip
"""count: whole things (customers, orders); money: an amount in the shop's currency;
share: a fraction 0-1 shown as %; percent: a value already 0-100 shown as %; points: a
difference of shares (0.012 -> 1.2 pp); days: whole days; decimal: a ratio or an
average such as orders per customer; score: an NPS or an average of 1-5 scores;
p_value: a test's p-value (3 decimals); value: a threshold as someone typed it (grouped,
no digit added or dropped: 0.001, 12,345.5)."""

_DIGITS = {
    "count": 0, "money": 2, "share": 1, "percent": 1, "points": 1, "days": 0, "decimal": 2,
    "score": 1, "p_value": 3, "value": 0,
}  # fmt: skip
_COLUMN_FORMATS = {
    "count": "%,d",
    "money": "%,.2f",
    "share": "percent",
    "percent": "%.1f%%",
    "days": "%,d",
    "decimal": "%,.2f",
    "score": "%.1f",
    "p_value": "%.3f",
}


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def number_text(
    value: object, kind: str, language: str = DEFAULT_LANGUAGE, *, signed: bool = False
) -> str:
    """`value` as text for a number of `kind` (KINDS): "12,345", "12,345.60", "12.3%",
    "+1.2 pp"; with `signed`, a plus sign before positive numbers (a change)."""
    if kind not in _DIGITS:
        raise ValueError(f"unknown kind of number {kind!r}; use one of {KINDS}")
    number = _finite(value)
    if number is None:
        return MISSING
    sign = "+" if signed else ""
    digits = _DIGITS[kind]
    if kind in ("share", "percent"):
        shown = number * 100 if kind == "share" else number
        return f"{shown:{sign},.{digits}f}%"
    if kind == "points":
        return translate(
            "numbers.percentage_points", language, value=f"{number * 100:{sign},.{digits}f}"
        )
    if kind == "value":
        return f"{number:{sign},.15g}"
    if digits == 0:
        number = round(number)
    return f"{number:{sign},.{digits}f}"


def column_format(kind: str) -> str:
    """The format of a table column (st.column_config.NumberColumn) holding numbers of
    `kind`, matching `number_text`; shares are fractions 0-1."""
    if kind not in _COLUMN_FORMATS:
        raise ValueError(f"no column format for {kind!r}; use one of {tuple(_COLUMN_FORMATS)}")
    return _COLUMN_FORMATS[kind]
