"""The schema migrates to head on SQLite and PostgreSQL, and the store basics work there."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
import uuid
from contextlib import closing

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy import Column, String, func, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from crm_core.ingest.load import upsert
from crm_core.store import (
    BULK_MEMORY_MB,
    background_builds_running,
    builds,
    bulk,
    bulk_insert,
    bulk_load,
    bulk_transaction,
    bump_data_version,
    check_foreign_keys,
    checkpoints,
    create_temp_table,
    create_temp_table_as,
    data_version,
    drop_temp_table,
    is_sqlite,
    models,
    pg_copy,
    reads,
    schema_revision,
    set_local,
    snapshot_read,
    upgrade_to_head,
    wait_for_background_builds,
    wait_for_checkpoints,
)
from tests.support.schema import schema_differences


def test_every_model_table_exists_after_upgrade(store):
    tables = set(inspect(store).get_table_names())
    assert set(models.metadata.tables) <= tables
    assert schema_revision(store) is not None


def test_upgrade_is_idempotent(store):
    before = schema_revision(store)
    upgrade_to_head(store)
    assert schema_revision(store) == before


def test_data_version_grows_with_each_bump(store):
    assert data_version(store) == 0
    with store.begin() as conn:
        assert bump_data_version(conn) == 1
    with store.begin() as conn:
        bump_data_version(conn)
    assert data_version(store) == 2


def test_bulk_insert_round_trips_values_and_nulls(store):
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "name": ["王芳", None],
            "signup_at": pd.to_datetime(["2024-03-05 10:00", None]),
            "opt_out_sms": [True, False],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "customer_id": ["c1", "c1", "c2"],
            "ordered_at": pd.to_datetime(
                ["2024-03-05 10:00", "2024-04-01 09:30", "2024-04-02 00:00"]
            ),
            "amount": [100.5, 20.0, 1234.56],
            "status": ["paid", "refunded", "paid"],
            "discount": [0.0, 0.0, 5.0],
            "category": ["toys", float("nan"), None],
        }
    )
    with store.begin() as conn:
        assert bulk_insert(conn, models.customers, customers) == 2
        assert bulk_insert(conn, models.orders, orders) == 3
    with store.connect() as conn:
        rows = conn.execute(select(models.customers).order_by(models.customers.c.customer_id)).all()
        total = conn.execute(select(func.sum(models.orders.c.amount))).scalar()
        refunded_at = conn.execute(
            select(models.orders.c.ordered_at).where(models.orders.c.order_id == "o2")
        ).scalar()
        null_categories = conn.execute(
            select(func.count()).where(models.orders.c.category.is_(None))
        ).scalar()
    assert rows[0].name == "王芳" and rows[0].opt_out_sms is True
    assert rows[1].name is None and rows[1].signup_at is None and rows[1].opt_out_sms is False
    assert float(total) == 1355.06
    assert refunded_at == pd.Timestamp("2024-04-01 09:30").to_pydatetime()
    assert null_categories == 2


def test_failed_transaction_leaves_store_as_before(store):
    frame = pd.DataFrame({"customer_id": ["c1"], "name": ["a"]})
    with pytest.raises(IntegrityError), store.begin() as conn:
        bulk_insert(conn, models.customers, frame)
        bulk_insert(conn, models.customers, frame)  # duplicate key: fails
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.customers)).scalar() == 0


def _orders(customer_ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(customer_ids))],
            "customer_id": customer_ids,
            "ordered_at": pd.Timestamp("2024-03-05 10:00"),
            "amount": 10.0,
            "status": "paid",
        }
    )


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_check_foreign_keys_names_a_missing_parent(store):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
        bulk_insert(conn, models.orders, _orders(["c1"]))
        check_foreign_keys(conn, [models.orders])  # every parent present: no error
    orphan = _orders(["c9"]).assign(order_id="O9")
    with (
        pytest.raises(IntegrityError, match="c9"),
        bulk_transaction(store, [models.orders]) as conn,
        bulk_load(conn, [models.orders]),
    ):
        bulk_insert(conn, models.orders, orphan)
    assert _count(store, models.orders) == 1


def test_bulk_transaction_commits_valid_rows_and_rolls_back_orphans(store):
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(3)]})
    with bulk_transaction(store, [models.customers, models.orders]) as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, _orders(["c0", "c1", "c2"]))
    assert _count(store, models.orders) == 3
    orphans = _orders(["c0", "missing"]).assign(order_id=["N1", "N2"])
    with pytest.raises(IntegrityError), bulk_transaction(store, [models.orders]) as conn:
        bulk_insert(conn, models.orders, orphans)
    assert _count(store, models.orders) == 3  # N1 went with the failed transaction


SQLITE_SETTINGS = ("cache_size", "temp.cache_size", "threads", "wal_autocheckpoint")


def test_bulk_transaction_restores_sqlite_settings(sqlite_store):
    with sqlite_store.connect() as conn:
        before = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in SQLITE_SETTINGS]
        pooled = conn.connection.dbapi_connection
    with bulk_transaction(sqlite_store, [models.orders]) as conn:
        assert conn.connection.dbapi_connection is pooled  # the settings change on it
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -BULK_MEMORY_MB * 1024
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with bulk_load(conn, [models.orders]):
            assert conn.exec_driver_sql("PRAGMA threads").scalar() >= 1
    with pytest.raises(IntegrityError), bulk_transaction(sqlite_store, [models.orders]) as conn:
        bulk_insert(conn, models.orders, _orders(["nobody"]))
    with sqlite_store.connect() as conn:
        assert conn.connection.dbapi_connection is pooled
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        after = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in SQLITE_SETTINGS]
        assert after == before
        with pytest.raises(IntegrityError):  # row-by-row checks are back on
            bulk_insert(conn, models.orders, _orders(["nobody"]))


def _customers_in_database_file(engine, tmp_path) -> int:
    """Customers in the database file alone, without its write-ahead log."""
    copy = tmp_path / "file-only.db"
    shutil.copyfile(engine.url.database, copy)
    with closing(sqlite3.connect(copy)) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0]


def test_bulk_transaction_leaves_the_checkpoint_to_a_background_thread(
    sqlite_store, tmp_path, monkeypatch
):
    customers = pd.DataFrame({"customer_id": [f"c{i:07d}" for i in range(100_000)]})
    with sqlite_store.connect() as conn:  # the empty schema into the file
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _customers_in_database_file(sqlite_store, tmp_path) == 0
    monkeypatch.setattr(bulk, "checkpoint_in_background", lambda engine: None)
    with bulk_transaction(sqlite_store, [models.customers]) as conn:
        bulk_insert(conn, models.customers, customers)
    # Over 1,000 pages of log, where SQLite's own commit would have checkpointed: the
    # rows are committed (visible), but only in the log.
    assert _count(sqlite_store, models.customers) == 100_000
    assert _customers_in_database_file(sqlite_store, tmp_path) == 0
    monkeypatch.undo()
    checkpoints.checkpoint_in_background(sqlite_store)
    busy, log_frames, copied = wait_for_checkpoints()[sqlite_store.url.database]
    assert log_frames > 1_000 and (busy, copied) == (0, log_frames)
    assert _customers_in_database_file(sqlite_store, tmp_path) == 100_000


def test_bulk_insert_outside_a_transaction_is_kept_by_commit(store):
    with store.connect() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1", "c2"]}))
        conn.commit()
    assert _count(store, models.customers) == 2


def _temp_tables(conn) -> list[str]:
    return conn.exec_driver_sql("SELECT name FROM sqlite_temp_master WHERE type = 'table'").all()


def test_sqlite_bulk_transaction_leaves_temp_tables_to_closing_its_connection(sqlite_store):
    def columns() -> list[Column]:
        return [Column("customer_id", String(64))]

    with sqlite_store.connect() as conn:
        pooled = conn.connection.dbapi_connection
    with bulk_transaction(sqlite_store, [models.customers]) as conn:
        assert conn.connection.dbapi_connection is pooled
        staging = create_temp_table(conn, "staging_customers", columns())
        drop_temp_table(conn, staging)
        assert _temp_tables(conn) == [("staging_customers",)]  # left for the close
        staging = create_temp_table(conn, "staging_customers", columns())  # the name is free
        drop_temp_table(conn, staging)
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    # The checkpoint thread held the file open, so closing the last pooled connection
    # did not copy the log into the file on the way out: the thread found it to copy.
    busy, log_frames, copied = wait_for_checkpoints()[sqlite_store.url.database]
    assert log_frames > 0 and (busy, copied) == (0, log_frames)
    with sqlite_store.connect() as conn:
        assert conn.connection.dbapi_connection is not pooled  # closed, with its file
        assert _temp_tables(conn) == []
        staging = create_temp_table(conn, "staging_customers", columns())
        drop_temp_table(conn, staging)  # outside a bulk transaction: dropped at once
        assert _temp_tables(conn) == []


def test_bulk_insert_error_in_a_later_chunk_rolls_back_every_chunk(store):
    rows = 250_000  # two chunks: the failing row is in the second
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i:06d}" for i in range(rows)],
            "customer_id": "c1",
            "ordered_at": pd.Timestamp("2024-03-05 10:00"),
            "amount": 10.0,
            "status": ["paid"] * (rows - 1) + [None],
        }
    )
    with pytest.raises(IntegrityError), store.begin() as conn:
        bulk_insert(conn, models.orders, orders)
    assert _count(store, models.orders) == 0


def _keys_of_orders(engine) -> tuple:
    inspector = inspect(engine)
    referring = {fk["name"] for fk in inspector.get_foreign_keys("order_lines")}
    own = {fk["name"] for fk in inspector.get_foreign_keys("orders")}
    return inspector.get_pk_constraint("orders")["name"], own, referring


def test_bulk_load_restores_keys_and_rejects_a_repeated_key(store):
    keys_before = _keys_of_orders(store)
    assert keys_before == (
        "pk_orders",
        {"fk_orders_customer_id_customers"},
        {"fk_order_lines_order_id_orders"},
    )
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    repeated = _orders(["c1", "c1", "c1"]).assign(order_id=["O1", "O2", "O1"])
    with (
        pytest.raises(IntegrityError),
        bulk_transaction(store, [models.orders]) as conn,
        bulk_load(conn, [models.orders]),
    ):
        bulk_insert(conn, models.orders, repeated)  # PostgreSQL: fails adding the key
    assert _count(store, models.orders) == 0
    assert _keys_of_orders(store) == keys_before
    with bulk_transaction(store, [models.orders]) as conn, bulk_load(conn, [models.orders]):
        bulk_insert(conn, models.orders, repeated.iloc[:2])
    assert _count(store, models.orders) == 2
    assert _keys_of_orders(store) == keys_before
    assert schema_differences(store) == []


def _frozen_and_total_pages(engine, table: str) -> tuple[int, int]:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_visibility")
        frozen = conn.exec_driver_sql(
            f"SELECT all_frozen FROM pg_visibility_map_summary('{table}')"
        ).scalar()
        pages = conn.exec_driver_sql(
            f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int"
        ).scalar()
    return frozen, pages


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_bulk_load_into_an_empty_postgresql_table_writes_frozen_rows(store):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    first = _orders(["c1"] * 2000)
    orphan = _orders(["c1"] * 1999 + ["nobody"])
    with (
        pytest.raises(IntegrityError, match="nobody"),
        bulk_transaction(store, [models.orders]) as conn,
        bulk_load(conn, [models.orders]),
    ):
        bulk_insert(conn, models.orders, orphan)  # the check after a frozen load finds it
    assert _count(store, models.orders) == 0
    with bulk_transaction(store, [models.orders]) as conn, bulk_load(conn, [models.orders]):
        bulk_insert(conn, models.orders, first)
    frozen, pages = _frozen_and_total_pages(store, "orders")
    assert pages > 1
    assert frozen == pages  # COPY ... FREEZE after TRUNCATE of the empty table
    more = _orders(["c1"] * 2000).assign(order_id=lambda f: "N" + f["order_id"])
    with bulk_transaction(store, [models.orders]) as conn, bulk_load(conn, [models.orders]):
        bulk_insert(conn, models.orders, more)  # not empty: no TRUNCATE, rows kept
    assert _count(store, models.orders) == 4000
    frozen, pages = _frozen_and_total_pages(store, "orders")
    assert frozen < pages
    assert _keys_of_orders(store)[0] == "pk_orders"
    assert schema_differences(store) == []


def _index_names(conn, table: str) -> set[str]:
    return {ix["name"] for ix in inspect(conn).get_indexes(table)}


def _unchecked_foreign_keys(conn) -> set[str]:
    query = "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
    return set(conn.exec_driver_sql(query).scalars())


SECONDARY_ORDER_INDEXES = {ix.name for ix in models.orders.indexes}


def _hold_background_builds(monkeypatch) -> threading.Event:
    """Background builds start only once the returned event is set (at most 30 s)."""
    release = threading.Event()
    build = builds._build

    def build_when_released(engine, work):
        release.wait(timeout=30)
        build(engine, work)

    monkeypatch.setattr(builds, "_build", build_when_released)
    return release


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_postgresql_builds_the_secondary_indexes_of_a_bulk_load_after_its_commit(
    store, monkeypatch
):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    release = _hold_background_builds(monkeypatch)
    try:
        with bulk_transaction(store, [models.orders]) as conn:
            with bulk_load(conn, [models.orders]):
                bulk_insert(conn, models.orders, _orders(["c1"] * 30))
            assert _index_names(conn, "orders") & SECONDARY_ORDER_INDEXES == set()
            assert _keys_of_orders(conn) == (
                "pk_orders",
                {"fk_orders_customer_id_customers"},
                {"fk_order_lines_order_id_orders"},
            )
        assert background_builds_running()
        assert _count(store, models.orders) == 30  # committed before the indexes exist
        with store.connect() as conn:
            assert _index_names(conn, "orders") & SECONDARY_ORDER_INDEXES == set()
            assert _unchecked_foreign_keys(conn) == {
                "fk_orders_customer_id_customers",
                "fk_order_lines_order_id_orders",
            }  # their rows were checked by check_foreign_key; the catalogue not told yet
        with pytest.raises(IntegrityError), store.begin() as conn:
            bulk_insert(conn, models.orders, _orders(["nobody"]).assign(order_id="N1"))
    finally:
        release.set()
    wait_for_background_builds()
    assert not background_builds_running()
    with store.connect() as conn:
        assert _index_names(conn, "orders") >= SECONDARY_ORDER_INDEXES
        assert _unchecked_foreign_keys(conn) == set()


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_snapshot_read_waits_for_the_indexes_a_bulk_load_left_to_build(store, monkeypatch):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    release = _hold_background_builds(monkeypatch)
    with bulk_transaction(store, [models.orders]) as conn, bulk_load(conn, [models.orders]):
        bulk_insert(conn, models.orders, _orders(["c1"] * 30))
    seen = []

    def read() -> None:
        with snapshot_read(store, [models.orders]) as conn:
            indexed = _index_names(conn, "orders") >= SECONDARY_ORDER_INDEXES
            seen.append(
                (indexed, conn.execute(select(func.count()).select_from(models.orders)).scalar())
            )

    reader = threading.Thread(target=read)
    monkeypatch.setattr(reads, "INDEX_GRACE_SECONDS", 0.5)
    try:
        with store.begin() as conn:  # the reader queues behind a lock for longer than that
            conn.exec_driver_sql("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
            reader.start()
            time.sleep(1.5)
        reader.join(timeout=2)
        # No CREATE INDEX is running (the thread is held), but this process's thread is.
        assert reader.is_alive() and seen == []  # the rows are committed, the indexes not built
    finally:
        release.set()
    reader.join(timeout=30)
    assert seen == [(True, 30)]

    wait_for_background_builds()
    with store.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_orders_time_status_customer")  # never rebuilt
    monkeypatch.undo()
    monkeypatch.setattr(reads, "INDEX_GRACE_SECONDS", 1.0)
    with snapshot_read(store, [models.orders]) as conn:  # no build under way: reads without
        assert conn.execute(select(func.count()).select_from(models.orders)).scalar() == 30


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_an_index_build_under_way_is_seen_from_another_connection(store):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
        bulk_insert(conn, models.orders, _orders(["c1"] * 100))
        conn.exec_driver_sql(  # an index whose build takes 100 x 20 ms
            "CREATE FUNCTION slow_length(value text) RETURNS int IMMUTABLE LANGUAGE plpgsql "
            "AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN length(value); END $$"
        )
    with store.connect() as conn:
        assert not builds.indexes_being_built(conn, [models.orders])

    def build() -> None:
        with store.begin() as conn:
            conn.exec_driver_sql("CREATE INDEX ix_slow ON orders (slow_length(order_id))")

    builder = threading.Thread(target=build)
    builder.start()
    seen = False
    with store.connect() as conn:
        for _ in range(40):
            seen = builds.indexes_being_built(conn, [models.orders])
            conn.rollback()
            if seen:
                break
            time.sleep(0.05)
        assert not builds.indexes_being_built(conn, [models.customers])
    builder.join()
    assert seen


def test_upgrade_finishes_what_a_background_build_left_undone(store):
    with store.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_orders_time_status_customer")
    with store.connect() as conn:
        assert "ix_orders_time_status_customer" not in _index_names(conn, "orders")
    assert builds.finish_interrupted_builds(store) == ["ix_orders_time_status_customer"]
    assert builds.finish_interrupted_builds(store) == []
    with store.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_orders_time_status_customer")
        if not is_sqlite(conn):
            (fk,) = models.orders.foreign_key_constraints
            conn.execute(sa.schema.DropConstraint(fk))
            add = sa.schema.AddConstraint(fk).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"{add} NOT VALID")
            assert _unchecked_foreign_keys(conn) == {fk.name}
    upgrade_to_head(store)
    assert schema_differences(store) == []
    with store.connect() as conn:
        assert "ix_orders_time_status_customer" in _index_names(conn, "orders")
        if not is_sqlite(conn):
            assert _unchecked_foreign_keys(conn) == set()


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_snapshot_read_does_not_see_a_frozen_load_committed_during_it(store):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))

    def load_orders() -> None:
        with (
            bulk_transaction(store, [models.orders]) as conn,
            bulk_load(conn, [models.orders]),
        ):
            bulk_insert(conn, models.orders, _orders(["c1"] * 50))

    loader = threading.Thread(target=load_orders)
    with snapshot_read(store, [models.customers, models.orders]) as reader:
        customers = reader.execute(select(func.count()).select_from(models.customers)).scalar()
        loader.start()
        loader.join(timeout=2)  # the load waits for the reader's lock
        orders = reader.execute(select(func.count()).select_from(models.orders)).scalar()
    loader.join()
    assert (customers, orders) == (1, 0)
    assert _count(store, models.orders) == 50


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_savepoint_inside_a_bulk_load_copies_without_freeze(store):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    with bulk_transaction(store, [models.orders]) as conn, bulk_load(conn, [models.orders]):
        with conn.begin_nested():
            bulk_insert(conn, models.orders, _orders(["c1"] * 20))
        bulk_insert(conn, models.orders, _orders(["c1"] * 5).assign(order_id=list("abcde")))
    assert _count(store, models.orders) == 25


def _plan_of_reading(conn, table: sa.Table) -> str:
    """PostgreSQL's plan for reading every row of `table`."""
    query = str(select(table).compile(conn))
    return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN (COSTS OFF) " + query))


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_postgresql_staging_table_is_read_by_parallel_workers_and_never_committed(store):
    def columns() -> list[Column]:
        return [Column("order_id", String(64))]

    with store.begin() as conn:
        staging = create_temp_table(conn, "staging_orders", columns(), parallel_scan=True)
        temporary = create_temp_table(conn, "temporary_orders", columns())
        assert staging.name.startswith("staging_orders_")
        version = int(conn.exec_driver_sql("SHOW server_version_num").scalar())
        forced = "debug_parallel_query" if version >= 160000 else "force_parallel_mode"
        set_local(conn, {forced: "on"})  # a Gather wherever one may go
        assert "Gather" in _plan_of_reading(conn, staging)
        assert "Gather" not in _plan_of_reading(conn, temporary)
        with store.connect() as other:  # its creation is not committed
            assert staging.name not in inspect(other).get_table_names()
        drop_temp_table(conn, staging)
    assert schema_differences(store) == []
    with pytest.raises(RuntimeError), store.begin() as conn:
        create_temp_table(conn, "staging_orders", columns(), parallel_scan=True)
        raise RuntimeError("import failed")
    assert schema_differences(store) == []  # the rollback took the table too


