"""A realistic generated demo shop: the app's first-start data and every benchmark's data.

`generate_shop(customers, seed, end_date)` returns one DataFrame per table (columns named
as in crm_core/store/models.py, ready for `store.bulk_insert`); the same arguments give
identical frames. `load_shop(engine, frames)` writes them into an empty store in one
transaction; `load_demo_shop` does both.

The modules, by entity: reference (the shop's reference data), timeline (days, retail
rhythm, clock time), helpers (vectorised draws and string columns), customers, campaigns,
orders (drawn per block of customers), tickets, surveys, events, blocks (gathering the
blocks into tables), shop (`generate_shop`) and load (writing into the store). Callers
import from here; the modules' other names are internal to the package.
"""

from crm_core.demo.customers import OrderCountModel
from crm_core.demo.load import (
    TABLES,
    StoreNotEmptyError,
    load_demo_shop,
    load_shop,
    remove_demo_shop,
    store_is_empty,
)
from crm_core.demo.reference import CITIES
from crm_core.demo.shop import (
    BLOCK_CUSTOMERS,
    DEFAULT_END_DATE,
    DEMO_IF_EMPTY_SETTING,
    DEMO_SHOP_SETTING,
    LOAD_ORDER,
    generate_shop,
)
from crm_core.demo.timeline import HISTORY_YEARS

__all__ = [
    "BLOCK_CUSTOMERS",
    "CITIES",
    "DEFAULT_END_DATE",
    "DEMO_IF_EMPTY_SETTING",
    "DEMO_SHOP_SETTING",
    "HISTORY_YEARS",
    "LOAD_ORDER",
    "TABLES",
    "OrderCountModel",
    "StoreNotEmptyError",
    "generate_shop",
    "load_demo_shop",
    "load_shop",
    "remove_demo_shop",
    "store_is_empty",
]
