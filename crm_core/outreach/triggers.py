"""Trigger lists: the ready-made reminder lists of one as-of date.

- win-back (winback_days, default 45/60/90) and lost-customer (lost_days, default
  120/360) reminders: customers whose days since their last purchase (all history,
  `features.recency_days`) equal one of the days on the as-of date, so a daily job
  reaches each customer once per step;
- birthdays this month: customers born in the as-of date's month (by day of month);
- payment reminders (催付): unpaid orders placed in the `unpaid_max_age_hours` before the
  reference moment (older ones are left to expire). A new customer (no paid order before
  this one) is due `new_customer_delay_hours` after ordering; a returning customer from
  the start of the next calendar day. Orders of `large_order_amount` or more are flagged
  for a phone call. Only due orders are listed;
- thank-you coupons: customers whose ticket was resolved in the `thank_you_within_hours`
  before the reference moment and rated CSAT >= `thank_you_min_csat`.

The reference moment is the end of the as-of day unless given (the page passes the
current time when the as-of date is today). Settings are stored as JSON in `settings`
(key `trigger_settings`); analysts and admins may change them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, exists, select

from crm_core import asof
from crm_core.auth import EDIT_TRIGGERS, Actor, require
from crm_core.errors import InputError
from crm_core.store import models
from crm_core.store.settings import read_setting, write_setting

TRIGGER_SETTING = "trigger_settings"
TRIGGER_LISTS: tuple[str, ...] = ("winback", "lost", "birthday", "payment", "thank_you")
MARKETING_TRIGGERS = frozenset({"winback", "lost", "birthday", "thank_you"})
"""Payment reminders are service messages about an order, not marketing."""

MAX_DAY_STEP = 3650
MAX_DAY_STEPS = 12

CUSTOMER_COLUMNS = ("customer_id", "name", "phone", "email")


def _day_set(name: str, values: Any) -> tuple[int, ...]:
    try:
        days = sorted({int(v) for v in values if float(v) == int(v)})
        whole = len(days) == len({float(v) for v in values})
    except (TypeError, ValueError):
        days, whole = [], False
    if not whole or not days or len(days) > MAX_DAY_STEPS:
        raise InputError("triggers.error.days", field=name, limit=MAX_DAY_STEPS)
    if days[0] < 1 or days[-1] > MAX_DAY_STEP:
        raise InputError("triggers.error.days", field=name, limit=MAX_DAY_STEPS)
    return tuple(days)


@dataclass(frozen=True)
class TriggerSettings:
    """The editable numbers of the trigger lists (days, hours, shop currency)."""

    winback_days: tuple[int, ...] = (45, 60, 90)
    lost_days: tuple[int, ...] = (120, 360)
    new_customer_delay_hours: float = 2.0
    unpaid_max_age_hours: float = 72.0
    large_order_amount: float = 1000.0
    thank_you_min_csat: int = 4
    thank_you_within_hours: float = 72.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "winback_days", _day_set("winback_days", self.winback_days))
        object.__setattr__(self, "lost_days", _day_set("lost_days", self.lost_days))
        limits = {
            "new_customer_delay_hours": (0.0, 24.0 * 30),
            "unpaid_max_age_hours": (1.0, 24.0 * 90),
            "large_order_amount": (0.0, 1e12),
            "thank_you_min_csat": (1, 5),
            "thank_you_within_hours": (1.0, 24.0 * 90),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError("triggers.error.value", field=name, low=low, high=high)
            if not low <= value <= high or value != value:
                raise InputError("triggers.error.value", field=name, low=low, high=high)
        if int(self.thank_you_min_csat) != self.thank_you_min_csat:
            raise InputError("triggers.error.value", field="thank_you_min_csat", low=1, high=5)
        object.__setattr__(self, "thank_you_min_csat", int(self.thank_you_min_csat))

    def to_dict(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["winback_days"] = list(self.winback_days)
        payload["lost_days"] = list(self.lost_days)
        return payload

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any] | None) -> TriggerSettings:
        if payload is None:
            return cls()
        if not isinstance(payload, Mapping):
            raise InputError("triggers.error.shape")
        unknown = sorted(set(payload) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError("triggers.error.unknown_keys", keys=", ".join(unknown))
        return cls(**dict(payload))


def load_trigger_settings(engine: Engine) -> TriggerSettings:
    """The stored trigger settings (defaults when none were saved)."""
    return TriggerSettings.from_dict(read_setting(engine, TRIGGER_SETTING))


def save_trigger_settings(
    engine: Engine, settings: TriggerSettings, actor: Actor
) -> TriggerSettings:
    """Store the trigger settings; PermissionDenied unless `actor` may edit triggers."""
    require(actor, EDIT_TRIGGERS)
    with engine.begin() as conn:
        write_setting(conn, TRIGGER_SETTING, settings.to_dict())
    return settings


def _customer_part(features: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    return features.loc[keep, list(CUSTOMER_COLUMNS)].reset_index(drop=True)


def recency_list(features: pd.DataFrame, days: Sequence[int]) -> pd.DataFrame:
    """Customers whose recency_days equals one of `days`: CUSTOMER_COLUMNS plus
    recency_days (int), last_purchase_at, frequency, monetary; by recency then id."""
    recency = features["recency_days"].to_numpy(dtype=np.float64, na_value=np.nan)
    keep = np.isin(recency, np.asarray(days, dtype=np.float64))
    frame = _customer_part(features, keep)
    frame["recency_days"] = recency[keep].astype(np.int64)
    for name in ("last_purchase_at", "frequency", "monetary"):
        frame[name] = features[name].to_numpy()[keep]
    return frame.sort_values(["recency_days", "customer_id"], kind="stable").reset_index(drop=True)


def winback_list(features: pd.DataFrame, settings: TriggerSettings) -> pd.DataFrame:
    """Win-back reminders: recency_days in settings.winback_days."""
    return recency_list(features, settings.winback_days)


def lost_list(features: pd.DataFrame, settings: TriggerSettings) -> pd.DataFrame:
    """Lost-customer reminders: recency_days in settings.lost_days."""
    return recency_list(features, settings.lost_days)


def birthday_list(features: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Customers whose birthday falls in the as-of month: CUSTOMER_COLUMNS plus
    birthday and birthday_day (day of month), by day then id."""
    birthday = pd.DatetimeIndex(features["birthday"])
    keep = np.asarray(birthday.month == as_of.month) & ~np.asarray(birthday.isna())
    frame = _customer_part(features, keep)
    frame["birthday"] = birthday[keep].to_numpy()
    frame["birthday_day"] = np.asarray(birthday[keep].day, dtype=np.int64)
    return frame.sort_values(["birthday_day", "customer_id"], kind="stable").reset_index(drop=True)


