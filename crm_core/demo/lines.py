"""Demo order lines: what each order held, so baskets, cross-sell rules and the customer's
categories have lines to read.

Every order that is not a refund gets 1-4 lines. The first is a SKU of the order's
category (SKU numbers follow a Zipf law, so a few sell most). An extra line after one
of a category's best sellers (SKU numbers 1-BEST_SELLERS) is, with the chances in
reference.COMPANIONS, that best seller's companion (nuts with a gift box and an opener,
formula with bottles and wipes); other extra lines are SKUs of the same category or of a
category drawn by its share. The order's amount is split over its lines (the first line
the largest share), to the cent: the lines of an order add up to its amount. Quantity 1,
unit price = amount.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_core.demo.helpers import choice, random_stream, strings
from crm_core.demo.reference import (
    BEST_SELLERS,
    CATEGORY_NAMES,
    CATEGORY_SHARES,
    CATEGORY_SKU_PREFIX,
    COMPANIONS,
    PRODUCT_NOUNS,
    SKUS_PER_CATEGORY,
)

LINE_COUNT_WEIGHTS = np.array([0.52, 0.30, 0.13, 0.05])
"""Chances of 1, 2, 3 and 4 lines in an order."""
ORDINARY_SKUS = SKUS_PER_CATEGORY - 20
"""SKU numbers above this are kept for companions."""
LINES_STREAM = 11


def _catalogue() -> tuple[list[str], list[str]]:
    """(SKU code, name) of every catalogue entry, entry = category * SKUS_PER_CATEGORY +
    SKU number - 1; codes as the events use them ("SN-0012")."""
    codes, names = [], []
    special = {
        (CATEGORY_NAMES.index(category), number): name
        for _, category, number, name, _ in COMPANIONS
    }
    for category, prefix in enumerate(CATEGORY_SKU_PREFIX):
        nouns = PRODUCT_NOUNS[category]
        for number in range(1, SKUS_PER_CATEGORY + 1):
            code = f"{prefix}-{number:04d}"
            codes.append(code)
            names.append(f"{special.get((category, number), nouns[number % len(nouns)])} {code}")
    return codes, names


def _sku_numbers(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.minimum(rng.zipf(1.4, size), ORDINARY_SKUS)


def order_lines_frame(orders: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The lines of `orders` (the demo's orders frame), in order and line order: order_id,
    line_no, sku, description, category, quantity, unit_price, amount."""
    rng = random_stream(seed, LINES_STREAM)
    bought = orders[orders["status"] != "refunded"]
    count = len(bought)
    category = pd.Index(CATEGORY_NAMES).get_indexer(bought["category"]).astype(np.int64)
    lines_per_order = choice(rng, LINE_COUNT_WEIGHTS, count) + 1
    total = int(lines_per_order.sum())
    owner = np.repeat(np.arange(count), lines_per_order)
    starts = np.cumsum(lines_per_order) - lines_per_order
    line_no = np.arange(total) - np.repeat(starts, lines_per_order) + 1
    main_sku = _sku_numbers(rng, count)
    line_category = category[owner].copy()
    sku = _sku_numbers(rng, total)
    first = line_no == 1
    sku[first] = main_sku
    extra = ~first
    other = extra & (rng.random(total) < 0.5)
    line_category[other] = choice(rng, CATEGORY_SHARES, int(other.sum()))
    best = extra & (main_sku[owner] <= BEST_SELLERS)
    pick = rng.random(total)
    taken = np.zeros(total, dtype=bool)
    for main, companion, number, _name, chance in COMPANIONS:
        main_code = CATEGORY_NAMES.index(main)
        chosen = best & ~taken & (category[owner] == main_code) & (pick < chance)
        line_category[chosen] = CATEGORY_NAMES.index(companion)
        sku[chosen] = number
        taken |= chosen
        pick = np.where(chosen, pick, pick - chance)  # the next companion's chance follows
    weights = np.where(first, 1.0, rng.uniform(0.15, 0.5, total))
    amount = bought["amount"].to_numpy(dtype=np.float64)
    share = weights / np.bincount(owner, weights=weights)[owner]
    cents = np.round(amount * 100).astype(np.int64)
    line_cents = np.floor(cents[owner] * share).astype(np.int64)
    last = np.r_[line_no[1:] == 1, True]
    line_cents[last] += cents - np.bincount(owner, weights=line_cents).astype(np.int64)
    codes, names = _catalogue()
    entry = line_category * SKUS_PER_CATEGORY + sku - 1
    line_amount = line_cents / 100.0
    return pd.DataFrame(
        {
            "order_id": bought["order_id"].to_numpy()[owner],
            "line_no": line_no.astype(np.int64),
            "sku": strings(entry, codes),
            "description": strings(entry, names),
            "category": strings(line_category, list(CATEGORY_NAMES)),
            "quantity": np.ones(total),
            "unit_price": line_amount,
            "amount": line_amount,
        }
    )
