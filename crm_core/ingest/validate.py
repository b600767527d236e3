"""From a frame of text to typed rows for the store, and rejects with a reason per row.

`validate(frame, entity, mapping, options)` reads every mapped column with the parsers
of values.py, checks what is required, and sorts the rows into `good` (typed, one row per
record of the entity's table) and `rejects` (row number, column, reason, the offending
value, and the row as it was in the file). Every row read is in exactly one of them:
rows_read == accepted + rejected. A row is rejected for the first problem found, in the
order of the entity's fields.

Reasons (keys of `REASONS`, translated as "data.reason.<key>"):
missing_value, unreadable_date, not_a_number, unknown_value, unreadable_value,
out_of_range, too_long, future_date (after the as-of date, when one is given),
duplicate_id (the same id twice in the file with different values: all those rows are
rejected, as the file does not say which is right), duplicate_row (an exact repeat of an
earlier row with the same id), bad_line (could not be split into the header's columns),
conflicting_order (lines of one order name different customers), incomplete_order
(another line of the same order was rejected, so the order total would be wrong),
no_score (a survey answer with neither NPS nor CSAT), unknown_campaign (added by load:
a touch of a campaign the store does not have), merged_customer (added by load: a touch
of a merged customer whose surviving record has a touch of that campaign in the file).

Entity rules:
- orders: a negative amount is money given back: status 'refunded' with the positive
  amount (Order docstring). Without an order id column every row gets a derived id
  (`derive_ids`), so all rows arrive, exact repeats included, and a re-upload of the
  same file produces the same ids. With one, a row without an id is missing_value (so
  for events and survey responses).
- order_lines: lines are numbered 1.. within their order in file order and aggregated
  into orders (amount = sum of quantity x unit price, ordered_at = the earliest line);
  an order whose number starts with the cancellation prefix ('C', as in the UCI file)
  or whose total is negative becomes a 'refunded' order for the positive total.
- customers: columns mapped to campaign_response (the iFood file's AcceptedCmp1..5 and
  Response) become one campaign each (campaign_id = the header) and one touch per
  customer of the file with responded = the cell. The file has no campaign dates, so a
  campaign starts at the latest signup date in the file (else the as-of date); its
  cost is cost per contact (campaign_cost_per_contact column, e.g. Z_CostContact) times
  the customers contacted; revenue per response from campaign_revenue_per_response.
- campaign_touches: a variant written as a control word (control, holdout, 对照组...) or
  is_control = yes makes the row a control-group touch (variant 'control'); opened /
  clicked yes-no columns date the open/click at the send time.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crm_core import asof
from crm_core.ingest import values as v
from crm_core.ingest.entities import CONTROL_WORDS, EntitySpec, Field, entity_spec
from crm_core.ingest.mapping import Mapping, check_mapping, fields_for
from crm_core.ingest.words import check_value_map, words_table
from crm_core.store.models import CONTROL_VARIANT, FIRST_VARIANT

REASONS: tuple[str, ...] = (
    "missing_value",
    "unreadable_date",
    "not_a_number",
    "unknown_value",
    "unreadable_value",
    "out_of_range",
    "too_long",
    "future_date",
    "date_out_of_range",
    "duplicate_id",
    "duplicate_row",
    "bad_line",
    "conflicting_order",
    "incomplete_order",
    "no_score",
    "unknown_campaign",
    "merged_customer",
)

EARLIEST_PLAUSIBLE_DATE = dt.date(1990, 1, 1)
PLAUSIBLE_DAYS_AHEAD = 366
"""How far after today a timestamp may lie: a year (orders a shop dates ahead)."""


def plausible_until(today: dt.date) -> dt.date:
    """The first day a timestamp is implausible on: a year after `today`."""
    return today + dt.timedelta(days=PLAUSIBLE_DAYS_AHEAD)


MONEY_LIMIT = 1e12  # NUMERIC(14,2) holds less than 10^12
QUANTITY_LIMIT = 1e11  # NUMERIC(14,3)
DERIVED_ID_PREFIX = "D-"
PARSE_THREADS = min(4, os.cpu_count() or 1)  # columns parsed at once


@dataclass(frozen=True)
class ImportOptions:
    """How values are read.

    day_first: 05/03/2024 is 5 March (else 3 May). as_of: rows dated after this day are
    rejected (None: no check). timezone: the shop's zone; timestamps with a zone are
    converted to it. default_status: the status of orders from a file without a status
    column, and of orders whose status cell is empty. cancellation_prefix: invoice
    numbers starting with it are refunds (order lines). campaign_channel: the channel of
    campaigns built from a customers file. value_map: words the user mapped for fields
    of kind 'words' ({field: {word: value}}, see words.py), on top of their tables.
    earliest_date / latest_date: timestamps before the first or on/after the second are
    implausible and rejected (date_out_of_range); callers pass `plausible_until(today)`
    as latest_date (None: no upper bound).
    """

    day_first: bool = False
    as_of: dt.date | None = None
    timezone: str = v.DEFAULT_SHOP_TIMEZONE
    default_status: str = "paid"
    cancellation_prefix: str = "C"
    campaign_channel: str = "email"
    value_map: dict[str, dict[str, str]] = field(default_factory=dict)
    earliest_date: dt.date = EARLIEST_PLAUSIBLE_DATE
    latest_date: dt.date | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "day_first": self.day_first,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "timezone": self.timezone,
            "default_status": self.default_status,
            "cancellation_prefix": self.cancellation_prefix,
            "campaign_channel": self.campaign_channel,
            "value_map": {name: dict(words) for name, words in self.value_map.items()},
            "earliest_date": self.earliest_date.isoformat(),
            "latest_date": self.latest_date.isoformat() if self.latest_date else None,
        }


@dataclass
class Validated:
    """The outcome of `validate`.

    good: typed rows for the entity's table, index = row number in the file (for
    order_lines: the lines, with customer_id kept for the orders). related: rows the
    entity brings along, loaded before it: 'orders' for order lines, 'campaigns' and
    'campaign_touches' for a customers file with campaign acceptances.
    rejects: row_number, column_name, reason, detail, raw (the row as read: dict).
    filled: per table, the columns that a rule filled in because the file did not give
    them, each with the value it filled in (an orders file without a status column:
    'paid'; None: every value of the column). Such values are written for new rows only;
    a stored row keeps its own. A value the file's data decided (a negative amount makes
    an order 'refunded') is written as usual.
    """

    entity: str
    good: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    mapping: dict[str, str]
    related: dict[str, pd.DataFrame] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    options: ImportOptions = field(default_factory=ImportOptions)
    filled: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return len(self.good)

    @property
    def rejected(self) -> int:
        return len(self.rejects)


class _DistinctCheck:
    """Whether a column repeats no value, worked out on a thread of its own while the
    other columns are parsed: Arrow's hash set over 10M ids takes 1.5-3 s and lets go
    of the interpreter lock meanwhile."""

    def __init__(self, column: pd.Series) -> None:
        # Holding the Series makes pandas copy its values on any later write to the
        # frame's column (copy-on-write), so an unchanged column keeps the same array.
        self._column = column
        self._distinct = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._distinct = _repeats_no_value(self._column) is True

    def holds_for(self, column: pd.Series) -> bool:
        """True when `column` is the column checked (not changed since) and no value in
        it repeats (a missing value counts as a value)."""
        self._thread.join()
        return column.array is self._column.array and self._distinct


def _repeats_no_value(column: pd.Series) -> bool | None:
    """Whether no value of `column` repeats, by Arrow's hash set (1.5x pandas'
    is_unique); None when the values are not of one Arrow type."""
    try:
        ids = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return len(pc.unique(ids)) == len(ids)


class _Rejections:
    """The first reason found for each row (vectorised bookkeeping), and the checks
    started on key columns (`distinct`: field -> _DistinctCheck). Only the rows marked
    are kept (positions, reason, column, detail), so a file with few bad rows costs a
    flag per row, not three objects per row."""

    def __init__(self, index: pd.Index) -> None:
        self.rejected = np.zeros(len(index), dtype=bool)
        self._found: list[tuple[np.ndarray, str, str | None, np.ndarray]] = []
        self.distinct: dict[str, _DistinctCheck] = {}

    def mark(
        self,
        mask: pd.Series | np.ndarray,
        reason: str,
        column: str | None,
        detail: pd.Series | str | None = None,
    ) -> None:
        positions = np.flatnonzero(np.asarray(mask, dtype=bool) & ~self.rejected)
        if not len(positions):
            return
        self.rejected[positions] = True
        if isinstance(detail, pd.Series):
            details = detail.iloc[positions].astype(object).to_numpy()
        else:
            details = np.full(len(positions), detail, dtype=object)
        self._found.append((positions, reason, column, details))

    def found(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reason, column, detail) of each rejected row, in row order."""
        if not self._found:
            return (np.array([], dtype=object),) * 3
        positions, reasons, columns, details = zip(*self._found, strict=True)
        sizes = [len(p) for p in positions]
        order = np.argsort(np.concatenate(positions), kind="stable")
        reason = np.repeat(np.array(reasons, dtype=object), sizes)
        column = np.repeat(np.array(columns, dtype=object), sizes)
        detail = np.concatenate(details)
        return reason[order], column[order], detail[order]

    @property
    def good(self) -> np.ndarray:
        return ~self.rejected


