"""The schema migrates to head on SQLite and PostgreSQL, and the store basics work there."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from crm_core import models
from crm_core.db import (
    bulk_insert,
    bump_data_version,
    data_version,
    schema_revision,
    upgrade_to_head,
)


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
