"""Rule-based customer tags (标签): a tag is a name plus a condition in the rule language
of `segments` (JSON, never evaluated as code), so a tag's rule can be shown, edited and
added like a segment rule.

Facts a tag reads (`TAG_FIELDS`): every column of `features.customer_features` plus the
per-customer facts of ONE extra SQL aggregation, `tag_facts(engine, as_of)` (portable
SQLAlchemy Core, SQLite and PostgreSQL), and a few values derived from both:

- purchases: paid orders up to as_of, all history (int)
- discounted_purchases: those with a discount > 0 (int)
- campaign_purchases: those ordered while a campaign ran (campaigns' started_at to
  ended_at, inclusive; a campaign without an end runs to as_of) (int)
- favourite_category: the category bought most often up to as_of (ties: the
  alphabetically first; orders without a category are ignored; missing when none)
- logistics_tickets_365d / quality_tickets_365d: service tickets of that type created in
  the 365 days ending on as_of (int)
- discount_share / campaign_share: discounted_purchases / purchases and
  campaign_purchases / purchases (0-1, NaN without purchases)
- refund_share: refunds / purchase_amount in the facts' window (0-1 and above; NaN
  when nothing was bought)
- aov_rank_pct: percentage of buyers (frequency > 0) with a strictly higher
  avg_order_value (0 for the top buyer; NaN for non-buyers), so "top 10%" is < 10
- birthday_month_offset: months from the as-of month to the birthday month, 0-11
  (0 = birthday this month, 1 = next month; NaN when unknown)
- days_since_complaint: whole days from the date of the last complaint to as_of (NaN
  when none)

Built-in tags (`BUILTIN_TAGS`) can have their rule replaced (and reset); users add custom
tags. Both are stored as one JSON value in `settings` (key `tags`):
{"overrides": {builtin name: condition}, "custom": [{"name": ..., "condition": ...}]}.
Favourite-category tags ("favourite_category:<category>") are generated from the data,
one per category somebody favours; their rule is shown, not edited.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Float, case, cast, func, literal, or_, select

from crm_core import asof
from crm_core.auth import EDIT_TAGS, Actor, require
from crm_core.customers.features import FEATURE_COLUMNS
from crm_core.customers.segments import (
    condition_words,
    evaluate_rule,
    parse_rule_text,
    validate_condition,
)
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, has_key, translate
from crm_core.store import models
from crm_core.store.frames import stored_frame
from crm_core.store.settings import read_setting, write_setting

logger = logging.getLogger(__name__)

TAGS_SETTING = "tags"
TICKET_WINDOW_DAYS = 365
FAVOURITE_PREFIX = "favourite_category:"
TAG_NAME_MAX = 64

TAG_FACT_COLUMNS: dict[str, str] = {
    "customer_id": "the shop's customer id",
    "purchases": "paid orders up to as_of, all history (int)",
    "discounted_purchases": "paid orders with a discount > 0 up to as_of (int)",
    "campaign_purchases": "paid orders placed while a campaign ran, up to as_of (int)",
    "favourite_category": "category bought most often up to as_of (text; missing when none)",
    "logistics_tickets_365d": "logistics tickets created in the 365 days ending on as_of (int)",
    "quality_tickets_365d": "quality tickets created in the 365 days ending on as_of (int)",
}

SERVICE_WINDOW_DAYS = 90
SERVICE_FIELDS: dict[str, str] = {
    "sla_breaches_90d": "tickets created in the 90 days ending on as_of that breached their "
    "SLA target (first response or resolution; int; see voice.recovery)",
    "low_csat_90d": "CSAT ratings of 1-2 in the 90 days ending on as_of, tickets and surveys (int)",
}
"""Service facts (voice.recovery computes them with the SLA policy; 0 when not given)."""

DERIVED_FIELDS: dict[str, str] = {
    "discount_share": "discounted_purchases / purchases (0-1; NaN without purchases)",
    "campaign_share": "campaign_purchases / purchases (0-1; NaN without purchases)",
    "refund_share": "refunds / purchase_amount in the window (NaN when nothing was bought)",
    "aov_rank_pct": "% of buyers with a strictly higher avg_order_value (NaN for non-buyers)",
    "birthday_month_offset": "months from the as-of month to the birthday month, 0-11",
    "days_since_complaint": "whole days from the last complaint's date to as_of",
}

PREDICTION_FIELDS: dict[str, str] = {
    "probability_alive": "BG/NBD probability that the customer still buys, on the day of the "
    "newest prediction run (0-1; NaN when not scored)",
    "churn_risk": "probability of no paid order in the run's horizon (0-1; NaN when not scored)",
    "churn_risk_level": "high / medium / low by the stored cut points of churn_risk (text)",
    "clv_12m": "predicted margin of the next 12 months, discounted, shop currency",
    "clv_rank_pct": "% of scored customers with a strictly higher clv_12m (NaN when not scored)",
    "purchases_90d": "expected purchase days in the 90 days after the run's day",
    "next_order_in_days": "whole days from as_of to the expected date of the next order "
    "(NaN beyond two years or when not scored; negative when that date has passed)",
}
"""Prediction fields (crm_core.predict.runs stores them; NaN until a run exists)."""

TAG_FIELDS: dict[str, str] = {
    **{k: v for k, v in FEATURE_COLUMNS.items() if k != "customer_id"},
    **{k: v for k, v in TAG_FACT_COLUMNS.items() if k != "customer_id"},
    **DERIVED_FIELDS,
    **SERVICE_FIELDS,
    **PREDICTION_FIELDS,
}
"""Every field a tag's rule can read, with its meaning and unit."""


