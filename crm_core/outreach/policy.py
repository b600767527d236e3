"""The contact policy: who may not receive a marketing message, stored in the store.

The policy is one JSON value in the `settings` table (key `contact_policy`); a store
without it uses the defaults below. Only admins may change it (`save_policy` checks the
role itself, whatever the UI shows).

Rules, applied by `audiences.apply_policy` in this fixed precedence (a customer excluded
by an earlier rule is counted under that rule only):

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

Rules 1-2 apply only when a channel is chosen.

This module also holds the small JSON helpers every stored setting of the area uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import Connection, Engine

from crm_core.auth import EDIT_POLICY, Actor, require
from crm_core.errors import InputError
from crm_core.store import models
from crm_core.store.settings import read_setting, write_setting

POLICY_SETTING = "contact_policy"
CONTACT_CHANNELS: tuple[str, ...] = models.CONTACT_CHANNELS
EXCLUSION_REASONS: tuple[str, ...] = ("opted_out", "no_address", "quiet_period", "over_cap")
"""Exclusion reasons in the order they are applied."""

MAX_POLICY_DAYS = 3650
MAX_CAP = 1000


@dataclass(frozen=True)
class ContactPolicy:
    """The contact policy; every number is a whole count (days or contacts)."""

    quiet_period_days: int = 30
    cap_contacts: int = 4
    cap_contacts_return_heavy: int = 2
    cap_window_days: int = 30

    def __post_init__(self) -> None:
        limits = {
            "quiet_period_days": (0, MAX_POLICY_DAYS),
            "cap_contacts": (0, MAX_CAP),
            "cap_contacts_return_heavy": (0, MAX_CAP),
            "cap_window_days": (1, MAX_POLICY_DAYS),
        }
        for name, (low, high) in limits.items():
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


__all__ = [
    "CONTACT_CHANNELS",
    "DEFAULT_POLICY",
    "EXCLUSION_REASONS",
    "POLICY_SETTING",
    "ContactPolicy",
    "check_channel",
    "load_policy",
    "save_policy",
]
