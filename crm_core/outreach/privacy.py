"""Personal data in outputs: masking phone numbers and e-mails, and defusing spreadsheet
formulas in downloaded files. Everything is vectorised (pandas string ops), so a list of
a million customers is masked in about a second.

Masking rules (the masked value never contains more than the digits shown here):

- Phone: separators (spaces, dashes, dots, brackets) are dropped and only digits are
  kept. A Chinese number written with its country code (+86, 0086 or 86 before an
  11-digit mobile) becomes "+86 " plus the masked national number; any other leading
  "+" is kept. With n digits: n >= 11 shows the first 3 and the last 4
  ("13812345678" -> "138****5678"); 8-10 shows the last 4 ("62345678" -> "****5678");
  5-7 shows the last 2; 1-4 shows nothing. A value without digits ("unknown") is masked
  completely, one star per character.
- E-mail: the part before the last "@" keeps its first character, every other
  character becomes a star, the domain stays ("wangfang@example.com" ->
  "w*******@example.com"); a one-character local part becomes "*".
- Missing values (None, NaN, NA) stay missing; empty strings stay empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crm_core.auth import SEE_PERSONAL_DATA, Actor

PERSONAL_COLUMNS: tuple[str, ...] = ("phone", "email", "address")
"""The one list of columns that hold a person's contact: phone, e-mail, and the
contact address a list is sent to (phone or e-mail, by channel)."""

# OWASP CSV injection: cells starting with these are read as formulas by spreadsheets.
# Line feed is in OWASP's current list too; the full-width forms are what a Chinese
# input method types and are neutralised as well, to be safe.
FORMULA_TRIGGERS: tuple[str, ...] = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\n",
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
)
FORMULA_GUARD = "'"

_MAX_STARS = 64
_STARS = np.array(["*" * count for count in range(_MAX_STARS + 1)], dtype=object)
_CHINA_WITH_COUNTRY_CODE = r"(?:0086|86)1\d{10}"


def _stars(counts: pd.Series) -> pd.Series:
    """A string of `count` stars per row (capped at 64), as a str Series."""
    index = np.clip(counts.to_numpy(dtype=np.int64), 0, _MAX_STARS)
    return pd.Series(_STARS[index], index=counts.index, dtype="str")


def _as_text(values: pd.Series) -> pd.Series:
    """The values as a str Series with missing kept; integral floats (a phone column
    read as numbers, 13812345678.0) lose their ".0"."""
    if pd.api.types.is_float_dtype(values):
        finite = values.where(np.isfinite(values.to_numpy(dtype=float)))
        if (finite.dropna() % 1 == 0).all():
            return finite.astype("Int64").astype("str")
    return values.astype("str")


def _mask_phone_text(text: pd.Series) -> pd.Series:
    """Mask non-missing, stripped phone strings (see the module docstring)."""
    has_plus = text.str.startswith("+")
    digits = text.str.replace(r"\D+", "", regex=True)
    is_china = digits.str.fullmatch(_CHINA_WITH_COUNTRY_CODE)
    national = digits.where(~is_china, digits.str[-11:])
    count = national.str.len()
    masked = _stars(text.str.len())  # no digits at all: every character hidden
    bands = (
        (count >= 11, lambda d, n: d.str[:3] + _stars(n - 7) + d.str[-4:]),
        (count.between(8, 10), lambda d, n: _stars(n - 4) + d.str[-4:]),
        (count.between(5, 7), lambda d, n: _stars(n - 2) + d.str[-2:]),
        (count.between(1, 4), lambda d, n: _stars(n)),
    )
    for in_band, mask_band in bands:
        if in_band.all():
            masked = mask_band(national, count)
        elif in_band.any():
            masked[in_band] = mask_band(national[in_band], count[in_band])
    prefix = np.where(is_china, "+86 ", np.where(has_plus & (count > 0), "+", ""))
    return pd.Series(prefix, index=text.index, dtype="str") + masked


def _mask_email_text(text: pd.Series) -> pd.Series:
    """Mask non-missing, stripped e-mail strings (see the module docstring)."""
    parts = text.str.rpartition("@")
    has_at = parts[1] == "@"
    local = parts[0].where(has_at, parts[2])
    length = local.str.len()
    masked_local = (local.str[:1] + _stars(length - 1)).where(length >= 2, _stars(length))
    return masked_local.where(~has_at, masked_local + "@" + parts[2])


def _apply_to_present(values: pd.Series, masker) -> pd.Series:
    text = _as_text(values)
    present = text.notna()
    result = pd.Series(pd.NA, index=values.index, dtype="str")
    if present.any():
        result[present] = masker(text[present].str.strip())
    return result


def mask_phones(values: pd.Series) -> pd.Series:
    """Masked phone numbers, a str Series aligned with `values`."""
    return _apply_to_present(values, _mask_phone_text)


def mask_emails(values: pd.Series) -> pd.Series:
    """Masked e-mail addresses, a str Series aligned with `values`."""
    return _apply_to_present(values, _mask_email_text)


def _mask_contact_text(text: pd.Series) -> pd.Series:
    is_email = text.str.contains("@", regex=False)
    result = pd.Series("", index=text.index, dtype="str")
    if is_email.any():
        result[is_email] = _mask_email_text(text[is_email])
    if (~is_email).any():
        result[~is_email] = _mask_phone_text(text[~is_email])
    return result


def mask_contacts(values: pd.Series) -> pd.Series:
    """Masked contact addresses of either kind: values with an "@" are masked as
    e-mails, the others as phone numbers (for a "channel address" column)."""
    return _apply_to_present(values, _mask_contact_text)


def _scalar(values: pd.Series) -> str | None:
    value = values.iloc[0]
    return None if pd.isna(value) else str(value)


def mask_phone(value: object) -> str | None:
    """One masked phone number ("13812345678" -> "138****5678"); None when missing."""
    return _scalar(mask_phones(pd.Series([value], dtype=object)))


def mask_email(value: object) -> str | None:
    """One masked e-mail ("wangfang@example.com" -> "w*******@example.com")."""
    return _scalar(mask_emails(pd.Series([value], dtype=object)))


_CONTACT_IN_TEXT = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # an e-mail (from the start of its run)
    r"|(?<![\d-])(?:\+?86[ -]?)?1\d{2}[ -]?\d{4}[ -]?\d{4}(?![\d-])"  # a mobile number
    r"|(?<![\d-])\d{7,}(?![\d-])"  # any other run of 7 digits or more
)


def mask_contacts_in_text(values: pd.Series) -> pd.Series:
    """Free text (a file's line that did not split into columns, a customer's comment)
    with the phone numbers and e-mail addresses in it masked as `mask_contacts` masks
    them; missing stays. Every address found is masked in one vectorised call."""
    lines = values.to_numpy(dtype=object)
    spans: list[tuple[int, int, int]] = []
    found: list[str] = []
    for row, line in enumerate(lines):
        if isinstance(line, str):
            for match in _CONTACT_IN_TEXT.finditer(line):
                spans.append((row, match.start(), match.end()))
                found.append(match.group())
    if not found:
        return values.copy()
    masked = mask_contacts(pd.Series(found, dtype="str")).tolist()
    out = lines.copy()
    done = 0
    while done < len(spans):
        row = spans[done][0]
        line, pieces, position = lines[row], [], 0
        while done < len(spans) and spans[done][0] == row:
            _, start, end = spans[done]
            pieces += [line[position:start], masked[done]]
            position = end
            done += 1
        out[row] = "".join([*pieces, line[position:]])
    return pd.Series(out, index=values.index, name=values.name, dtype=values.dtype)


def mask_personal_columns(
    frame: pd.DataFrame, actor: Actor | None, columns: Sequence[str] = PERSONAL_COLUMNS
) -> pd.DataFrame:
    """A copy of `frame` with `columns` masked unless `actor` may see personal data.

    Each listed column present in `frame` is masked with mask_contacts (e-mail rule for
    values with "@", phone rule otherwise); listed columns absent from `frame` are
    ignored, so the same call works whatever columns a user chose to download.
    """
    out = frame.copy()
    if actor is not None and actor.may(SEE_PERSONAL_DATA):
        return out
    for column in columns:
        if column in out.columns:
            out[column] = mask_contacts(out[column])
    return out


def neutralise_text(value: object) -> object:
    """One value made safe for a spreadsheet: a string starting with a formula trigger
    gets a leading apostrophe; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return FORMULA_GUARD + value
    return value


