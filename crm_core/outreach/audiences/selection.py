"""The audience definition and its members.

`Audience` is the definition: include/exclude segments of a scheme, include tags (any or
all of them) and exclude tags (any of them), regions (provinces), acquisition channels
recency/frequency/monetary ranges, from the newest prediction run churn risk levels
and probability-alive and 12-month CLV ranges (ranges inclusive; a customer without a
value fails a range or a level), and cross-sell: customers who bought any of some items
(SKUs or categories) in the last N days and none of others ever, or whose next best
category is one of some categories. `select_members` evaluates it vectorised on
`AudienceFacts`; `audience_size` counts the members and sums their revenue.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from crm_core.customers.baskets import LEVELS
from crm_core.customers.tags import tag_rows
from crm_core.errors import InputError
from crm_core.outreach.audiences.facts import AudienceFacts
from crm_core.outreach.policy import member_positions
from crm_core.predict.runs import RISK_LEVELS

RANGE_FIELDS: tuple[str, ...] = ("recency_days", "frequency", "monetary")
PREDICTION_RANGE_FIELDS: tuple[str, ...] = ("probability_alive", "clv_12m")
"""Ranges over the newest prediction run's scores (a customer without a score fails)."""
TAG_MODES: tuple[str, ...] = ("any", "all")
CROSS_SELL_FIELDS: tuple[str, ...] = (
    "item_level",
    "bought_items",
    "bought_within_days",
    "not_bought_items",
    "next_best_categories",
)
"""Left out of `Audience.to_dict` at their defaults, so lists made before cross-sell
keep their identity."""


def _range(name: str, value: Any) -> tuple[float | None, float | None]:
    if value is None:
        return (None, None)
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise InputError("audiences.error.range", field=name)
    bounds = []
    for bound in value:
        if bound is None:
            bounds.append(None)
            continue
        if isinstance(bound, bool) or not isinstance(bound, int | float) or bound != bound:
            raise InputError("audiences.error.range", field=name)
        bounds.append(float(bound))
    low, high = bounds
    if low is not None and high is not None and low > high:
        raise InputError("audiences.error.range_order", field=name, low=low, high=high)
    return (low, high)


def _names(name: str, values: Any) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise InputError("audiences.error.names", field=name)
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class Audience:
    """An audience definition (JSON round trip with `to_dict` / `from_dict`).

    `scheme`/`scheme_version`: the scheme whose segments are picked (a saved scheme,
    newest version when None, or a preset); `window_days`: the facts' purchase window
    (None = all history). Empty include lists mean "no restriction".
    """

    scheme: str = "rfm11"
    scheme_version: int | None = None
    window_days: int | None = None
    include_segments: tuple[str, ...] = ()
    exclude_segments: tuple[str, ...] = ()
    include_tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    tags_mode: str = "any"
    provinces: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    recency_days: tuple[float | None, float | None] = (None, None)
    frequency: tuple[float | None, float | None] = (None, None)
    monetary: tuple[float | None, float | None] = (None, None)
    churn_risk_levels: tuple[str, ...] = ()
    probability_alive: tuple[float | None, float | None] = (None, None)
    clv_12m: tuple[float | None, float | None] = (None, None)
    item_level: str = "category"
    """What `bought_items` and `not_bought_items` name: "sku" or "category"."""
    bought_items: tuple[str, ...] = ()
    """Bought any of these in the last `bought_within_days` days (None: ever)."""
    bought_within_days: int | None = None
    not_bought_items: tuple[str, ...] = ()
    """Never bought any of these, up to the facts' as-of day."""
    next_best_categories: tuple[str, ...] = ()
    """The customer's next best category (rank 1) is one of these."""

    def __post_init__(self) -> None:
        for name in (
            "include_segments",
            "exclude_segments",
            "include_tags",
            "exclude_tags",
            "provinces",
            "channels",
            "churn_risk_levels",
            "bought_items",
            "not_bought_items",
            "next_best_categories",
        ):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        if self.item_level not in LEVELS:
            raise InputError("baskets.error.level", level=self.item_level, levels=", ".join(LEVELS))
        days = self.bought_within_days
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise InputError("audiences.error.within_days", value=days)
        # settings that select nobody differently are dropped: the same members, one list
        if not self.bought_items:
            object.__setattr__(self, "bought_within_days", None)
        if not (self.bought_items or self.not_bought_items):
            object.__setattr__(self, "item_level", "category")
        unknown = [level for level in self.churn_risk_levels if level not in RISK_LEVELS]
        if unknown:
            raise InputError(
                "audiences.error.risk_level",
                level=", ".join(unknown),
                levels=", ".join(RISK_LEVELS),
            )
        for name in (*RANGE_FIELDS, *PREDICTION_RANGE_FIELDS):
            object.__setattr__(self, name, _range(name, getattr(self, name)))
        if self.tags_mode not in TAG_MODES:
            raise InputError("tags.error.mode", mode=self.tags_mode)
        if not isinstance(self.scheme, str) or not self.scheme:
            raise InputError("audiences.error.scheme")

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: list(value) if isinstance(value, tuple) else value
            for f in fields(self)
            for value in [getattr(self, f.name)]
            if f.name not in CROSS_SELL_FIELDS or value != f.default
        }

    @property
    def uses_purchases(self) -> bool:
        """Whether the audience reads what customers bought (the cross-sell filters)."""
        return bool(self.bought_items or self.not_bought_items or self.next_best_categories)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Audience:
        if not isinstance(payload, Mapping):
            raise InputError("audiences.error.shape")
        unknown = sorted(set(payload) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError("audiences.error.unknown_keys", keys=", ".join(unknown))
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload.items()})


