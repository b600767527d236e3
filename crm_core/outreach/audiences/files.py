"""The file of a download: its columns (`export_frame`) and its bytes (`render_file`):
CSV in UTF-8 with a BOM so Excel shows Chinese, or XLSX; personal data masked for the
acting user's role, headers translated, every text cell neutralised against formula
injection.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from crm_core.auth import Actor
from crm_core.customers.segments import segment_label
from crm_core.customers.tags import tags_text
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, has_key, translate
from crm_core.outreach.audiences.facts import AudienceFacts
from crm_core.outreach.privacy import mask_personal_columns, neutralise_formula

EXPORT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "name",
    "address",
    "phone",
    "email",
    "segment",
    "tags",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "action",
    "clv_12m",
    "churn_risk",
    "next_best_category",
)
PREDICTION_EXPORT_COLUMNS: tuple[str, ...] = ("clv_12m", "churn_risk")
"""Columns from the newest prediction run (empty for customers it did not score)."""
DEFAULT_EXPORT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "name",
    "address",
    "segment",
    "tags",
    "recency_days",
    "frequency",
    "monetary",
    "action",
)
FILE_FORMATS: dict[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The chosen columns without repeats; InputError for an unknown one or none."""
    chosen = tuple(dict.fromkeys(columns))
    unknown = [name for name in chosen if name not in EXPORT_COLUMNS]
    if unknown or not chosen:
        raise InputError(
            "audiences.error.columns",
            columns=", ".join(unknown) or "-",
            known=", ".join(EXPORT_COLUMNS),
        )
    return chosen


def check_format(file_format: str) -> str:
    """`file_format` when it is one of FILE_FORMATS, else InputError."""
    if file_format not in FILE_FORMATS:
        raise InputError("audiences.error.format", format=file_format)
    return file_format


