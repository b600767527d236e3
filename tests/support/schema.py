"""What Alembic finds different between a store's schema and the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from crm_core.store import wait_for_background_builds
from crm_core.store.models import metadata


def schema_differences(engine: Engine) -> list:
    """Alembic's autogenerate differences (types compared too); [] when they match. Waits
    for background index builds first: the schema as it is once they are done."""
    wait_for_background_builds()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)
