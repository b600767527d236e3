"""The SLA policy of the service team and each ticket measured against it.

Definitions (also in the Service page's help):

- First response time: first_response_at - created_at; resolution time: resolved_at -
  created_at; in calendar hours or in business hours (`hours.WorkCalendar`), as the
  policy's `clock` says. A ticket resolved without a recorded first response was first
  answered when it was resolved.
- A ticket is open while resolved_at is empty. Times after the moment a view looks from
  (the as-of moment) have not happened yet.
- Each ticket has a target for first response and one for resolution: the most specific
  row of the policy's targets for its customer's tier and its priority (tier and
  priority, then tier for every priority, then priority for every tier, then the row for
  all). A customer is in the first of the policy's tiers whose segments or tag they
  have on the as-of date.
- A ticket that took no longer than its target met it (exactly on the target is met);
  one that took longer, or is still waiting past its target at the as-of moment,
  breached it; one still waiting within its target is pending. SLA achievement =
  met / (met + breached).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from crm_core import asof
from crm_core.auth import EDIT_SHOP_SETTINGS, Actor, require
from crm_core.customers.segments import PRESET_NAMES, resolve_scheme
from crm_core.customers.tags import load_tags
from crm_core.errors import InputError
from crm_core.store import models, raw_value, read_frame
from crm_core.store.settings import read_setting, write_setting
from crm_core.voice.hours import BusinessClock, WorkCalendar

SLA_POLICY_KEY = "service.sla_policy"
CALENDAR = "calendar"
BUSINESS = "business"
CLOCKS: tuple[str, ...] = (CALENDAR, BUSINESS)
ALL = ""
"""A target row's tier or priority that applies to every tier or priority."""
MAX_TARGET_HOURS = 24 * 365
MET, BREACHED, PENDING = "met", "breached", "pending"
STATUSES: tuple[str, ...] = (MET, BREACHED, PENDING)
"""A stage's status per ticket, as the categories of the <stage>_status columns."""
STAGES: tuple[str, ...] = ("first_response", "resolution")
PRIORITIES = models.TICKET_PRIORITIES

TICKET_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "customer_id",
    "ticket_type",
    "priority",
    "channel",
    "status",
    "agent",
    "reason",
    "created_at",
    "first_response_at",
    "resolved_at",
    "csat",
    "is_complaint",
    "order_id",
)
TIME_COLUMNS: tuple[str, ...] = ("created_at", "first_response_at", "resolved_at")


@dataclass(frozen=True)
class Tier:
    """A customer tier: `name`, and either segments of a scheme (a saved scheme or a
    preset, by name) or a tag."""

    name: str
    scheme: str | None = None
    segments: tuple[str, ...] = ()
    tag: str | None = None


@dataclass(frozen=True)
class Target:
    """Hours allowed for first response and for resolution, for one tier (ALL: every
    customer) and one priority (ALL: every priority)."""

    tier: str
    priority: str
    first_response_hours: float
    resolution_hours: float


@dataclass(frozen=True)
class SlaPolicy:
    """The service team's targets: `clock` (calendar or business hours), the working
    calendar business hours use, the tiers (first match wins) and the target rows."""

    clock: str = CALENDAR
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    tiers: tuple[Tier, ...] = ()
    targets: tuple[Target, ...] = ()

    def target_table(self) -> pd.DataFrame:
        """The target rows as a frame: tier, priority, first_response_hours,
        resolution_hours."""
        return pd.DataFrame(
            [vars(target) for target in self.targets],
            columns=["tier", "priority", "first_response_hours", "resolution_hours"],
        )


VIP_TIER = Tier("VIP", scheme="membership", segments=("supreme_vip", "vip"))
DEFAULT_POLICY = SlaPolicy(
    clock=CALENDAR,
    tiers=(VIP_TIER,),
    targets=(Target(ALL, ALL, 24.0, 72.0), Target("VIP", ALL, 4.0, 24.0)),
)
"""First response within 24 h (VIP 4 h), resolution within 72 h (VIP 24 h), in calendar
hours; VIP = the membership preset's supreme VIP and VIP segments."""


