"""The Alembic revisions build exactly the schema the models declare, on both databases,
and the history is one straight line."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from crm_core.db import alembic_config
from crm_core.models import metadata


def test_migrations_match_the_models(store):
    with store.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_revision_history_has_a_single_head():
    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1
    assert [rev.revision for rev in scripts.walk_revisions()][-1] == "0001"