TEXT_FIELDS: frozenset[str] = frozenset(
    {
        "name", "phone", "email", "gender", "province", "city", "channel",
        "favourite_category", "churn_risk_level",
        "first_purchase_at", "last_purchase_at", "last_complaint_at", "birthday", "signup_at",
    }
)  # fmt: skip
"""Fields whose values are text (or times written as text): a rule compares them with
text, so "001" stays "001"."""


def _cmp(name: str, op: str, value: Any = None) -> dict:
    leaf: dict = {"field": name, "op": op}
    if value is not None:
        leaf["value"] = value
    return leaf


BUILTIN_TAGS: dict[str, dict] = {
    "new_customer": _cmp("tenure_days", "<=", 30),
    "repeat_buyer": _cmp("purchases", ">=", 2),
    "price_sensitive": {"all": [_cmp("purchases", ">=", 2), _cmp("discount_share", ">", 0.5)]},
    "campaign_buyer": {"all": [_cmp("purchases", ">=", 2), _cmp("campaign_share", ">=", 0.6)]},
    "high_end": _cmp("aov_rank_pct", "<", 10),
    "return_heavy": _cmp("refund_share", ">", 0.3),
    "logistics_sensitive": _cmp("logistics_tickets_365d", ">=", 2),
    "quality_sensitive": _cmp("quality_tickets_365d", ">=", 1),
    "complainer": _cmp("complaints_90d", ">=", 1),
    "satisfied": _cmp("last_csat", ">=", 4),
    "promoter": _cmp("last_nps", ">=", 9),
    "detractor": _cmp("last_nps", "<=", 6),
    "service_recovery": {"any": [_cmp("sla_breaches_90d", ">=", 1), _cmp("low_csat_90d", ">=", 1)]},
    "browsing_without_buying": {
        "all": [
            _cmp("browse_events_30d", ">=", 1),
            {"any": [_cmp("recency_days", ">", 30), _cmp("recency_days", "is_null")]},
        ]
    },
    "high_value_at_risk": {
        "all": [_cmp("clv_rank_pct", "<", 20), _cmp("churn_risk_level", "==", "high")]
    },
    "birthday_this_month": _cmp("birthday_month_offset", "==", 0),
    "opted_out_sms": _cmp("opt_out_sms", "==", True),
    "opted_out_email": _cmp("opt_out_email", "==", True),
    "opted_out_wecom": _cmp("opt_out_wecom", "==", True),
}
"""The built-in tags and their default rules (the rule language of `segments`)."""