PAYMENT_COLUMNS = (
    "order_id",
    "customer_id",
    "name",
    "phone",
    "email",
    "ordered_at",
    "amount",
    "customer_type",
    "remind_from",
    "phone_call",
)


def payment_reminders(
    engine: Engine, as_of: dt.date, settings: TriggerSettings, at: dt.datetime | None = None
) -> pd.DataFrame:
    """Unpaid orders due for a payment reminder at `at` (default: end of the as-of day):
    PAYMENT_COLUMNS, customer_type 'new' or 'returning', remind_from the moment the
    reminder became due, phone_call True for large orders; oldest order first."""
    moment = at or asof.last_second(as_of)
    oldest = moment - dt.timedelta(hours=settings.unpaid_max_age_hours)
    o = models.orders
    earlier = o.alias("earlier")
    c = models.customers
    returning = exists(
        select(earlier.c.order_id).where(
            and_(
                earlier.c.customer_id == o.c.customer_id,
                earlier.c.status == "paid",
                earlier.c.ordered_at < o.c.ordered_at,
            )
        )
    )
    stmt = (
        select(
            o.c.order_id,
            o.c.customer_id,
            c.c.name,
            c.c.phone,
            c.c.email,
            o.c.ordered_at,
            o.c.amount,
            returning.label("has_paid_before"),
        )
        .select_from(o.join(c, c.c.customer_id == o.c.customer_id))
        .where(o.c.status == "unpaid", o.c.ordered_at >= oldest, o.c.ordered_at <= moment)
        .order_by(o.c.ordered_at, o.c.order_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(
        rows,
        columns=["order_id", "customer_id", "name", "phone", "email", "ordered_at", "amount", "r"],
    )
    ordered_at = pd.to_datetime(frame["ordered_at"]).astype("datetime64[us]")
    is_returning = frame["r"].astype(bool).to_numpy()
    next_day = ordered_at.dt.normalize() + pd.Timedelta(days=1)
    after_delay = ordered_at + pd.Timedelta(hours=settings.new_customer_delay_hours)
    remind_from = pd.Series(np.where(is_returning, next_day, after_delay)).astype("datetime64[us]")
    amount = frame["amount"].astype(np.float64).to_numpy()
    result = pd.DataFrame(
        {
            "order_id": pd.array(frame["order_id"], dtype="str"),
            "customer_id": pd.array(frame["customer_id"], dtype="str"),
            "name": pd.array(frame["name"], dtype="str"),
            "phone": pd.array(frame["phone"], dtype="str"),
            "email": pd.array(frame["email"], dtype="str"),
            "ordered_at": ordered_at.to_numpy(),
            "amount": amount,
            "customer_type": pd.array(np.where(is_returning, "returning", "new"), dtype="str"),
            "remind_from": remind_from.to_numpy(),
            "phone_call": amount >= settings.large_order_amount,
        }
    )
    due = result["remind_from"].to_numpy() <= np.datetime64(moment, "us")
    return result.loc[due].reset_index(drop=True)


THANK_YOU_COLUMNS = (
    "ticket_id",
    "customer_id",
    "name",
    "phone",
    "email",
    "ticket_type",
    "resolved_at",
    "csat",
)


def thank_you_list(
    engine: Engine, as_of: dt.date, settings: TriggerSettings, at: dt.datetime | None = None
) -> pd.DataFrame:
    """Tickets resolved in the `thank_you_within_hours` up to `at` with CSAT >=
    thank_you_min_csat: THANK_YOU_COLUMNS, newest resolution first."""
    moment = at or asof.last_second(as_of)
    since = moment - dt.timedelta(hours=settings.thank_you_within_hours)
    tk = models.tickets
    c = models.customers
    stmt = (
        select(
            tk.c.ticket_id,
            tk.c.customer_id,
            c.c.name,
            c.c.phone,
            c.c.email,
            tk.c.ticket_type,
            tk.c.resolved_at,
            tk.c.csat,
        )
        .select_from(tk.join(c, c.c.customer_id == tk.c.customer_id))
        .where(
            tk.c.resolved_at >= since,
            tk.c.resolved_at <= moment,
            tk.c.csat >= settings.thank_you_min_csat,
        )
        .order_by(tk.c.resolved_at.desc(), tk.c.ticket_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=list(THANK_YOU_COLUMNS))
    for name in ("ticket_id", "customer_id", "name", "phone", "email", "ticket_type"):
        frame[name] = pd.array(frame[name], dtype="str")
    frame["resolved_at"] = pd.to_datetime(frame["resolved_at"]).astype("datetime64[us]")
    frame["csat"] = frame["csat"].astype(np.int64)
    return frame


def trigger_list(
    name: str,
    engine: Engine,
    features: pd.DataFrame,
    as_of: dt.date,
    settings: TriggerSettings,
    at: dt.datetime | None = None,
) -> pd.DataFrame:
    """One trigger list by name (TRIGGER_LISTS); `features` from customer_features with
    all history (window None) on `as_of`."""
    if name == "winback":
        return winback_list(features, settings)
    if name == "lost":
        return lost_list(features, settings)
    if name == "birthday":
        return birthday_list(features, as_of)
    if name == "payment":
        return payment_reminders(engine, as_of, settings, at)
    if name == "thank_you":
        return thank_you_list(engine, as_of, settings, at)
    raise InputError("triggers.error.unknown", name=name, names=", ".join(TRIGGER_LISTS))


__all__ = [
    "MARKETING_TRIGGERS",
    "PAYMENT_COLUMNS",
    "THANK_YOU_COLUMNS",
    "TRIGGER_LISTS",
    "TriggerSettings",
    "birthday_list",
    "load_trigger_settings",
    "lost_list",
    "payment_reminders",
    "recency_list",
    "save_trigger_settings",
    "thank_you_list",
    "trigger_list",
    "winback_list",
]
