"""The Alembic revisions build exactly the schema the models declare, on both databases,
and the history is one straight line."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text

from crm_core.db import alembic_config
from crm_core.models import customers, metadata


def test_migrations_match_the_models(store):
    with store.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


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
            assert len(declared) == 18
            assert {key: found[key] for key in declared} == dict.fromkeys(declared, "C")


def test_id_collation_downgrades_and_upgrades_with_the_data(store):
    with store.begin() as conn:
        conn.execute(insert(customers), [{"customer_id": "c1"}])
    config = alembic_config(store)
    command.downgrade(config, "0003")
    command.upgrade(config, "head")
    with store.connect() as conn:
        assert conn.execute(select(customers.c.customer_id)).scalars().all() == ["c1"]
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