def validate(
    frame: pd.DataFrame,
    entity: str,
    mapping: Mapping,
    options: ImportOptions | None = None,
    *,
    bad_lines: pd.DataFrame | None = None,
) -> Validated:
    """Sort the rows of `frame` (text columns, index = row number) into good typed rows
    and rejects. `bad_lines` (from read_file) become rejects with reason bad_line.

    Raises InputError when the mapping cannot work (see mapping.check_mapping) or the
    value map names a field or value that does not exist (words.check_value_map).
    """
    spec = entity_spec(entity)
    options = options or ImportOptions()
    check_value_map(entity, options.value_map)
    used = check_mapping(frame.columns, entity, mapping)
    by_field = fields_for(spec, used)
    marks = _Rejections(frame.index)
    typed = pd.DataFrame(index=frame.index)

    single = [(name, src[0]) for name, src in by_field.items() if not spec.field(name).multi]
    # Columns are parsed on PARSE_THREADS threads (Arrow and NumPy let go of the
    # interpreter lock); their problems are marked in field order, so a row's reason is
    # the same as when parsed one after another.
    with ThreadPoolExecutor(PARSE_THREADS) as pool:
        parsed = [
            pool.submit(_parse_field, frame[source], spec.field(name), options, name in spec.key)
            for name, source in single
        ]
        for (name, source), future in zip(single, parsed, strict=True):
            values, problems = future.result()
            for mask, reason, shows_value in problems:
                marks.mark(mask, reason, source, frame[source] if shows_value else None)
            typed[name] = values
            if spec.key == (name,):
                marks.distinct[name] = _DistinctCheck(typed[name])

    if spec.main_time and spec.main_time in typed and options.as_of is not None:
        late = typed[spec.main_time] >= pd.Timestamp(asof.end_of(options.as_of))
        marks.mark(
            late, "future_date", by_field[spec.main_time][0], frame[by_field[spec.main_time][0]]
        )

    _fill_defaults(typed, spec)
    related: dict[str, pd.DataFrame] = {}
    finish = _FINISHERS[spec.name]
    typed = finish(typed, frame, by_field, spec, options, marks, related)

    good = typed if not marks.rejected.any() else typed[marks.good]  # no copy when all good
    rejects = _reject_frame(frame, marks)
    if bad_lines is not None and len(bad_lines):
        line_rejects = pd.DataFrame(
            {
                "row_number": bad_lines["row_number"].astype("int64").to_numpy(),
                "column_name": None,
                "reason": "bad_line",
                "detail": bad_lines["detail"].astype(object).to_numpy(),
                "raw": [{"line": text} for text in bad_lines["text"].astype(object)],
            }
        )
        rejects = add_rejects(rejects, line_rejects)
    ignored = [c for c in frame.columns if c not in used]
    return Validated(
        entity=spec.name,
        good=good,
        rejects=rejects,
        rows_read=len(frame) + (0 if bad_lines is None else len(bad_lines)),
        mapping=used,
        related=related,
        ignored_columns=ignored,
        options=options,
        filled=_filled_by_rule(spec.name, by_field, options, related),
    )


