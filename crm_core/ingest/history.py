"""Import history and rejected rows: what was uploaded, by whom, and what was refused."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence

import pandas as pd
from sqlalchemy import Engine, func, select

from crm_core.auth import SEE_PERSONAL_DATA, Actor
from crm_core.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from crm_core.ingest.entities import entity_spec, header_key
from crm_core.outreach.privacy import (
    PERSONAL_COLUMNS,
    mask_contacts,
    mask_contacts_in_text,
    neutralise_formula,
)
from crm_core.store import models

HISTORY_COLUMNS = [
    "id", "created_at", "created_by", "entity", "file_name", "file_sha256", "rows_read",
    "accepted", "rejected", "inserted", "updated", "unchanged", "customers_created",
]  # fmt: skip
REJECT_COLUMNS = ["row_number", "column_name", "reason", "detail", "raw"]


def import_history(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """The newest imports first, one row per import batch (HISTORY_COLUMNS)."""
    table = models.import_batches
    stmt = select(*(table.c[c] for c in HISTORY_COLUMNS)).order_by(table.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def import_rejects(engine: Engine, batch_id: int, limit: int | None = None) -> pd.DataFrame:
    """The rejected rows of one import in file order: row_number, column_name, reason,
    detail (the offending value), raw (the row as read, a dict). A re-upload that changed
    nothing shows the rejects of the import it repeated (stored once)."""
    table = models.import_rejects
    batches = models.import_batches
    holder = select(func.coalesce(batches.c.rejects_of, batches.c.id)).where(
        batches.c.id == batch_id
    )
    stmt = (
        select(*(table.c[c] for c in REJECT_COLUMNS))
        .where(table.c.batch_id == holder.scalar_subquery())
        .order_by(table.c.row_number, table.c.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def batch_mapping(engine: Engine, batch_id: int) -> dict[str, str]:
    """The {column: field} mapping an import used."""
    table = models.import_batches
    with engine.connect() as conn:
        mapping = conn.execute(select(table.c.mapping).where(table.c.id == batch_id)).scalar()
    return dict(mapping or {})


# Words in a header that name a phone number or an e-mail address: Chinese ones anywhere
# in it, English ones as whole words ("Tel No", "contact_no"; not "hotel").
PERSONAL_HEADER_WORDS = (
    "手机", "电话", "邮箱", "邮件", "联系方式", "座机", "固话", "电邮", "传真", "微信",
)  # fmt: skip
PERSONAL_HEADER_PATTERN = re.compile(
    r"(?:^|[^a-z])(?:(?:tele|mobile)?phone|mobile|e-?mail|mail|tel|cell|contact|fax|qq"
    r"|wechat|whatsapp)(?:$|[^a-z])"
)
BAD_LINE_COLUMN = "line"
"""The one raw column of a rejected line that did not split into the file's columns."""


def personal_columns(mapping: dict[str, str], columns: Iterable[str] = ()) -> list[str]:
    """The file's columns that held phone numbers or e-mail addresses: those mapped to
    such a field, and, among `columns`, those no field took whose header names one (an
    orders file's 手机号, kept in its rejected rows): a customer's phone or e-mail alias,
    a header with one of PERSONAL_HEADER_WORDS or PERSONAL_HEADER_PATTERN; and the text
    of lines that did not split into columns (BAD_LINE_COLUMN), which may hold them."""
    aliases = {
        header_key(alias)
        for field in entity_spec("customers").fields
        if field.name in PERSONAL_COLUMNS
        for alias in field.aliases
    }
    mapped = [source for source, field in mapping.items() if field in PERSONAL_COLUMNS]
    named = [
        column
        for column in dict.fromkeys(columns)
        if not mapping.get(column)
        and (
            column == BAD_LINE_COLUMN
            or header_key(column) in aliases
            or any(word in column for word in PERSONAL_HEADER_WORDS)
            or PERSONAL_HEADER_PATTERN.search(column.lower()) is not None
        )
    ]
    return mapped + named