RETURN_HEAVY = "return_heavy"


@dataclass(frozen=True)
class Tag:
    """A tag: `name`, its `condition`, and where it comes from: kind is 'builtin'
    (`customised` when its rule was replaced), 'custom' or 'favourite' (generated)."""

    name: str
    condition: Mapping
    kind: str = "builtin"
    customised: bool = False

    @property
    def editable(self) -> bool:
        return self.kind != "favourite"


# --------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------


def campaign_bounds(engine: Engine, as_of: dt.date) -> list[dt.datetime]:
    """The campaign periods up to as_of, merged where they overlap, as a sorted flat list
    of bounds [start1, stop1, start2, stop2, ...] (each period is start <= t < stop)."""
    end = asof.end_of(as_of)
    cp = models.campaigns
    with engine.connect() as conn:
        rows = conn.execute(
            select(cp.c.started_at, cp.c.ended_at).where(cp.c.started_at < end)
        ).all()
    periods = sorted(
        (
            start,
            min(end, stop + dt.timedelta(seconds=1)) if stop is not None else end,
        )
        for start, stop in rows
    )
    merged: list[list[dt.datetime]] = []
    for start, stop in periods:
        if stop <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [bound for period in merged for bound in period]


def _inside_periods(column, bounds: Sequence[dt.datetime]):
    """1 when `column` lies in one of the periods given by sorted `bounds`, else 0.

    A moment is inside when an odd number of bounds are <= it. The expression is a
    balanced tree of CASE WHEN column < bound, so each row needs about log2(len(bounds))
    comparisons instead of one per campaign.
    """

    def node(low: int, high: int):  # the count of bounds <= t lies in low..high
        if low == high:
            return literal(low % 2)
        middle = (low + high) // 2
        return case((column < bounds[middle], node(low, middle)), else_=node(middle + 1, high))

    return node(0, len(bounds)) if bounds else literal(0)


def tag_facts_statement(as_of: dt.date, bounds: Sequence[dt.datetime]):
    """The single Core statement behind `tag_facts` (for inspection and tests)."""
    end = asof.end_of(as_of)
    ticket_start = asof.window_start(as_of, TICKET_WINDOW_DAYS)
    o = models.orders
    per_category = (
        select(
            o.c.customer_id,
            o.c.category,
            func.count().label("purchases"),
            func.sum(case((o.c.discount > 0, 1), else_=0)).label("discounted"),
            func.sum(_inside_periods(o.c.ordered_at, bounds)).label("in_campaign"),
        )
        .where(o.c.status == "paid", o.c.ordered_at < end)
        .group_by(o.c.customer_id, o.c.category)
        .subquery("per_category")
    )
    ranked = select(
        per_category,
        func.row_number()
        .over(
            partition_by=per_category.c.customer_id,
            order_by=(
                case((per_category.c.category.is_(None), 1), else_=0),
                per_category.c.purchases.desc(),
                per_category.c.category,
            ),
        )
        .label("position"),
    ).subquery("ranked")
    order_facts = (
        select(
            ranked.c.customer_id,
            func.sum(ranked.c.purchases).label("purchases"),
            func.sum(ranked.c.discounted).label("discounted_purchases"),
            func.sum(ranked.c.in_campaign).label("campaign_purchases"),
            func.max(case((ranked.c.position == 1, ranked.c.category))).label("favourite_category"),
        )
        .group_by(ranked.c.customer_id)
        .subquery("order_facts")
    )
    tk = models.tickets
    ticket_facts = (
        select(
            tk.c.customer_id,
            func.sum(case((tk.c.ticket_type == "logistics", 1), else_=0)).label("logistics"),
            func.sum(case((tk.c.ticket_type == "quality", 1), else_=0)).label("quality"),
        )
        .where(tk.c.created_at >= ticket_start, tk.c.created_at < end)
        .group_by(tk.c.customer_id)
        .subquery("ticket_facts")
    )
    c = models.customers
    joined = c.outerjoin(order_facts, order_facts.c.customer_id == c.c.customer_id).outerjoin(
        ticket_facts, ticket_facts.c.customer_id == c.c.customer_id
    )
    return (
        select(
            c.c.customer_id,
            order_facts.c.purchases,
            order_facts.c.discounted_purchases,
            cast(order_facts.c.campaign_purchases, Float).label("campaign_purchases"),
            order_facts.c.favourite_category,
            ticket_facts.c.logistics.label("logistics_tickets_365d"),
            ticket_facts.c.quality.label("quality_tickets_365d"),
        )
        .select_from(joined)
        .where(
            c.c.merged_into.is_(None),
            or_(order_facts.c.customer_id.is_not(None), ticket_facts.c.customer_id.is_not(None)),
        )
        .order_by(c.c.customer_id)
    )


