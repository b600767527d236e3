"""Audiences: target lists built from segments, tags and filters; the contact policy
applied to them; their downloads and the record of every download.

1. `AudienceFacts` holds everything an audience is evaluated on, one row per customer of
   `customer_features` (prospects included, ordered by customer_id): the prepared RFM
   facts, the segment code and R/F/M scores of every customer under one scheme
   (NOT_SCORED for customers without a purchase in the window), the tag fields and the
   tag matrix. Build it with `load_audience_facts` (or from cached parts in the UI).
2. `Audience` is the definition: include/exclude segments of a scheme, include tags
   (any or all of them) and exclude tags (any of them), regions (provinces),
   acquisition channels and recency/frequency/monetary ranges (inclusive; a customer
   without a value fails a range). `select_members` evaluates it vectorised.
3. `apply_policy` applies the contact policy (see `crm_core.outreach.policy`) to the members for
   one contact channel and says, per excluded customer, why (fixed precedence);
   `exclusion_summary` writes the sentence a preview shows.
4. Downloads: `export_audience` / `export_trigger` build the file (CSV in UTF-8 with a
   BOM so Excel shows Chinese, or XLSX) with the chosen columns, personal data masked
   for the acting user's role, every text cell neutralised against formula injection,
   and record the export (who, when, scheme version, filters, policy, channel, row count
   and member ids) in one transaction. `redownload_export` writes the same members
   again from a record.

The frequency cap counts campaign touches and the members of earlier marketing exports
(`contact_counts`), read from the store at export time, so an export made a moment ago
counts.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, literal, select, union_all

from crm_core import asof
from crm_core.auth import DOWNLOAD, Actor, require
from crm_core.customers.features import customer_features
from crm_core.customers.rfm import RfmFacts, prepare_facts
from crm_core.customers.segments import (
    NOT_SCORED,
    Scheme,
    customer_codes,
    evaluate_scheme,
    load_scheme,
    preset,
    segment_label,
)
from crm_core.customers.tags import (
    RETURN_HEAVY,
    Tag,
    TagFields,
    TagMatrix,
    evaluate_tags,
    load_tags,
    tag_facts,
    tag_rows,
    tags_text,
)
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, has_key, translate
from crm_core.outreach.policy import (
    EXCLUSION_REASONS,
    ContactPolicy,
    check_channel,
)
from crm_core.outreach.privacy import mask_personal_columns, neutralise_formula
from crm_core.outreach.triggers import MARKETING_TRIGGERS, TriggerSettings, trigger_list
from crm_core.store import bulk_insert, models

# --------------------------------------------------------------------------------------
# 1. Facts
# --------------------------------------------------------------------------------------

PHONE_SEPARATORS = r"[\s\-().]"
VALID_MOBILE = r"(?:\+86|0086|86)?1[3-9]\d{9}"
VALID_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s.]+"


def valid_mobiles(values: pd.Series) -> np.ndarray:
    """True where the value is a mainland mobile number (11 digits starting 13-19,
    optionally with +86/0086/86; spaces, dashes, dots and brackets ignored)."""
    text = values.astype("str").str.replace(PHONE_SEPARATORS, "", regex=True)
    return text.str.fullmatch(VALID_MOBILE).fillna(False).to_numpy(dtype=bool)


def valid_emails(values: pd.Series) -> np.ndarray:
    """True where the value looks like local@domain.tld (surrounding spaces ignored)."""
    text = values.astype("str").str.strip()
    return text.str.fullmatch(VALID_EMAIL).fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class SegmentAssignment:
    """Every customer's segment code (index into `names`, NOT_SCORED last) and R/F/M
    scores 1-5 (0 when not scored) under one scheme."""

    scheme: Scheme
    codes: np.ndarray
    r_score: np.ndarray
    f_score: np.ndarray
    m_score: np.ndarray

    @property
    def names(self) -> list[str]:
        return [*self.scheme.segment_names, NOT_SCORED]


def assign_all_customers(rfm: RfmFacts, scheme: Scheme) -> SegmentAssignment:
    """The scheme applied to every customer of `rfm.features`."""
    result = evaluate_scheme(rfm, scheme)
    scores = {}
    for axis, values in (("r", result.scores.r), ("f", result.scores.f), ("m", result.scores.m)):
        full = np.zeros(len(rfm.features), dtype=np.int8)
        full[rfm.scored_rows] = values
        scores[axis] = full
    return SegmentAssignment(
        scheme, customer_codes(rfm, result), scores["r"], scores["f"], scores["m"]
    )


@dataclass
class AudienceFacts:
    """What audiences are evaluated on (see the module docstring); every array has one
    value per row of `features`."""

    as_of: dt.date
    window_days: int | None
    rfm: RfmFacts
    fields: TagFields
    tags: TagMatrix
    assignment: SegmentAssignment
    scheme_id: int | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def features(self) -> pd.DataFrame:
        return self.rfm.features

    @property
    def scheme(self) -> Scheme:
        return self.assignment.scheme

    @property
    def customer_ids(self) -> pd.Series:
        return self.features["customer_id"]

    def __len__(self) -> int:
        return len(self.features)

    def array(self, name: str) -> np.ndarray:
        """A features column as NumPy (numbers as float64 with NaN), converted once."""
        if name not in self._cache:
            values = self.features[name]
            if pd.api.types.is_bool_dtype(values.dtype):
                self._cache[name] = values.to_numpy(dtype=bool)
            elif pd.api.types.is_numeric_dtype(values.dtype):
                self._cache[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                self._cache[name] = values.to_numpy()
        return self._cache[name]

    def category_codes(self, name: str) -> tuple[np.ndarray, pd.Index]:
        """(code per customer, categories) of a text column, computed once."""
        key = f"codes:{name}"
        if key not in self._cache:
            codes, categories = pd.factorize(self.features[name], use_na_sentinel=True)
            self._cache[key] = (codes, pd.Index(categories))
        return self._cache[key]

    def address_valid(self, channel: str) -> np.ndarray:
        """True where the customer has a valid address for `channel` (computed once)."""
        key = f"valid:{channel}"
        if key not in self._cache:
            if channel == "email":
                self._cache[key] = valid_emails(self.features["email"])
            else:
                self._cache[key] = valid_mobiles(self.features["phone"])
        return self._cache[key]


def scheme_by_id(engine: Engine, scheme_id: int) -> Scheme:
    """The saved scheme version with this id."""
    table = models.segment_schemes
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.name, table.c.version).where(table.c.id == scheme_id)
        ).first()
    if row is None:
        raise InputError("audiences.error.scheme_id", scheme_id=scheme_id)
    return load_scheme(engine, row.name, int(row.version))


def load_audience_facts(
    engine: Engine,
    as_of: dt.date,
    window_days: int | None,
    scheme: Scheme,
    scheme_id: int | None = None,
    tags: Sequence[Tag] | None = None,
) -> AudienceFacts:
    """Facts, tag facts and tags read from the store and assembled (two SQL
    aggregations); `tags` default to the stored definitions."""
    rfm = prepare_facts(customer_features(engine, as_of, window_days))
    tag_fields = TagFields(rfm.features, tag_facts(engine, as_of), as_of)
    matrix = evaluate_tags(tag_fields, load_tags(engine) if tags is None else tags)
    return AudienceFacts(
        as_of, window_days, rfm, tag_fields, matrix, assign_all_customers(rfm, scheme), scheme_id
    )


# --------------------------------------------------------------------------------------
# 2. Audience definition
# --------------------------------------------------------------------------------------

RANGE_FIELDS: tuple[str, ...] = ("recency_days", "frequency", "monetary")
TAG_MODES: tuple[str, ...] = ("any", "all")


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

    def __post_init__(self) -> None:
        for name in (
            "include_segments",
            "exclude_segments",
            "include_tags",
            "exclude_tags",
            "provinces",
            "channels",
        ):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        for name in RANGE_FIELDS:
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
        }

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
    for name in RANGE_FIELDS:
        low, high = getattr(audience, name)
        if low is not None or high is not None:
            values = facts.array(name)
            with np.errstate(invalid="ignore"):
                if low is not None:
                    keep &= values >= low
                if high is not None:
                    keep &= values <= high
    return keep


@dataclass(frozen=True)
class AudienceSize:
    """customers in the audience and their revenue (sum of monetary in the facts'
    window, shop currency)."""

    customers: int
    revenue: float


def audience_size(facts: AudienceFacts, members: np.ndarray) -> AudienceSize:
    positions = _positions(members)
    revenue = float(np.nansum(facts.array("monetary")[positions]))
    return AudienceSize(len(positions), round(revenue, 2))


def _positions(members: np.ndarray) -> np.ndarray:
    members = np.asarray(members)
    return np.flatnonzero(members) if members.dtype == bool else members.astype(np.intp)


# --------------------------------------------------------------------------------------
# 3. Contact policy
# --------------------------------------------------------------------------------------


def contacts_statement(as_of: dt.date, window_days: int):
    """The Core statement behind `recent_contacts`."""
    start, end = asof.window_start(as_of, window_days), asof.end_of(as_of)
    first_day = start.date()
    ct = models.campaign_touches
    ex = models.exports
    em = models.export_members
    touches = select(
        ct.c.customer_id.label("customer_id"),
        literal(1).label("touches"),
        literal(0).label("exports"),
    ).where(
        ct.c.sent_at >= start,
        ct.c.sent_at < end,
        ct.c.is_control == False,  # noqa: E712 (SQL comparison)
    )
    exported = (
        select(
            em.c.customer_id.label("customer_id"),
            literal(0).label("touches"),
            literal(1).label("exports"),
        )
        .select_from(em.join(ex, ex.c.id == em.c.export_id))
        .where(
            ex.c.is_marketing == True,  # noqa: E712 (SQL comparison)
            ex.c.as_of >= first_day,
            ex.c.as_of <= as_of,
        )
    )
    contacts = union_all(touches, exported).subquery("contacts")
    return (
        select(
            contacts.c.customer_id,
            func.sum(contacts.c.touches).label("touches"),
            func.sum(contacts.c.exports).label("exports"),
        )
        .group_by(contacts.c.customer_id)
        .order_by(contacts.c.customer_id)
    )


def recent_contacts(engine: Engine | Connection, as_of: dt.date, window_days: int) -> pd.DataFrame:
    """Marketing contacts per customer in the `window_days` days ending on `as_of`:
    customer_id, touches (campaign messages sent, control rows excluded), exports
    (marketing exports with an as-of date in the window that list the customer);
    only customers with at least one."""
    statement = contacts_statement(as_of, window_days)
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(statement).all()
    else:
        rows = engine.execute(statement).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "touches", "exports"])
    frame["customer_id"] = pd.array(frame["customer_id"], dtype="str")
    for name in ("touches", "exports"):
        frame[name] = frame[name].astype(np.int64)
    return frame


def contact_counts(
    engine: Engine | Connection, customer_ids: pd.Series, as_of: dt.date, window_days: int
) -> np.ndarray:
    """Marketing contacts (touches + exports) of each customer in `customer_ids` (int64,
    aligned)."""
    contacts = recent_contacts(engine, as_of, window_days)
    positions = pd.Index(contacts["customer_id"]).get_indexer(customer_ids)
    totals = (contacts["touches"] + contacts["exports"]).to_numpy(dtype=np.int64)
    counts = np.zeros(len(positions), dtype=np.int64)
    found = positions >= 0
    counts[found] = totals[positions[found]]
    return counts


def export_marker(engine: Engine) -> int:
    """The newest export id (0 when none): part of cache keys of contact counts."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(models.exports.c.id))).scalar() or 0)


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
    positions = _positions(members)
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


