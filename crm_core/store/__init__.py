"""The store: engine from a URL, settings, bulk loads, background index builds, models and
migrations. Callers import from here; the modules behind it may move.

Only this package knows which database it talks to. Everything else uses SQLAlchemy Core
statements that compile on SQLite and PostgreSQL alike.

engine       the engine from a URL (DATABASE_URL, secrets, data/crm.db), SQLite pragmas
schema       Alembic: upgrade to the newest revision, the revision a store is at
version      the data version caches key on
connection   settings for a transaction or a block, the driver's own cursor
bulk         bulk transactions and loads, bulk_insert, foreign-key checks, staging tables
pg_copy      PostgreSQL COPY of a frame (binary format, CSV fallback)
checkpoints  SQLite checkpoints after a bulk transaction, in the background
builds       indexes and foreign-key checks after a PostgreSQL bulk load, in the background
reads        snapshot reads that wait for those indexes, large analytical reads
models       the tables; settings: one JSON value per key
"""

from crm_core.store.builds import (
    Deferred,
    background_builds_running,
    build_in_background,
    finish_interrupted_builds,
    logger,
    wait_for_background_builds,
)
from crm_core.store.bulk import (
    SQLITE_SORT_CACHE_KIB,
    SQLITE_SORT_THREADS,
    analyze_table,
    bulk_insert,
    bulk_load,
    bulk_transaction,
    check_foreign_key,
    check_foreign_keys,
    create_temp_table,
    create_temp_table_as,
    drop_temp_table,
    has_rows,
)
from crm_core.store.checkpoints import checkpoint_in_background, wait_for_checkpoints
from crm_core.store.connection import BULK_CHUNK_ROWS, BULK_MEMORY_MB, set_local
from crm_core.store.engine import (
    DEFAULT_SQLITE_PATH,
    PROJECT_ROOT,
    SECRETS_PATH,
    SQLITE_BUSY_TIMEOUT_MS,
    database_url,
    is_sqlite,
    make_engine,
    normalise_url,
)
from crm_core.store.reads import (
    INDEX_GRACE_SECONDS,
    INDEX_WAIT_SECONDS,
    READ_CHUNK_ROWS,
    FloatValue,
    arrow_datetimes,
    arrow_flags,
    arrow_floats,
    arrow_texts,
    float_value,
    plus_days,
    raw_value,
    read_arrow,
    read_frame,
    rows_frame,
    snapshot_read,
    without_jit,
)
from crm_core.store.schema import MIGRATIONS_DIR, alembic_config, schema_revision, upgrade_to_head
from crm_core.store.version import DATA_VERSION_KEY, bump_data_version, data_version

__all__ = [
    "BULK_CHUNK_ROWS",
    "BULK_MEMORY_MB",
    "DATA_VERSION_KEY",
    "DEFAULT_SQLITE_PATH",
    "INDEX_GRACE_SECONDS",
    "INDEX_WAIT_SECONDS",
    "MIGRATIONS_DIR",
    "PROJECT_ROOT",
    "READ_CHUNK_ROWS",
    "SECRETS_PATH",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_SORT_CACHE_KIB",
    "SQLITE_SORT_THREADS",
    "Deferred",
    "FloatValue",
    "alembic_config",
    "analyze_table",
    "arrow_datetimes",
    "arrow_flags",
    "arrow_floats",
    "arrow_texts",
    "background_builds_running",
    "build_in_background",
    "bulk_insert",
    "bulk_load",
    "bulk_transaction",
    "bump_data_version",
    "check_foreign_key",
    "check_foreign_keys",
    "checkpoint_in_background",
    "create_temp_table",
    "create_temp_table_as",
    "data_version",
    "database_url",
    "drop_temp_table",
    "finish_interrupted_builds",
    "float_value",
    "has_rows",
    "is_sqlite",
    "logger",
    "make_engine",
    "normalise_url",
    "plus_days",
    "raw_value",
    "read_arrow",
    "read_frame",
    "rows_frame",
    "schema_revision",
    "set_local",
    "snapshot_read",
    "upgrade_to_head",
    "wait_for_background_builds",
    "wait_for_checkpoints",
    "without_jit",
]