def stored_tag_facts(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    """`tag_facts`, computed once per (data version, as-of date) and kept in the store
    (crm_core.store.frames)."""
    return stored_frame(
        engine, "tag_facts", {"as_of": as_of.isoformat()}, lambda: tag_facts(engine, as_of)
    )


def tag_facts(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    """Per customer with any order or ticket fact up to `as_of`: TAG_FACT_COLUMNS
    (customers without any are left out; `TagFields` treats them as zero)."""
    statement = tag_facts_statement(as_of, campaign_bounds(engine, as_of))
    with engine.connect() as conn:
        result = conn.execute(statement)
        names = list(result.keys())
        rows = result.fetchall()
    columns = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {}

    def counts(name: str) -> np.ndarray:
        values = np.array(columns.get(name, ()), dtype=np.float64).reshape(len(rows))
        return np.nan_to_num(values).astype(np.int64)

    return pd.DataFrame(
        {
            "customer_id": pd.array(columns.get("customer_id", ()), dtype="str"),
            "purchases": counts("purchases"),
            "discounted_purchases": counts("discounted_purchases"),
            "campaign_purchases": counts("campaign_purchases"),
            "favourite_category": pd.array(columns.get("favourite_category", ()), dtype="str"),
            "logistics_tickets_365d": counts("logistics_tickets_365d"),
            "quality_tickets_365d": counts("quality_tickets_365d"),
        }
    )


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, part / np.where(whole > 0, whole, 1), np.nan)


def share_strictly_above(values: np.ndarray) -> np.ndarray:
    """Per value, 100 * (finite values strictly above it) / (finite values); NaN stays
    NaN."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    ordered = np.sort(values[finite])
    result = np.full(len(values), np.nan)
    if ordered.size:
        above = ordered.size - np.searchsorted(ordered, values[finite], side="right")
        result[finite] = 100.0 * above / ordered.size
    return result


class TagFields(Mapping):
    """The fields tag rules read, one value per row of `features` (same order): the
    features' columns, the aligned tag facts and the derived fields (DERIVED_FIELDS).
    Columns are converted to NumPy once and kept; the features frame is not copied."""

    def __init__(self, features: pd.DataFrame, facts: pd.DataFrame, as_of: dt.date) -> None:
        self._features = features
        self._arrays: dict[str, np.ndarray] = {}
        positions = pd.Index(facts["customer_id"]).get_indexer(features["customer_id"])
        found = positions >= 0
        take = np.where(found, positions, 0)
        empty = len(facts) == 0
        for name in TAG_FACT_COLUMNS:
            if name == "customer_id":
                continue
            if name == "favourite_category":
                source = facts[name].to_numpy(dtype=object, na_value=np.nan)
                aligned = np.full(len(take), np.nan, dtype=object)
                if not empty:
                    aligned[found] = source[take[found]]
            else:
                source = facts[name].to_numpy(dtype=np.float64)
                aligned = np.zeros(len(take)) if empty else np.where(found, source[take], 0.0)
            self._arrays[name] = aligned
        purchases = self._arrays["purchases"]
        self._arrays["discount_share"] = _share(self._arrays["discounted_purchases"], purchases)
        self._arrays["campaign_share"] = _share(self._arrays["campaign_purchases"], purchases)
        self._arrays["refund_share"] = _share(
            features["refunds"].to_numpy(dtype=np.float64),
            features["purchase_amount"].to_numpy(dtype=np.float64),
        )
        aov = features["avg_order_value"].to_numpy(dtype=np.float64)
        buyers = features["frequency"].to_numpy() > 0
        self._arrays["aov_rank_pct"] = share_strictly_above(np.where(buyers, aov, np.nan))
        birthday = pd.DatetimeIndex(features["birthday"])
        self._arrays["birthday_month_offset"] = np.where(
            birthday.isna(), np.nan, (birthday.month - as_of.month) % 12
        ).astype(np.float64)
        complaint_day = pd.DatetimeIndex(features["last_complaint_at"]).normalize()
        self._arrays["days_since_complaint"] = (pd.Timestamp(as_of) - complaint_day).days.to_numpy(
            dtype=np.float64, na_value=np.nan
        )

        for name in SERVICE_FIELDS:
            self._arrays[name] = np.zeros(len(features))
        for name in PREDICTION_FIELDS:
            self._arrays[name] = np.full(
                len(features), np.nan, dtype=object if name == "churn_risk_level" else np.float64
            )

    def add_predictions(self, fields: pd.DataFrame) -> None:
        """Set the prediction fields from `predict.runs.prediction_fields` of these
        features' customers (same order)."""
        for name in PREDICTION_FIELDS:
            values = fields[name].to_numpy()
            self._arrays[name] = (
                values.astype(object) if name == "churn_risk_level" else values.astype(np.float64)
            )

    def add_service_facts(self, facts: pd.DataFrame) -> None:
        """Set the service fields from per-customer rows (customer_id and SERVICE_FIELDS;
        customers without a row get 0): `voice.recovery.service_facts`."""
        positions = pd.Index(facts["customer_id"].astype(str)).get_indexer(
            self._features["customer_id"].astype(str)
        )
        found = positions >= 0
        for name in SERVICE_FIELDS:
            source = facts[name].to_numpy(dtype=np.float64)
            self._arrays[name] = (
                np.where(found, source[np.where(found, positions, 0)], 0.0)
                if len(facts)
                else np.zeros(len(positions))
            )

    def __len__(self) -> int:
        return len(self._features)

    def __iter__(self) -> Iterator[str]:
        yield from TAG_FIELDS

    def __contains__(self, name: object) -> bool:
        return name in TAG_FIELDS

    def __getitem__(self, name: str) -> Any:
        if name in self._arrays:
            return self._arrays[name]
        if name == "customer_id" or name not in TAG_FIELDS:
            raise KeyError(name)
        return self._features[name]


# --------------------------------------------------------------------------------------
# Definitions and storage
# --------------------------------------------------------------------------------------


def _stored(bind: Engine | Connection) -> dict:
    payload = read_setting(bind, TAGS_SETTING) or {}
    return {
        "overrides": dict(payload.get("overrides", {})),
        "custom": list(payload.get("custom", [])),
    }


def builtin_tags() -> list[Tag]:
    """The built-in tags with their default rules."""
    return [Tag(name, copy.deepcopy(rule)) for name, rule in BUILTIN_TAGS.items()]


def favourite_tags(categories: Sequence[str]) -> list[Tag]:
    """One generated tag per category: favourite_category == category."""
    return [
        Tag(
            f"{FAVOURITE_PREFIX}{category}", _cmp("favourite_category", "==", category), "favourite"
        )
        for category in sorted({str(c) for c in categories})
    ]


def load_tags(engine: Engine) -> list[Tag]:
    """The stored tag definitions: built-in tags (with their replaced rules) followed by
    the custom tags in the order they were added."""
    stored = _stored(engine)
    tags = [
        Tag(name, stored["overrides"][name], "builtin", True)
        if name in stored["overrides"]
        else Tag(name, copy.deepcopy(rule))
        for name, rule in BUILTIN_TAGS.items()
    ]
    tags += [
        Tag(entry["name"], entry["condition"], "custom")
        for entry in stored["custom"]
        if _within_limits(entry["name"], entry["condition"])
    ]
    return tags


def _within_limits(name: str, condition: Any) -> bool:
    """Whether a stored rule still passes the checks a saved one must (size, depth,
    conditions): one saved before the limits existed is left out, with a log line,
    rather than slowing every page that evaluates the tags."""
    try:
        validate_condition(condition, TAG_FIELDS, where=name)
    except InputError:
        logger.warning("stored tag %r breaks the rule limits and is ignored", name)
        return False
    return True


def check_tag_name(name: Any) -> str:
    """The trimmed tag name, or InputError when it is empty, too long or reserved."""
    text = name.strip() if isinstance(name, str) else ""
    if not 0 < len(text) <= TAG_NAME_MAX or any(ch in text for ch in "\r\n\t,"):
        raise InputError("tags.error.name", limit=TAG_NAME_MAX)
    if text.startswith(FAVOURITE_PREFIX):
        raise InputError("tags.error.reserved", name=text)
    return text


def save_tag(engine: Engine, name: str, condition: Mapping, actor: Actor) -> Tag:
    """Store a tag: a built-in name replaces that tag's rule, another name adds (or
    changes) a custom tag. The condition is validated against TAG_FIELDS;
    PermissionDenied unless `actor` may edit tags."""
    require(actor, EDIT_TAGS)
    name = check_tag_name(name)
    validate_condition(condition, TAG_FIELDS, where=name)
    condition = copy.deepcopy(dict(condition))
    with engine.begin() as conn:
        stored = _stored(conn)
        if name in BUILTIN_TAGS:
            stored["overrides"][name] = condition
            tag = Tag(name, condition, "builtin", True)
        else:
            custom = [entry for entry in stored["custom"] if entry["name"] != name]
            custom.append({"name": name, "condition": condition})
            stored["custom"] = custom
            tag = Tag(name, condition, "custom")
        write_setting(conn, TAGS_SETTING, stored)
    return tag


def delete_tag(engine: Engine, name: str, actor: Actor) -> None:
    """Remove a custom tag, or give a built-in tag its default rule back;
    PermissionDenied unless `actor` may edit tags."""
    require(actor, EDIT_TAGS)
    with engine.begin() as conn:
        stored = _stored(conn)
        if name in BUILTIN_TAGS:
            stored["overrides"].pop(name, None)
        else:
            kept = [entry for entry in stored["custom"] if entry["name"] != name]
            if len(kept) == len(stored["custom"]):
                raise InputError("tags.error.unknown", name=name)
            stored["custom"] = kept
        write_setting(conn, TAGS_SETTING, stored)


EXAMPLE_CONDITION: dict = {
    "all": [
        {"field": "frequency", "op": ">=", "value": 3},
        {"field": "last_csat", "op": ">=", "value": 4},
    ]
}
"""The rule a new tag starts from in the editor: 3 or more purchases and a last CSAT of
4 or 5."""


def condition_json(condition: Mapping) -> str:
    """A tag rule as the editor shows it: indented JSON, Chinese kept as typed."""
    return json.dumps(condition, ensure_ascii=False, indent=2)


def parse_condition(text: str) -> Any:
    """A tag rule typed as JSON text; InputError (tags.error.json, with the line and
    column of the mistake) when it is not JSON. `save_tag` checks the rule itself."""
    return parse_rule_text(text, "tags.error.json")


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagMatrix:
    """Which customer has which tag: `values[i, j]` is True when row i (of the fields
    the tags were evaluated on) has tag `tags[j]`."""

    tags: tuple[Tag, ...]
    values: np.ndarray

    @property
    def names(self) -> list[str]:
        return [tag.name for tag in self.tags]

    def position(self, name: str) -> int:
        for position, tag in enumerate(self.tags):
            if tag.name == name:
                return position
        raise InputError("tags.error.unknown", name=name)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.position(name)]

    def counts(self) -> np.ndarray:
        return self.values.sum(axis=0).astype(np.int64)


