"""The data version: a counter in the settings table that grows with every change of the
store's data; caches key on it."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

DATA_VERSION_KEY = "data_version"


def data_version(bind: Engine | Connection) -> int:
    """A counter that grows with every change of the store's data (imports, demo loads,
    merges); caches key on it."""
    from crm_core.store.settings import read_setting

    return int(read_setting(bind, DATA_VERSION_KEY) or 0)


def bump_data_version(conn: Connection) -> int:
    """Increase the data version inside the caller's transaction; returns the new value."""
    from crm_core.store.settings import write_setting

    new_value = data_version(conn) + 1
    write_setting(conn, DATA_VERSION_KEY, new_value)
    return new_value