def test_create_temp_table_as_holds_the_rows_of_its_query(store):
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1", "c2", "c3"]}))
    customers = models.customers
    query = select(
        customers.c.customer_id,
        func.length(customers.c.customer_id).label("id_length"),
    ).where(customers.c.customer_id != "c2")
    postgres = store.dialect.name == "postgresql"

    def tuple_cost(conn) -> str | None:
        return conn.exec_driver_sql("SHOW parallel_tuple_cost").scalar() if postgres else None

    with store.begin() as conn:
        before = tuple_cost(conn)
        delta = create_temp_table_as(conn, "delta_customers", query)
        rows = conn.execute(select(delta).order_by(delta.c.customer_id)).all()
        after = tuple_cost(conn)
        drop_temp_table(conn, delta)
    assert before == after != "0"  # the planner hint ended with the statement
    assert [tuple(row) for row in rows] == [("c1", 2), ("c3", 2)]
    assert schema_differences(store) == []


def _text_with_bytes_under_nulls(values: list[str], nulls: set[int]) -> pd.Series:
    """A text column whose NULL slots still span bytes, which Arrow allows."""
    dense = pa.array(values, pa.string())
    valid = pa.array([i not in nulls for i in range(len(values))]).buffers()[1]
    text = pa.StringArray.from_buffers(len(dense), dense.buffers()[1], dense.buffers()[2], valid)
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([text])))