def segment_action(segment: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The suggested action for a segment (a generic one for segments of custom rules)."""
    key = f"audiences.action.{segment}"
    return translate(key if has_key(key, language) else "audiences.action.default", language)


def _take(values: np.ndarray | pd.Series, positions: np.ndarray) -> pd.Series:
    """values[positions], missing where a position is -1 (a member no longer known)."""
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    known = positions >= 0
    if not len(array):
        return pd.Series([None] * len(positions), dtype=object)
    taken = pd.Series(array[np.where(known, positions, 0)])
    return taken if known.all() else taken.where(known)


def export_frame(
    facts: AudienceFacts,
    positions: np.ndarray,
    columns: Sequence[str],
    channel: str | None,
    language: str = DEFAULT_LANGUAGE,
    customer_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The rows of a download before masking: one per position (row of the facts; -1
    for a member no longer in the facts, whose id comes from `customer_ids`), with the
    `columns` (EXPORT_COLUMNS names) in that order. `address` is the phone for SMS and
    WeCom, the e-mail for e-mail, and without a channel the phone or else the e-mail;
    segment and action are translated; scores are empty for customers not scored."""
    columns = check_columns(columns)
    positions = np.asarray(positions, dtype=np.intp)
    known = positions >= 0
    safe = np.where(known, positions, 0)
    names = facts.assignment.names
    out: dict[str, Any] = {}
    for column in columns:
        if column == "customer_id":
            ids = _take(facts.customer_ids, positions)
            if customer_ids is not None:
                ids = pd.Series(list(customer_ids), dtype="str")
            out[column] = pd.array(ids, dtype="str")
        elif column in ("name", "phone", "email"):
            out[column] = pd.array(_take(facts.features[column], positions), dtype="str")
        elif column == "address":
            phone = pd.array(_take(facts.features["phone"], positions), dtype="str")
            email = pd.array(_take(facts.features["email"], positions), dtype="str")
            if channel == "email":
                out[column] = email
            elif channel in ("sms", "wecom"):
                out[column] = phone
            else:
                out[column] = pd.Series(phone).fillna(pd.Series(email)).array
        elif column in ("segment", "action"):
            segment_names = np.array(names, dtype=object)[facts.assignment.codes[safe]]
            label = segment_label if column == "segment" else segment_action
            labels = {name: label(name, language) for name in names}
            values = pd.Series(segment_names).map(labels)
            out[column] = pd.array(values.where(known), dtype="str")
        elif column == "tags":
            out[column] = pd.array(
                np.where(known, tags_text(facts.tags, safe, language), None), dtype="str"
            )
        elif column in ("r_score", "f_score", "m_score"):
            scores = getattr(facts.assignment, column)[safe]
            out[column] = pd.Series(scores, dtype="Int64").where(known & (scores > 0))
        elif column == "frequency":
            out[column] = pd.array(_take(facts.array(column), positions), dtype="Int64")
        elif column == "next_best_category":
            best = facts.next_best_categories() if facts.purchases is not None else None
            out[column] = pd.array(
                _take(best, positions) if best is not None else [None] * len(positions),
                dtype="str",
            )
        elif column in PREDICTION_EXPORT_COLUMNS:
            values = pd.Series(np.asarray(facts.fields[column], dtype=np.float64))
            out[column] = _take(values, positions).to_numpy(dtype=np.float64)
        else:
            out[column] = _take(facts.array(column), positions).to_numpy(dtype=np.float64)
    return pd.DataFrame(out)


def column_header(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A column's header in `language` (the name itself when not translated)."""
    key = f"audiences.column.{name}"
    return translate(key, language) if has_key(key, language) else name


def render_file(
    frame: pd.DataFrame,
    file_format: str,
    actor: Actor | None,
    language: str = DEFAULT_LANGUAGE,
    *,
    names_as_headers: bool = False,
) -> bytes:
    """The file's bytes: personal columns (address, phone, email) masked unless `actor`
    may see personal data, headers translated, every text cell and header starting with
    =, +, -, @, tab, CR or LF prefixed with an apostrophe; CSV in UTF-8 with a BOM, or
    XLSX. Control characters other than tab, CR and LF are dropped from text."""
    check_format(file_format)
    masked = _whole_numbers_as_integers(mask_personal_columns(frame, actor))
    if not names_as_headers:  # files for scripts keep the column names
        masked.columns = [column_header(name, language) for name in masked.columns]
    safe = neutralise_formula(_without_control_characters(masked))
    if file_format == "csv":
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    return _xlsx_bytes(safe)


WHOLE_NUMBER_COLUMNS = frozenset(
    {"recency_days", "frequency", "r_score", "f_score", "m_score", "csat"}
)
"""Columns of days, counts and scores: whole numbers, even when held as floats because
some are missing. Amounts keep their decimals, whatever their values."""


def _whole_numbers_as_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """WHOLE_NUMBER_COLUMNS as integers, so a file says 794, not 794.0 (missing stays
    empty); a column holding a fraction after all is left as it is."""
    out = frame.copy()
    for position, name in enumerate(out.columns):
        values = out.iloc[:, position]
        if name not in WHOLE_NUMBER_COLUMNS or values.dtype.kind != "f":
            continue
        present = values.dropna().to_numpy()
        if present.size and np.all(np.isfinite(present)) and np.all(np.mod(present, 1) == 0):
            out.isetitem(position, values.astype("Int64"))
    return out


def _without_control_characters(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells and headers without control characters other than tab, CR and LF
    (XML cannot hold them). Removed before neutralising, so "\x01=cmd" cannot turn
    into "=cmd" afterwards."""
    out = frame.copy()
    for position in range(out.shape[1]):
        values = out.iloc[:, position]
        if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            out.isetitem(
                position, values.astype("str").str.replace(_CONTROL_CHARACTERS, "", regex=True)
            )
    out.columns = [_CONTROL_CHARACTERS.sub("", str(name)) for name in out.columns]
    return out


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as one XLSX sheet (openpyxl's write-only mode; missing values become
    empty cells)."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("list")
    sheet.append(list(frame.columns))
    columns = []
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        columns.append(values.astype(object).where(values.notna(), None).tolist())
    for row in zip(*columns, strict=True):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportedFile:
    """A written and recorded download."""

    export_id: int
    content: bytes
    file_name: str
    mime: str
    row_count: int
    member_count: int
