"""The store: engine from a URL, SQLite pragmas, schema upgrades, data version, bulk loads.

This is the only module that knows which database it talks to. Everything else uses
SQLAlchemy Core statements that compile on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "crm.db"
SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 30_000

logger = logging.getLogger(__name__)


def database_url() -> str:
    """The store's URL: `DATABASE_URL` from the environment, else from
    .streamlit/secrets.toml, else the SQLite file data/crm.db."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url and SECRETS_PATH.exists():
        with SECRETS_PATH.open("rb") as fh:
            url = str(tomllib.load(fh).get("DATABASE_URL", "")).strip()
    return url or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def normalise_url(url: str) -> str:
    """Map the usual spellings of a PostgreSQL URL onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default: `database_url()`).

    SQLite gets WAL, foreign keys on and a 30 s busy timeout on every connection, and
    its folder is created when missing.
    """
    url = normalise_url(url or database_url())
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def alembic_config(engine: Engine | None = None) -> Any:
    """An Alembic Config for crm_core/migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema up to the newest Alembic revision (idempotent), and create any
    index or foreign-key check a background build left undone (`finish_interrupted_builds`)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
    finish_interrupted_builds(engine)


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the store is at, or None for an empty store."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


INDEX_WAIT_SECONDS = 300.0
"""How long `snapshot_read` waits at most for indexes a background build is creating."""
INDEX_GRACE_SECONDS = 3.0
"""How long `snapshot_read` goes on waiting for a missing index after it last saw a build
under way (or, seeing none, after it found the index missing): the gap before a build's
thread starts, right after the import's commit, and between two of its steps."""


@contextmanager
def snapshot_read(engine: Engine, tables: Sequence[Table]) -> Iterator[Connection]:
    """A transaction in which every statement sees the store as it was at the first one;
    `tables` are the tables its statements read.

    PostgreSQL's default READ COMMITTED gives each statement a snapshot of its own, so
    this asks for REPEATABLE READ, after locking `tables` against a bulk load running in
    them (ACCESS SHARE, taken before the snapshot): rows a bulk load wrote with COPY ...
    FREEZE are visible even to snapshots older than its commit. Python's sqlite3 opens
    no transaction before a SELECT, so each read would see the newest commit; this
    begins one, and SQLite then keeps the snapshot of its first read until the end.

    After a bulk load into PostgreSQL the secondary indexes of `tables` are built in the
    background (`bulk_transaction`); until they exist, this waits: as long as a build
    is under way (this process's thread, or a CREATE INDEX on one of `tables`) and for
    INDEX_GRACE_SECONDS after it was last seen, at most INDEX_WAIT_SECONDS from when a
    missing index was first seen; then it reads without them. Reads planned for those
    indexes can take far longer than the build without them: the Overview's KPIs probe
    the per-customer index once per new customer, a full scan each without it.
    """
    first_missing = last_building = None
    while True:
        with engine.connect() as conn:
            if not is_sqlite(conn):
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                if is_sqlite(conn):
                    conn.exec_driver_sql("BEGIN")
                else:
                    prepare = conn.dialect.identifier_preparer
                    names = ", ".join(prepare.format_table(t) for t in tables)
                    conn.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS SHARE MODE")
                if is_sqlite(conn) or _indexes_exist(conn, tables):
                    yield conn
                    return
                now = time.monotonic()
                first_missing = first_missing or now
                if background_builds_running() or _indexes_being_built(conn, tables):
                    last_building = now
                quiet = now - (last_building or first_missing)
                if quiet > INDEX_GRACE_SECONDS or now - first_missing > INDEX_WAIT_SECONDS:
                    yield conn
                    return
        time.sleep(0.5)


def _indexes_being_built(conn: Connection, tables: Sequence[Table]) -> bool:
    """PostgreSQL: whether a CREATE INDEX on one of `tables` is running."""
    return bool(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_progress_create_index AS p "
                "JOIN pg_class AS c ON c.oid = p.relid "
                "WHERE p.datname = current_database() AND c.relname = ANY(:names)"
            ),
            {"names": [table.name for table in tables]},
        ).scalar()
    )


def _indexes_exist(conn: Connection, tables: Sequence[Table]) -> bool:
    """PostgreSQL: whether every index the models define on `tables` exists."""
    names = [str(ix.name) for table in tables for ix in table.indexes]
    if not names:
        return True
    found = conn.execute(
        sa.text(
            "SELECT count(*) FROM pg_indexes "
            "WHERE schemaname = current_schema() AND indexname = ANY(:names)"
        ),
        {"names": names},
    ).scalar()
    return found == len(names)


BULK_MEMORY_MB = 512
"""Memory a bulk transaction may use: SQLite's page cache (random index updates of an
upsert into a large table hit the disk without it), PostgreSQL's work_mem and
maintenance_work_mem (sorts, hashes, index builds)."""