def _neutralise_series(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if not pd.api.types.is_string_dtype(categories.dtype):
            return values
        renamed = [neutralise_text(category) for category in categories]
        if len(set(renamed)) == len(renamed):
            return values.cat.rename_categories(renamed)
        values = values.astype(object)
    if not pd.api.types.is_string_dtype(values.dtype):  # object counts as text here
        return values
    try:
        starts = values.str.startswith(FORMULA_TRIGGERS)
    except AttributeError:  # an object column without any strings
        return values
    starts = starts.astype(object).fillna(False).astype(bool)
    if not starts.any():
        return values
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype(str)
    return values.where(~starts, FORMULA_GUARD + text)


def neutralise_formula(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` that is safe to open in Excel (OWASP CSV injection guidance).

    Every text cell and column header that starts with =, +, -, @, tab, CR or LF (or a
    full-width =, +, -, @) gets a leading apostrophe, so a spreadsheet shows it as text
    instead of evaluating it. Numbers, dates and booleans are left as they are, so -1.5
    stored as a number stays a number; the text "-1+1" becomes "'-1+1".
    """
    out = frame.copy()
    for position in range(out.shape[1]):
        out.isetitem(position, _neutralise_series(out.iloc[:, position]))
    out.columns = [neutralise_text(column) for column in out.columns]
    return out
