"""What a cross-sell list did: did its recipients buy the item it was meant to sell (B),
and were their baskets bigger?

A campaign made from a download of a cross-sell audience (`Audience.not_bought_items`:
"bought A, not B", or `Audience.next_best_categories`: "next best category = X") has a
target: those items (SKUs or categories). For each recipient, over the campaign's window
(the same reference time and window as `campaign_recipients`):

- bought_target: a paid order in the window has a line of a target item with a positive
  quantity;
- orders and lines: the paid orders in the window and their lines with a positive
  quantity; items per basket = lines / orders over an arm's orders.

`cross_sell_report` compares the treated (all variants) with the holdout control: the
uplift in the share buying the target (two-proportion z-test, unpooled interval, share
points) and the difference in items per basket (Welch's test over the orders).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, literal, select

from crm_core import asof
from crm_core.outreach.audiences import Audience
from crm_core.outreach.campaigns.results import reference_time
from crm_core.outreach.campaigns.settings import CONTROL, campaign_windows, window_of
from crm_core.outreach.experiments import (
    MeanTest,
    ProportionTest,
    two_proportion_test,
    welch_test,
)
from crm_core.store import models, plus_days, raw_value, read_frame

CROSS_SELL_ARM_COLUMNS: tuple[str, ...] = (
    "arm",
    "is_control",
    "recipients",
    "bought_target",
    "target_rate",
    "orders",
    "items_per_basket",
)


@dataclass(frozen=True)
class CrossSellTarget:
    """What a cross-sell list was meant to sell: `items` at `level` (sku or category)
    and how the list chose them (`rule`: "not_bought" or "next_best")."""

    level: str
    items: tuple[str, ...]
    rule: str


def cross_sell_target(engine: Engine, campaign: Mapping[str, Any]) -> CrossSellTarget | None:
    """The target of the campaign's list, when it came from a cross-sell audience."""
    export_id = campaign.get("export_id")
    if export_id is None or pd.isna(export_id):
        return None
    with engine.connect() as conn:
        filters = conn.execute(
            select(models.exports.c.filters).where(models.exports.c.id == int(export_id))
        ).scalar()
    if not isinstance(filters, Mapping) or filters.get("source") != "audience":
        return None
    audience = Audience.from_dict(filters.get("audience") or {})
    if audience.not_bought_items:
        return CrossSellTarget(audience.item_level, audience.not_bought_items, "not_bought")
    if audience.next_best_categories:
        return CrossSellTarget("category", audience.next_best_categories, "next_best")
    return None


def window_lines(
    engine: Engine,
    campaign_id: str,
    as_of: dt.date,
    level: str,
    window_days: int | None = None,
) -> pd.DataFrame:
    """The lines with a positive quantity of each recipient's paid orders in the window
    (the same reference time and window as `campaign_recipients`): customer_id,
    order_id, item (the SKU or category by `level`); orders after `as_of` are not seen."""
    ct, cp, od, ol = (
        models.campaign_touches,
        models.campaigns,
        models.orders,
        models.order_lines,
    )
    window = window_of(campaign_windows(engine), campaign_id, window_days)
    reference = reference_time()
    statement = (
        select(ct.c.customer_id, od.c.order_id, ol.c[level].label("item"))
        .select_from(
            ct.join(cp, cp.c.campaign_id == ct.c.campaign_id)
            .join(
                od,
                and_(
                    od.c.customer_id == ct.c.customer_id,
                    od.c.status == "paid",
                    od.c.ordered_at >= reference,
                    od.c.ordered_at < plus_days(reference, literal(window)),
                    od.c.ordered_at < asof.end_of(as_of),
                ),
            )
            .join(ol, and_(ol.c.order_id == od.c.order_id, ol.c.quantity > 0))
        )
        .where(ct.c.campaign_id == campaign_id)
    )
    with engine.connect() as conn:
        return read_frame(conn, statement)


