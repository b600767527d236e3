"""The schema's Alembic migrations (crm_core/store/migrations): their config, the upgrade
to the newest revision (which also finishes interrupted background builds) and the
revision a store is at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from crm_core.store.builds import finish_interrupted_builds

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Any:
    """An Alembic Config for crm_core/store/migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema up to the newest Alembic revision (idempotent), and create any
    index or foreign-key check a background build left undone (`finish_interrupted_builds`)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
    finish_interrupted_builds(engine)


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the store is at, or None for an empty store."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