def evaluate_tags(fields: Any, tags: Sequence[Tag], with_favourites: bool = True) -> TagMatrix:
    """Evaluate every tag on `fields` (a `TagFields` or a frame with the fields the
    rules read); with `with_favourites`, add one favourite-category tag per category
    found in fields["favourite_category"]."""
    all_tags = list(tags)
    if with_favourites:
        categories = pd.unique(pd.Series(fields["favourite_category"]).dropna())
        known = {tag.name for tag in all_tags}
        all_tags += [tag for tag in favourite_tags(categories) if tag.name not in known]
    values = np.zeros((len(fields), len(all_tags)), dtype=bool, order="F")
    for position, tag in enumerate(all_tags):
        try:
            values[:, position] = evaluate_rule(tag.condition, fields)
        except InputError as error:
            raise InputError("tags.error.rule", name=tag.name, detail=error.message()) from None
    return TagMatrix(tuple(all_tags), values)


def tag_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A tag's display name: translated for built-in and favourite-category tags."""
    if name.startswith(FAVOURITE_PREFIX):
        return translate("tags.favourite", language, category=name[len(FAVOURITE_PREFIX) :])
    key = f"tags.tag.{name}"
    return translate(key, language) if has_key(key, language) else name


def field_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A field's display name in rule texts (the name itself when not translated)."""
    for key in (f"tags.field.{name}", f"rfm.field.{name}"):
        if has_key(key, language):
            return translate(key, language)
    return name


