"""Reads: `snapshot_read` (one snapshot for several statements, after waiting for the
indexes a background build is creating) and large analytical reads (`without_jit`,
`float_value`, `read_arrow`)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import NullType

from crm_core.store.builds import background_builds_running, indexes_being_built
from crm_core.store.connection import set_local
from crm_core.store.engine import is_sqlite

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
                if background_builds_running() or indexes_being_built(conn, tables):
                    last_building = now
                quiet = now - (last_building or first_missing)
                if quiet > INDEX_GRACE_SECONDS or now - first_missing > INDEX_WAIT_SECONDS:
                    yield conn
                    return
        time.sleep(0.5)


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


# --- large analytical reads ---------------------------------------------------------


def without_jit(conn: Connection) -> None:
    """Turn PostgreSQL's JIT compilation off for the rest of the caller's transaction:
    for a statement of many aggregates over millions of rows, compiling it costs seconds
    and saves less (see bench/bench_overview.py). SQLite has no JIT."""
    if conn.dialect.name == "postgresql":
        set_local(conn, {"jit": "off"})


def rows_frame(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A frame of result rows, each copied to a plain tuple first: pandas asks every row
    hasattr(row, "dtype"), which a SQLAlchemy Row answers by raising and catching an
    AttributeError (200k rows: 3.1 s as Rows, 0.3 s as tuples)."""
    return pd.DataFrame([tuple(row) for row in rows], columns=list(columns))


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


class PlusDays(sa.sql.functions.FunctionElement):
    """See `plus_days`."""

    type = sa.DateTime()
    inherit_cache = True
    name = "plus_days"


def plus_days(timestamp: Any, days: Any) -> PlusDays:
    """`timestamp` moved by `days` whole calendar days (negative: earlier), the time of day
    kept exactly: the window ends of campaign results. PostgreSQL adds an interval;
    SQLite shifts the date part of the stored text and keeps the rest, so the result
    compares with stored timestamps to the microsecond."""
    return PlusDays(timestamp, days)


@compiles(PlusDays)
def _plus_days_interval(element: PlusDays, compiler: Any, **kw: Any) -> str:
    timestamp, days = element.clauses
    days_sql = compiler.process(sa.cast(days, sa.Integer()), **kw)
    return f"({compiler.process(timestamp, **kw)} + make_interval(days => {days_sql}))"


@compiles(PlusDays, "sqlite")
def _plus_days_text(element: PlusDays, compiler: Any, **kw: Any) -> str:
    timestamp, days = element.clauses
    stamp, shift = compiler.process(timestamp, **kw), compiler.process(days, **kw)
    return f"(date({stamp}, printf('%+d days', {shift})) || substr({stamp}, 11))"


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


def raw_value(expression: Any) -> Any:
    """The expression without SQLAlchemy result processing (pandas parses the values)."""
    return sa.type_coerce(expression, NullType())


# The fetched columns are Arrow arrays: text on PostgreSQL (COPY as CSV), values as
# stored on SQLite (timestamps as ISO text, flags as 0/1). Casts run in Arrow's C++.


def arrow_datetimes(values: pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """Timestamps as datetime64[us] (NaT for NULL) from ISO text, dates or timestamps."""
    if isinstance(values, np.ndarray):
        return values.astype("datetime64[us]")
    try:
        cast = pc.cast(values, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        text = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
        return pd.to_datetime(text, format="ISO8601").to_numpy(dtype="datetime64[us]")
    return cast.to_numpy(zero_copy_only=False).astype("datetime64[us]")


def arrow_floats(values: pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """Numbers (or their text) as float64 with NaN for NULL."""
    if isinstance(values, np.ndarray):
        return values.astype(np.float64)
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)


def arrow_texts(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text as an Arrow string array (missing stays missing)."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return pc.cast(values, pa.string())


def arrow_flags(values: pa.ChunkedArray) -> np.ndarray:
    """Booleans from PostgreSQL's 't'/'f', SQLite's 0/1 or true/false; NULL is False."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        flags = pc.is_in(values, pa.array(["t", "true", "1"]))
    elif pa.types.is_boolean(values.type):
        flags = values
    else:
        flags = pc.not_equal(pc.cast(values, pa.int64()), 0)
    return pc.fill_null(flags, False).to_numpy(zero_copy_only=False).astype(bool)


def read_frame(
    conn: Connection,
    statement: sa.Select,
    *,
    times: Sequence[str] = (),
    numbers: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> pd.DataFrame:
    """A large SELECT as a frame through `read_arrow` (no SQLAlchemy rows): columns named
    in `times` as datetime64[s], in `numbers` as float64 (NaN for NULL), in `flags` as
    bool (NULL is False), the others as text. Select time and flag columns through
    `raw_value`, so SQLite hands over what it stores."""
    raw = read_arrow(conn, statement)
    columns: dict[str, Any] = {}
    texts = {}
    for name, values in raw.items():
        if name in times:
            columns[name] = arrow_datetimes(values).astype("datetime64[s]")
        elif name in numbers:
            columns[name] = arrow_floats(values)
        elif name in flags:
            columns[name] = arrow_flags(values)
        else:
            texts[name] = arrow_texts(values)
            columns[name] = None
    if texts:
        table = pa.table(texts).to_pandas(
            types_mapper=lambda kind: (
                pd.StringDtype("pyarrow", na_value=np.nan)
                if pa.types.is_string(kind) or pa.types.is_large_string(kind)
                else None
            )
        )
        for name in texts:
            columns[name] = table[name]
    return pd.DataFrame(columns)
