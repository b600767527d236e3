"""Background builds: the secondary indexes a PostgreSQL bulk load dropped and the foreign
keys it re-added NOT VALID, created and validated after its commit on a thread of their
own (`build_in_background`); `finish_interrupted_builds` does what a build left undone."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Table

from crm_core.store.connection import BULK_MEMORY_MB, set_local
from crm_core.store.engine import is_sqlite

logger = logging.getLogger(__name__)

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
                if not isinstance(item, sa.Index) or not indexes_being_built(conn, [item.table])
            ]
    if not work or background_builds_running():
        return []
    _build(engine, _in_order(work))
    return [str(item.name) for item in work]


def indexes_being_built(conn: Connection, tables: Sequence[Table]) -> bool:
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
