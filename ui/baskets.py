"""Cached loaders of the Cross-sell page and of the cross-sell filters elsewhere.

`purchase_history` is what audiences and the RFM member list read for cross-sell (one
object per store, data version and as-of date; it reads each part on first use).
`period_rules` reads a period's basket lines once per (store, data version, level,
period, customers) and keeps the rules of every pair, so moving the minimum support,
confidence or lift only filters the kept frame."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core.customers.baskets import (
    BasketMatrix,
    PurchaseHistory,
    basket_lines,
    basket_matrix,
    basket_table,
    has_order_lines,
    item_descriptions,
    pair_rules,
)
from ui.context import DataKey, RunContext

PREFIX = "crm.baskets."
KEY_LEVEL = PREFIX + "level"
KEY_SINCE = PREFIX + "since"
KEY_UNTIL = PREFIX + "until"
KEY_PERIOD_AS_OF = PREFIX + "period_as_of"
KEY_SEGMENTS = PREFIX + "segments"
KEY_MIN_SUPPORT = PREFIX + "min_support"
KEY_MIN_CONFIDENCE = PREFIX + "min_confidence"
KEY_MIN_LIFT = PREFIX + "min_lift"
KEY_SORT = PREFIX + "sort"
KEY_SEARCH = PREFIX + "search"
KEY_PAIR = PREFIX + "pair"
KEY_NEXT_COUNT = PREFIX + "next_count"
KEY_FORMAT = PREFIX + "format"
KEY_DOWNLOAD = PREFIX + "download"
CACHE_ENTRIES = 4
TOP_SKUS = 1_000
"""At SKU level the rules cover the SKUs in the most baskets of the period."""


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _purchase_history(_engine: Engine, data_key: DataKey, as_of: dt.date) -> PurchaseHistory:
    return PurchaseHistory(_engine, as_of)


def purchase_history(ctx: RunContext, as_of: dt.date | None = None) -> PurchaseHistory:
    """What customers bought up to `as_of` (default the run's), shared by every page."""
    day = ctx.as_of if as_of is None else as_of
    return _purchase_history(ctx.engine, ctx.data_key, day)


@dataclass(frozen=True)
class PeriodRules:
    """The rules of every pair in a period's baskets (`rules`, with revenue), how many
    baskets and items they cover, and for a pair's worth the baskets (`table`, of
    `basket_table`) and which basket holds which item (`matrix`)."""

    rules: pd.DataFrame
    baskets: int
    items: int
    table: pd.DataFrame
    matrix: BasketMatrix


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _period_rules(
    _engine: Engine,
    data_key: DataKey,
    level: str,
    since: dt.date,
    until: dt.date,
    customers_key: str,
    _customers: frozenset[str] | None,
) -> PeriodRules:
    lines = basket_lines(_engine, level, since, until)
    if _customers is not None:
        lines = lines[lines["customer_id"].isin(_customers)].reset_index(drop=True)
    matrix = basket_matrix(lines, top_items=TOP_SKUS if level == "sku" else None)
    return PeriodRules(
        pair_rules(matrix), matrix.size, len(matrix.items), basket_table(lines), matrix
    )


def period_rules(
    ctx: RunContext,
    level: str,
    since: dt.date,
    until: dt.date,
    customers_key: str,
    customers: frozenset[str] | None,
) -> PeriodRules:
    """Rules of the paid baskets from `since` to `until` of `customers` (None: all),
    cached; `customers_key` names the customers in the key: whatever they depend on
    besides the data version (the as-of date, the scheme, the segments)."""
    return _period_rules(ctx.engine, ctx.data_key, level, since, until, customers_key, customers)


@st.cache_resource(show_spinner=False, max_entries=2, ttl=3600)
def _descriptions(_engine: Engine, data_key: DataKey) -> pd.DataFrame:
    return item_descriptions(_engine)


@st.cache_resource(show_spinner=False, max_entries=2, ttl=3600)
def _has_lines(_engine: Engine, data_key: DataKey) -> bool:
    return has_order_lines(_engine)


def lines_loaded(ctx: RunContext) -> bool:
    """Whether the store holds order lines with a SKU or a category (cached)."""
    return _has_lines(ctx.engine, ctx.data_key)


def descriptions(ctx: RunContext) -> pd.DataFrame:
    """Each SKU's description and category (cached per data version)."""
    return _descriptions(ctx.engine, ctx.data_key)


def item_labels(ctx: RunContext, level: str, items: pd.Index | list[str]) -> dict[str, str]:
    """What each item is called on screen: a SKU's description (with its code when the
    description does not hold it), a category's own name."""
    if level != "sku":
        return {str(item): str(item) for item in items}
    described = descriptions(ctx).set_index("sku")["description"]
    result = {}
    for item in items:
        text = described.get(item)
        if not isinstance(text, str) or not text:
            result[item] = item
        else:
            result[item] = text if item in text else f"{text} ({item})"
    return result