@contextmanager
def bulk_transaction(engine: Engine, tables: Sequence[Table]) -> Iterator[Connection]:
    """`engine.begin()` for a transaction that writes many rows into `tables`, with
    BULK_MEMORY_MB to work in.

    SQLite checks a foreign key per inserted row, a lookup in the parent's index that
    takes half the time of inserting 10M orders (bench/bench_import.py). Inside this block
    that per-row check is off; instead, before the commit, every foreign key of `tables`
    is checked once, set-based (`check_foreign_keys`), and a row naming a missing parent
    raises IntegrityError and rolls everything back. PostgreSQL keeps its foreign keys on
    (`bulk_load` drops and re-adds them around big loads).

    On PostgreSQL the secondary indexes `bulk_load` drops inside the block are built after
    the commit, by a background thread (`build_in_background`): the rows are committed,
    and every key and foreign key checked, without them. Building the two covering
    indexes of 10M orders takes about 15 s; meanwhile reads of those tables work without
    them (slower) and writes to them wait. The foreign keys `bulk_load` re-adds are
    re-added NOT VALID, their rows checked by one parallel anti-join each
    (`check_foreign_key`), and marked valid by that thread (VALIDATE CONSTRAINT, which
    blocks neither reads nor writes).

    Temporary tables dropped inside the block on SQLite (`drop_temp_table`) are left to
    the end of it, when the connection is closed instead of going back to the pool:
    dropping a table of 10M staged rows reads every page of it (about 5 s), closing the
    connection deletes the file they are in.

    SQLite's commit would also checkpoint: copy every page the transaction wrote from the
    write-ahead log into the database file, about 7 s after loading 10M orders. The
    rows are committed and visible in the log without it (and survive a crash of the
    app; as always with synchronous=NORMAL, they reach the disk for certain when the log
    is checkpointed), so the block's connection does not checkpoint at commit; a
    background thread does it right after (`checkpoint_in_background`).
    """
    if engine.dialect.name != "sqlite":
        deferred: list[Deferred] = []
        with engine.connect() as conn:
            conn.info[_DEFERRED] = deferred
            try:
                with conn.begin():
                    memory = f"{BULK_MEMORY_MB}MB"
                    set_local(conn, {"work_mem": memory, "maintenance_work_mem": memory})
                    yield conn
            finally:
                conn.info.pop(_DEFERRED, None)
        build_in_background(engine, deferred)
        return
    cache = -BULK_MEMORY_MB * 1024
    settings = {
        "foreign_keys": 0,
        "cache_size": cache,
        "temp.cache_size": cache,  # staging tables
        "wal_autocheckpoint": 0,
    }
    with engine.connect() as conn:
        conn.info[_BULK_CONNECTION] = True
        try:
            with _sqlite_settings(conn, settings):  # foreign_keys only changes outside BEGIN
                conn.commit()
                with conn.begin():
                    yield conn
                    check_foreign_keys(conn, tables)
            conn.commit()
        finally:
            conn.info.pop(_BULK_CONNECTION, None)
            try:
                # Opened first: while its connection holds the database open, closing
                # this one does not checkpoint on the way out.
                checkpoint_in_background(engine)
            finally:
                if conn.info.pop(_TEMP_TABLES_LEFT, False):
                    conn.invalidate()  # closing it deletes its temporary tables' file


_checkpoint_threads: dict[str, threading.Thread] = {}
_checkpoint_again: set[str] = set()
_checkpoint_results: dict[str, tuple[int, int, int]] = {}
_checkpoint_lock = threading.Lock()


