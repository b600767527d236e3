"""Loading the demo shop into the store: `load_shop` (into an empty store only, in one
transaction), `load_demo_shop` (generate and load) and `store_is_empty`."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, Engine, delete, select

from crm_core.auth import MANAGE_STORE, Actor, require
from crm_core.demo.shop import (
    DEFAULT_END_DATE,
    DEMO_IF_EMPTY_SETTING,
    DEMO_SHOP_SETTING,
    generate_shop,
)
from crm_core.errors import CrmError
from crm_core.store import bulk_insert, bulk_load, bulk_transaction, bump_data_version, models
from crm_core.store.settings import delete_setting, write_setting


class StoreNotEmptyError(CrmError):
    """The demo shop is only loaded into a store without customers or orders."""


TABLES = {
    "customers": models.customers,
    "campaigns": models.campaigns,
    "orders": models.orders,
    "order_lines": models.order_lines,
    "events": models.events,
    "tickets": models.tickets,
    "campaign_touches": models.campaign_touches,
    "survey_responses": models.survey_responses,
}
"""Every table a demo shop may hold, parents before children (foreign-key order)."""


def _store_counts(conn: Connection) -> tuple[bool, bool]:
    """(the store has a customer, the store has an order)."""
    customer = conn.execute(select(models.customers.c.customer_id).limit(1)).first()
    order = conn.execute(select(models.orders.c.order_id).limit(1)).first()
    return customer is not None, order is not None


def store_is_empty(engine: Engine) -> bool:
    """True when the store holds no customers and no orders (a demo may be loaded)."""
    with engine.connect() as conn:
        return _store_counts(conn) == (False, False)


def load_shop(engine: Engine, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Write a generated shop into an empty store in one transaction.

    Tables go in foreign-key order through `store.bulk_insert`; the data version is bumped
    and the setting 'demo_shop' records {customers, seed, end_date, loaded_at} (seed and
    end_date from what `generate_shop` noted in the customers frame's attrs).
    Returns the rows written per table. Raises StoreNotEmptyError when the store already
    holds customers or orders (a demo is never mixed into real data).
    """
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"not demo tables: {sorted(unknown)}")
    written: dict[str, int] = {}
    generated = (
        tables["customers"].attrs.get(DEMO_SHOP_SETTING, {}) if "customers" in tables else {}
    )
    with bulk_transaction(engine, [TABLES[name] for name in tables]) as conn:
        if _store_counts(conn) != (False, False):
            raise StoreNotEmptyError("demo.error.store_not_empty")
        bump_data_version(conn)
        info = {
            "customers": len(tables["customers"]) if "customers" in tables else 0,
            "seed": generated.get("seed"),
            "end_date": generated.get("end_date"),
            "loaded_at": dt.datetime.now().isoformat(timespec="seconds"),
        }
        write_setting(conn, DEMO_SHOP_SETTING, info)
        names = [name for name in TABLES if name in tables]
        with bulk_load(conn, [TABLES[name] for name in names]):
            for name in names:
                written[name] = bulk_insert(conn, TABLES[name], tables[name])
    return written


SHOP_TABLES = (
    models.customer_predictions,
    models.prediction_runs,
    models.survey_responses,
    models.campaign_touches,
    models.tickets,
    models.events,
    models.order_lines,
    models.orders,
    models.campaigns,
    models.export_members,
    models.exports,
    models.customers,
    models.import_rejects,
    models.import_batches,
)
"""What removing the demo shop empties, children before parents: the shop's data, the
prediction runs made on it, its target lists and its import history. Users, settings,
mapping templates and saved segment schemes stay."""


def remove_demo_shop(engine: Engine, actor: Actor) -> dict[str, int]:
    """Empty the shop's tables in one transaction (also what was imported on top of the
    demo: a demo is never mixed into real data) and forget the demo record, so the shop
    starts clean; the app does not load the demo again. Rows removed per table.
    PermissionDenied unless `actor` may manage the store."""
    require(actor, MANAGE_STORE)
    removed: dict[str, int] = {}
    with engine.begin() as conn:
        for table in SHOP_TABLES:
            removed[table.name] = conn.execute(delete(table)).rowcount
        delete_setting(conn, DEMO_SHOP_SETTING)
        write_setting(conn, DEMO_IF_EMPTY_SETTING, False)
        bump_data_version(conn)
    return removed


def load_demo_shop(
    engine: Engine,
    customers: int = 20_000,
    seed: int = 42,
    end_date: dt.date = DEFAULT_END_DATE,
) -> dict[str, int]:
    """Generate a demo shop and load it into the (empty) store; rows written per table."""
    frames = generate_shop(customers, seed=seed, end_date=end_date)
    return load_shop(engine, frames)
