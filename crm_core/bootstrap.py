"""First start: schema at head, an admin account, and the demo shop in an empty store.

Shared by `python -m crm_core init-db` and app.py so both prepare the store the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field

from sqlalchemy import Engine

from crm_core import auth, demo
from crm_core.errors import CrmError
from crm_core.predict.runs import run_predictions
from crm_core.store import upgrade_to_head
from crm_core.store.settings import read_setting, write_setting

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


DEMO_CUSTOMERS_ENV = "CRM_DEMO_CUSTOMERS"
DEMO_IF_EMPTY_ENV = "CRM_DEMO_IF_EMPTY"
_NO = ("0", "false", "no", "off")

logger = logging.getLogger(__name__)


def demo_customers_from_env() -> int:
    """Size of the first-start demo shop: CRM_DEMO_CUSTOMERS (0: no demo) or 20,000
    customers; a value that is not a whole number of 0 or more is ignored with a warning."""
    text = os.environ.get(DEMO_CUSTOMERS_ENV, "").strip()
    if not text:
        return DEMO_CUSTOMERS_DEFAULT
    if text.isdigit():
        return int(text)
    logger.warning(
        "%s=%r is not a whole number; using %s", DEMO_CUSTOMERS_ENV, text, DEMO_CUSTOMERS_DEFAULT
    )
    return DEMO_CUSTOMERS_DEFAULT


def demo_if_empty_from_env() -> bool | None:
    """CRM_DEMO_IF_EMPTY as a yes or no (0, false, no, off: no), or None when unset."""
    text = os.environ.get(DEMO_IF_EMPTY_ENV, "").strip().lower()
    return None if not text else text not in _NO


def demo_wanted(engine: Engine) -> bool:
    """Whether an empty store gets the demo shop: CRM_DEMO_IF_EMPTY when set, else what
    `init-db` stored (without --demo-if-empty: no), else yes (the README's first command
    shows a working app)."""
    from_env = demo_if_empty_from_env()
    if from_env is not None:
        return from_env
    stored = read_setting(engine, demo.DEMO_IF_EMPTY_SETTING)
    return True if stored is None else bool(stored)


def prepare_store(engine: Engine, load_demo_if_empty: bool | None = None) -> StartupReport:
    """Upgrade the schema, create the first admin when there is no user, and load the
    demo shop when the store holds no customers and no orders and a demo is wanted
    (`load_demo_if_empty`, or when None `demo_wanted`)."""
    upgrade_to_head(engine)
    password = auth.ensure_admin(engine)
    demo_rows: dict[str, int] = {}
    wanted = demo_wanted(engine) if load_demo_if_empty is None else load_demo_if_empty
    customers = demo_customers_from_env()
    if wanted and customers > 0 and demo.store_is_empty(engine):
        demo_rows = demo.load_demo_shop(engine, customers=customers, seed=DEMO_SEED)
        _predict_demo(engine)
    return StartupReport(admin_password=password, demo_rows=demo_rows)


def _predict_demo(engine: Engine) -> None:
    """A first prediction run on the demo shop's last day, so the Predictions page, the
    prediction fields and the high-value-at-risk list have something to show (a demo too
    small to fit is left without one)."""
    info = read_setting(engine, demo.DEMO_SHOP_SETTING) or {}
    end = info.get("end_date")
    if end is None:
        return
    try:
        run_predictions(engine, dt.date.fromisoformat(str(end)), actor=auth.COMMAND_LINE)
    except CrmError as error:
        logger.warning("no prediction run on the demo shop: %s", error.message())


def remember_demo_choice(engine: Engine, load_demo_if_empty: bool) -> None:
    """Store whether the app may load the demo shop into an empty store."""
    with engine.begin() as conn:
        write_setting(conn, demo.DEMO_IF_EMPTY_SETTING, bool(load_demo_if_empty))


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