# --- the policy as stored -------------------------------------------------------------


def _hours(value: Any, where: str) -> float:
    try:
        hours = float(value)
    except (TypeError, ValueError):
        hours = math.nan
    if not 0 < hours <= MAX_TARGET_HOURS:
        raise InputError(
            "voice.error.target_hours", value=value, where=where, most=MAX_TARGET_HOURS
        )
    return hours


def _time(value: Any, where: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError("voice.error.time", value=value, where=where) from None


def _dates(values: Any, where: str) -> frozenset[dt.date]:
    days = set()
    for value in values or ():
        if isinstance(value, dt.date):
            days.add(value)
            continue
        try:
            days.add(dt.date.fromisoformat(str(value).strip()))
        except ValueError:
            raise InputError("voice.error.date", value=value, where=where) from None
    return frozenset(days)


def policy_from_dict(data: Mapping[str, Any]) -> SlaPolicy:
    """A checked policy from its JSON form (see `policy_to_dict`); InputError naming the
    first wrong entry."""
    clock = str(data.get("clock", CALENDAR))
    if clock not in CLOCKS:
        raise InputError("voice.error.clock", value=clock)
    raw_calendar = data.get("calendar") or {}
    calendar = WorkCalendar(
        weekdays=tuple(sorted({int(day) for day in raw_calendar.get("weekdays", (0, 1, 2, 3, 4))})),
        day_start=_time(raw_calendar.get("day_start", "09:00"), "day_start"),
        day_end=_time(raw_calendar.get("day_end", "18:00"), "day_end"),
        holidays=_dates(raw_calendar.get("holidays"), "holidays"),
        workdays=_dates(raw_calendar.get("workdays"), "workdays"),
    )
    tiers = []
    for entry in data.get("tiers") or ():
        name = str(entry.get("name") or "").strip()
        scheme = str(entry.get("scheme") or "").strip() or None
        segments = tuple(str(s) for s in entry.get("segments") or () if str(s).strip())
        tag = str(entry.get("tag") or "").strip() or None
        if not name:
            raise InputError("voice.error.tier_name")
        if (scheme is None) == (tag is None) or (scheme is not None and not segments):
            raise InputError("voice.error.tier_members", tier=name)
        if any(tier.name == name for tier in tiers):
            raise InputError("voice.error.tier_twice", tier=name)
        tiers.append(Tier(name, scheme, segments if scheme else (), tag))
    known_tiers = {tier.name for tier in tiers}
    targets = []
    seen = set()
    for entry in data.get("targets") or ():
        tier = str(entry.get("tier") or ALL).strip()
        priority = str(entry.get("priority") or ALL).strip()
        where = f"{tier or '*'} / {priority or '*'}"
        if tier != ALL and tier not in known_tiers:
            raise InputError("voice.error.target_tier", tier=tier)
        if priority != ALL and priority not in PRIORITIES:
            raise InputError(
                "voice.error.target_priority", priority=priority, choices=", ".join(PRIORITIES)
            )
        if (tier, priority) in seen:
            raise InputError("voice.error.target_twice", where=where)
        seen.add((tier, priority))
        targets.append(
            Target(
                tier,
                priority,
                _hours(entry.get("first_response_hours"), where),
                _hours(entry.get("resolution_hours"), where),
            )
        )
    if (ALL, ALL) not in seen:
        raise InputError("voice.error.no_default_target")
    return SlaPolicy(clock, calendar, tuple(tiers), tuple(targets))


def policy_to_dict(policy: SlaPolicy) -> dict[str, Any]:
    """The policy's JSON form, as stored under SLA_POLICY_KEY."""
    cal = policy.calendar
    return {
        "clock": policy.clock,
        "calendar": {
            "weekdays": list(cal.weekdays),
            "day_start": cal.day_start.strftime("%H:%M"),
            "day_end": cal.day_end.strftime("%H:%M"),
            "holidays": sorted(day.isoformat() for day in cal.holidays),
            "workdays": sorted(day.isoformat() for day in cal.workdays),
        },
        "tiers": [
            {"name": t.name, "scheme": t.scheme, "segments": list(t.segments), "tag": t.tag}
            for t in policy.tiers
        ],
        "targets": [vars(target).copy() for target in policy.targets],
    }


def policy_text(policy: SlaPolicy) -> str:
    """The policy's JSON form as one text: the part of a cache key that says which
    policy."""
    return json.dumps(policy_to_dict(policy), ensure_ascii=False, sort_keys=True)


def load_sla_policy(bind: Engine | Connection) -> SlaPolicy:
    """The stored SLA policy, or DEFAULT_POLICY until an admin saves one."""
    stored = read_setting(bind, SLA_POLICY_KEY)
    return DEFAULT_POLICY if stored is None else policy_from_dict(stored)


def save_sla_policy(
    engine: Engine, policy: SlaPolicy | Mapping[str, Any], *, actor: Actor
) -> SlaPolicy:
    """Check and store the SLA policy. PermissionDenied unless `actor` may edit the shop's
    settings; InputError for a wrong entry (nothing is stored then)."""
    require(actor, EDIT_SHOP_SETTINGS)
    checked = policy_from_dict(policy_to_dict(policy) if isinstance(policy, SlaPolicy) else policy)
    check_tier_members(engine, checked)
    with engine.begin() as conn:
        write_setting(conn, SLA_POLICY_KEY, policy_to_dict(checked))
    return checked


def check_tier_members(engine: Engine, policy: SlaPolicy) -> None:
    """InputError when a tier names a scheme (saved or preset) that does not exist, a
    segment that scheme does not have, or a tag that is not defined."""
    tag_names = {tag.name for tag in load_tags(engine)}
    for tier in policy.tiers:
        if tier.tag is not None:
            if tier.tag not in tag_names:
                raise InputError("voice.error.tier_tag", tier=tier.name, tag=tier.tag)
            continue
        saved = models.segment_schemes
        with engine.connect() as conn:
            found = conn.execute(select(saved.c.id).where(saved.c.name == tier.scheme)).first()
        if found is None and tier.scheme not in PRESET_NAMES:
            raise InputError("voice.error.tier_scheme", tier=tier.name, scheme=tier.scheme)
        known = set(resolve_scheme(engine, str(tier.scheme)).segment_names)
        missing = [segment for segment in tier.segments if segment not in known]
        if missing:
            raise InputError(
                "voice.error.tier_segment", tier=tier.name, segment=missing[0], scheme=tier.scheme
            )


def with_calendar_days(
    policy: SlaPolicy, holidays: Sequence[dt.date], workdays: Sequence[dt.date]
) -> SlaPolicy:
    """The policy with these holidays and make-up working days."""
    return replace(
        policy,
        calendar=replace(
            policy.calendar, holidays=frozenset(holidays), workdays=frozenset(workdays)
        ),
    )


# --- tickets --------------------------------------------------------------------------


def service_tickets(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    """The tickets created up to the end of `as_of`: TICKET_COLUMNS, oldest first; times
    as datetime64, csat a nullable integer 1-5."""
    tk = models.tickets
    raw = {*TIME_COLUMNS, "is_complaint"}
    statement = select(
        *(
            raw_value(tk.c[name]).label(name) if name in raw else tk.c[name]
            for name in TICKET_COLUMNS
        )
    ).where(tk.c.created_at < asof.end_of(as_of))
    with engine.connect() as conn:
        frame = read_frame(
            conn, statement, times=TIME_COLUMNS, numbers=("csat",), flags=("is_complaint",)
        )
    frame["csat"] = pd.array(frame["csat"], dtype="Int16")
    frame = frame.sort_values(["created_at", "ticket_id"], kind="stable", ignore_index=True)
    return frame[list(TICKET_COLUMNS)]


def ticket_targets(policy: SlaPolicy, tiers: np.ndarray, priorities: np.ndarray) -> np.ndarray:
    """Per ticket (tier name or ALL, priority), the (first response, resolution) target
    hours of the most specific matching target row: an array of shape (n, 2)."""
    table = {
        (t.tier, t.priority): (t.first_response_hours, t.resolution_hours) for t in policy.targets
    }
    tier_codes, tier_names = pd.factorize(pd.Series(tiers, dtype=object).fillna(ALL))
    priority_codes, priority_names = pd.factorize(pd.Series(priorities, dtype=object).fillna(ALL))
    lookup = np.full((max(len(tier_names), 1), max(len(priority_names), 1), 2), np.nan)
    for i, tier in enumerate(tier_names):
        for j, priority in enumerate(priority_names):
            for key in ((tier, priority), (tier, ALL), (ALL, priority), (ALL, ALL)):
                if key in table:
                    lookup[i, j] = table[key]
                    break
    if not len(tier_codes):
        return np.empty((0, 2))
    return lookup[tier_codes, priority_codes]


def ticket_levels(
    tickets: pd.DataFrame,
    policy: SlaPolicy,
    customer_tier: Mapping[str, str] | pd.Series,
    moment: dt.datetime,
) -> pd.DataFrame:
    """Each ticket created before `moment` measured against the policy: the ticket's
    columns plus tier ('' when none), is_open (no resolution by `moment`), age_hours
    (calendar hours from creation to `moment`, for open tickets) and, per stage
    (first_response, resolution): <stage>_reached (answered / resolved by `moment`),
    <stage>_target_hours, <stage>_hours (time taken, in the policy's clock; for a stage
    not reached, the time so far), <stage>_status (met,
    breached, pending) and <stage>_due_at (when the target runs out)."""
    at = np.datetime64(moment.replace(microsecond=0), "s")
    frame = tickets[tickets["created_at"].to_numpy(dtype="datetime64[s]") < at].reset_index(
        drop=True
    )
    tiers = (
        pd.Series(customer_tier, dtype=object)
        if not isinstance(customer_tier, pd.Series)
        else customer_tier
    )
    tier = frame["customer_id"].map(tiers).astype(object)
    frame["tier"] = np.where(pd.isna(tier), ALL, tier).astype(object)
    targets = ticket_targets(
        policy, frame["tier"].to_numpy(), frame["priority"].to_numpy(dtype=object)
    )
    created = frame["created_at"].to_numpy(dtype="datetime64[s]")

    def by_moment(name: str) -> np.ndarray:
        values = frame[name].to_numpy(dtype="datetime64[s]")
        return np.where(values <= at, values, np.datetime64("NaT", "s"))

    resolved = by_moment("resolved_at")
    responded = by_moment("first_response_at")
    responded = np.where(np.isnat(responded), resolved, responded)
    frame["is_open"] = np.isnat(resolved)
    frame["age_hours"] = np.where(
        frame["is_open"],
        (at - created).astype("timedelta64[s]").astype(np.float64) / 3600.0,
        np.nan,
    )
    clock = BusinessClock(policy.calendar) if policy.clock == BUSINESS else None
    now = np.full(len(frame), at)
    for position, stage in enumerate(STAGES):
        reached = responded if stage == "first_response" else resolved
        target_hours = targets[:, position]
        end = np.where(np.isnat(reached), now, reached)
        if clock is None:
            taken = (end - created).astype("timedelta64[s]").astype(np.float64)
            due = created + np.round(target_hours * 3600.0).astype("timedelta64[s]")
        else:
            taken = clock.elapsed(created, end)
            due = clock.deadline(created, target_hours * 3600.0)
        hours = taken / 3600.0
        late = taken > np.round(target_hours * 3600.0)
        frame[f"{stage}_reached"] = ~np.isnat(reached)
        frame[f"{stage}_target_hours"] = target_hours
        frame[f"{stage}_hours"] = hours
        codes = np.where(late, 1, np.where(np.isnat(reached), 2, 0))
        frame[f"{stage}_status"] = pd.Categorical.from_codes(codes, categories=STATUSES)
        frame[f"{stage}_due_at"] = due
    return frame
