"""First start: schema at head, an admin account, and the demo shop in an empty store.

Shared by `python -m crm_core init-db` and app.py so both prepare the store the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlalchemy import Engine

from crm_core import auth, demo
from crm_core.store import upgrade_to_head
from crm_core.store.settings import read_setting

DEMO_CUSTOMERS_DEFAULT = 20_000
DEMO_SEED = 42


@dataclass(frozen=True)
class StartupReport:
    """What preparing the store did: a generated admin password (show once), demo rows."""

    admin_password: str | None = None
    demo_rows: dict[str, int] = field(default_factory=dict)

    @property
    def demo_loaded(self) -> bool:
        return bool(self.demo_rows)


def demo_customers_from_env() -> int:
    """Size of the first-start demo shop: CRM_DEMO_CUSTOMERS or 20,000 customers."""
    return int(os.environ.get("CRM_DEMO_CUSTOMERS", DEMO_CUSTOMERS_DEFAULT))


DEMO_IF_EMPTY_ENV = "CRM_DEMO_IF_EMPTY"


def demo_if_empty_from_env() -> bool:
    """Whether the app loads the demo shop into an empty store: yes unless
    CRM_DEMO_IF_EMPTY is 0, false, no or off."""
    return os.environ.get(DEMO_IF_EMPTY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def prepare_store(engine: Engine, load_demo_if_empty: bool = True) -> StartupReport:
    """Upgrade the schema, create the first admin when there is no user, and load the
    demo shop when the store holds no customers and no orders."""
    upgrade_to_head(engine)
    password = auth.ensure_admin(engine)
    demo_rows: dict[str, int] = {}
    if load_demo_if_empty and demo.store_is_empty(engine):
        demo_rows = demo.load_demo_shop(engine, customers=demo_customers_from_env(), seed=DEMO_SEED)
    return StartupReport(admin_password=password, demo_rows=demo_rows)


def admin_password_banner(password: str) -> str:
    """The console text that shows a generated admin password once."""
    line = "=" * 64
    return (
        f"{line}\nCRM dashboard: created user 'admin' with password\n\n    {password}\n\n"
        f"It is shown only this once. Set CRM_ADMIN_PASSWORD to choose it yourself.\n{line}"
    )


def demo_shop_info(engine: Engine) -> dict | None:
    """What the demo loader recorded ({customers, seed, end_date, loaded_at}), or None
    when the store holds no demo shop."""
    return read_setting(engine, demo.DEMO_SHOP_SETTING)