def add_rejects(rejects: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """`rejects` with `extra` added, in row order."""
    if not len(extra):
        return rejects
    return pd.concat([rejects, extra], ignore_index=True).sort_values(
        "row_number", kind="stable", ignore_index=True
    )


def _filled_by_rule(
    entity: str,
    by_field: dict[str, list[str]],
    options: ImportOptions,
    related: dict[str, pd.DataFrame],
) -> dict[str, dict[str, object]]:
    """Per table, the columns that the finishers fill in when the file has no column for
    them, with the value filled in (see Validated.filled)."""
    mapped = by_field.keys()
    status = {} if "status" in mapped else {"status": options.default_status}
    if entity == "orders":
        return {"orders": status}
    if entity == "order_lines":  # lines carry no order discount
        return {"orders": {**status, "discount": None}}
    if entity == "campaigns":
        return {"campaigns": {} if "name" in mapped else {"name": None}}
    if entity == "campaign_touches":  # a file with either column says who was in control
        if not {"variant", "is_control"} & mapped:
            return {"campaign_touches": {"variant": None, "is_control": None}}
        # is_control alone does not say which variant a treated row got
        return {"campaign_touches": {} if "variant" in mapped else {"variant": FIRST_VARIANT}}
    if "campaign_touches" in related:  # a customers file with campaign acceptances
        campaign = dict.fromkeys(("name", "channel", "started_at"))
        if "campaign_cost_per_contact" not in mapped:
            campaign.update(dict.fromkeys(("cost", "cost_per_contact")))
        if "campaign_revenue_per_response" not in mapped:
            campaign["revenue_per_response"] = None
        touch = dict.fromkeys(("variant", "is_control", "sent_at"))
        return {"campaigns": campaign, "campaign_touches": touch}
    return {}


def _parse_field(
    raw: pd.Series, spec_field: Field, options: ImportOptions, is_key: bool = False
) -> tuple[pd.Series, list[tuple[pd.Series | np.ndarray, str, bool]]]:
    """Parse one column into the field's type. Returns the values and the problems found,
    in the order they are marked: (cells, reason, whether the detail shows the cell).
    A column of the entity's key is required once the file has it, also where a file
    without it gets derived ids (orders, events, survey responses)."""
    kind = spec_field.kind
    bad_reason = "unreadable_value"
    if kind == "id":
        values = v.normalise_ids(raw)
        bad = None
    elif kind == "text":
        values = v.clean_text(raw)
        if spec_field.length:
            values = values.str.slice(0, spec_field.length)
        bad = None
    elif kind == "datetime":
        values, bad = v.parse_datetimes(raw, day_first=options.day_first, timezone=options.timezone)
        bad_reason = "unreadable_date"
    elif kind == "date":
        values, bad = v.parse_dates(raw, day_first=options.day_first, timezone=options.timezone)
        bad_reason = "unreadable_date"
    elif kind in ("money", "number", "score"):
        if kind == "money":
            values, bad = v.parse_money(raw)
        else:
            values, bad = v.parse_numbers(raw)
        bad_reason = "not_a_number"
    elif kind == "bool":
        values, bad = v.parse_booleans(raw)
    elif kind == "phone":
        values, bad = v.normalise_phones(raw)
    elif kind == "email":
        values, bad = v.normalise_emails(raw)
    elif kind == "words":
        values, bad = v.parse_words(raw, words_table(spec_field, options.value_map))
        bad_reason = "unknown_value"
    else:
        raise ValueError(f"unknown field kind {kind!r}")
    problems: list[tuple[pd.Series | np.ndarray, str, bool]] = []
    if bad is not None:
        problems.append((bad, bad_reason, True))
    if spec_field.required or is_key:
        missing = values.isna() if bad is None else values.isna() & ~bad
        problems.append((missing, "missing_value", False))
    if kind in ("id", "phone", "email") and spec_field.length:
        problems.append((_longer_than(values, spec_field.length), "too_long", True))
    if kind == "datetime":
        problems.append((_implausible(values, options), "date_out_of_range", True))
    if kind == "money":
        problems.append((values.abs() >= MONEY_LIMIT, "out_of_range", True))
    if kind == "number":
        problems.append((values.abs() >= QUANTITY_LIMIT, "out_of_range", True))
        values = values.round(3)
    if kind == "score":
        low, high = spec_field.low or 0, spec_field.high or 0
        problems.append((v.integer_out_of_range(values, low, high), "out_of_range", True))
        values = values.round(0).astype("Int64")
    return values, problems


def _implausible(values: pd.Series, options: ImportOptions) -> np.ndarray:
    """Timestamps before options.earliest_date or on/after options.latest_date."""
    early = (values < pd.Timestamp(options.earliest_date)).to_numpy(dtype=bool)
    if options.latest_date is None:
        return early
    return early | (values >= pd.Timestamp(options.latest_date)).to_numpy(dtype=bool)


def _longer_than(text: pd.Series, length: int) -> np.ndarray:
    """Which cells hold more than `length` characters (never a missing one). Characters
    are counted only in cells of more than `length` UTF-8 bytes: a cell of fewer bytes
    has no more characters, and bytes are counted without decoding."""
    arrow = pa.array(text, type=pa.large_string(), from_pandas=True)
    longer = pc.fill_null(pc.greater(pc.binary_length(arrow), length), False).to_numpy(
        zero_copy_only=False
    )
    if longer.any():
        longer[longer] = (text[longer].str.len() > length).to_numpy(dtype=bool)
    return longer


def _reject_frame(frame: pd.DataFrame, marks: _Rejections) -> pd.DataFrame:
    rows = marks.rejected
    reason, column, detail = marks.found()
    return pd.DataFrame(
        {
            "row_number": np.asarray(frame.index[rows], dtype="int64"),
            "column_name": column,
            "reason": reason,
            "detail": [None if d is None or pd.isna(d) else str(d) for d in detail],
            "raw": raw_records(frame[rows]),
        }
    )


def raw_records(frame: pd.DataFrame) -> list[dict[str, str | None]]:
    """Rows as {column: text or None} dicts (how a rejected row is kept)."""
    cells = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    columns = [str(c) for c in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in cells]


# -- ids and duplicates -----------------------------------------------------------------


def derive_ids(frame: pd.DataFrame, fields: tuple[str, ...]) -> pd.Series:
    """Deterministic ids for rows without one: "D-" + 16 hex digits of a 64-bit hash of
    the rows' typed values of `fields` and the occurrence number of identical rows in
    the file (1 for the first, 2 for a repeat ...). The same file gives the same ids;
    exact repeats get different ids, so every row arrives."""
    parts = pd.DataFrame(index=frame.index)
    for name in fields:
        if name not in frame:
            continue
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            parts[name] = column.astype("int64")
        elif pd.api.types.is_float_dtype(column):
            parts[name] = (column * 100).round().fillna(-1).astype("int64")
        elif pd.api.types.is_integer_dtype(column):
            parts[name] = column.fillna(-1).astype("int64")
        else:
            parts[name] = column.astype("str").fillna("")
    keys = list(parts.columns)
    parts["occurrence"] = parts.groupby(keys, sort=False).cumcount().astype("int64") + 1
    hashed = pd.util.hash_pandas_object(parts, index=False).to_numpy(dtype=np.uint64)
    return pd.Series(_hex(hashed), index=frame.index, dtype="str").radd(DERIVED_ID_PREFIX)


def _hex(numbers: np.ndarray) -> np.ndarray:
    """uint64 values as 16-digit lower-case hex strings (vectorised)."""
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = ((numbers[:, None] >> shifts) & np.uint64(0xF)).astype(np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    return np.ascontiguousarray(digits).view("S16").ravel().astype(str)


def _mark_duplicates(
    typed: pd.DataFrame, key: list[str], marks: _Rejections, source: str | None
) -> None:
    """Rows sharing a key: all rejected as duplicate_id when their values differ,
    else every repeat after the first rejected as duplicate_row."""
    good = marks.good
    if len(key) == 1:
        check = marks.distinct.pop(key[0], None)
        if check is not None and check.holds_for(typed[key[0]]):
            return  # no value repeats among all rows, so none among the good ones
        if _repeats_no_value(typed[key[0]][good]):
            return
    candidates = typed[good]
    repeated = candidates.duplicated(key, keep=False)
    if not repeated.any():
        return
    group = candidates[repeated]
    hashes = pd.util.hash_pandas_object(group, index=False)
    variants = hashes.groupby([group[k] for k in key], sort=False).transform("nunique")
    conflict_index = group.index[(variants > 1).to_numpy()]
    conflict = typed.index.isin(conflict_index) & good
    if len(key) > 1:
        label = group[key].astype("str").agg(" / ".join, axis=1).reindex(typed.index)
    else:
        label = typed[key[0]]
    marks.mark(conflict, "duplicate_id", source, label)
    repeats = group[(variants == 1).to_numpy()].duplicated(key, keep="first")
    repeat_rows = typed.index.isin(repeats.index[repeats.to_numpy()])
    marks.mark(repeat_rows, "duplicate_row", source, label)


def _source(by_field: dict[str, list[str]], name: str) -> str | None:
    return by_field[name][0] if name in by_field else None


def _fill_defaults(typed: pd.DataFrame, spec: EntitySpec) -> None:
    """Empty cells of a mapped column that the store requires (NOT NULL) take the
    store's default (an empty opt-out cell is False, an empty ticket priority 'normal').
    An unmapped column is left out, so an insert gets the database default and an update
    keeps what is stored."""
    for name in typed.columns:
        column = spec.table.c.get(name)
        if column is None or column.nullable or column.default is None:
            continue
        if not column.default.is_scalar:
            continue
        default = column.default.arg
        filled = typed[name].fillna(default)
        typed[name] = filled.astype(bool) if isinstance(default, bool) else filled


# -- per-entity rules -------------------------------------------------------------------


def _finish_customers(typed, frame, by_field, spec, options, marks, related):
    sources = by_field.get("campaign_response", [])
    responses = {}
    for source in sources:
        flags, bad = v.parse_booleans(frame[source])
        marks.mark(bad, "unreadable_value", source, frame[source])
        responses[source] = flags
    _mark_duplicates(typed, ["customer_id"], marks, _source(by_field, "customer_id"))
    typed["is_placeholder"] = False
    if responses:
        related.update(_campaigns_from_customers(typed, frame, by_field, responses, options, marks))
    return typed.drop(
        columns=[
            c for c in ("campaign_cost_per_contact", "campaign_revenue_per_response") if c in typed
        ]
    )


def _campaigns_from_customers(typed, frame, by_field, responses, options, marks):
    from crm_core.errors import InputError

    good = marks.good
    customers = typed[good]
    if "signup_at" in customers and customers["signup_at"].notna().any():
        started = customers["signup_at"].max().normalize()
    elif options.as_of is not None:
        started = pd.Timestamp(options.as_of)
    else:
        raise InputError("data.error.campaign_date_needed")
    cost_per_contact = _first_value(customers.get("campaign_cost_per_contact"))
    revenue = _first_value(customers.get("campaign_revenue_per_response"))
    contacted = len(customers)
    names = list(responses)
    campaigns = pd.DataFrame(
        {
            "campaign_id": names,
            "name": names,
            "channel": options.campaign_channel,
            "started_at": pd.Series([started] * len(names), dtype="datetime64[us]"),
            "cost": round(cost_per_contact * contacted, 2) if cost_per_contact is not None else 0.0,
            "cost_per_contact": cost_per_contact,
            "revenue_per_response": revenue,
        }
    )
    touches = pd.concat(
        [
            pd.DataFrame(
                {
                    "campaign_id": name,
                    "customer_id": customers["customer_id"].to_numpy(),
                    "variant": FIRST_VARIANT,
                    "is_control": False,
                    "sent_at": pd.Series(started, index=customers.index, dtype="datetime64[us]"),
                    "responded": responses[name][good].fillna(False).astype(bool).to_numpy(),
                }
            )
            for name in names
        ],
        ignore_index=True,
    )
    touches["campaign_id"] = touches["campaign_id"].astype("str")
    return {"campaigns": campaigns, "campaign_touches": touches}


def _first_value(column: pd.Series | None) -> float | None:
    if column is None:
        return None
    present = column.dropna()
    return float(present.iloc[0]) if len(present) else None


def _finish_orders(typed, frame, by_field, spec, options, marks, related):
    if "status" not in typed:
        typed["status"] = pd.Series(options.default_status, index=typed.index, dtype="str")
    typed["status"] = typed["status"].fillna(options.default_status)
    negative = (typed["amount"] < 0).to_numpy()
    if negative.any():  # else no column changes (10M orders: 0.2 GB not copied)
        paid = (typed["status"] == "paid").to_numpy()
        typed["status"] = typed["status"].where(~(negative & paid), "refunded")
        typed["amount"] = typed["amount"].abs()
    if "discount" in typed and (typed["discount"] < 0).any():
        typed["discount"] = typed["discount"].abs()  # empty cells: 0 (_fill_defaults)
    if "order_id" not in by_field:
        typed["order_id"] = _derived_for_good(typed, spec, marks)
    else:
        _mark_duplicates(typed, ["order_id"], marks, _source(by_field, "order_id"))
    return typed


def _derived_for_good(typed: pd.DataFrame, spec: EntitySpec, marks: _Rejections) -> pd.Series:
    ids = pd.Series(pd.NA, index=typed.index, dtype="str")
    good = marks.good
    if good.any():
        ids[good] = derive_ids(typed[good], spec.derived_key)
    return ids


def _finish_order_lines(typed, frame, by_field, spec, options, marks, related):
    order_source = _source(by_field, "order_id")
    has_order = typed["order_id"].notna()
    line_no = typed.groupby("order_id", sort=False, dropna=False).cumcount() + 1
    typed["line_no"] = line_no.astype("int64")
    if "amount" not in typed:
        typed["amount"] = (typed["quantity"] * typed["unit_price"]).round(2)
    else:
        typed["amount"] = typed["amount"].fillna((typed["quantity"] * typed["unit_price"]).round(2))
    good = pd.Series(marks.good, index=typed.index)
    customers_per_order = (
        typed["customer_id"].where(good).groupby(typed["order_id"]).transform("nunique")
    )
    marks.mark(
        (customers_per_order > 1).to_numpy() & has_order.to_numpy(),
        "conflicting_order",
        _source(by_field, "customer_id"),
        typed["order_id"],
    )
    rejected_orders = typed.loc[marks.rejected & has_order.to_numpy(), "order_id"].unique()
    marks.mark(
        typed["order_id"].isin(rejected_orders).to_numpy(),
        "incomplete_order",
        order_source,
        typed["order_id"],
    )
    lines = typed[marks.good]
    grouped = lines.groupby("order_id", sort=False)
    orders = pd.DataFrame(
        {
            "customer_id": grouped["customer_id"].first(),
            "ordered_at": grouped["ordered_at"].min(),
            "total": grouped["amount"].sum().round(2),
        }
    )
    if "status" in lines:
        orders["status"] = grouped["status"].first().fillna(options.default_status)
    else:
        orders["status"] = options.default_status
    if "channel" in lines:
        orders["channel"] = grouped["channel"].first()
    if "category" in lines:
        orders["category"] = grouped["category"].first()
    prefix = options.cancellation_prefix
    cancelled = orders.index.str.startswith(prefix) if prefix else np.zeros(len(orders), bool)
    refund = np.asarray(cancelled, dtype=bool) | (orders["total"] < 0).to_numpy()
    orders["status"] = orders["status"].where(~refund, "refunded")
    orders["amount"] = orders.pop("total").abs()
    orders["discount"] = 0.0
    orders = orders.reset_index()
    related["orders"] = orders
    columns = ["order_id", "line_no", "customer_id", "quantity", "unit_price", "amount"]
    columns += [c for c in ("sku", "description", "category") if c in typed]
    return typed[columns]


def _finish_events(typed, frame, by_field, spec, options, marks, related):
    if "event_id" not in by_field:
        typed["event_id"] = _derived_for_good(typed, spec, marks)
    else:
        _mark_duplicates(typed, ["event_id"], marks, _source(by_field, "event_id"))
    return typed


def _finish_tickets(typed, frame, by_field, spec, options, marks, related):
    _mark_duplicates(typed, ["ticket_id"], marks, _source(by_field, "ticket_id"))
    return typed


def _finish_campaigns(typed, frame, by_field, spec, options, marks, related):
    if "name" in typed:
        typed["name"] = typed["name"].fillna(typed["campaign_id"])
    else:
        typed["name"] = typed["campaign_id"]
    _mark_duplicates(typed, ["campaign_id"], marks, _source(by_field, "campaign_id"))
    return typed


def _finish_campaign_touches(typed, frame, by_field, spec, options, marks, related):
    control_words = {v.word_key(w) for w in CONTROL_WORDS}
    variant_text = (
        typed["variant"] if "variant" in typed else pd.Series(pd.NA, index=typed.index, dtype="str")
    )
    named_control = v.map_words(variant_text, dict.fromkeys(control_words, CONTROL_VARIANT)).notna()
    flagged = typed.get("is_control", False)  # empty cells filled by _fill_defaults
    is_control = named_control | flagged
    typed["is_control"] = is_control.astype(bool)
    typed["variant"] = variant_text.fillna(FIRST_VARIANT).where(~is_control, CONTROL_VARIANT)
    for flag, stamp in (("opened", "opened_at"), ("clicked", "clicked_at")):
        if flag not in typed:
            continue
        yes = typed[flag].fillna(False).astype(bool)
        if stamp not in typed:
            typed[stamp] = pd.Series(pd.NaT, index=typed.index, dtype="datetime64[us]")
        needs_time = yes & typed[stamp].isna()
        sent = typed["sent_at"] if "sent_at" in typed else pd.Series(pd.NaT, index=typed.index)
        marks.mark(needs_time & sent.isna(), "missing_value", _source(by_field, flag), "sent_at")
        typed[stamp] = typed[stamp].where(~needs_time, sent)
        typed = typed.drop(columns=[flag])
    _mark_duplicates(typed, ["campaign_id", "customer_id"], marks, _source(by_field, "campaign_id"))
    return typed


def _finish_survey_responses(typed, frame, by_field, spec, options, marks, related):
    scores = [c for c in ("nps", "csat") if c in typed]
    if scores:
        no_score = typed[scores].isna().all(axis=1)
        marks.mark(no_score, "no_score", _source(by_field, scores[0]), None)
    else:
        marks.mark(np.ones(len(typed), dtype=bool), "no_score", None, None)
    if "response_id" not in by_field:
        typed["response_id"] = _derived_for_good(typed, spec, marks)
    else:
        _mark_duplicates(typed, ["response_id"], marks, _source(by_field, "response_id"))
    return typed


_FINISHERS = {
    "customers": _finish_customers,
    "orders": _finish_orders,
    "order_lines": _finish_order_lines,
    "events": _finish_events,
    "tickets": _finish_tickets,
    "campaigns": _finish_campaigns,
    "campaign_touches": _finish_campaign_touches,
    "survey_responses": _finish_survey_responses,
}