def checkpoint_in_background(engine: Engine) -> None:
    """Copy the write-ahead log of `engine`'s SQLite file into the database file on a
    thread of its own (PRAGMA wal_checkpoint(PASSIVE): readers and writers go on
    meanwhile). When one is still running for that file, it runs once more after the
    current pass (which may have started before the latest commit). The thread's
    connection is open before this returns. No-op for PostgreSQL and in-memory
    databases. The thread is not a daemon, so a command-line import exits only after it;
    a failed checkpoint is left to SQLite's next automatic one."""
    url = engine.url
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if path.startswith("file:"):
        return  # URI file names carry options a plain connect would drop
    with _checkpoint_lock:
        if path in _checkpoint_threads:
            _checkpoint_again.add(path)
            return
        try:
            connection = sqlite3.connect(
                path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error:
            return
        thread = threading.Thread(
            target=_checkpoint, args=(path, connection), name=f"checkpoint {path}"
        )
        _checkpoint_threads[path] = thread
        thread.start()


def _checkpoint(path: str, connection: sqlite3.Connection) -> None:
    """Checkpoint until no new request came in during the last pass; then leave the
    registry (under the lock, so a request either makes this loop or starts a thread)."""
    try:
        while True:
            try:
                result = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:
                result = None
            with _checkpoint_lock:
                if result is not None:
                    _checkpoint_results[path] = (int(result[0]), int(result[1]), int(result[2]))
                if path not in _checkpoint_again:
                    del _checkpoint_threads[path]
                    return
                _checkpoint_again.discard(path)
    finally:
        connection.close()


def wait_for_checkpoints() -> dict[str, tuple[int, int, int]]:
    """Wait until every background checkpoint has finished; returns {database file:
    (busy, frames in the log, frames copied)} of each file's last completed one."""
    with _checkpoint_lock:
        threads = list(_checkpoint_threads.values())
    for thread in threads:
        thread.join()
    with _checkpoint_lock:
        return dict(_checkpoint_results)


_build_threads: set[threading.Thread] = set()
_build_lock = threading.Lock()
Deferred = sa.Index | sa.ForeignKeyConstraint
"""Schema work a PostgreSQL bulk load leaves to after its commit: an index to create, a
foreign key (added NOT VALID, its rows already checked) to validate."""


def build_in_background(engine: Engine, work: Sequence[Deferred]) -> None:
    """Do `work` (`_build`) on a thread of its own. Not a daemon: a command-line import
    exits only after it. A step that fails (the server went away) is logged and left to
    `finish_interrupted_builds`, which the next `upgrade_to_head` runs."""
    if not work:
        return
    thread = threading.Thread(target=_build_and_leave, args=(engine, _in_order(work)), name="build")
    with _build_lock:
        _build_threads.add(thread)
    thread.start()


def _build_and_leave(engine: Engine, work: list[Deferred]) -> None:
    try:
        _build(engine, work)
    finally:
        with _build_lock:
            _build_threads.discard(threading.current_thread())


def _in_order(work: Sequence[Deferred]) -> list[Deferred]:
    """`work` without repeats (a foreign key re-added by two bulk loads), the indexes
    first: validating a foreign key then reads the index on its columns."""
    unique = list({(type(item), item.name): item for item in work}.values())
    return sorted(unique, key=lambda item: not isinstance(item, sa.Index))


def _build(engine: Engine, work: list[Deferred]) -> None:
    """In the given order, one transaction each: CREATE INDEX IF NOT EXISTS an index,
    VALIDATE CONSTRAINT a foreign key. A failure is logged and the next step tried."""
    for item in work:
        try:
            with engine.begin() as conn:
                if isinstance(item, sa.Index):
                    if not is_sqlite(conn):
                        set_local(conn, {"maintenance_work_mem": f"{BULK_MEMORY_MB}MB"})
                    conn.execute(sa.schema.CreateIndex(item, if_not_exists=True))
                else:
                    name = conn.dialect.identifier_preparer.format_table(item.table)
                    constraint = conn.dialect.identifier_preparer.format_constraint(item)
                    conn.exec_driver_sql(f"ALTER TABLE {name} VALIDATE CONSTRAINT {constraint}")
        except Exception:  # a thread of its own: log it, go on with the next step
            logger.warning("building %s failed", item.name, exc_info=True)


def background_builds_running() -> bool:
    """Whether a background build (`build_in_background`) is under way."""
    with _build_lock:
        return bool(_build_threads)


def wait_for_background_builds() -> None:
    """Wait until every background build has finished."""
    with _build_lock:
        threads = list(_build_threads)
    for thread in threads:
        thread.join()


def finish_interrupted_builds(engine: Engine) -> list[str]:
    """Create every index of the models that the store lacks, and validate every foreign
    key left NOT VALID (a background build that did not finish), unless a build of this
    process is under way; skips an index of a table on which a CREATE INDEX is running
    at that moment (another process's build). Returns the names of what was done."""
    from crm_core.store import models

    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    work: list[Deferred] = []
    for table in models.metadata.sorted_tables:
        if table.name in tables and table.indexes:
            present = {ix["name"] for ix in inspector.get_indexes(table.name)}
            work += [ix for ix in table.indexes if ix.name not in present]
    if not is_sqlite(engine):
        with engine.connect() as conn:
            not_valid = set(
                conn.scalars(
                    sa.text(
                        "SELECT conname FROM pg_constraint WHERE contype = 'f' "
                        "AND NOT convalidated AND connamespace = current_schema()::regnamespace"
                    )
                )
            )
        work += [
            fk
            for table in models.metadata.sorted_tables
            for fk in table.foreign_key_constraints
            if fk.name in not_valid
        ]
    if work and not is_sqlite(engine):
        with engine.connect() as conn:  # another process may be building them right now
            work = [
                item
                for item in work
                if not isinstance(item, sa.Index) or not _indexes_being_built(conn, [item.table])
            ]
    if not work or background_builds_running():
        return []
    _build(engine, _in_order(work))
    return [str(item.name) for item in work]


@contextmanager
def _sqlite_settings(conn: Connection, settings: dict[str, int]) -> Iterator[None]:
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


def set_local(conn: Connection, settings: dict[str, str]) -> None:
    """PostgreSQL `settings` ({name: value}) for the rest of the caller's transaction."""
    statement = sa.text("SELECT set_config(:name, :value, true)")
    for name, value in settings.items():
        conn.execute(statement, {"name": name, "value": value})


@contextmanager
def _postgres_settings(conn: Connection, settings: dict[str, str]) -> Iterator[None]:
    """PostgreSQL `settings` ({name: value}) for the block, inside the caller's
    transaction; each set back to the value it had before when the block ends. If the
    block raises, the transaction's rollback undoes them."""
    value_of = sa.text("SELECT current_setting(:name)")
    before = {name: conn.execute(value_of, {"name": name}).scalar() for name in settings}
    set_local(conn, settings)
    yield
    set_local(conn, before)


def check_foreign_keys(conn: Connection, tables: Sequence[Table]) -> None:
    """Raise IntegrityError when a row of `tables` names a parent row that does not exist
    (`check_foreign_key` for each of their foreign keys)."""
    for table in tables:
        for fk in table.foreign_key_constraints:
            check_foreign_key(conn, fk)


def check_foreign_key(conn: Connection, fk: sa.ForeignKeyConstraint) -> None:
    """Raise IntegrityError when a row of `fk`'s table names a parent row that does not
    exist: one anti-join. On SQLite over the distinct non-null key values, read from an
    index that leads with them (about 1 s for 10M orders against 1M customers); on
    PostgreSQL over the rows, which runs in parallel (3.1 s, against 6.3 s for the
    single-process check of ADD CONSTRAINT).
    """
    table = fk.table
    columns = [table.c[c.name] for c in fk.columns]
    parent = fk.referred_table
    keys = select(*columns).where(*(c.is_not(None) for c in columns))
    keys = (keys.distinct() if is_sqlite(conn) else keys).subquery("child_keys")
    match = sa.and_(
        *(parent.c[element.column.name] == keys.c[element.parent.name] for element in fk.elements)
    )
    missing = conn.execute(select(*keys.c).where(~sa.exists().where(match)).limit(1)).first()
    if missing is not None:
        raise sa.exc.IntegrityError(
            f"check foreign key {fk.name}",
            None,
            ValueError(
                f"{table.name} row names {dict(missing._mapping)}, missing in {parent.name}"
            ),
        )


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


BULK_CHUNK_ROWS = 200_000


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert every row of `frame` into `table` inside the caller's transaction.

    Columns of `frame` must be columns of `table`; NaN/NaT/None become NULL. SQLite gets
    one prepared executemany per chunk; PostgreSQL gets COPY. Returns the rows written.
    """
    if frame.empty:
        return 0
    columns = list(frame.columns)
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise ValueError(f"columns not in table {table.name}: {unknown}")
    if not conn.in_transaction():
        conn.begin()  # the driver's cursor below bypasses SQLAlchemy's autobegin
    if conn.dialect.name == "postgresql":
        return _copy_into_postgres(conn, table, frame)
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES ({', '.join('?' for _ in columns)})"
    )
    written = 0
    with _driver_cursor(conn, sql) as cursor:
        for start in range(0, len(frame), BULK_CHUNK_ROWS):
            chunk = frame.iloc[start : start + BULK_CHUNK_ROWS]
            # A lazy zip: the driver binds each row and drops it, so zip reuses one tuple
            # (no 200k tuples to allocate, and none for the garbage collector to scan).
            cursor.executemany(sql, zip(*_python_columns(chunk, table), strict=True))
            written += len(chunk)
    return written


@contextmanager
def _driver_cursor(conn: Connection, statement: str) -> Iterator[Any]:
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


def _is_date_column(table: Table, name: str) -> bool:
    """A DATE column (a calendar day, stored without a time)."""
    column_type = table.c[name].type
    return isinstance(column_type, sa.Date) and not isinstance(column_type, sa.DateTime)


def _python_columns(frame: pd.DataFrame, table: Table) -> list[list]:
    """Each column as a list of plain Python values with None for missing; timestamps as
    ISO strings (how SQLAlchemy stores DateTime and Date in SQLite)."""
    series_list = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col) and not isinstance(
            col.dtype, pd.DatetimeTZDtype
        ):
            series_list.append(_sqlite_datetimes(col, _is_date_column(table, name)))
            continue
        if pd.api.types.is_datetime64_any_dtype(col):
            fmt = "%Y-%m-%d" if _is_date_column(table, name) else "%Y-%m-%d %H:%M:%S.%f"
            values = col.dt.strftime(fmt).astype(object).where(col.notna(), None)
        elif col.dtype == np.bool_:
            values = col.astype(np.int64)
        elif pd.api.types.is_bool_dtype(col):
            values = (
                col.astype(object)
                .where(col.notna(), None)
                .map(lambda v: None if v is None else int(v))
            )
        elif pd.api.types.is_float_dtype(col):
            values = col.astype(object).where(np.isfinite(col.to_numpy(dtype=float)), None)
        else:
            values = col.astype(object).where(col.notna(), None)
        series_list.append(values.tolist())
    return series_list


def _sqlite_datetimes(col: pd.Series, is_date: bool) -> list[str | None]:
    """Naive timestamps as SQLAlchemy writes them to SQLite ('2024-03-05 14:30:00.000000',
    or '2024-03-05' for a DATE column), None for NaT; formatted by Arrow (3x faster than
    strftime)."""
    values = pa.array(col.astype("datetime64[us]"), from_pandas=True)
    text = values.cast(pa.date32()).cast(pa.string()) if is_date else values.cast(pa.string())
    return text.to_numpy(zero_copy_only=False).tolist()


def _copy_into_postgres(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    from psycopg.copy import QueuedLibpqWriter

    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in frame.columns)
    target = conn.dialect.identifier_preparer.format_table(table)
    savepoint, renewed = conn.info.get(_FROZEN_COPY_TABLES) or (None, ())
    frozen = table.name in renewed and conn.get_nested_transaction() is savepoint
    freeze = ", FREEZE" if frozen else ""  # FREEZE fails in a later savepoint
    encoders = _binary_encoders(conn, table, frame)
    if encoders is None:
        sql = f"COPY {target} ({quoted}) FROM STDIN (FORMAT csv, NULL '\\N'{freeze})"
    else:
        sql = f"COPY {target} ({quoted}) FROM STDIN (FORMAT binary{freeze})"
    written = 0
    # The queued writer sends on a thread of its own: the next chunk is encoded while the
    # server still reads the last one.
    with (
        _driver_cursor(conn, f"COPY {target}") as cursor,
        cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy,
    ):
        if encoders is not None:
            copy.write(_BINARY_COPY_HEADER)
        for start in range(0, len(frame), BULK_CHUNK_ROWS):
            chunk = frame.iloc[start : start + BULK_CHUNK_ROWS]
            if encoders is None:
                copy.write(_copy_csv(chunk, table))
            else:
                copy.write(_copy_binary(chunk, encoders))
            written += len(chunk)
        if encoders is not None:
            copy.write(_BINARY_COPY_TRAILER)
    return written


# --- COPY in PostgreSQL's binary format ------------------------------------------------
# The server reads binary values as they are, where it parses every timestamp and number
# of a CSV row: COPY of 10M orders took 6.6-7.0 s against 10.5-11.4 s as CSV.

_BINARY_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_BINARY_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_POSTGRES_EPOCH_US = int(np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64))
_POSTGRES_EPOCH_DAYS = int(np.datetime64("2000-01-01", "D").astype(np.int64))
_NULL_FIELD = np.frombuffer((-1).to_bytes(4, "big", signed=True), dtype=np.uint8)
_SERVER_ENCODING = "crm_server_encoding"
_EXACT_FLOAT_INTEGERS = 2.0**53  # every integer below it is a float exactly

_Field = tuple[np.ndarray, np.ndarray | None] | pa.Array
"""One column of a chunk, encoded: (values as an (n, width) array of bytes, valid mask or
None when none is missing), or text as a large_string Arrow array."""
_Encoder = Callable[[pd.Series], _Field]


def _binary_encoders(conn: Connection, table: Table, frame: pd.DataFrame) -> list[_Encoder] | None:
    """An encoder per column of `frame` when COPY may take it in binary format, else None
    (CSV): every column must be one of text, naive timestamp or date, number or boolean,
    with every value in its column's range, and the server must store text as UTF-8
    (binary text skips the conversion from the client's encoding)."""
    if _SERVER_ENCODING not in conn.info:
        encoding = conn.exec_driver_sql("SHOW server_encoding").scalar()
        conn.info[_SERVER_ENCODING] = encoding
    if conn.info[_SERVER_ENCODING] != "UTF8":
        return None
    encoders = []
    for name in frame.columns:
        encoder = _binary_encoder(frame[name], table.c[name].type)
        if encoder is None:
            return None
        encoders.append(encoder)
    return encoders


def _binary_encoder(col: pd.Series, column_type: sa.types.TypeEngine) -> _Encoder | None:
    """How to encode `col` for a column of `column_type` in binary, or None if this module
    does not (then the whole COPY goes as CSV, and the server reports what is wrong)."""
    dtype = col.dtype
    if isinstance(column_type, sa.String):
        return _text_field if isinstance(dtype, pd.StringDtype) else None
    if isinstance(column_type, sa.DateTime):
        if column_type.timezone or not _naive_datetimes(dtype):
            return None
        return _timestamp_field
    if isinstance(column_type, sa.Date):
        return _date_field if _naive_datetimes(dtype) else None
    if isinstance(column_type, sa.Boolean):
        return _boolean_field if pd.api.types.is_bool_dtype(dtype) else None
    if isinstance(column_type, sa.Integer):
        if not pd.api.types.is_integer_dtype(dtype):
            return None
        width = _integer_width(column_type)
        limit = 2 ** (8 * width - 1)
        present = col.dropna()
        if len(present) and not (-limit <= present.min() and present.max() < limit):
            return None
        return lambda chunk: _integer_field(chunk, width)
    if isinstance(column_type, sa.Float):  # double precision; REAL and float32 go as CSV
        single = isinstance(column_type, sa.REAL) or column_type.precision is not None
        return None if single or dtype != np.float64 else _float_field
    if isinstance(column_type, sa.Numeric):
        precision, scale = column_type.precision, column_type.scale
        if precision is None or scale is None or dtype != np.float64:
            return None
        magnitudes = np.abs(col.to_numpy(dtype=float, na_value=np.nan))
        largest = np.nanmax(magnitudes, initial=0.0) * 10.0**scale
        if not largest + 0.5 < min(10.0**precision, _EXACT_FLOAT_INTEGERS):
            return None  # may round out of the column's range: CSV, the server's own error
        return lambda chunk: _numeric_field(chunk, precision, scale)
    return None


def _integer_width(column_type: sa.Integer) -> int:
    """Bytes of the column's integer type on PostgreSQL."""
    if isinstance(column_type, sa.BigInteger):
        return 8
    return 2 if isinstance(column_type, sa.SmallInteger) else 4


def _naive_datetimes(dtype: Any) -> bool:
    """NumPy timestamps without a zone, in a unit that converts to microseconds without
    overflow (a zone, or an Arrow timestamp type, goes as CSV)."""
    return (
        isinstance(dtype, np.dtype)
        and dtype.kind == "M"
        and np.datetime_data(dtype)[0] in ("ns", "us")
    )


def _fixed(values: np.ndarray, valid: np.ndarray | None) -> _Field:
    """Big-endian values (one per row, or one row of several per row) as an (n, width)
    byte array."""
    raw = np.ascontiguousarray(values)
    return raw.view(np.uint8).reshape(len(raw), -1), valid


def _text_field(col: pd.Series) -> _Field:
    column = pa.Table.from_pandas(col.to_frame(), preserve_index=False).column(0)
    return column.cast(pa.large_string()).combine_chunks()


def _timestamp_field(col: pd.Series) -> _Field:
    """Microseconds since 2000-01-01 (naive, as the timestamp column stores them)."""
    values = col.to_numpy(dtype="datetime64[us]")
    valid = ~np.isnat(values)
    micros = values.astype(np.int64) - _POSTGRES_EPOCH_US
    return _fixed(micros.astype(">i8"), None if valid.all() else valid)


def _date_field(col: pd.Series) -> _Field:
    """Days since 2000-01-01 (the day of a timestamp)."""
    values = col.to_numpy(dtype="datetime64[us]")
    valid = ~np.isnat(values)
    days = values.astype("datetime64[D]").astype(np.int64) - _POSTGRES_EPOCH_DAYS
    return _fixed(days.astype(">i4"), None if valid.all() else valid)


def _boolean_field(col: pd.Series) -> _Field:
    """One byte, 1 or 0."""
    valid = col.notna().to_numpy()
    values = col.fillna(False).to_numpy(dtype=bool).astype(np.uint8)
    return _fixed(values, None if valid.all() else valid)


def _integer_field(col: pd.Series, width: int) -> _Field:
    """`width` bytes, two's complement (the range was checked by _binary_encoder)."""
    valid = col.notna().to_numpy()
    values = col.to_numpy(dtype=np.int64, na_value=0).astype(f">i{width}")
    return _fixed(values, None if valid.all() else valid)


def _float_field(col: pd.Series) -> _Field:
    """An 8-byte IEEE double; NaN is NULL, as in the CSV path."""
    values = col.to_numpy(dtype=float, na_value=np.nan)
    valid = ~np.isnan(values)
    return _fixed(values.astype(">f8"), None if valid.all() else valid)


def _scaled_integers(values: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(|value| * 10**scale rounded half away from zero, valid mask): what the server
    stores from the shortest decimal text of each float, as the CSV path sends it
    (1.005 -> 1.01, 0.125 -> 0.13, 0.004999999999 -> 0.00). NaN is NULL, as in the CSV
    path. None when a value is infinite or too large to scale exactly (then CSV)."""
    valid = ~np.isnan(values)
    shifted = np.abs(np.where(valid, values, 0.0)) * 10.0**scale
    if not np.isfinite(shifted).all() or (shifted >= _EXACT_FLOAT_INTEGERS).any():
        return None
    rounded = np.floor(shifted + 0.5)
    # Within a few ulps of a half, the product's own rounding or the distance between the
    # float and its shortest text can decide the side: those values are rounded from
    # their text, one by one (money with at most `scale` decimals has none).
    near = np.abs(shifted - np.floor(shifted) - 0.5) <= 8 * np.spacing(shifted)
    for i in np.flatnonzero(near & valid):
        text = Decimal(repr(abs(float(values[i]))))
        rounded[i] = float(text.scaleb(scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return rounded.astype(np.int64), valid


def _numeric_field(col: pd.Series, precision: int, scale: int) -> _Field:
    """PostgreSQL's numeric: ndigits, weight, sign, dscale, then base-10000 digits, most
    significant first. Leading and trailing zero digits are allowed; the server strips
    them."""
    values = col.to_numpy(dtype=float, na_value=np.nan)
    scaled = _scaled_integers(values, scale)
    if scaled is None or (scaled[0] >= 10**precision).any():  # _binary_encoder checked
        raise ValueError(f"a value out of numeric({precision}, {scale}) in binary COPY")
    magnitude, valid = scaled
    integer_digits = -(-(precision - scale) // 4)
    fraction_digits = -(-scale // 4)
    whole, fraction = np.divmod(magnitude, 10**scale)
    fraction = fraction * 10 ** (4 * fraction_digits - scale)
    record = np.zeros((len(values), 4 + integer_digits + fraction_digits), dtype=">i2")
    record[:, 0] = integer_digits + fraction_digits
    record[:, 1] = integer_digits - 1
    record[:, 2] = np.where((values < 0) & (magnitude > 0), 0x4000, 0)
    record[:, 3] = scale
    for i in range(integer_digits):
        record[:, 4 + i] = whole // 10 ** (4 * (integer_digits - 1 - i)) % 10000
    for i in range(fraction_digits):
        record[:, 4 + integer_digits + i] = (
            fraction // 10 ** (4 * (fraction_digits - 1 - i)) % 10000
        )
    return _fixed(record, None if valid.all() else valid)


def _copy_binary(chunk: pd.DataFrame, encoders: list[_Encoder]) -> bytes:
    """The rows of `chunk` in COPY's binary format: per row the field count, then per
    field its length (-1 for NULL) and its bytes. Written with NumPy scatters into one
    buffer, a column at a time."""
    fields = [encode(chunk[name]) for encode, name in zip(encoders, chunk.columns, strict=True)]
    rows = len(chunk)
    lengths = []  # bytes each field takes in each row, its length word included
    text_sizes = {}  # field index -> _text_sizes of that text field
    for index, field in enumerate(fields):
        if isinstance(field, pa.Array):
            text_sizes[index] = _text_sizes(field)
            lengths.append(4 + text_sizes[index][0])
        else:
            values, valid = field
            size = np.full(rows, 4 + values.shape[1], dtype=np.int64)
            if valid is not None:
                size[~valid] = 4
            lengths.append(size)
    row_sizes = 2 + np.sum(lengths, axis=0)
    starts = np.cumsum(row_sizes) - row_sizes
    out = np.empty(int(row_sizes.sum()), dtype=np.uint8)
    count = len(fields).to_bytes(2, "big")
    out[starts] = count[0]
    out[starts + 1] = count[1]
    position = starts + 2
    for index, (field, size) in enumerate(zip(fields, lengths, strict=True)):
        if isinstance(field, pa.Array):
            _scatter_text(out, position, field, *text_sizes[index])
        else:
            _scatter_fixed(out, position, *field)
        position = position + size
    return out.tobytes()


def _scatter_fixed(
    out: np.ndarray, position: np.ndarray, values: np.ndarray, valid: np.ndarray | None
) -> None:
    width = values.shape[1]
    word = np.frombuffer(width.to_bytes(4, "big"), dtype=np.uint8)
    if valid is None:
        out[position[:, None] + np.arange(4)] = word
        out[position[:, None] + 4 + np.arange(width)] = values
        return
    out[position[valid, None] + np.arange(4)] = word
    out[position[valid, None] + 4 + np.arange(width)] = values[valid]
    out[position[~valid, None] + np.arange(4)] = _NULL_FIELD


def _text_sizes(text: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """(UTF-8 bytes of each value, 0 for NULL; valid mask or None when none is NULL)."""
    offsets = np.frombuffer(text.buffers()[1], np.int64, len(text) + 1, text.offset * 8)
    sizes = np.diff(offsets)
    if not text.null_count:
        return sizes, None
    valid = text.is_valid().to_numpy(zero_copy_only=False)
    return np.where(valid, sizes, 0), valid


def _scatter_text(
    out: np.ndarray,
    position: np.ndarray,
    text: pa.Array,
    sizes: np.ndarray,
    valid: np.ndarray | None,
) -> None:
    """Length words (-1 for NULL), then the values' UTF-8 bytes copied in one scatter
    (`sizes`, `valid`: `_text_sizes` of `text`)."""
    words = sizes.astype(">i4")
    if valid is not None:
        words[~valid] = -1
    out[position[:, None] + np.arange(4)] = words.view(np.uint8).reshape(-1, 4)
    total = int(sizes.sum())
    if not total:
        return
    offsets = np.frombuffer(text.buffers()[1], np.int64, len(text) + 1, text.offset * 8)
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if valid is not None:  # Arrow may keep bytes under a NULL slot: skip them
        data = data[np.repeat(valid, np.diff(offsets))]
    starts = np.cumsum(sizes) - sizes  # of each value in `data`
    shift = np.repeat(position + 4 - starts, sizes)
    out[np.arange(total) + shift] = data


def _copy_csv(chunk: pd.DataFrame, table: Table) -> bytes:
    """`chunk` as CSV for COPY, NULL written as \\N: Arrow's CSV writer when every column
    converts to one Arrow type, else pandas (e.g. a column of mixed Python objects)."""
    out = chunk.copy(deep=False)
    for name in out.columns:
        col = out[name]
        if not pd.api.types.is_datetime64_any_dtype(col):
            continue
        if _is_date_column(table, name):
            out[name] = col.dt.strftime("%Y-%m-%d")
        elif isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = col.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        else:
            out[name] = col.astype("datetime64[us]")
    try:
        arrow = pa.Table.from_pandas(out, preserve_index=False)
        plain = pa.schema(
            [
                pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in arrow.schema
            ]
        )
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(
            arrow.cast(plain),
            sink,
            pa_csv.WriteOptions(include_header=False, null_string="\\N"),
        )
        return sink.getvalue().to_pybytes()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.dt.strftime("%Y-%m-%d %H:%M:%S.%f").where(col.notna(), None)
        elif pd.api.types.is_bool_dtype(col):
            out[name] = col.map({True: "t", False: "f"})
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep="\\N")
    return buffer.getvalue().encode("utf-8")


SQLITE_SORT_THREADS = 4
"""Helper threads SQLite may use to sort while it builds an index (PRAGMA threads). More
than the cores help too, as sorting runs overlaps writing them: a 4-column index over
10M orders on 2 cores took 7.0 s with 1 helper, 5.8 s with 4 (means of 3 runs)."""
SQLITE_SORT_CACHE_KIB = 2_000
"""SQLite's page cache while it builds indexes (its default): the sorter then works in
small runs that the helper threads sort in parallel."""


@contextmanager
def bulk_load(conn: Connection, tables: Sequence[Table]) -> Iterator[bool]:
    """Load many rows into `tables` faster, inside the caller's transaction.

    Their secondary indexes are dropped now and rebuilt when the block ends; inside a
    PostgreSQL `bulk_transaction` the non-unique ones after its commit, in the
    background (see there). On
    PostgreSQL their primary keys and foreign keys go too, with the foreign keys of other
    tables that refer to them: each is re-added when the block ends, so every row is
    checked in one pass (inside a PostgreSQL `bulk_transaction` by `check_foreign_key`,
    and again by VALIDATE CONSTRAINT after the commit), and the statistics are refreshed
    (10M orders: COPY 7.4 s and building the key 2.7 s, against 21 s for COPY into a
    table that keeps its key).
    SQLite cannot drop a primary key; rows given in key order append to its index.
    On PostgreSQL a table that is empty is also truncated, so COPY writes its rows frozen
    (`_renew_empty_tables`).
    The block gets True when rows should come in key order (SQLite), False when their
    order does not matter. SQLite sorts for the rebuilt indexes with helper threads and
    a small page cache: its sorter then merges many small runs sorted in parallel, where
    a large cache makes one big single-threaded sort (a 4-column index over 10M orders:
    6 s against 17 s with a 1 GB cache).
    For loading into empty or small tables (rebuilding costs more than it saves when few
    rows are added). The drops are part of the transaction: if the block raises, the
    caller's rollback restores them.
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")  # pysqlite runs DDL outside a transaction otherwise
    inspector = sa.inspect(conn)
    indexes = []
    primary_keys = []
    foreign_keys: dict[tuple[str, str], sa.ForeignKeyConstraint] = {}
    for table in tables:
        present = {ix["name"] for ix in inspector.get_indexes(table.name)}
        indexes += [ix for ix in table.indexes if ix.name in present]
        if sqlite:
            continue
        if inspector.get_pk_constraint(table.name).get("name") == table.primary_key.name:
            primary_keys.append(table.primary_key)
        for other in table.metadata.tables.values():
            if other is not table and not any(
                fk.referred_table is table for fk in other.foreign_key_constraints
            ):
                continue
            present_fks = {fk["name"] for fk in inspector.get_foreign_keys(other.name)}
            for fk in other.foreign_key_constraints:
                if fk.name in present_fks and (other is table or fk.referred_table is table):
                    foreign_keys[(other.name, str(fk.name))] = fk
    with _sqlite_settings(conn, {"threads": SQLITE_SORT_THREADS} if sqlite else {}):
        for fk in foreign_keys.values():
            conn.execute(sa.schema.DropConstraint(fk))
        for key in primary_keys:
            conn.execute(sa.schema.DropConstraint(key))
        for ix in indexes:
            ix.drop(conn)
        renewed = set() if sqlite else _renew_empty_tables(conn, tables)
        outer = conn.info.get(_FROZEN_COPY_TABLES)
        conn.info[_FROZEN_COPY_TABLES] = (conn.get_nested_transaction(), renewed)
        try:
            yield sqlite
        finally:
            conn.info[_FROZEN_COPY_TABLES] = outer
        for key in primary_keys:
            conn.execute(sa.schema.AddConstraint(key))
        deferred = conn.info.get(_DEFERRED)
        if deferred is not None:  # a unique index checks rows: it stays inside
            deferred += [ix for ix in indexes if not ix.unique]
            indexes = [ix for ix in indexes if ix.unique]
        with _sqlite_settings(conn, {"cache_size": -SQLITE_SORT_CACHE_KIB} if sqlite else {}):
            for ix in indexes:
                ix.create(conn)
        for table in tables:
            analyze_table(conn, table)
        for fk in foreign_keys.values():
            if deferred is not None:
                # Its rows are checked here, in parallel; VALIDATE CONSTRAINT, which marks
                # the key as checked, runs after the commit, reading the new indexes.
                add = sa.schema.AddConstraint(fk).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"{add} NOT VALID")
                check_foreign_key(conn, fk)
                deferred.append(fk)
                continue
            # A renewed table is frozen and analyzed: without hash joins, PostgreSQL checks
            # its foreign key by merging an index-only scan of its index on the key columns
            # with the parent's key, instead of hashing over the whole table
            # (orders -> customers after 10M orders: 1.4 s against 6.3 s).
            merge = fk.table.name in renewed
            with _postgres_settings(conn, {"enable_hashjoin": "off"} if merge else {}):
                conn.execute(sa.schema.AddConstraint(fk))


def has_rows(conn: Connection, table: Table) -> bool:
    """Whether `table` holds at least one row."""
    return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None


def _renew_empty_tables(conn: Connection, tables: Sequence[Table]) -> set[str]:
    """PostgreSQL: TRUNCATE each of `tables` that holds no row once this transaction
    holds its exclusive lock, and return their names.

    An empty table loses nothing, but it gets a new file inside this transaction, which
    lets COPY write its rows already frozen and all-visible (COPY ... FREEZE). Index-only
    scans of them then need no visit to the table before the first VACUUM: right after
    loading 10M orders, the RFM facts took 6.0 s against 8.9 s, the overview's KPIs and
    monthly revenue 4.7 s against 13.9 s. On a server with wal_level=minimal, such a
    table and its rebuilt indexes go to disk at commit instead of through the
    write-ahead log (10M orders: 0.08 MB of WAL).
    Frozen rows are visible even to transactions whose snapshot is older than the
    commit; `snapshot_read` locks its tables before taking its snapshot for that reason.
    Only under READ COMMITTED: there the emptiness check, made after the lock, sees every
    row another transaction committed.
    """
    if conn.get_isolation_level() != "READ COMMITTED":
        return set()
    renewed = set()
    for table in tables:
        name = conn.dialect.identifier_preparer.format_table(table)
        conn.exec_driver_sql(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
        if not has_rows(conn, table):
            conn.exec_driver_sql(f"TRUNCATE {name}")
            renewed.add(table.name)
    return renewed


def create_temp_table(
    conn: Connection, name: str, columns: list[Column], *, parallel_scan: bool = False
) -> Table:
    """A table for this transaction only, with `columns` and no constraints: a staging
    area for set-based upserts. Drop it with `drop_temp_table` when done.

    A temporary table (PostgreSQL also drops it at commit). With parallel_scan on
    PostgreSQL, an unlogged table of a name unique to this call instead: parallel workers
    cannot read a temporary table (its pages live in the session's own memory). No other
    session sees it, as its creation is never committed: dropped before the commit, or
    undone by the rollback. A role that may not create tables in its schema (the default
    for `public` since PostgreSQL 15, owners aside) gets a temporary table."""
    if parallel_scan and conn.dialect.name == "postgresql" and _may_create_tables(conn):
        unique = f"{name}_{uuid.uuid4().hex[:12]}"
        table = Table(unique, MetaData(), *columns, prefixes=["UNLOGGED"])
    else:
        table = _temporary_table(conn, name, columns)
    table.create(conn)
    return table


def _temporary_table(conn: Connection, name: str, columns: list[Column]) -> Table:
    """The Table of a temporary table `name` (PostgreSQL drops it at commit), not created
    yet; one of that name left in a SQLite bulk connection (`drop_temp_table`) is dropped
    first."""
    table = Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    if conn.info.get(_TEMP_TABLES_LEFT):
        table.drop(conn, checkfirst=True)
    return table


class _CreateTempTableAs(sa.sql.expression.Executable, sa.sql.expression.ClauseElement):
    """CREATE TEMPORARY TABLE table AS query (see `create_temp_table_as`)."""

    inherit_cache = False

    def __init__(self, table: Table, query: sa.Select) -> None:
        self.table = table
        self.query = query


@compiles(_CreateTempTableAs)
def _create_temp_table_as(element: _CreateTempTableAs, compiler: Any, **kw: Any) -> str:
    target = compiler.preparer.format_table(element.table)
    on_commit = " ON COMMIT DROP" if compiler.dialect.name == "postgresql" else ""
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMPORARY TABLE {target}{on_commit} AS {query}"


def _may_create_tables(conn: Connection) -> bool:
    """Whether this connection's role may create tables in its current schema."""
    if _MAY_CREATE_TABLES not in conn.info:
        check = sa.text("SELECT has_schema_privilege(current_schema(), 'CREATE')")
        conn.info[_MAY_CREATE_TABLES] = bool(conn.execute(check).scalar())
    return conn.info[_MAY_CREATE_TABLES]


def create_temp_table_as(conn: Connection, name: str, query: sa.Select) -> Table:
    """A temporary table `name` holding the rows of `query` (CREATE TEMPORARY TABLE ... AS,
    which PostgreSQL may run with parallel workers where INSERT ... SELECT runs alone).
    Drop it with `drop_temp_table` when done."""
    columns = [Column(c.name, c.type) for c in query.selected_columns]
    table = _temporary_table(conn, name, columns)
    # Workers hand rows to the leader at a cost the planner charges per row returned. It
    # expects every row of the query back, where a delta is mostly a few rows, so that
    # cost alone would keep the workers away.
    postgres = conn.dialect.name == "postgresql"
    with _postgres_settings(conn, {"parallel_tuple_cost": "0"} if postgres else {}):
        conn.execute(_CreateTempTableAs(table, query))
    return table


_BULK_CONNECTION = "crm_bulk_connection"
_MAY_CREATE_TABLES = "crm_may_create_tables"
_TEMP_TABLES_LEFT = "crm_temp_tables_left"
_DEFERRED = "crm_deferred"  # bulk_transaction (PostgreSQL): work for after the commit
_FROZEN_COPY_TABLES = "crm_frozen_copy_tables"  # bulk_load: tables COPY may FREEZE into


def drop_temp_table(conn: Connection, table: Table) -> None:
    """Drop a table made by `create_temp_table`; inside a SQLite `bulk_transaction` it
    goes with the connection when the block ends (see there)."""
    if conn.info.get(_BULK_CONNECTION):
        conn.info[_TEMP_TABLES_LEFT] = True
        return
    table.drop(conn)


def analyze_table(conn: Connection, table: Table) -> None:
    """Refresh the planner's statistics of a freshly loaded table (PostgreSQL; SQLite's
    planner needs none for the primary-key lookups used here)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.format_table(table)}")


# --- large analytical reads ---------------------------------------------------------


def without_jit(conn: Connection) -> None:
    """Turn PostgreSQL's JIT compilation off for the rest of the caller's transaction:
    for a statement of many aggregates over millions of rows, compiling it costs seconds
    and saves less (see bench/bench_overview.py). SQLite has no JIT."""
    if conn.dialect.name == "postgresql":
        set_local(conn, {"jit": "off"})


class FloatValue(sa.sql.functions.FunctionElement):
    """See `float_value`."""

    type = sa.Float()
    inherit_cache = True
    name = "float_value"


def float_value(expression: Any) -> FloatValue:
    """`expression` (e.g. a NUMERIC money column) as a float for aggregation over many
    rows: a cast per row on PostgreSQL (double precision sums run several times faster
    than numeric ones), the stored value on SQLite (already REAL or INTEGER there, where
    a per-row CAST only costs time)."""
    return FloatValue(expression)


@compiles(FloatValue)
def _float_value_cast(element: FloatValue, compiler: Any, **kw: Any) -> str:
    (argument,) = element.clauses
    return compiler.process(sa.cast(argument, sa.Float()), **kw)


@compiles(FloatValue, "sqlite")
def _float_value_as_stored(element: FloatValue, compiler: Any, **kw: Any) -> str:
    (argument,) = element.clauses
    return compiler.process(argument, **kw)


READ_CHUNK_ROWS = 100_000


def read_arrow(conn: Connection, statement: sa.Select) -> dict[str, pa.ChunkedArray]:
    """Run one large SELECT and return its columns as Arrow chunked arrays.

    PostgreSQL: JIT is turned off for the rest of the caller's transaction (compiling a
    plan of many joins and aggregates costs seconds and saves less) and the result is
    streamed through COPY ... TO STDOUT as CSV, parsed by pyarrow: every column comes
    back as text (NULL as null) for the caller to cast. SQLite: the driver's rows are
    fetched without SQLAlchemy's result processing, so select columns that need none
    (e.g. type_coerce(column, NullType()) for timestamps, which then come back as the
    stored ISO text); each column is typed as its values came (text, integer, real).
    """
    names = [column.name for column in statement.selected_columns]
    if conn.dialect.name == "postgresql":
        without_jit(conn)
        compiled = statement.compile(
            dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
        )
        buffer = io.BytesIO()
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor.copy(
                f"COPY ({compiled.string}) TO STDOUT (FORMAT csv)", compiled.construct_params()
            ) as copy:
                for chunk in copy:
                    buffer.write(chunk)
        finally:
            cursor.close()
        if not buffer.tell():
            return {name: pa.chunked_array([], type=pa.string()) for name in names}
        buffer.seek(0)
        table = pa_csv.read_csv(
            buffer,
            read_options=pa_csv.ReadOptions(column_names=names),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        return {name: table.column(name) for name in names}
    # The driver's own tuples (no Row objects: these columns need no result processing),
    # a chunk at a time stacked into an object matrix whose columns Arrow converts in C;
    # chunks keep the Python objects of a million rows from all living at once.
    cursor = conn.execute(statement).cursor
    chunks: dict[str, list[pa.Array]] = {name: [] for name in names}
    while rows := cursor.fetchmany(READ_CHUNK_ROWS):
        matrix = np.array(rows, dtype=object).reshape(len(rows), len(names))
        for index, name in enumerate(names):
            chunks[name].append(_arrow_of(matrix[:, index]))
    return {name: _concat_arrow(parts) for name, parts in chunks.items()}


def _concat_arrow(parts: list[pa.Array]) -> pa.ChunkedArray:
    """One chunked array from chunks typed independently (no copy): all-null chunks take
    the others' type, integers next to reals become reals, other mixes become text."""
    kinds = {part.type for part in parts if part.type != pa.null()}
    if not kinds:
        target = pa.null()
    elif len(kinds) == 1:
        target = kinds.pop()
    elif kinds <= {pa.int64(), pa.float64()}:
        target = pa.float64()
    else:
        target = pa.string()
    return pa.chunked_array([part.cast(target) for part in parts], type=target)


def _arrow_of(values: np.ndarray) -> pa.Array:
    """Python values as one Arrow array; mixed kinds (text next to numbers) as text."""
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else str(value) for value in values])
