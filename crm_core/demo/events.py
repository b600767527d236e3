"""Demo browse/cart/favourite events and the events frame.

Events cluster in the last months and come also from customers who never bought.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_core.demo.blocks import Blocks, chronological, customers_of, numbered
from crm_core.demo.customers import Customers
from crm_core.demo.helpers import choice, digits, strings
from crm_core.demo.reference import (
    CATEGORY_NAMES,
    CATEGORY_SHARES,
    CATEGORY_SKU_PREFIX,
    SKUS_PER_CATEGORY,
)
from crm_core.demo.timeline import Calendar
from crm_core.store import models


def block_events(
    rng: np.random.Generator, cal: Calendar, people: Customers, lo: int, hi: int
) -> dict[str, np.ndarray]:
    """Browse/cart/favourite events, most in the last months, also from non-buyers."""
    nb = hi - lo
    signup = people.signup[lo:hi]
    buyer = people.order_count[lo:hi] > 0
    active = buyer & (people.active_end[lo:hi] >= cal.days - 120)
    browser = ~buyer & (rng.random(nb) < 0.45)
    mean = np.select([active, buyer, browser], [9.0, 0.6, 5.0], 0.0)
    count = rng.poisson(rng.gamma(0.8, mean / 0.8 + 1e-12))
    customer = np.repeat(np.arange(nb), count)
    n = len(customer)
    age = rng.exponential(45.0, n)
    tau = cal.days - age
    too_early = tau < signup[customer]
    tau[too_early] = signup[customer][too_early] + rng.random(int(too_early.sum())) * (
        cal.days - signup[customer][too_early]
    )
    favourite = people.favourite[lo:hi][customer]
    category = np.where(rng.random(n) < 0.6, favourite, choice(rng, CATEGORY_SHARES, n))
    sku_number = np.minimum(rng.zipf(1.4, n), SKUS_PER_CATEGORY)
    event_type = choice(rng, np.array([0.72, 0.18, 0.10]), n)
    return {
        "customer": customer.astype(np.int32),
        "tau": tau,
        "type": event_type.astype(np.int8),
        "category": category.astype(np.int8),
        "sku": sku_number.astype(np.int16),
    }


def events_frame(cal: Calendar, blocks: Blocks, customer_ids: pd.Series) -> pd.DataFrame:
    """The events in time order (ids E0000000001... in that order)."""
    seconds = cal.seconds(blocks.take("events", "tau"))
    order, _ = chronological(seconds)
    category = blocks.take("events", "category", order)
    return pd.DataFrame(
        {
            "event_id": numbered("E", len(order), 10),
            "customer_id": customers_of(
                customer_ids, blocks.take("events", "customer", order, "customer")
            ),
            "event_type": strings(blocks.take("events", "type", order), list(models.EVENT_TYPES)),
            "occurred_at": cal.timestamps(seconds[order]),
            "category": strings(category, CATEGORY_NAMES),
            "sku": strings(category, CATEGORY_SKU_PREFIX)
            + digits(blocks.take("events", "sku", order), 4, "-"),
        }
    )