def _every_binary_type(name: str = "copy_types") -> tuple[sa.Table, pd.DataFrame]:
    table = sa.Table(
        name,
        sa.MetaData(),
        Column("row_no", sa.Integer, primary_key=True),
        Column("label", String(64)),
        Column("at", sa.DateTime),
        Column("day", sa.Date),
        Column("money", sa.Numeric(14, 2)),
        Column("ratio", sa.Numeric(10, 4)),
        Column("wide", sa.Numeric(20, 6)),
        Column("real_number", sa.Float),
        Column("small", sa.SmallInteger),
        Column("big", sa.BigInteger),
        Column("flag", sa.Boolean),
    )
    times = ["1999-12-31 23:59:59.999999", "2000-01-01", "2024-03-05 14:30:00.123456", None]
    times += ["1970-01-01 00:00:01", "2100-02-28 23:00", "2024-02-29 12:00", None]
    money = [0.0, -0.0, 17.52, -17.52, 0.125, 1.005, -2.675, float("nan")]
    money += [999999999999.99, -999999999999.99, 0.004, -0.004, 1234.5678]
    rows = len(money)
    frame = pd.DataFrame(
        {
            "row_no": np.arange(rows, dtype=np.int64),
            "label": _text_with_bytes_under_nulls(
                ["O1", "", "zz", "王芳", 'a,b"c\nd', "x" * 60, "\\N", "ß", "yy"]
                + ["e"] * (rows - 9),
                nulls={2, 8},
            ),
            "at": pd.to_datetime((times * 2)[:rows], format="ISO8601"),
            "day": pd.to_datetime((times * 2)[:rows], format="ISO8601"),
            "money": money,
            "ratio": ([1.23456, 0.00005, -3.14159, float("nan"), 0.0] * 3)[:rows],
            "wide": ([123456.789012, -0.000001, 99999999.5, 0.0000005] * 4)[:rows],
            "real_number": ([1.5, -2.25e-10, float("nan"), 1e300, -0.0] * 3)[:rows],
            "small": pd.array(([0, -32768, 32767, None] * 4)[:rows], dtype="Int64"),
            "big": np.array(([2**40, -(2**40), 0, 7] * 4)[:rows], dtype=np.int64),
            "flag": pd.array(([True, False, None] * 5)[:rows], dtype="boolean"),
        }
    )
    return table, frame


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_binary_copy_stores_what_postgresql_parses_from_csv(store):
    table, frame = _every_binary_type()
    as_csv, _ = _every_binary_type("copy_types_csv")
    with store.begin() as conn:
        table.metadata.create_all(conn)
        as_csv.metadata.create_all(conn)
        assert pg_copy._binary_encoders(conn, table, frame) is not None  # binary is taken
        text_as_objects = frame.assign(label=frame["label"].astype(object))
        assert pg_copy._binary_encoders(conn, as_csv, text_as_objects) is None  # CSV
        assert bulk_insert(conn, table, frame) == len(frame)
        assert bulk_insert(conn, as_csv, text_as_objects) == len(frame)
    with store.connect() as conn:
        binary_rows = conn.execute(select(table).order_by(table.c.row_no)).all()
        csv_rows = conn.execute(select(as_csv).order_by(as_csv.c.row_no)).all()
    assert [tuple(r) for r in binary_rows] == [tuple(r) for r in csv_rows]
    by_row = {r.row_no: r for r in binary_rows}
    assert str(by_row[4].money) == "0.13" and str(by_row[5].money) == "1.01"
    assert str(by_row[6].money) == "-2.68" and by_row[7].money is None
    assert str(by_row[9].money) == "-999999999999.99" and str(by_row[11].money) == "0.00"
    assert by_row[0].at == pd.Timestamp("1999-12-31 23:59:59.999999").to_pydatetime()
    assert by_row[3].label == "王芳" and by_row[2].label is None and by_row[1].label == ""
    assert by_row[3].at is None and by_row[3].day is None
    assert by_row[1].small == -32768 and by_row[3].small is None and by_row[2].flag is None


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_number_out_of_its_columns_range_is_refused_not_wrapped(store):
    table, frame = _every_binary_type()
    with store.begin() as conn:
        table.metadata.create_all(conn)
    for value in (1e12, 1e17):  # 1e17 * 100 no longer fits the encoder's 64-bit integers
        too_big = frame.assign(money=frame["money"].where(frame["row_no"] != 0, value))
        with store.begin() as conn:
            assert pg_copy._binary_encoders(conn, table, too_big) is None
        with pytest.raises(DBAPIError, match="numeric field overflow"), store.begin() as conn:
            bulk_insert(conn, table, too_big)


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_binary_copy_rounds_numbers_as_postgresql_rounds_their_text(store):
    rng = np.random.default_rng(5)
    ties = np.round(rng.uniform(0, 1e6, 3000), 2) + 0.005  # 2 decimals and a half
    values = np.concatenate(
        [
            [3100693.3649999998, 0.004999999999, 12345.124999999998, 999999999.9949998],
            [649116061656.9948, 91878376572.32446, 1e-7, 0.015, 2.675, 1.115],
            ties,
            np.nextafter(ties, 0),
            np.nextafter(ties, np.inf),
            rng.uniform(0, 500, 3000) * rng.integers(1, 50, 3000),  # unrounded price x qty
            np.round(rng.uniform(1e11, 1e12, 3000), 4),
            -ties,
        ]
    )
    values = values[np.abs(values) < 1e12]

    def numbers_table(name: str) -> sa.Table:
        return sa.Table(
            name,
            sa.MetaData(),
            Column("row_no", sa.Integer, primary_key=True),
            Column("label", String(8)),
            Column("money", sa.Numeric(14, 2)),
            Column("quantity", sa.Numeric(14, 3)),
            Column("rate", sa.Numeric(18, 9)),
        )

    frame = pd.DataFrame(
        {
            "row_no": np.arange(len(values)),
            "label": pd.array(["x"] * len(values), dtype="string"),
            "money": values,
            "quantity": values / 10,
            "rate": values / 1e6,
        }
    )
    binary, as_csv = numbers_table("numbers_binary"), numbers_table("numbers_csv")
    with store.begin() as conn:
        binary.metadata.create_all(conn)
        as_csv.metadata.create_all(conn)
        assert pg_copy._binary_encoders(conn, binary, frame) is not None
        bulk_insert(conn, binary, frame)
        bulk_insert(conn, as_csv, frame.assign(label=frame["label"].astype(object)))
    with store.connect() as conn:
        binary_rows = conn.execute(select(binary).order_by(binary.c.row_no)).all()
        csv_rows = conn.execute(select(as_csv).order_by(as_csv.c.row_no)).all()
    differing = [(b, c) for b, c in zip(binary_rows, csv_rows, strict=True) if b != c]
    assert len(binary_rows) == len(values) and differing == []


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_role_that_may_not_create_tables_still_upserts(store):
    role = f"crm_app_{uuid.uuid4().hex[:8]}"
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1", "c2"]}))
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for grant in (
            "SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public",
            "USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public",
        ):
            conn.exec_driver_sql(f'GRANT {grant} TO "{role}"')
    app = sa.create_engine(store.url.set(username=role))
    try:
        with app.begin() as conn:
            assert not bulk._may_create_tables(conn)
            frame = pd.DataFrame({"customer_id": ["c2", "c3"], "name": ["Li", "Wu"]})
            counts = upsert(conn, models.customers, frame, ("customer_id",), None)
        assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 0)
    finally:
        app.dispose()
    assert _count(store, models.customers) == 3
    assert schema_differences(store) == []
