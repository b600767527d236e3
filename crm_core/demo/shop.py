"""`generate_shop`: the whole demo shop, one DataFrame per table.

The shop sells snacks, drinks, household and kitchen goods, mother-and-baby products and
apparel to customers all over mainland China, online, in its stores and through WeCom.
Everything happens in the three years that end on `end_date`; the entity modules
(customers, campaigns, orders, tickets, surveys, events) say what each table holds.

Generation is vectorised NumPy. Customer attributes are drawn for all customers at once;
orders and everything that depends on them are drawn per block of `BLOCK_CUSTOMERS`
customers (each block with its own random stream), so memory stays bounded and the result
does not depend on the machine. Random streams: (seed, 1) customers, (seed, 2) their
names and contacts, (seed, 3) the campaign plan, (seed, 4, block) each block,
(seed, 5) payment delays.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from crm_core.demo.blocks import Blocks, numbered
from crm_core.demo.campaigns import campaigns_frame, plan_campaigns, touches_frame
from crm_core.demo.customers import OrderCountModel, customer_frame, draw_customers
from crm_core.demo.events import events_frame
from crm_core.demo.helpers import random_stream
from crm_core.demo.lines import order_lines_frame
from crm_core.demo.orders import draw_block, orders_frame
from crm_core.demo.surveys import surveys_frame
from crm_core.demo.tickets import tickets_frame
from crm_core.demo.timeline import Calendar

DEFAULT_END_DATE = dt.date(2026, 10, 31)
BLOCK_CUSTOMERS = 50_000
# The setting load_shop writes; generate_shop notes its arguments under it in the
# customers frame's attrs.
DEMO_SHOP_SETTING = "demo_shop"
DEMO_IF_EMPTY_SETTING = "demo_if_empty"
"""Whether the app may load the demo shop into an empty store (init-db stores it; removing
the demo sets it to false)."""

LOAD_ORDER = (
    "customers",
    "campaigns",
    "orders",
    "order_lines",
    "events",
    "tickets",
    "campaign_touches",
    "survey_responses",
)
"""Tables in foreign-key order (parents first)."""


def generate_shop(
    customers: int,
    seed: int = 42,
    end_date: dt.date = DEFAULT_END_DATE,
    order_model: OrderCountModel | None = None,
) -> dict[str, pd.DataFrame]:
    """A demo shop of `customers` customers whose history ends on `end_date`.

    Returns one frame per table in LOAD_ORDER, columns
    named as in crm_core/store/models.py (import_batch_id left out): timestamps datetime64,
    money as floats rounded to cents, flags as bools. The same arguments give identical
    frames. With the default `order_model` there are about 10 orders per customer.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    model = order_model or OrderCountModel()
    cal = Calendar(end_date)
    people = draw_customers(customers, seed, cal, model)
    plan = plan_campaigns(seed, cal)
    customer_ids = numbered("C", customers, 7)
    frames = {"customers": customer_frame(people, seed, cal, customer_ids)}
    frames["customers"].attrs[DEMO_SHOP_SETTING] = {
        "customers": customers,
        "seed": seed,
        "end_date": end_date.isoformat(),
    }

    blocks = Blocks(
        [
            draw_block(seed, number, people, lo, min(lo + BLOCK_CUSTOMERS, customers), cal, plan)
            for number, lo in enumerate(range(0, customers, BLOCK_CUSTOMERS))
        ],
        list(range(0, customers, BLOCK_CUSTOMERS)),
    )
    frames["orders"], order_rank = orders_frame(
        cal, blocks, customer_ids, plan, random_stream(seed, 5)
    )
    frames["order_lines"] = order_lines_frame(frames["orders"], seed)
    frames["events"] = events_frame(cal, blocks, customer_ids)
    frames["tickets"] = tickets_frame(cal, blocks, customer_ids, order_rank)
    frames["campaign_touches"] = touches_frame(cal, blocks, customer_ids, plan)
    frames["campaigns"] = campaigns_frame(cal, plan, frames["campaign_touches"])
    frames["survey_responses"] = surveys_frame(cal, blocks, customer_ids)
    return {name: frames[name] for name in LOAD_ORDER}