def _segment_code_set(facts: AudienceFacts, names: Sequence[str]) -> np.ndarray:
    known = facts.assignment.names
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(
            "audiences.error.segment", segment=", ".join(unknown), scheme=facts.scheme.name
        )
    return np.array([known.index(name) for name in names], dtype=facts.assignment.codes.dtype)


def _in_values(facts: AudienceFacts, column: str, values: Sequence[str]) -> np.ndarray:
    codes, categories = facts.category_codes(column)
    wanted = np.flatnonzero(categories.isin(list(values)))
    return np.isin(codes, wanted)


def select_members(facts: AudienceFacts, audience: Audience) -> np.ndarray:
    """Where a customer belongs to the audience (bool per row of facts.features)."""
    keep = np.ones(len(facts), dtype=bool)
    codes = facts.assignment.codes
    if audience.include_segments:
        keep &= np.isin(codes, _segment_code_set(facts, audience.include_segments))
    if audience.exclude_segments:
        keep &= ~np.isin(codes, _segment_code_set(facts, audience.exclude_segments))
    if audience.include_tags:
        keep &= tag_rows(facts.tags, audience.include_tags, audience.tags_mode)
    if audience.exclude_tags:
        keep &= ~tag_rows(facts.tags, audience.exclude_tags, "any")
    if audience.provinces:
        keep &= _in_values(facts, "province", audience.provinces)
    if audience.channels:
        keep &= _in_values(facts, "channel", audience.channels)
    if audience.churn_risk_levels:
        levels = np.asarray(facts.fields["churn_risk_level"], dtype=object)
        keep &= np.isin(levels, list(audience.churn_risk_levels))
    if audience.uses_purchases:
        keep &= _cross_sell_rows(facts, audience)
    for name in (*RANGE_FIELDS, *PREDICTION_RANGE_FIELDS):
        low, high = getattr(audience, name)
        if low is not None or high is not None:
            values = (
                facts.array(name)
                if name in RANGE_FIELDS
                else np.asarray(facts.fields[name], dtype=np.float64)
            )
            with np.errstate(invalid="ignore"):
                if low is not None:
                    keep &= values >= low
                if high is not None:
                    keep &= values <= high
    return keep


def _cross_sell_rows(facts: AudienceFacts, audience: Audience) -> np.ndarray:
    if facts.purchases is None:
        raise InputError("audiences.error.no_purchases")
    keep = np.ones(len(facts), dtype=bool)
    ids = facts.customer_ids
    if audience.bought_items:
        items = facts.purchases.items(audience.item_level)
        keep &= items.bought(ids, audience.bought_items, audience.bought_within_days)
    if audience.not_bought_items:
        items = facts.purchases.items(audience.item_level)
        keep &= ~items.bought(ids, audience.not_bought_items)
    if audience.next_best_categories:
        best = facts.next_best_categories()
        keep &= np.isin(best, list(audience.next_best_categories))
    return keep


@dataclass(frozen=True)
class AudienceSize:
    """customers in the audience and their revenue (sum of monetary in the facts'
    window, shop currency)."""

    customers: int
    revenue: float


FILE_STEM_NAMES = 3
"""How many segment or tag names a download's file name lists before "+N"."""
_UNSAFE_IN_FILE_NAME = re.compile(r"[^\w.+-]+")


def audience_file_stem(audience: Audience, as_of: dt.date) -> str:
    """A download's file name without extension that says what the list is:
    "audience-champions+loyal-2026-10-31", "audience-tag+大额常客-2026-10-31",
    "audience-all-2026-10-31" (at most FILE_STEM_NAMES names, then "+N")."""
    if audience.include_segments:
        names = list(audience.include_segments)
    elif audience.include_tags:
        names = ["tag", *audience.include_tags]
    elif audience.next_best_categories or audience.not_bought_items:
        names = ["cross-sell", *audience.next_best_categories, *audience.not_bought_items]
    else:
        names = ["all"]
    shown = "+".join(
        _UNSAFE_IN_FILE_NAME.sub("_", name).strip("_") for name in names[:FILE_STEM_NAMES]
    )
    if len(names) > FILE_STEM_NAMES:
        shown += f"+{len(names) - FILE_STEM_NAMES}"
    return f"audience-{shown}-{as_of.isoformat()}"


def audience_size(facts: AudienceFacts, members: np.ndarray) -> AudienceSize:
    """The members' count and revenue (`members`: bool per facts row, or row positions)."""
    positions = member_positions(members)
    revenue = float(np.nansum(facts.array("monetary")[positions]))
    return AudienceSize(len(positions), round(revenue, 2))
