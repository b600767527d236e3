"""SQLite checkpoints in the background: a bulk transaction's write-ahead log copied into
the database file after its commit, on a thread of its own (`checkpoint_in_background`,
`wait_for_checkpoints`)."""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import Engine

from crm_core.store.engine import SQLITE_BUSY_TIMEOUT_MS

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
