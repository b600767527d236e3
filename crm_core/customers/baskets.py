"""Baskets: what sells together.

A basket is a paid order; its items are the SKUs (or categories) of its order lines with
a positive quantity, each counted once per basket. For two items A and B over N baskets:

- support(A, B) = baskets holding both / N (a share 0-1), shown with the basket count;
- confidence(A -> B) = support(A, B) / support(A): the share of A's baskets that hold B;
- lift(A -> B) = confidence(A -> B) / support(B): above 1, A's baskets hold B more often
  than baskets in general.

Rules are pairs (one item on each side), counted by one sparse product of the basket x
item matrix with itself, so 10M order lines over the top 1,000 items take seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sqlalchemy import Engine, func, or_, select

from crm_core import asof
from crm_core.errors import InputError
from crm_core.store import data_version, models, raw_value, read_frame
from crm_core.store.settings import read_setting, write_setting

LEVELS: tuple[str, ...] = ("sku", "category")
RULE_COLUMNS: tuple[str, ...] = (
    "antecedent",
    "consequent",
    "baskets",
    "antecedent_baskets",
    "consequent_baskets",
    "support",
    "confidence",
    "lift",
)


@dataclass(frozen=True)
class BasketMatrix:
    """Which basket holds which item: `matrix` (baskets x items, 1 where the basket holds
    the item), the basket ids (`baskets`) and the items (`items`) its rows and columns
    stand for."""

    matrix: sparse.csr_matrix
    baskets: pd.Index
    items: pd.Index
    amounts: np.ndarray | None = None
    """Each basket's order amount (shop currency), when the lines had an amount."""

    @property
    def size(self) -> int:
        """Number of baskets."""
        return self.matrix.shape[0]

    def item_baskets(self) -> np.ndarray:
        """Baskets holding each item (int per column)."""
        return np.asarray(self.matrix.sum(axis=0)).ravel().astype(np.int64)


