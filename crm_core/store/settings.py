"""Shop-wide settings: one JSON value per key in the `settings` table.

The one way a setting is read and written (contact policy, trigger settings, tags, the
data version, the demo shop record). Writes join the caller's transaction.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from crm_core.store.models import settings


def read_setting(bind: Engine | Connection, key: str) -> Any:
    """The JSON value stored under `key`, or None when absent."""
    stmt = select(settings.c.value).where(settings.c.key == key)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            text = conn.execute(stmt).scalar()
    else:
        text = bind.execute(stmt).scalar()
    return None if text is None else json.loads(text)


def write_setting(conn: Connection, key: str, value: Any) -> None:
    """Store `value` as JSON under `key` inside the caller's transaction."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    done = conn.execute(update(settings).where(settings.c.key == key).values(value=text))
    if done.rowcount == 0:
        conn.execute(insert(settings).values(key=key, value=text))


def delete_setting(conn: Connection, key: str) -> None:
    """Remove `key` inside the caller's transaction (nothing when absent)."""
    conn.execute(delete(settings).where(settings.c.key == key))
