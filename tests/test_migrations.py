"""The Alembic revisions build exactly the schema the models declare, on both databases,
and the history is one straight line."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, select, text

from crm_core.store import alembic_config
from crm_core.store.models import customers, metadata, order_lines, orders
from tests.support.schema import schema_differences


def test_migrations_match_the_models(store):
    assert schema_differences(store) == []


def test_revision_history_has_a_single_head():
    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1
    assert [rev.revision for rev in scripts.walk_revisions()][-1] == "0001"


def test_ids_sort_byte_by_byte_on_both_databases(store):
    ids = ["a1", "B2", "_3", "é4", "Z5", "10"]
    with store.begin() as conn:
        conn.execute(insert(customers), [{"customer_id": i} for i in ids])
        stored = conn.execute(select(customers.c.customer_id).order_by("customer_id")).scalars()
        assert list(stored) == sorted(ids, key=lambda i: i.encode("utf-8"))
        if conn.dialect.name == "postgresql":
            collations = conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name"
                    " FROM information_schema.columns WHERE table_schema = current_schema()"
                )
            ).all()
            found = {(t, c): collation for t, c, collation in collations}
            declared = {
                (table.name, column.name)
                for table in metadata.sorted_tables
                for column in table.c
                if "COLLATE" in str(column.type.compile(dialect=conn.dialect))
            }
            assert len(declared) == 19  # every shop id column, customer_predictions too
            assert {key: found[key] for key in declared} == dict.fromkeys(declared, "C")


def test_id_collation_downgrades_and_upgrades_with_the_data(store):
    with store.begin() as conn:
        conn.execute(insert(customers), [{"customer_id": "c1"}])
        order = {"order_id": "O1", "customer_id": "c1", "status": "paid", "amount": 5}
        conn.execute(insert(orders), [{**order, "ordered_at": dt.datetime(2024, 3, 5)}])
        line = {"order_id": "O1", "line_no": 1, "quantity": 1, "unit_price": 5, "amount": 5}
        conn.execute(insert(order_lines), [line])
    config = alembic_config(store)
    command.downgrade(config, "0003")
    command.upgrade(config, "head")
    with store.connect() as conn:
        assert conn.execute(select(customers.c.customer_id)).scalars().all() == ["c1"]
        joined = select(func.count()).select_from(
            order_lines.join(orders).join(customers)
        )  # the keys and foreign keys were rebuilt with the rows in place
        assert conn.execute(joined).scalar() == 1
    assert schema_differences(store) == []