def tag_table(matrix: TagMatrix, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """One row per tag: tag (name), label, kind, customised, rule (readable text),
    customers (int) and share (0-1 of all rows)."""
    rows = max(len(matrix.values), 1)
    counts = matrix.counts()
    return pd.DataFrame(
        {
            "tag": pd.array([tag.name for tag in matrix.tags], dtype="str"),
            "label": pd.array([tag_label(tag.name, language) for tag in matrix.tags], dtype="str"),
            "kind": pd.array([tag.kind for tag in matrix.tags], dtype="str"),
            "customised": np.array([tag.customised for tag in matrix.tags], dtype=bool),
            "rule": pd.array(
                [
                    condition_words(tag.condition, language, lambda n: field_label(n, language))
                    for tag in matrix.tags
                ],
                dtype="str",
            ),
            "customers": counts,
            "share": counts / rows,
        }
    )


def tags_text(
    matrix: TagMatrix, rows: np.ndarray, language: str = DEFAULT_LANGUAGE, separator: str = ", "
) -> np.ndarray:
    """Per selected row (positions `rows`), the labels of its tags joined by
    `separator` (object array of str; "" for a row without tags)."""
    rows = np.asarray(rows, dtype=np.intp)
    text = np.full(len(rows), "", dtype=object)
    for position, tag in enumerate(matrix.tags):
        has_tag = matrix.values[rows, position]
        if has_tag.any():
            label = tag_label(tag.name, language)
            current = text[has_tag]
            text[has_tag] = np.where(current == "", label, current + separator + label)
    return text


def tag_rows(matrix: TagMatrix, names: Sequence[str], mode: str = "any") -> np.ndarray:
    """Rows having any (mode 'any') or all (mode 'all') of the tags `names`."""
    if mode not in ("any", "all"):
        raise InputError("tags.error.mode", mode=mode)
    if not names:
        return np.ones(len(matrix.values), dtype=bool)
    columns = [matrix.position(name) for name in names]
    chosen = matrix.values[:, columns]
    return chosen.any(axis=1) if mode == "any" else chosen.all(axis=1)


__all__ = [
    "BUILTIN_TAGS",
    "DERIVED_FIELDS",
    "EXAMPLE_CONDITION",
    "FAVOURITE_PREFIX",
    "RETURN_HEAVY",
    "TAG_FACT_COLUMNS",
    "TAG_FIELDS",
    "TEXT_FIELDS",
    "Tag",
    "TagFields",
    "TagMatrix",
    "builtin_tags",
    "campaign_bounds",
    "check_tag_name",
    "condition_json",
    "delete_tag",
    "evaluate_tags",
    "favourite_tags",
    "field_label",
    "load_tags",
    "parse_condition",
    "save_tag",
    "share_strictly_above",
    "stored_tag_facts",
    "tag_facts",
    "tag_facts_statement",
    "tag_label",
    "tag_rows",
    "tag_table",
    "tags_text",
]
