"""Bulk writes: `bulk_transaction` and `bulk_load` around loads of many rows, `bulk_insert`
of a frame (SQLite executemany here, PostgreSQL COPY in pg_copy), set-based foreign-key
checks, staging tables for set-based upserts and `analyze_table`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import Column, Connection, Engine, MetaData, Table, select
from sqlalchemy.ext.compiler import compiles

from crm_core.store.builds import Deferred, build_in_background
from crm_core.store.checkpoints import checkpoint_in_background
from crm_core.store.connection import (
    BULK_CHUNK_ROWS,
    BULK_MEMORY_MB,
    driver_cursor,
    postgres_settings,
    set_local,
    sqlite_settings,
)
from crm_core.store.engine import is_sqlite
from crm_core.store.pg_copy import FROZEN_COPY_TABLES, copy_into_postgres, is_date_column

SQLITE_SORT_THREADS = 4
"""Helper threads SQLite may use to sort while it builds an index (PRAGMA threads). More
than the cores help too, as sorting runs overlaps writing them: a 4-column index over
10M orders on 2 cores took 7.0 s with 1 helper, 5.8 s with 4 (means of 3 runs)."""
SQLITE_SORT_CACHE_KIB = 2_000
"""SQLite's page cache while it builds indexes (its default): the sorter then works in
small runs that the helper threads sort in parallel."""

_BULK_CONNECTION = "crm_bulk_connection"
_MAY_CREATE_TABLES = "crm_may_create_tables"
_TEMP_TABLES_LEFT = "crm_temp_tables_left"
_DEFERRED = "crm_deferred"  # bulk_transaction (PostgreSQL): work for after the commit


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
            with sqlite_settings(conn, settings):  # foreign_keys only changes outside BEGIN
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
    with sqlite_settings(conn, {"threads": SQLITE_SORT_THREADS} if sqlite else {}):
        for fk in foreign_keys.values():
            conn.execute(sa.schema.DropConstraint(fk))
        for key in primary_keys:
            conn.execute(sa.schema.DropConstraint(key))
        for ix in indexes:
            ix.drop(conn)
        renewed = set() if sqlite else _renew_empty_tables(conn, tables)
        outer = conn.info.get(FROZEN_COPY_TABLES)
        conn.info[FROZEN_COPY_TABLES] = (conn.get_nested_transaction(), renewed)
        try:
            yield sqlite
        finally:
            conn.info[FROZEN_COPY_TABLES] = outer
        for key in primary_keys:
            conn.execute(sa.schema.AddConstraint(key))
        deferred = conn.info.get(_DEFERRED)
        if deferred is not None:  # a unique index checks rows: it stays inside
            deferred += [ix for ix in indexes if not ix.unique]
            indexes = [ix for ix in indexes if ix.unique]
        with sqlite_settings(conn, {"cache_size": -SQLITE_SORT_CACHE_KIB} if sqlite else {}):
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
            with postgres_settings(conn, {"enable_hashjoin": "off"} if merge else {}):
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
        return copy_into_postgres(conn, table, frame)
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES ({', '.join('?' for _ in columns)})"
    )
    written = 0
    with driver_cursor(conn, sql) as cursor:
        for start in range(0, len(frame), BULK_CHUNK_ROWS):
            chunk = frame.iloc[start : start + BULK_CHUNK_ROWS]
            # A lazy zip: the driver binds each row and drops it, so zip reuses one tuple
            # (no 200k tuples to allocate, and none for the garbage collector to scan).
            cursor.executemany(sql, zip(*_python_columns(chunk, table), strict=True))
            written += len(chunk)
    return written


def _python_columns(frame: pd.DataFrame, table: Table) -> list[list]:
    """Each column as a list of plain Python values with None for missing; timestamps as
    ISO strings (how SQLAlchemy stores DateTime and Date in SQLite)."""
    series_list = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col) and not isinstance(
            col.dtype, pd.DatetimeTZDtype
        ):
            series_list.append(_sqlite_datetimes(col, is_date_column(table, name)))
            continue
        if pd.api.types.is_datetime64_any_dtype(col):
            fmt = "%Y-%m-%d" if is_date_column(table, name) else "%Y-%m-%d %H:%M:%S.%f"
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
    with postgres_settings(conn, {"parallel_tuple_cost": "0"} if postgres else {}):
        conn.execute(_CreateTempTableAs(table, query))
    return table


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