def columns_hidden_from(
    actor: Actor | None, mapping: dict[str, str], rejects: pd.DataFrame
) -> list[str]:
    """The rejected rows' columns to mask for `actor`: none for a role that may see
    personal data, else `personal_columns` of the file and EVERY_CELL (every other cell
    has its phone- and e-mail-shaped text masked: a phone under "receiver", inside a
    remark, or used as the customer id)."""
    if actor is not None and actor.may(SEE_PERSONAL_DATA):
        return []
    return [*personal_columns(mapping, rejected_columns(rejects)), EVERY_CELL]


EVERY_CELL = "\x00every-cell"
"""In `hide`: mask contact-shaped text in every cell, not only the named columns."""


def rejected_columns(rejects: pd.DataFrame) -> list[str]:
    """The file's columns as kept in its rejected rows (their raw dicts), in file order."""
    return list(dict.fromkeys(column for raw in rejects["raw"] for column in raw or {}))


REASON_CODE_COLUMN = "reason_code"
_REJECT_LABEL_KEYS = (
    "data.rejects.row",
    "data.rejects.column",
    "data.rejects.reason",
    "data.rejects.value",
)


def rejects_layout_columns() -> frozenset[str]:
    """The columns `rejects_table` puts before a rejected row's own, in every language:
    a corrected rejects file uploaded again carries them beside the row's columns."""
    labels = {translate(key, language) for key in _REJECT_LABEL_KEYS for language in LANGUAGES}
    return frozenset({*labels, REASON_CODE_COLUMN})


def rejects_table(
    rejects: pd.DataFrame,
    language: str = DEFAULT_LANGUAGE,
    hide: Sequence[str] = (),
) -> pd.DataFrame:
    """Rejects laid out for people: row, column, reason (in `language`), reason code,
    value, then the row's original columns. Columns named in `hide` (a file's phone and
    e-mail columns, for a role that may not see personal data) are masked, in the
    original columns and in the value column of their rejects."""
    value = rejects["detail"].astype(object)
    every_cell = EVERY_CELL in hide
    if hide and len(rejects):
        hidden = rejects["column_name"].isin(list(hide)).to_numpy()
        value = value.where(~hidden, mask_contacts(value.astype("str")).astype(object))
        if every_cell:
            value = value.where(hidden | value.isna(), _masked_text(value))
    fixed = pd.DataFrame(
        {
            translate("data.rejects.row", language): rejects["row_number"].to_numpy(),
            translate("data.rejects.column", language): rejects["column_name"].to_numpy(),
            translate("data.rejects.reason", language): [
                translate(f"data.reason.{r}", language) for r in rejects["reason"]
            ],
            REASON_CODE_COLUMN: rejects["reason"].to_numpy(),
            translate("data.rejects.value", language): value.to_numpy(),
        }
    )
    raw = pd.DataFrame(list(rejects["raw"]), index=fixed.index) if len(rejects) else None
    if raw is None or raw.empty:
        return fixed
    for column in hide:
        if column == BAD_LINE_COLUMN and column in raw.columns:
            raw[column] = mask_contacts_in_text(raw[column])
        elif column in raw.columns:
            raw[column] = mask_contacts(raw[column].astype("str"))
    if every_cell:
        for column in raw.columns:
            if column not in hide:
                raw[column] = _masked_text(raw[column])
    raw = raw[[c for c in raw.columns if c not in fixed.columns]]
    return pd.concat([fixed, raw], axis=1)


def _masked_text(values: pd.Series) -> pd.Series:
    """`values` with phone- and e-mail-shaped text masked (empty cells stay empty)."""
    present = values.notna()
    if not present.any():
        return values
    masked = mask_contacts_in_text(values[present].astype("str"))
    return values.astype(object).where(~present, masked.astype(object))


def rejects_csv(
    source: Engine | pd.DataFrame,
    batch_id: int | None = None,
    language: str = DEFAULT_LANGUAGE,
    hide: Sequence[str] = (),
) -> bytes:
    """The rejects of an import as CSV, from the store by batch id or from a rejects
    frame. UTF-8 with BOM, so spreadsheet programs show Chinese text; cells that a
    spreadsheet would run as a formula get a leading apostrophe (a re-upload of the
    corrected file reads them back without it)."""
    rejects = source if isinstance(source, pd.DataFrame) else import_rejects(source, batch_id or 0)
    buffer = io.StringIO()
    neutralise_formula(rejects_table(rejects, language, hide)).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8-sig")