def cross_sell_recipients(
    engine: Engine, campaign_id: str, lines: pd.DataFrame, target: CrossSellTarget
) -> pd.DataFrame:
    """One row per recipient: customer_id, arm (variant or control), is_control,
    bought_target, orders and lines in the window, from `window_lines` at the target's
    level."""
    ct = models.campaign_touches
    touches = select(
        ct.c.customer_id, ct.c.variant, raw_value(ct.c.is_control).label("is_control")
    ).where(ct.c.campaign_id == campaign_id)
    with engine.connect() as conn:
        people = read_frame(conn, touches, flags=["is_control"])
    people = people.drop_duplicates("customer_id").sort_values("customer_id")
    per_customer = (
        lines.assign(target=lines["item"].isin(list(target.items)))
        .groupby("customer_id")
        .agg(orders=("order_id", "nunique"), lines=("order_id", "size"), target=("target", "any"))
    )
    result = people.set_index("customer_id").join(per_customer, how="left")
    return pd.DataFrame(
        {
            "customer_id": result.index.astype(str),
            "arm": np.where(result["is_control"], CONTROL, result["variant"].fillna("A")),
            "is_control": result["is_control"].to_numpy(dtype=bool),
            "bought_target": result["target"].fillna(False).to_numpy(dtype=bool),
            "orders": result["orders"].fillna(0).to_numpy(dtype=np.int64),
            "lines": result["lines"].fillna(0).to_numpy(dtype=np.int64),
        }
    ).reset_index(drop=True)


@dataclass(frozen=True)
class CrossSellReport:
    """Per arm CROSS_SELL_ARM_COLUMNS (rates 0-1), and treated against control: the
    uplift in buying the target (share points) and the difference in items per basket
    (lines per paid order); None without a control group or without orders."""

    target: CrossSellTarget
    arms: pd.DataFrame
    target_uplift: ProportionTest | None
    basket_size: MeanTest | None


def cross_sell_report(
    engine: Engine,
    campaign_id: str,
    as_of: dt.date,
    target: CrossSellTarget,
    window_days: int | None = None,
) -> CrossSellReport:
    """The cross-sell figures of a campaign (see the module docstring)."""
    lines = window_lines(engine, campaign_id, as_of, target.level, window_days)
    recipients = cross_sell_recipients(engine, campaign_id, lines, target)
    arms = (
        recipients.groupby("arm", sort=True)
        .agg(
            is_control=("is_control", "max"),
            recipients=("customer_id", "size"),
            bought_target=("bought_target", "sum"),
            orders=("orders", "sum"),
            lines=("lines", "sum"),
        )
        .reset_index()
        .sort_values(["is_control", "arm"], ignore_index=True)
    )
    arms["target_rate"] = arms["bought_target"] / arms["recipients"]
    with np.errstate(invalid="ignore", divide="ignore"):
        arms["items_per_basket"] = arms["lines"] / arms["orders"].where(arms["orders"] > 0)
    treated = recipients[~recipients["is_control"]]
    control = recipients[recipients["is_control"]]
    uplift = basket = None
    if len(treated) and len(control):
        uplift = two_proportion_test(
            int(treated["bought_target"].sum()), len(treated),
            int(control["bought_target"].sum()), len(control),
        )  # fmt: skip
        controls = set(control["customer_id"])
        sizes = lines.groupby("order_id").agg(
            customer_id=("customer_id", "first"), lines=("item", "size")
        )
        in_control = sizes["customer_id"].isin(controls).to_numpy()
        treated_sizes = sizes["lines"].to_numpy(dtype=float)[~in_control]
        control_sizes = sizes["lines"].to_numpy(dtype=float)[in_control]
        if len(treated_sizes) > 1 and len(control_sizes) > 1:
            basket = welch_test(treated_sizes, control_sizes)
    return CrossSellReport(target, arms[list(CROSS_SELL_ARM_COLUMNS)], uplift, basket)
