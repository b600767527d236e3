"""Alembic environment: runs against the engine crm_core.store passes in, or DATABASE_URL."""

from alembic import context

from crm_core.store import make_engine
from crm_core.store.models import metadata

config = context.config


def run_migrations() -> None:
    engine = config.attributes.get("engine") or make_engine()
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            compare_type=True,
        )
        context.run_migrations()


run_migrations()