# --------------------------------------------------------------------------------------
# 4. Files and export records
# --------------------------------------------------------------------------------------

EXPORT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "name",
    "address",
    "phone",
    "email",
    "segment",
    "tags",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "action",
)
DEFAULT_EXPORT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "name",
    "address",
    "segment",
    "tags",
    "recency_days",
    "frequency",
    "monetary",
    "action",
)
FILE_FORMATS: dict[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TRIGGER_EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "winback": ("recency_days", "last_purchase_at"),
    "lost": ("recency_days", "last_purchase_at"),
    "birthday": ("birthday",),
    "payment": ("order_id", "ordered_at", "amount", "customer_type", "remind_from", "phone_call"),
    "thank_you": ("ticket_id", "ticket_type", "resolved_at", "csat"),
}
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(columns))
    unknown = [name for name in chosen if name not in EXPORT_COLUMNS]
    if unknown or not chosen:
        raise InputError(
            "audiences.error.columns",
            columns=", ".join(unknown) or "-",
            known=", ".join(EXPORT_COLUMNS),
        )
    return chosen


def check_format(file_format: str) -> str:
    if file_format not in FILE_FORMATS:
        raise InputError("audiences.error.format", format=file_format)
    return file_format


def segment_action(segment: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The suggested action for a segment (a generic one for segments of custom rules)."""
    key = f"audiences.action.{segment}"
    return translate(key if has_key(key, language) else "audiences.action.default", language)


def _take(values: np.ndarray | pd.Series, positions: np.ndarray) -> pd.Series:
    """values[positions], missing where a position is -1 (a member no longer known)."""
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    known = positions >= 0
    if not len(array):
        return pd.Series([None] * len(positions), dtype=object)
    taken = pd.Series(array[np.where(known, positions, 0)])
    return taken if known.all() else taken.where(known)


def export_frame(
    facts: AudienceFacts,
    positions: np.ndarray,
    columns: Sequence[str],
    channel: str | None,
    language: str = DEFAULT_LANGUAGE,
    customer_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The rows of a download before masking: one per position (row of the facts; -1
    for a member no longer in the facts, whose id comes from `customer_ids`), with the
    `columns` (EXPORT_COLUMNS names) in that order. `address` is the phone for SMS and
    WeCom, the e-mail for e-mail, and without a channel the phone or else the e-mail;
    segment and action are translated; scores are empty for customers not scored."""
    columns = check_columns(columns)
    positions = np.asarray(positions, dtype=np.intp)
    known = positions >= 0
    safe = np.where(known, positions, 0)
    names = facts.assignment.names
    out: dict[str, Any] = {}
    for column in columns:
        if column == "customer_id":
            ids = _take(facts.customer_ids, positions)
            if customer_ids is not None:
                ids = pd.Series(list(customer_ids), dtype="str")
            out[column] = pd.array(ids, dtype="str")
        elif column in ("name", "phone", "email"):
            out[column] = pd.array(_take(facts.features[column], positions), dtype="str")
        elif column == "address":
            phone = pd.array(_take(facts.features["phone"], positions), dtype="str")
            email = pd.array(_take(facts.features["email"], positions), dtype="str")
            if channel == "email":
                out[column] = email
            elif channel in ("sms", "wecom"):
                out[column] = phone
            else:
                out[column] = pd.Series(phone).fillna(pd.Series(email)).array
        elif column in ("segment", "action"):
            segment_names = np.array(names, dtype=object)[facts.assignment.codes[safe]]
            label = segment_label if column == "segment" else segment_action
            labels = {name: label(name, language) for name in names}
            values = pd.Series(segment_names).map(labels)
            out[column] = pd.array(values.where(known), dtype="str")
        elif column == "tags":
            out[column] = pd.array(
                np.where(known, tags_text(facts.tags, safe, language), None), dtype="str"
            )
        elif column in ("r_score", "f_score", "m_score"):
            scores = getattr(facts.assignment, column)[safe]
            out[column] = pd.Series(scores, dtype="Int64").where(known & (scores > 0))
        elif column == "frequency":
            out[column] = pd.array(_take(facts.array(column), positions), dtype="Int64")
        else:
            out[column] = _take(facts.array(column), positions).to_numpy(dtype=np.float64)
    return pd.DataFrame(out)


def column_header(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    key = f"audiences.column.{name}"
    return translate(key, language) if has_key(key, language) else name


def render_file(
    frame: pd.DataFrame, file_format: str, actor: Actor | None, language: str = DEFAULT_LANGUAGE
) -> bytes:
    """The file's bytes: personal columns (address, phone, email) masked unless `actor`
    may see personal data, headers translated, every text cell and header starting with
    =, +, -, @, tab, CR or LF prefixed with an apostrophe; CSV in UTF-8 with a BOM, or
    XLSX. Control characters other than tab, CR and LF are dropped from text."""
    check_format(file_format)
    masked = mask_personal_columns(frame, actor)
    masked.columns = [column_header(name, language) for name in masked.columns]
    safe = neutralise_formula(_without_control_characters(masked))
    if file_format == "csv":
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    return _xlsx_bytes(safe)


def _without_control_characters(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells and headers without control characters other than tab, CR and LF
    (XML cannot hold them). Removed before neutralising, so "\x01=cmd" cannot turn
    into "=cmd" afterwards."""
    out = frame.copy()
    for position in range(out.shape[1]):
        values = out.iloc[:, position]
        if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            out.isetitem(
                position, values.astype("str").str.replace(_CONTROL_CHARACTERS, "", regex=True)
            )
    out.columns = [_CONTROL_CHARACTERS.sub("", str(name)) for name in out.columns]
    return out


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as one XLSX sheet (openpyxl's write-only mode; missing values become
    empty cells)."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("list")
    sheet.append(list(frame.columns))
    columns = []
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        columns.append(values.astype(object).where(values.notna(), None).tolist())
    for row in zip(*columns, strict=True):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportedFile:
    """A written and recorded download."""

    export_id: int
    content: bytes
    file_name: str
    mime: str
    row_count: int
    member_count: int


def record_export(
    conn: Connection,
    *,
    created_by: str,
    created_at: dt.datetime,
    as_of: dt.date,
    scheme_id: int | None,
    channel: str | None,
    filters: Mapping[str, Any],
    policy: Mapping[str, Any],
    columns: Sequence[str],
    file_format: str,
    row_count: int,
    member_ids: Sequence[str],
    is_marketing: bool,
) -> int:
    """Insert the export and its distinct members inside the caller's transaction;
    returns the export id."""
    export_id = conn.execute(
        insert(models.exports)
        .values(
            created_by=created_by,
            created_at=created_at,
            as_of=as_of,
            scheme_id=scheme_id,
            channel=channel,
            filters=json.loads(json.dumps(filters, default=str)),
            policy=dict(policy),
            columns=list(columns),
            file_format=file_format,
            row_count=row_count,
            is_marketing=is_marketing,
        )
        .returning(models.exports.c.id)
    ).scalar_one()
    ids = pd.unique(pd.Series(list(member_ids), dtype="str").dropna())
    members = pd.DataFrame(
        {"export_id": np.full(len(ids), int(export_id), dtype=np.int64), "customer_id": ids}
    )
    bulk_insert(conn, models.export_members, members)
    return int(export_id)


def _now(created_at: dt.datetime | None) -> dt.datetime:
    return created_at or dt.datetime.now().replace(microsecond=0)


def export_list(
    engine: Engine,
    facts: AudienceFacts,
    positions: np.ndarray,
    *,
    actor: Actor,
    channel: str | None,
    columns: Sequence[str],
    file_format: str,
    filters: Mapping[str, Any],
    policy: ContactPolicy | Mapping[str, Any] | None,
    is_marketing: bool,
    language: str = DEFAULT_LANGUAGE,
    extra: pd.DataFrame | None = None,
    customer_ids: Sequence[str] | None = None,
    file_prefix: str = "audience",
    created_at: dt.datetime | None = None,
) -> ExportedFile:
    """Write the rows `positions` of the facts as a file and record the export in one
    transaction. `extra` (one row per position) adds columns after the chosen ones.
    PermissionDenied unless `actor` may download."""
    require(actor, DOWNLOAD)
    channel = check_channel(channel)
    columns = check_columns(columns)
    check_format(file_format)
    frame = export_frame(facts, positions, columns, channel, language, customer_ids)
    if extra is not None:
        for name in extra.columns:
            if name not in frame.columns:
                frame[name] = extra[name].to_numpy()
    content = render_file(frame, file_format, actor, language)
    member_ids = (
        list(customer_ids)
        if customer_ids is not None
        else facts.customer_ids.to_numpy()[np.asarray(positions, dtype=np.intp)]
    )
    policy_payload = policy.to_dict() if isinstance(policy, ContactPolicy) else dict(policy or {})
    with engine.begin() as conn:
        export_id = record_export(
            conn,
            created_by=actor.username,
            created_at=_now(created_at),
            as_of=facts.as_of,
            scheme_id=facts.scheme_id,
            channel=channel,
            filters=filters,
            policy=policy_payload,
            columns=list(frame.columns),
            file_format=file_format,
            row_count=len(frame),
            member_ids=member_ids,
            is_marketing=is_marketing,
        )
    file_name = f"{file_prefix}-{facts.as_of.isoformat()}-{export_id}.{file_format}"
    return ExportedFile(
        export_id,
        content,
        file_name,
        FILE_FORMATS[file_format],
        len(frame),
        len(pd.unique(pd.Series(member_ids, dtype="str"))),
    )


def _scheme_filters(facts: AudienceFacts) -> dict[str, Any]:
    return {"name": facts.scheme.name, "version": facts.scheme.version}


def preview_audience(
    engine: Engine | Connection,
    facts: AudienceFacts,
    audience: Audience,
    channel: str | None,
    policy: ContactPolicy,
) -> PolicyResult:
    """The audience's members with the policy applied, contacts read from the store now."""
    members = select_members(facts, audience)
    contacts = contact_counts(engine, facts.customer_ids, facts.as_of, policy.cap_window_days)
    return apply_policy(facts, members, channel, policy, contacts)


def export_audience(
    engine: Engine,
    facts: AudienceFacts,
    audience: Audience,
    *,
    channel: str | None,
    policy: ContactPolicy,
    actor: Actor,
    columns: Sequence[str] = DEFAULT_EXPORT_COLUMNS,
    file_format: str = "csv",
    language: str = DEFAULT_LANGUAGE,
    created_at: dt.datetime | None = None,
) -> tuple[ExportedFile, PolicyResult]:
    """Select the audience, apply the policy (contacts read now, so earlier exports
    count), write the kept customers and record the export as marketing."""
    require(actor, DOWNLOAD)
    result = preview_audience(engine, facts, audience, channel, policy)
    filters = {
        "source": "audience",
        "audience": audience.to_dict(),
        "scheme": _scheme_filters(facts),
        "selected": len(result.positions),
        "kept": result.kept,
        "excluded": result.excluded_counts,
    }
    exported = export_list(
        engine,
        facts,
        result.kept_positions,
        actor=actor,
        channel=channel,
        columns=columns,
        file_format=file_format,
        filters=filters,
        policy=policy,
        is_marketing=True,
        language=language,
        created_at=created_at,
    )
    return exported, result


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


def export_trigger(
    engine: Engine,
    facts: AudienceFacts,
    name: str,
    settings: TriggerSettings,
    *,
    channel: str | None,
    policy: ContactPolicy,
    actor: Actor,
    columns: Sequence[str] = ("customer_id", "name", "address", "segment", "tags"),
    file_format: str = "csv",
    language: str = DEFAULT_LANGUAGE,
    at: dt.datetime | None = None,
    created_at: dt.datetime | None = None,
) -> tuple[ExportedFile, PolicyResult | None]:
    """Write one trigger list (with its own columns after the chosen ones) and record
    it. Marketing lists (win-back, lost, birthday, thank-you) go through the contact
    policy; payment reminders are service messages: no policy, not marketing. `facts`
    should have all history (window None)."""
    require(actor, DOWNLOAD)
    rows = trigger_list(name, engine, facts.features, facts.as_of, settings, at)
    positions = pd.Index(facts.customer_ids).get_indexer(rows["customer_id"])
    rows = rows.loc[positions >= 0].reset_index(drop=True)
    positions = positions[positions >= 0]
    result = None
    marketing = name in MARKETING_TRIGGERS
    if marketing:
        contacts = contact_counts(engine, facts.customer_ids, facts.as_of, policy.cap_window_days)
        unique_positions = pd.unique(positions)
        result = apply_policy(facts, unique_positions, channel, policy, contacts)
        keep = np.isin(positions, result.kept_positions)
        rows = rows.loc[keep].reset_index(drop=True)
        positions = positions[keep]
    filters = {
        "source": "trigger",
        "trigger": name,
        "settings": settings.to_dict(),
        "moment": (at or asof.last_second(facts.as_of)).isoformat(),
        "scheme": _scheme_filters(facts),
        "window_days": facts.window_days,
    }
    if result is not None:
        filters.update(
            selected=len(result.positions), kept=result.kept, excluded=result.excluded_counts
        )
    extra = trigger_extra(rows, name, language)
    exported = export_list(
        engine,
        facts,
        positions,
        actor=actor,
        channel=channel,
        columns=columns,
        file_format=file_format,
        filters=filters,
        policy=policy if marketing else None,
        is_marketing=marketing,
        language=language,
        extra=extra,
        file_prefix=name,
        created_at=created_at,
    )
    return exported, result


# --------------------------------------------------------------------------------------
# 5. Reading export records
# --------------------------------------------------------------------------------------

EXPORT_LIST_COLUMNS = (
    "id",
    "created_at",
    "created_by",
    "as_of",
    "source",
    "scheme",
    "scheme_version",
    "channel",
    "file_format",
    "row_count",
    "members",
    "is_marketing",
)


def list_exports(engine: Engine, *, actor: Actor, limit: int = 500) -> pd.DataFrame:
    """The newest `limit` exports, newest first, with EXPORT_LIST_COLUMNS (source:
    audience, trigger or copy; scheme and scheme_version of the list's scheme);
    PermissionDenied unless `actor` may download."""
    require(actor, DOWNLOAD)
    ex = models.exports
    em = models.export_members
    counts = (
        select(em.c.export_id, func.count().label("members"))
        .group_by(em.c.export_id)
        .subquery("counts")
    )
    stmt = (
        select(
            ex.c.id,
            ex.c.created_at,
            ex.c.created_by,
            ex.c.as_of,
            ex.c.filters,
            ex.c.channel,
            ex.c.file_format,
            ex.c.row_count,
            counts.c.members,
            ex.c.is_marketing,
        )
        .select_from(ex.outerjoin(counts, counts.c.export_id == ex.c.id))
        .order_by(ex.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    filters = [row.filters if isinstance(row.filters, dict) else {} for row in rows]
    scheme = [f.get("scheme") or {} for f in filters]
    return pd.DataFrame(
        {
            "id": np.array([row.id for row in rows], dtype=np.int64),
            "created_at": pd.to_datetime(pd.Series([row.created_at for row in rows])),
            "created_by": pd.array([row.created_by for row in rows], dtype="str"),
            "as_of": pd.to_datetime(pd.Series([row.as_of for row in rows])),
            "source": pd.array([f.get("source") for f in filters], dtype="str"),
            "scheme": pd.array([s.get("name") for s in scheme], dtype="str"),
            "scheme_version": pd.array([s.get("version") for s in scheme], dtype="Int64"),
            "channel": pd.array([row.channel for row in rows], dtype="str"),
            "file_format": pd.array([row.file_format for row in rows], dtype="str"),
            "row_count": np.array([row.row_count for row in rows], dtype=np.int64),
            "members": np.array([row.members or 0 for row in rows], dtype=np.int64),
            "is_marketing": np.array([bool(row.is_marketing) for row in rows], dtype=bool),
        },
        columns=list(EXPORT_LIST_COLUMNS),
    )


@dataclass(frozen=True)
class ExportRecord:
    """One stored export."""

    id: int
    created_by: str
    created_at: dt.datetime
    as_of: dt.date
    scheme_id: int | None
    channel: str | None
    filters: dict
    policy: dict
    columns: list
    file_format: str
    row_count: int
    is_marketing: bool


def export_record(engine: Engine, export_id: int) -> ExportRecord:
    ex = models.exports
    with engine.connect() as conn:
        row = conn.execute(select(ex).where(ex.c.id == export_id)).first()
    if row is None:
        raise InputError("audiences.error.export_unknown", export_id=export_id)
    as_of = row.as_of if isinstance(row.as_of, dt.date) else dt.date.fromisoformat(str(row.as_of))
    return ExportRecord(
        id=int(row.id),
        created_by=row.created_by,
        created_at=row.created_at,
        as_of=as_of,
        scheme_id=row.scheme_id,
        channel=row.channel,
        filters=dict(row.filters or {}),
        policy=dict(row.policy or {}),
        columns=list(row.columns or []),
        file_format=row.file_format,
        row_count=int(row.row_count),
        is_marketing=bool(row.is_marketing),
    )


def export_member_ids(engine: Engine, export_id: int) -> list[str]:
    """The member ids of an export, sorted."""
    em = models.export_members
    with engine.connect() as conn:
        rows = conn.execute(
            select(em.c.customer_id).where(em.c.export_id == export_id).order_by(em.c.customer_id)
        ).all()
    return [row.customer_id for row in rows]


def record_scheme(engine: Engine, record: ExportRecord) -> Scheme:
    """The scheme an export was made with: its saved version, else the preset named in
    the record's filters."""
    if record.scheme_id is not None:
        return scheme_by_id(engine, record.scheme_id)
    name = (record.filters.get("scheme") or {}).get("name") or "rfm11"
    return preset(name)


def record_window(record: ExportRecord) -> int | None:
    audience = record.filters.get("audience")
    if isinstance(audience, Mapping):
        return audience.get("window_days")
    return record.filters.get("window_days")


def redownload_export(
    engine: Engine,
    export_id: int,
    *,
    actor: Actor,
    language: str = DEFAULT_LANGUAGE,
    file_format: str | None = None,
    facts: AudienceFacts | None = None,
    created_at: dt.datetime | None = None,
) -> ExportedFile:
    """The same members as export `export_id`, written again with its columns (values
    as of its as-of date, masked for `actor`), recorded as a copy: source 'copy',
    not marketing, so the frequency cap counts the list once."""
    require(actor, DOWNLOAD)
    record = export_record(engine, export_id)
    source = record.filters
    if source.get("source") == "copy":
        return redownload_export(
            engine,
            int(source["copy_of"]),
            actor=actor,
            language=language,
            file_format=file_format,
            facts=facts,
            created_at=created_at,
        )
    if facts is None:
        facts = load_audience_facts(
            engine,
            record.as_of,
            record_window(record),
            record_scheme(engine, record),
            record.scheme_id,
        )
    ids = export_member_ids(engine, export_id)
    chosen = [name for name in record.columns if name in EXPORT_COLUMNS]
    extra = None
    if source.get("source") == "trigger":
        name = source["trigger"]
        at = dt.datetime.fromisoformat(source["moment"]) if source.get("moment") else None
        rows = trigger_list(
            name,
            engine,
            facts.features,
            record.as_of,
            TriggerSettings.from_dict(source.get("settings")),
            at,
        )
        rows = rows.loc[rows["customer_id"].isin(ids)].reset_index(drop=True)
        ids = list(rows["customer_id"])
        extra = trigger_extra(rows, name, language)
        extra = extra[[c for c in extra.columns if c in record.columns]]
    positions = pd.Index(facts.customer_ids).get_indexer(pd.Index(ids, dtype="str"))
    filters = {"source": "copy", "copy_of": record.id, "scheme": source.get("scheme")}
    return export_list(
        engine,
        facts,
        positions,
        actor=actor,
        channel=record.channel,
        columns=chosen or ["customer_id"],
        file_format=check_format(file_format or record.file_format),
        filters=filters,
        policy=record.policy,
        is_marketing=False,
        language=language,
        extra=extra,
        customer_ids=ids,
        file_prefix=f"export-{record.id}",
        created_at=created_at,
    )


__all__ = [
    "DEFAULT_EXPORT_COLUMNS",
    "EXPORT_COLUMNS",
    "EXPORT_LIST_COLUMNS",
    "FILE_FORMATS",
    "Audience",
    "AudienceFacts",
    "AudienceSize",
    "ExportRecord",
    "ExportedFile",
    "PolicyResult",
    "SegmentAssignment",
    "apply_policy",
    "assign_all_customers",
    "audience_size",
    "channel_label",
    "check_columns",
    "contact_counts",
    "contacts_statement",
    "exclusion_summary",
    "export_audience",
    "export_frame",
    "export_list",
    "export_marker",
    "export_member_ids",
    "export_record",
    "export_trigger",
    "list_exports",
    "load_audience_facts",
    "preview_audience",
    "record_export",
    "record_scheme",
    "redownload_export",
    "render_file",
    "scheme_by_id",
    "segment_action",
    "select_members",
    "valid_emails",
    "valid_mobiles",
]
