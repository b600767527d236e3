"""Heavy work on one connection, below SQLAlchemy's statements: the memory and the chunk of
rows it works with, PostgreSQL settings for the transaction (`set_local`) or for a block
(`postgres_settings`), SQLite PRAGMAs for a block (`sqlite_settings`), and the driver's
own cursor (`driver_cursor`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

BULK_MEMORY_MB = 512
"""Memory a bulk transaction may use: SQLite's page cache (random index updates of an
upsert into a large table hit the disk without it), PostgreSQL's work_mem and
maintenance_work_mem (sorts, hashes, index builds)."""

BULK_CHUNK_ROWS = 200_000
"""Rows `bulk_insert` encodes and hands to the driver at a time (one executemany on
SQLite, one write of its COPY on PostgreSQL)."""


def set_local(conn: Connection, settings: dict[str, str]) -> None:
    """PostgreSQL `settings` ({name: value}) for the rest of the caller's transaction."""
    statement = sa.text("SELECT set_config(:name, :value, true)")
    for name, value in settings.items():
        conn.execute(statement, {"name": name, "value": value})


@contextmanager
def sqlite_settings(conn: Connection, settings: dict[str, int]) -> Iterator[None]:
    """SQLite PRAGMA `settings` ({name: value}) on this connection for the block; each
    set back to the value it had before, also when the block raises."""
    before = {name: int(conn.exec_driver_sql(f"PRAGMA {name}").scalar()) for name in settings}
    for name, value in settings.items():
        conn.exec_driver_sql(f"PRAGMA {name}={int(value)}")
    try:
        yield
    finally:
        for name, value in before.items():
            conn.exec_driver_sql(f"PRAGMA {name}={value}")


@contextmanager
def postgres_settings(conn: Connection, settings: dict[str, str]) -> Iterator[None]:
    """PostgreSQL `settings` ({name: value}) for the block, inside the caller's
    transaction; each set back to the value it had before when the block ends. If the
    block raises, the transaction's rollback undoes them."""
    value_of = sa.text("SELECT current_setting(:name)")
    before = {name: conn.execute(value_of, {"name": name}).scalar() for name in settings}
    set_local(conn, settings)
    yield
    set_local(conn, before)


@contextmanager
def driver_cursor(conn: Connection, statement: str) -> Iterator[Any]:
    """The driver's own cursor on `conn`, for what SQLAlchemy does not wrap (executemany
    over a lazy iterator, COPY); closed at the end, and a driver error raised as
    SQLAlchemy's (IntegrityError, DataError, ...) naming `statement`."""
    dbapi = conn.dialect.dbapi
    cursor = conn.connection.driver_connection.cursor()
    try:
        yield cursor
    except dbapi.Error as error:
        raise DBAPIError.instance(
            statement, None, error, dbapi.Error, dialect=conn.dialect
        ) from error
    finally:
        cursor.close()