def basket_matrix(
    lines: pd.DataFrame,
    *,
    basket: str = "order_id",
    item: str = "item",
    top_items: int | None = None,
) -> BasketMatrix:
    """The basket x item matrix of `lines` (one row per order line: its basket id and its
    item, and optionally the order's `amount`; lines without an item are left out). With
    `top_items`, only the items in the most baskets (ties broken by item name)."""
    for name in (basket, item):
        if name not in lines.columns:
            raise InputError("baskets.error.column", column=name)
    has_amount = "amount" in lines.columns
    chosen = lines[[basket, item, *(["amount"] if has_amount else [])]].dropna(
        subset=[basket, item]
    )
    basket_codes, baskets = pd.factorize(chosen[basket].astype(str), sort=True)
    amounts = None
    if has_amount:
        amounts = np.full(len(baskets), np.nan)
        amounts[basket_codes] = chosen["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    item_codes, items = pd.factorize(chosen[item].astype(str), sort=True)
    matrix = sparse.csr_matrix(
        (np.ones(len(chosen), dtype=np.int32), (basket_codes, item_codes)),
        shape=(len(baskets), len(items)),
    )
    matrix.data[:] = 1  # an item twice in one basket counts once
    result = BasketMatrix(matrix, pd.Index(baskets), pd.Index(items), amounts)
    if top_items is not None and top_items < len(items):
        counts = result.item_baskets()
        order = np.lexsort((np.asarray(items, dtype=object).astype(str), -counts))[:top_items]
        keep = np.sort(order)
        result = BasketMatrix(matrix[:, keep].tocsr(), result.baskets, result.items[keep], amounts)
    return result


def pair_rules(
    baskets: BasketMatrix,
    *,
    min_support: float = 0.0,
    min_confidence: float = 0.0,
    min_lift: float = 0.0,
) -> pd.DataFrame:
    """Every rule A -> B between two different items whose pair is in at least one basket
    and meets the minimums (inclusive), with RULE_COLUMNS (support of the pair, counts in
    baskets) and, when the baskets have amounts, `revenue`: the order amounts of the
    baskets holding both (shop currency); sorted by lift, then baskets, then names.
    Empty without baskets."""
    for name, value in (("min_support", min_support), ("min_confidence", min_confidence)):
        if not 0.0 <= value <= 1.0:
            raise InputError("baskets.error.share", name=name, value=value)
    if min_lift < 0:
        raise InputError("baskets.error.lift", value=min_lift)
    total = baskets.size
    columns = [*RULE_COLUMNS, *(["revenue"] if baskets.amounts is not None else [])]
    if total == 0:
        return pd.DataFrame({name: [] for name in columns})
    matrix = baskets.matrix.astype(np.int64)
    together = (matrix.T @ matrix).tocoo()
    off_diagonal = together.row != together.col
    first, second = together.row[off_diagonal], together.col[off_diagonal]
    both = together.data[off_diagonal].astype(np.int64)
    counts = baskets.item_baskets()
    support = both / total
    confidence = both / counts[first]
    lift = confidence / (counts[second] / total)
    keep = (support >= min_support) & (confidence >= min_confidence) & (lift >= min_lift)
    items = np.asarray(baskets.items, dtype=object)
    rules = pd.DataFrame(
        {
            "antecedent": items[first[keep]],
            "consequent": items[second[keep]],
            "baskets": both[keep],
            "antecedent_baskets": counts[first[keep]],
            "consequent_baskets": counts[second[keep]],
            "support": support[keep],
            "confidence": confidence[keep],
            "lift": lift[keep],
        }
    )
    if baskets.amounts is not None:
        weighted = baskets.matrix.T.multiply(np.nan_to_num(baskets.amounts)).tocsr()
        revenue = (weighted @ baskets.matrix.astype(np.float64)).tocsr()
        rules["revenue"] = np.asarray(revenue[first[keep], second[keep]]).ravel().round(2)
    return rules.sort_values(
        ["lift", "baskets", "antecedent", "consequent"],
        ascending=[False, False, True, True],
        kind="stable",
        ignore_index=True,
    )


def basket_lines(
    engine: Engine,
    level: str = "sku",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> pd.DataFrame:
    """One row per line with a positive quantity of the paid orders placed from the start
    of `since` to the end of `until` (open ends: all history): order_id, customer_id,
    amount (the whole order's amount, shop currency) and item (the SKU, or the category
    with `level` "category"; empty where the line has none: `basket_matrix` leaves such
    lines out, `basket_table` counts them)."""
    if level not in LEVELS:
        raise InputError("baskets.error.level", level=level, levels=", ".join(LEVELS))
    if since is not None and until is not None and since > until:
        raise InputError("baskets.error.period", since=since.isoformat(), until=until.isoformat())
    ol, od = models.order_lines, models.orders
    statement = (
        select(ol.c.order_id, od.c.customer_id, od.c.amount, ol.c[level].label("item"))
        .join(od, od.c.order_id == ol.c.order_id)
        .where(od.c.status == "paid", ol.c.quantity > 0)
    )
    if since is not None:
        statement = statement.where(od.c.ordered_at >= asof.day_start(since))
    if until is not None:
        statement = statement.where(od.c.ordered_at < asof.end_of(until))
    with engine.connect() as conn:
        return read_frame(conn, statement, numbers=["amount"])


def has_order_lines(engine: Engine) -> bool:
    """Whether any order line names a SKU or a category (what baskets are made of)."""
    ol = models.order_lines
    statement = (
        select(ol.c.order_id).where(or_(ol.c.sku.is_not(None), ol.c.category.is_not(None))).limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(statement).first() is not None


def item_descriptions(engine: Engine) -> pd.DataFrame:
    """sku, description (the one on most of its lines, ties to the first by name) and
    category (likewise) of every SKU on an order line."""
    ol = models.order_lines
    statement = (
        select(ol.c.sku, ol.c.description, ol.c.category, func.count().label("lines"))
        .where(ol.c.sku.is_not(None))
        .group_by(ol.c.sku, ol.c.description, ol.c.category)
    )
    with engine.connect() as conn:
        rows = read_frame(conn, statement, numbers=["lines"])
    result = pd.DataFrame({"sku": rows["sku"].drop_duplicates().sort_values()})
    for name in ("description", "category"):
        counted = (
            rows.dropna(subset=[name])
            .groupby(["sku", name], observed=True)["lines"]
            .sum()
            .reset_index()
            .sort_values(["sku", "lines", name], ascending=[True, False, True], kind="stable")
            .drop_duplicates("sku")
        )
        result = result.merge(counted[["sku", name]], on="sku", how="left")
    return result.reset_index(drop=True)


@dataclass(frozen=True)
class CustomerItems:
    """Which customer bought which item (SKU or category, `level`) by the end of `as_of`:
    `days` (customers x items) holds 1 + the whole days from the last paid purchase of
    the item to `as_of`, 0 where the customer never bought it."""

    level: str
    as_of: dt.date
    customers: pd.Index
    items: pd.Index
    days: sparse.csr_matrix

    @classmethod
    def from_purchases(
        cls, purchases: pd.DataFrame, as_of: dt.date | str, level: str = "category"
    ) -> CustomerItems:
        """From lines with customer_id, the `level` column and ordered_at (later
        purchases than `as_of` are left out)."""
        day = pd.Timestamp(as_of).date()
        rows = purchases.dropna(subset=[level])
        rows = rows[pd.to_datetime(rows["ordered_at"]) < pd.Timestamp(asof.end_of(day))]
        last = rows.groupby(["customer_id", level], observed=True)["ordered_at"].max()
        customer_codes, customers = pd.factorize(
            last.index.get_level_values(0).astype(str), sort=True
        )
        item_codes, items = pd.factorize(last.index.get_level_values(1).astype(str), sort=True)
        last_days = pd.DatetimeIndex(pd.to_datetime(last.to_numpy())).normalize()
        days = (pd.Timestamp(day) - last_days).days.to_numpy(dtype=np.float64) + 1.0
        matrix = sparse.csr_matrix(
            (days, (customer_codes, item_codes)),
            shape=(len(customers), len(items)),
        )
        return cls(level, day, pd.Index(customers), pd.Index(items), matrix)

    def bought(
        self, customer_ids: pd.Series, items: Sequence[str], within_days: int | None = None
    ) -> np.ndarray:
        """True per customer id who bought any of `items` in the `within_days` days that
        end with `as_of` (None: ever)."""
        result = np.zeros(len(customer_ids), dtype=bool)
        columns = self.items.get_indexer(list(items))
        columns = columns[columns >= 0]
        rows = self.customers.get_indexer(pd.Series(customer_ids).astype(str))
        if not len(columns) or not len(self.customers):
            return result
        chosen = self.days[:, columns]
        if within_days is not None:
            chosen = chosen.copy()
            chosen.data[chosen.data > within_days] = 0
        any_bought = np.asarray((chosen > 0).sum(axis=1)).ravel() > 0
        known = rows >= 0
        result[known] = any_bought[rows[known]]
        return result

    def recency_weights(self) -> sparse.csr_matrix:
        """0.5 ** (days since the last purchase / RECENCY_HALF_LIFE_DAYS) where bought."""
        weights = self.days.copy().astype(np.float64)
        weights.data = 0.5 ** ((weights.data - 1.0) / RECENCY_HALF_LIFE_DAYS)
        return weights


IDS_PER_QUERY = 900
"""Customer ids bound in one IN list (SQLite allows 32,766 parameters; keep it small)."""


def customer_items(
    engine: Engine,
    as_of: dt.date,
    level: str = "category",
    customer_ids: Sequence[str] | None = None,
) -> CustomerItems:
    """`CustomerItems` of the paid orders' lines with a positive quantity, read with one
    aggregation in the database (last purchase per customer and item); of every
    customer, or of `customer_ids` only (read through the customers' orders: a member
    list's thousand customers take milliseconds)."""
    if level not in LEVELS:
        raise InputError("baskets.error.level", level=level, levels=", ".join(LEVELS))
    ol, od = models.order_lines, models.orders
    statement = (
        select(
            od.c.customer_id,
            ol.c[level].label(level),
            raw_value(func.max(od.c.ordered_at)).label("ordered_at"),
        )
        .join(od, od.c.order_id == ol.c.order_id)
        .where(
            od.c.status == "paid",
            ol.c.quantity > 0,
            ol.c[level].is_not(None),
            od.c.ordered_at < asof.end_of(as_of),
        )
        .group_by(od.c.customer_id, ol.c[level])
    )
    with engine.connect() as conn:
        if customer_ids is None:
            rows = read_frame(conn, statement, times=["ordered_at"])
        else:
            ids = sorted({str(value) for value in customer_ids})
            parts = [
                read_frame(
                    conn,
                    statement.where(od.c.customer_id.in_(ids[start : start + IDS_PER_QUERY])),
                    times=["ordered_at"],
                )
                for start in range(0, len(ids), IDS_PER_QUERY)
            ]
            rows = (
                pd.concat(parts, ignore_index=True)
                if parts
                else pd.DataFrame({"customer_id": [], level: [], "ordered_at": []})
            )
    return CustomerItems.from_purchases(rows, as_of, level)


RULE_DAYS = 365
"""Next best categories read the category rules of the baskets of this many days up to
the as-of day (a year: every season once)."""
RULES_KEY = "cross_sell.category_rules"
RULES_KEPT = 4
RULES_STORED_MOST = 50_000
"""Rule sets larger than this (thousands of categories) are computed, not kept."""


def stored_category_rules(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    """The category rules (`pair_rules`) of the paid baskets of the RULE_DAYS days up to
    `as_of`, computed once per (data version, as-of date) and kept in the store, so a
    restart or another user reads them instead of every line of the year again (on 1M
    customers that read takes most of a minute on SQLite). The newest RULES_KEPT sets
    are kept."""
    key = json.dumps(
        {"version": data_version(engine), "as_of": as_of.isoformat(), "days": RULE_DAYS},
        sort_keys=True,
    )
    stored = read_setting(engine, RULES_KEY) or {}
    if key in stored:
        return pd.DataFrame(stored[key]["rules"], columns=list(RULE_COLUMNS))
    since = as_of - dt.timedelta(days=RULE_DAYS - 1)
    lines = basket_lines(engine, "category", since, as_of)
    rules = pair_rules(basket_matrix(lines[["order_id", "item"]]))
    if len(rules) <= RULES_STORED_MOST:
        with engine.begin() as conn:
            current = read_setting(conn, RULES_KEY) or {}
            newest = sorted(current.items(), key=lambda item: item[1]["saved"])
            kept = dict(newest[-(RULES_KEPT - 1) :])
            kept[key] = {
                "rules": json.loads(
                    rules[list(RULE_COLUMNS)].to_json(orient="values", double_precision=15)
                ),
                "saved": max([entry["saved"] for entry in kept.values()] + [0]) + 1,
            }
            write_setting(conn, RULES_KEY, kept)
    return rules


NEXT_BEST_SHOWN = 3
SCORE_CELLS = 4_000_000
"""Customers x categories scored at a time (32 MB of float64), so memory stays flat."""
RECENCY_HALF_LIFE_DAYS = 90.0
"""A category bought this many days ago counts half as much as one bought today."""


def next_best_categories(items: CustomerItems, rules: pd.DataFrame) -> pd.DataFrame:
    """Each customer's NEXT_BEST_SHOWN categories not bought yet, best first.

    `items`: the customers' categories (`CustomerItems` at category level); `rules`:
    category rules of `pair_rules`. A category B scores the mean of confidence(A -> B)
    over the categories A the customer bought, each A weighted by 0.5 ** (days since its
    last purchase / RECENCY_HALF_LIFE_DAYS): a share 0-1, the chance a basket with the
    customer's recent categories also holds B. Columns: customer_id, rank (1 = best),
    category, score; categories scoring 0 are left out."""
    if not len(items.customers) or rules.empty:
        return pd.DataFrame({"customer_id": [], "rank": [], "category": [], "score": []})
    categories = pd.Index(sorted(set(items.items) | set(rules["consequent"].astype(str))))
    to_shared = categories.get_indexer(items.items)
    weights = items.recency_weights().tocoo()
    weights = sparse.csr_matrix(
        (weights.data, (weights.row, to_shared[weights.col])),
        shape=(len(items.customers), len(categories)),
    )
    confidence = sparse.csr_matrix(
        (
            rules["confidence"].to_numpy(dtype=np.float64),
            (
                categories.get_indexer(rules["antecedent"].astype(str)),
                categories.get_indexer(rules["consequent"].astype(str)),
            ),
        ),
        shape=(len(categories), len(categories)),
    )
    totals = np.asarray(weights.sum(axis=1)).ravel()
    shown = min(NEXT_BEST_SHOWN, len(categories))
    best = np.zeros((len(items.customers), shown), dtype=np.int64)
    best_scores = np.zeros((len(items.customers), shown))
    step = max(1, SCORE_CELLS // len(categories))
    for start in range(0, len(items.customers), step):
        chunk = weights[start : start + step]
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = (chunk @ confidence).toarray() / totals[start : start + step, None]
        scores = np.nan_to_num(scores)
        rows, columns = chunk.nonzero()
        scores[rows, columns] = 0.0  # bought already
        every_row = np.arange(len(scores))
        for rank in range(shown):  # argmax takes the first of equals: ties go by name
            chosen = scores.argmax(axis=1)
            best[start : start + step, rank] = chosen
            best_scores[start : start + step, rank] = scores[every_row, chosen]
            scores[every_row, chosen] = -np.inf
    keep = best_scores.ravel() > 0
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.asarray(items.customers, dtype=object), shown)[keep],
            "rank": np.tile(np.arange(1, shown + 1), len(items.customers))[keep],
            "category": np.asarray(categories, dtype=object)[best.ravel()][keep],
            "score": best_scores.ravel()[keep],
        }
    )


PAIR_FACT_COLUMNS: tuple[str, ...] = (
    "segment",
    "with_pair",
    "baskets",
    "items_per_basket",
    "average_order_value",
)
ALL_SEGMENTS = "*"
"""`pair_basket_facts`: the segment value of the rows over every customer."""


def basket_table(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per basket of `basket_lines`' rows, indexed by order_id as text (sorted):
    customer_id, amount (the order's, shop currency) and items (its lines with a positive
    quantity, those without the item included)."""
    ids = lines["order_id"].astype(str)
    table = (
        pd.DataFrame(
            {
                "order_id": ids,
                "customer_id": lines["customer_id"].astype(str),
                "amount": lines["amount"],
            }
        )
        .groupby("order_id", sort=True)
        .agg(
            customer_id=("customer_id", "first"),
            amount=("amount", "first"),
            items=("customer_id", "size"),
        )
    )
    return table


def pair_basket_facts(
    table: pd.DataFrame,
    baskets: BasketMatrix,
    antecedent: str,
    consequent: str,
    segments: pd.Series | None = None,
) -> pd.DataFrame:
    """What the pair A -> B is worth: of the baskets holding A, those that also hold B
    (with_pair True) against those without B, per segment and over all (segment
    ALL_SEGMENTS): baskets, items_per_basket (mean lines with a positive quantity) and
    average_order_value (mean order amount, shop currency). `table`: `basket_table`;
    `baskets`: `basket_matrix` of the same lines (which baskets hold A and B);
    `segments`: each customer's segment name, indexed by customer_id (customers without
    one are only in the overall rows)."""

    def holding(item: str) -> np.ndarray:
        column = baskets.items.get_indexer([str(item)])[0]
        if column < 0:
            return np.zeros(0, dtype=np.int64)
        rows = baskets.matrix[:, column].nonzero()[0]
        return table.index.get_indexer(baskets.baskets[rows])

    has_b = np.zeros(len(table), dtype=bool)
    has_b[holding(consequent)] = True
    rows_a = np.sort(holding(antecedent))
    holding_a = table.iloc[rows_a].assign(with_pair=has_b[rows_a])
    frames = [holding_a.assign(segment=ALL_SEGMENTS)]
    if segments is not None:
        named = holding_a["customer_id"].map(segments.set_axis(segments.index.astype(str)))
        frames.append(holding_a.assign(segment=named).dropna(subset=["segment"]))
    facts = (
        pd.concat(frames, ignore_index=True)
        .groupby(["segment", "with_pair"], sort=False)
        .agg(
            baskets=("items", "size"),
            items_per_basket=("items", "mean"),
            average_order_value=("amount", "mean"),
        )
        .reset_index()
    )
    facts["_all_first"] = facts["segment"].map({ALL_SEGMENTS: 0}).fillna(1)
    facts = facts.sort_values(
        ["_all_first", "segment", "with_pair"], ascending=[True, True, False], kind="stable"
    )
    return facts[list(PAIR_FACT_COLUMNS)].reset_index(drop=True)


class PurchaseHistory:
    """The purchases audiences and member lists read for cross-sell, as of a day, each
    part read from the store on first use and kept: `items(level)` (`CustomerItems`),
    `category_rules()` (`stored_category_rules`) and `next_best()`
    (`next_best_categories` of the two); `next_best_of` for a few customers."""

    def __init__(self, engine: Engine, as_of: dt.date) -> None:
        self.engine = engine
        self.as_of = as_of
        self._parts: dict[str, object] = {}

    def items(self, level: str = "category") -> CustomerItems:
        key = f"items:{level}"
        if key not in self._parts:
            self._parts[key] = customer_items(self.engine, self.as_of, level)
        return self._parts[key]  # type: ignore[return-value]

    def category_rules(self) -> pd.DataFrame:
        if "rules" not in self._parts:
            self._parts["rules"] = stored_category_rules(self.engine, self.as_of)
        return self._parts["rules"]  # type: ignore[return-value]

    def next_best_of(self, customer_ids: Sequence[str]) -> pd.DataFrame:
        """`next_best_categories` of these customers only (their purchases read now)."""
        items = customer_items(self.engine, self.as_of, "category", customer_ids)
        return next_best_categories(items, self.category_rules())

    def next_best(self) -> pd.DataFrame:
        if "next_best" not in self._parts:
            self._parts["next_best"] = next_best_categories(
                self.items("category"), self.category_rules()
            )
        return self._parts["next_best"]  # type: ignore[return-value]

    def next_best_for(self, customer_ids: pd.Series, rank: int = 1) -> np.ndarray:
        """The category ranked `rank` for each customer id (None where there is none)."""
        best = self.next_best()
        chosen = best[best["rank"] == rank]
        lookup = pd.Series(chosen["category"].to_numpy(), index=chosen["customer_id"].astype(str))
        mapped = pd.Series(customer_ids).astype(str).map(lookup).astype(object)
        return mapped.where(mapped.notna(), None).to_numpy(dtype=object)
