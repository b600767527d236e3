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

The reference moment is the end of the as-of day unless given (the page passes
`asof.reference_moment(as_of, now)`: the current time when the as-of date is today).
Settings are stored as JSON in `settings` (key `trigger_settings`); the roles that may
edit triggers change them. Days are typed as text ("45, 60, 90"): `parse_days` reads it,
`days_text` writes it.

`trigger_preview` is one list as the Audiences page shows it: its rows and, for a
marketing list, the contact policy applied to its customers. The downloads are
`crm_core.outreach.audiences.export_trigger`, with each list's own columns
(TRIGGER_EXTRA_COLUMNS, `trigger_extra`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, exists, select

from crm_core import asof
from crm_core.auth import EDIT_TRIGGERS, Actor, require
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, translate
from crm_core.outreach.policy import ContactPolicy, PolicyResult, apply_policy
from crm_core.store import models, rows_frame
from crm_core.store.settings import read_setting, write_setting

if TYPE_CHECKING:
    from crm_core.outreach.audiences.facts import AudienceFacts

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
    frame = rows_frame(rows, THANK_YOU_COLUMNS)
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


# --------------------------------------------------------------------------------------
# Days as text, and the settings in the lists' help texts
# --------------------------------------------------------------------------------------

DAY_SEPARATORS = ("\uff0c", " ")
"""Typed between days besides ",": the full-width comma of a Chinese input method, a space."""


def days_text(days: Sequence[int]) -> str:
    """Days as the settings form shows them: "45, 60, 90"."""
    return ", ".join(str(day) for day in days)


def parse_days(text: str) -> tuple[float, ...]:
    """The days typed in `text`, separated by commas (full-width too) or spaces, as
    numbers in the order typed; empty parts are skipped. A part that is not a number
    makes the result (nan,), which `TriggerSettings` refuses with its days message."""
    for separator in DAY_SEPARATORS:
        text = text.replace(separator, ",")
    parts = [part for part in text.split(",") if part]
    try:
        return tuple(float(part) for part in parts)
    except ValueError:
        return (math.nan,)


def settings_text(settings: TriggerSettings) -> dict[str, str]:
    """The settings as the lists' help texts show them: winback_days and lost_days as
    `days_text`, delay/max_age/within hours and large (shop currency, no decimals,
    thousands separated), csat the minimum rating."""
    return {
        "winback_days": days_text(settings.winback_days),
        "lost_days": days_text(settings.lost_days),
        "delay": f"{settings.new_customer_delay_hours:g}",
        "max_age": f"{settings.unpaid_max_age_hours:g}",
        "large": f"{settings.large_order_amount:,.0f}",
        "csat": str(settings.thank_you_min_csat),
        "within": f"{settings.thank_you_within_hours:g}",
    }


# --------------------------------------------------------------------------------------
# Lists with the contact policy, and their own columns in a download
# --------------------------------------------------------------------------------------

TRIGGER_EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "winback": ("recency_days", "last_purchase_at"),
    "lost": ("recency_days", "last_purchase_at"),
    "birthday": ("birthday",),
    "payment": ("order_id", "ordered_at", "amount", "customer_type", "remind_from", "phone_call"),
    "thank_you": ("ticket_id", "ticket_type", "resolved_at", "csat"),
}


def trigger_extra(rows: pd.DataFrame, name: str, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """A trigger list's own columns for a download (TRIGGER_EXTRA_COLUMNS), with the
    customer type and the phone-call flag of payment reminders translated."""
    extra = rows[[c for c in TRIGGER_EXTRA_COLUMNS[name] if c in rows.columns]].copy()
    if "customer_type" in extra.columns:
        labels = {
            v: translate(f"triggers.customer_type.{v}", language) for v in ("new", "returning")
        }
        extra["customer_type"] = extra["customer_type"].map(labels)
    if "phone_call" in extra.columns:
        yes, no = (translate(f"triggers.phone_call.{v}", language) for v in ("yes", "no"))
        extra["phone_call"] = np.where(extra["phone_call"].to_numpy(dtype=bool), yes, no)
    return extra


def list_positions(facts: AudienceFacts, rows: pd.DataFrame) -> np.ndarray:
    """For each row of a trigger list, the row of its customer in `facts` (-1 when the
    customer is not in them)."""
    return facts.positions(rows["customer_id"])


def marketing_result(
    facts: AudienceFacts,
    positions: np.ndarray,
    channel: str | None,
    policy: ContactPolicy,
    contacts: np.ndarray,
) -> PolicyResult:
    """The contact policy applied to the distinct customers of a list (`positions` from
    `list_positions`; -1 skipped), each counted once however many rows they have."""
    positions = np.asarray(positions)
    return apply_policy(facts, pd.unique(positions[positions >= 0]), channel, policy, contacts)


@dataclass(frozen=True)
class TriggerPreview:
    """One trigger list as shown before a download: `rows` (the list's frame) and, for
    a marketing list with rows, `policy_result` (its distinct customers with the contact
    policy applied; None for payment reminders and empty lists)."""

    name: str
    rows: pd.DataFrame
    policy_result: PolicyResult | None


def trigger_preview(
    engine: Engine,
    facts: AudienceFacts,
    name: str,
    settings: TriggerSettings,
    *,
    channel: str | None,
    policy: ContactPolicy,
    contacts: np.ndarray,
    at: dt.datetime | None = None,
) -> TriggerPreview:
    """List `name` drawn at `at` on `facts` (all history; `contacts`: marketing contacts
    per facts row in the policy's cap window, from `contact_counts`)."""
    rows = trigger_list(name, engine, facts.features, facts.as_of, settings, at)
    result = None
    if name in MARKETING_TRIGGERS and len(rows):
        result = marketing_result(facts, list_positions(facts, rows), channel, policy, contacts)
    return TriggerPreview(name, rows, result)


def trigger_previews(
    engine: Engine,
    facts: AudienceFacts,
    settings: TriggerSettings,
    *,
    channel: str | None,
    policy: ContactPolicy,
    contacts: np.ndarray,
    at: dt.datetime | None = None,
) -> list[TriggerPreview]:
    """`trigger_preview` of every list, in TRIGGER_LISTS order."""
    return [
        trigger_preview(
            engine,
            facts,
            name,
            settings,
            channel=channel,
            policy=policy,
            contacts=contacts,
            at=at,
        )
        for name in TRIGGER_LISTS
    ]


__all__ = [
    "MARKETING_TRIGGERS",
    "PAYMENT_COLUMNS",
    "THANK_YOU_COLUMNS",
    "TRIGGER_EXTRA_COLUMNS",
    "TRIGGER_LISTS",
    "TriggerPreview",
    "TriggerSettings",
    "birthday_list",
    "days_text",
    "list_positions",
    "load_trigger_settings",
    "lost_list",
    "marketing_result",
    "parse_days",
    "payment_reminders",
    "recency_list",
    "save_trigger_settings",
    "settings_text",
    "thank_you_list",
    "trigger_extra",
    "trigger_list",
    "trigger_preview",
    "trigger_previews",
    "winback_list",
]
