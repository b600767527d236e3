"""The contact policy: who may not receive a marketing message, stored in the store.

The policy is one JSON value in the `settings` table (key `contact_policy`); a store
without it uses the defaults below. Only admins may change it (`save_policy` checks the
role itself, whatever the UI shows).

Rules, applied by `apply_policy` in this fixed precedence (a customer excluded by an
earlier rule is counted under that rule only):

1. opted_out: the customer refused the chosen channel (opt_out_sms / _email / _wecom);
2. no_address: no valid address for the channel: SMS and WeCom need a mainland mobile
   number (11 digits starting 13-19, optionally written with +86/0086/86 and spaces or
   dashes; WeCom contacts are found by their mobile number), e-mail needs an address of
   the form local@domain.tld;
3. quiet_period: a complaint in the quiet period. A customer whose last complaint was
   created on day D is quiet on days D .. D + quiet_period_days (inclusive, whole
   calendar days) and may be contacted again from day D + quiet_period_days + 1;
4. over_cap: the frequency cap. Marketing contacts in the `cap_window_days` days ending
   on the as-of date (campaign messages sent, control rows excluded, plus the customer's
   membership in earlier marketing exports whose as-of date falls in the window) must
   stay below the cap: a customer who already has `cap_contacts` contacts (or
   `cap_contacts_return_heavy` for customers with the return_heavy tag) is excluded.

Rules 1-2 apply only when a channel is chosen. `apply_policy` says, per excluded
customer, why; `exclusion_summary` writes the sentence a preview shows and
`exclusion_table` the count per reason. The contact counts of the cap are read from the
store by `crm_core.outreach.audiences.contact_counts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from crm_core.auth import EDIT_POLICY, Actor, require
from crm_core.customers.tags import RETURN_HEAVY
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, translate
from crm_core.store import models
from crm_core.store.settings import read_setting, write_setting

if TYPE_CHECKING:
    from crm_core.outreach.audiences.facts import AudienceFacts

POLICY_SETTING = "contact_policy"
CONTACT_CHANNELS: tuple[str, ...] = models.CONTACT_CHANNELS
EXCLUSION_REASONS: tuple[str, ...] = ("opted_out", "no_address", "quiet_period", "over_cap")
"""Exclusion reasons in the order they are applied."""

MAX_POLICY_DAYS = 3650
MAX_CAP = 1000
POLICY_LIMITS: dict[str, tuple[int, int]] = {
    "quiet_period_days": (0, MAX_POLICY_DAYS),
    "cap_contacts": (0, MAX_CAP),
    "cap_contacts_return_heavy": (0, MAX_CAP),
    "cap_window_days": (1, MAX_POLICY_DAYS),
}
"""The lowest and highest value of each number of the policy (inclusive)."""


@dataclass(frozen=True)
class ContactPolicy:
    """The contact policy; every number is a whole count (days or contacts)."""

    quiet_period_days: int = 30
    cap_contacts: int = 4
    cap_contacts_return_heavy: int = 2
    cap_window_days: int = 30

    def __post_init__(self) -> None:
        for name, (low, high) in POLICY_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
                object.__setattr__(self, name, value)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InputError(
                    "audiences.policy.error.value", field=name, value=value, low=low, high=high
                )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any] | None) -> ContactPolicy:
        """A policy from stored or typed JSON; keys not given keep their defaults."""
        if payload is None:
            return cls()
        if not isinstance(payload, Mapping):
            raise InputError("audiences.policy.error.shape")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(payload) - known)
        if unknown:
            raise InputError("audiences.policy.error.unknown_keys", keys=", ".join(unknown))
        return cls(**dict(payload))


DEFAULT_POLICY = ContactPolicy()


def load_policy(bind: Engine | Connection) -> ContactPolicy:
    """The stored contact policy (the defaults when none was saved)."""
    return ContactPolicy.from_dict(read_setting(bind, POLICY_SETTING))


def save_policy(engine: Engine, policy: ContactPolicy, actor: Actor) -> ContactPolicy:
    """Store `policy`; PermissionDenied unless `actor` may edit the policy (admins)."""
    require(actor, EDIT_POLICY)
    with engine.begin() as conn:
        write_setting(conn, POLICY_SETTING, policy.to_dict())
    return policy


def check_channel(channel: str | None) -> str | None:
    """`channel` when it is a contact channel (sms, email, wecom) or None, else InputError."""
    if channel is None or channel in CONTACT_CHANNELS:
        return channel
    raise InputError(
        "audiences.error.channel", channel=channel, channels=", ".join(CONTACT_CHANNELS)
    )


def member_positions(members: np.ndarray) -> np.ndarray:
    """Row positions of the members: `members` is a bool per facts row, or positions."""
    members = np.asarray(members)
    return np.flatnonzero(members) if members.dtype == bool else members.astype(np.intp)


@dataclass(frozen=True)
class PolicyResult:
    """The policy applied to an audience: per member (rows `positions` of the facts)
    `reasons` is 0 when kept, else 1 + its index in EXCLUSION_REASONS."""

    positions: np.ndarray
    reasons: np.ndarray
    channel: str | None
    policy: ContactPolicy

    @property
    def kept_positions(self) -> np.ndarray:
        return self.positions[self.reasons == 0]

    @property
    def kept(self) -> int:
        return int(np.count_nonzero(self.reasons == 0))

    @property
    def excluded(self) -> int:
        return int(len(self.reasons) - self.kept)

    @property
    def excluded_counts(self) -> dict[str, int]:
        """Customers excluded per reason, in precedence order (zeros included)."""
        counts = np.bincount(self.reasons, minlength=len(EXCLUSION_REASONS) + 1)
        return {reason: int(counts[i + 1]) for i, reason in enumerate(EXCLUSION_REASONS)}

    def excluded_positions(self, reason: str | None = None) -> np.ndarray:
        """Rows excluded (for one reason, or for any)."""
        if reason is None:
            return self.positions[self.reasons > 0]
        return self.positions[self.reasons == EXCLUSION_REASONS.index(reason) + 1]


def apply_policy(
    facts: AudienceFacts,
    members: np.ndarray,
    channel: str | None,
    policy: ContactPolicy,
    contacts: np.ndarray,
) -> PolicyResult:
    """The contact policy applied to `members` (bool per facts row, or row positions)
    for `channel` (None: no channel rules) with `contacts` (marketing contacts per facts
    row in the policy's cap window, from `contact_counts`). Vectorised."""
    channel = check_channel(channel)
    positions = member_positions(members)
    reasons = np.zeros(len(positions), dtype=np.int8)

    def exclude(where: np.ndarray, reason: str) -> None:
        reasons[(reasons == 0) & where] = EXCLUSION_REASONS.index(reason) + 1

    if channel is not None:
        exclude(facts.array(f"opt_out_{channel}")[positions], "opted_out")
        exclude(~facts.address_valid(channel)[positions], "no_address")
    days = facts.fields["days_since_complaint"][positions]
    with np.errstate(invalid="ignore"):
        exclude((days >= 0) & (days <= policy.quiet_period_days), "quiet_period")
    return_heavy = facts.tags.column(RETURN_HEAVY)[positions]
    cap = np.where(return_heavy, policy.cap_contacts_return_heavy, policy.cap_contacts)
    exclude(np.asarray(contacts)[positions] >= cap, "over_cap")
    return PolicyResult(positions, reasons, channel, policy)


def channel_label(channel: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """The contact channel's name ("SMS", "no channel", ...) in `language`."""
    return translate(f"audiences.channel.{channel or 'none'}", language)


def exclusion_summary(result: PolicyResult, language: str = DEFAULT_LANGUAGE) -> str:
    """E.g. "1,203 excluded: 800 in a complaint quiet period, 310 opted out of SMS,
    93 over the contact cap" (reasons by count, largest first)."""
    if result.excluded == 0:
        return translate("audiences.policy.none_excluded", language)
    counts = sorted(
        ((reason, count) for reason, count in result.excluded_counts.items() if count),
        key=lambda item: -item[1],
    )
    channel = channel_label(result.channel, language)
    parts = [
        translate(f"audiences.reason.{reason}", language, count=count, channel=channel)
        for reason, count in counts
    ]
    separator = translate("audiences.policy.separator", language)
    return translate(
        "audiences.policy.summary", language, count=result.excluded, reasons=separator.join(parts)
    )


def exclusion_table(result: PolicyResult, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """One row per exclusion reason in precedence order (zeros included): reason (its
    name in `language`) and customers (how many members that rule excluded)."""
    channel = channel_label(result.channel, language)
    return pd.DataFrame(
        {
            "reason": [
                translate(f"audiences.reason_name.{reason}", language, channel=channel)
                for reason in EXCLUSION_REASONS
            ],
            "customers": list(result.excluded_counts.values()),
        }
    )


__all__ = [
    "CONTACT_CHANNELS",
    "DEFAULT_POLICY",
    "EXCLUSION_REASONS",
    "POLICY_LIMITS",
    "POLICY_SETTING",
    "ContactPolicy",
    "PolicyResult",
    "apply_policy",
    "channel_label",
    "check_channel",
    "exclusion_summary",
    "exclusion_table",
    "load_policy",
    "member_positions",
    "save_policy",
]
