"""Import history and rejected rows: what was uploaded, by whom, and what was refused."""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy import Engine, select

from crm_core import models
from crm_core.i18n import DEFAULT_LANGUAGE, translate

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
    detail (the offending value), raw (the row as read, a dict)."""
    table = models.import_rejects
    stmt = (
        select(*(table.c[c] for c in REJECT_COLUMNS))
        .where(table.c.batch_id == batch_id)
        .order_by(table.c.row_number, table.c.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def rejects_table(rejects: pd.DataFrame, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """Rejects laid out for people: row, column, reason (in `language`), reason code,
    value, then the row's original columns."""
    fixed = pd.DataFrame(
        {
            translate("data.rejects.row", language): rejects["row_number"].to_numpy(),
            translate("data.rejects.column", language): rejects["column_name"].to_numpy(),
            translate("data.rejects.reason", language): [
                translate(f"data.reason.{r}", language) for r in rejects["reason"]
            ],
            "reason_code": rejects["reason"].to_numpy(),
            translate("data.rejects.value", language): rejects["detail"].to_numpy(),
        }
    )
    raw = pd.DataFrame(list(rejects["raw"]), index=fixed.index) if len(rejects) else None
    if raw is None or raw.empty:
        return fixed
    raw = raw[[c for c in raw.columns if c not in fixed.columns]]
    return pd.concat([fixed, raw], axis=1)


def rejects_csv(
    source: Engine | pd.DataFrame, batch_id: int | None = None, language: str = DEFAULT_LANGUAGE
) -> bytes:
    """The rejects of an import as CSV (UTF-8 with BOM, so spreadsheet programs show
    Chinese text), from the store by batch id or from a rejects frame."""
    rejects = source if isinstance(source, pd.DataFrame) else import_rejects(source, batch_id or 0)
    buffer = io.StringIO()
    rejects_table(rejects, language).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8-sig")
