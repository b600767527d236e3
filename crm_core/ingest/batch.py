"""Several files of one shop imported together, linked on their keys, in one transaction.

Shop systems export relational tables (customers, orders, order items, payments,
reviews), linked by order id. A file that lacks a required field but shares a key with
another file of the batch, or with the store, gets the field from there:

- orders without an amount: the sum of the payments of each order (a `payments` file:
  order id and amount), else of its items (quantity x unit price, plus freight when the
  items carry it; an item file without quantities has one unit per row);
- order items (order_lines), tickets and survey answers (reviews) without a customer or a
  time: the customer and the order time of their order, from the batch's orders file or
  from the store.

A `payments` file alone updates the amounts of orders already stored. Files load in
LOAD_ORDER (parents first) in one transaction: a failure in any file leaves the store as
it was. Words no field knows (an order status such as 'invoiced') fail the whole batch
with each word and its count, unless mapped (`ImportOptions.value_map`, or the saved
template of that file's headers). Re-importing the same batch changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine, select

from crm_core.auth import IMPORT, Actor, require
from crm_core.errors import InputError
from crm_core.ingest import values as v
from crm_core.ingest.entities import (
    AMOUNT_ALIASES,
    ENTITY_NAMES,
    ORDER_ID_ALIASES,
    A,
    entity_spec,
    header_key,
)
from crm_core.ingest.load import ImportResult, load_in, load_transaction
from crm_core.ingest.mapping import Mapping as ColumnMapping
from crm_core.ingest.mapping import complete_mapping, find_template, suggest_mapping
from crm_core.ingest.read import Source, TableRead, read_file
from crm_core.ingest.validate import ImportOptions, validate
from crm_core.ingest.words import unknown_words
from crm_core.store import models, rows_frame

PAYMENTS = "payments"
KINDS: tuple[str, ...] = (*ENTITY_NAMES, PAYMENTS)
"""What a batch file may hold: an entity, or payments (order id and amount)."""

LOAD_ORDER: tuple[str, ...] = (
    "customers",
    "campaigns",
    "orders",
    "order_lines",
    "events",
    "tickets",
    "campaign_touches",
    "survey_responses",
)
"""Entities in the order a batch loads them: every file's parents first."""

FREIGHT_ALIASES = A("freight freight_value shipping shipping_fee shipping_cost 运费 邮费")
LINKED = "__linked_"
"""Prefix of the columns a batch adds to a file (never a header of the user's)."""


@dataclass(frozen=True)
class BatchFile:
    """One file of a batch: its kind (KINDS), its content and, optionally, its mapping
    ({column: field}; default: the saved template for its headers, else the suggestion)
    and sheet."""

    kind: str
    source: Source
    file_name: str | None = None
    mapping: ColumnMapping | None = None
    sheet: str | None = None


@dataclass
class BatchResult:
    """Per file, in the order given: the import's outcome (None for a payments file,
    which reports `linked`: how many orders got their amount from it)."""

    files: list[tuple[BatchFile, ImportResult | None]] = field(default_factory=list)
    linked: dict[str, int] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """One line per file, as the import-batch command prints them."""
        lines = []
        for item, result in self.files:
            name = item.file_name or "upload"
            if result is None:
                lines.append(f"{item.kind} {name}: amounts of {self.linked.get(name, 0)} orders")
            else:
                lines.append(f"{item.kind} {name}: {result.summary_line()}")
        return lines


@dataclass
class _Prepared:
    item: BatchFile
    table: TableRead
    frame: pd.DataFrame
    mapping: dict[str, str | None]
    options: ImportOptions
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class PlannedFile:
    """What a batch will do with one file: its kind and rows, its mapping {column:
    field} (the batch's own linked columns left out), `links` {field: where it comes
    from: another file's name, STORE or ONE_PER_ROW} and its words no field knows
    (words.unknown_words)."""

    kind: str
    file_name: str
    rows: int
    mapping: dict[str, str | None]
    links: dict[str, str]
    unknown: pd.DataFrame


@dataclass
class BatchPlan:
    """The files of a batch as they will be imported (see `plan_batch`)."""

    files: list[PlannedFile]
    prepared: list[_Prepared] = field(repr=False)
    updates: list[_Prepared] = field(repr=False)
    linked: dict[str, int] = field(default_factory=dict)

    @property
    def unknown_words(self) -> pd.DataFrame:
        """Every file's unknown words, with a `file` column."""
        parts = [f.unknown.assign(file=f.file_name) for f in self.files if len(f.unknown)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


STORE = "store"
ONE_PER_ROW = "one_per_row"
"""Link sources that are not a file: the orders already stored; one unit per item row."""


def import_batch(
    engine: Engine,
    files: Sequence[BatchFile],
    *,
    actor: Actor,
    options: ImportOptions | None = None,
    person_key: str | None = None,
) -> BatchResult:
    """Read, link, validate and load `files` in one transaction (see the module
    docstring). InputError (store unchanged) for an unknown kind, an unreadable file, a
    mapping without a required field that no other file supplies, or words no field
    knows; PermissionDenied unless `actor` may import. `person_key`: see `plan_batch`."""
    require(actor, IMPORT)
    plan = plan_batch(engine, files, options, person_key)
    _refuse_unknown_words(plan)
    entities = [p for p in plan.prepared if p.item.kind != PAYMENTS]
    linked_orders = plan.updates
    result = BatchResult(linked=dict(plan.linked))
    checked = [
        (p, validate(p.frame, p.item.kind, p.mapping, p.options, bad_lines=p.table.bad_lines))
        for p in [*entities, *linked_orders]
    ]
    if any(p.item.kind == "orders" for p, _ in checked):
        for _, validated in checked:  # the orders file's amounts win over the lines' sums
            if validated.entity == "order_lines":
                validated.related.pop("orders", None)
    outcomes: dict[int, ImportResult] = {}
    order = {kind: index for index, kind in enumerate(LOAD_ORDER)}
    with load_transaction(engine, [validated for _, validated in checked]) as conn:
        for p, validated in sorted(checked, key=lambda pair: order[pair[1].entity]):
            outcomes[id(p)] = load_in(
                conn,
                validated,
                table_read=p.table,
                actor=actor,
                source_frame=p.frame,
            )
    by_item = {id(p.item): outcomes.get(id(p)) for p in [*entities, *linked_orders]}
    result.files = [(item, by_item.get(id(item))) for item in files]
    return result


def plan_batch(
    engine: Engine,
    files: Sequence[BatchFile],
    options: ImportOptions | None = None,
    person_key: str | None = None,
) -> BatchPlan:
    """Read `files`, map them (given mapping, saved template or suggestion) and link
    them, without writing anything: what `import_batch` will import, for a page to show
    which file supplies which field and which words need mapping. `person_key` names a
    column of the customers file that groups its ids into people (see
    `person_key_candidates`): every file's customer ids then become that person's id.
    InputError for an unknown kind, an unreadable file or a person key the customers
    file does not have."""
    options = options or ImportOptions()
    for item in files:
        if item.kind not in KINDS:
            raise InputError("data.error.batch_kind", kind=item.kind, kinds=", ".join(KINDS))
    prepared = [_prepare(engine, item, options) for item in files]
    entities = [p for p in prepared if p.item.kind != PAYMENTS]
    payments = [p for p in prepared if p.item.kind == PAYMENTS]
    if person_key:
        _attribute_to_people(entities, person_key)
    linked: dict[str, int] = {}
    updates = _link(engine, entities, payments, linked, options)
    planned = [
        PlannedFile(
            kind=p.item.kind,
            file_name=p.table.file_name,
            rows=len(p.frame),
            mapping={c: f for c, f in p.mapping.items() if not str(c).startswith(LINKED)},
            links=dict(p.links),
            unknown=(
                unknown_words(p.frame, p.item.kind, p.mapping, p.options.value_map)
                if p.item.kind != PAYMENTS
                else pd.DataFrame()
            ),
        )
        for p in prepared
    ]
    return BatchPlan(planned, prepared, updates, linked)


PERSON_KEY_MIN_FILLED = 0.95
"""A person key must be filled in on at least this share of a customers file's rows."""


def person_key_candidates(frame: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """Columns of a customers file, besides the one mapped to customer_id, that group its
    ids into fewer people (like Olist's customer_unique_id: one id per order, one
    unique id per person): an id-like header, filled in on almost every row, one value
    per customer id, fewer values than ids. Columns: column, ids, people (distinct
    counts), most ids grouped first."""
    source = next((c for c, f in mapping.items() if f == "customer_id"), None)
    empty = pd.DataFrame({"column": pd.Series(dtype="str"), "ids": pd.Series(dtype="int64"),
                          "people": pd.Series(dtype="int64")})  # fmt: skip
    if source is None:
        return empty
    ids = v.normalise_ids(frame[source])
    found = []
    for column in frame.columns:
        key = header_key(column)
        id_like = "id" in key or "编号" in key or "号" in key or "unique" in key
        if column == source or mapping.get(column) or not id_like:
            continue
        values = v.normalise_ids(frame[column])
        if values.notna().mean() < PERSON_KEY_MIN_FILLED:
            continue
        pairs = pd.DataFrame({"id": ids, "person": values}).dropna()
        if pairs.groupby("id")["person"].nunique().max() > 1:
            continue
        id_count, people = pairs["id"].nunique(), pairs["person"].nunique()
        if people < id_count:
            found.append((str(column), int(id_count), int(people)))
    if not found:
        return empty
    frame_out = pd.DataFrame(found, columns=["column", "ids", "people"])
    frame_out["grouped"] = frame_out["ids"] - frame_out["people"]
    ordered = frame_out.sort_values("grouped", ascending=False, kind="stable")
    return ordered.drop(columns="grouped").reset_index(drop=True)


def _attribute_to_people(entities: list[_Prepared], person_key: str) -> None:
    """Replace every file's customer ids by the person the customers file groups them
    into (ids the customers file does not name stay as they are)."""
    customers = [p for p in entities if p.item.kind == "customers"]
    if not customers or person_key not in customers[0].frame.columns:
        raise InputError("data.error.person_key", column=person_key)
    owner = customers[0]
    source = _source_of(owner, "customer_id")
    people = pd.DataFrame(
        {
            "id": v.normalise_ids(owner.frame[source]),
            "person": v.normalise_ids(owner.frame[person_key]),
        }
    ).dropna()
    person_of = people.drop_duplicates("id").set_index("id")["person"]
    for p in entities:
        column = _source_of(p, "customer_id")
        if column is None:
            continue
        ids = v.normalise_ids(p.frame[column])
        p.mapping[column] = None
        _add_linked(p, "customer_id", ids.map(person_of).fillna(ids), person_key)


def guess_kind(frame: pd.DataFrame) -> str:
    """The kind of file `frame` most likely is: the one whose fields its headers name
    most (payments: an order id and a payment amount), the earlier of KINDS on a tie."""
    scores = {}
    for kind in ENTITY_NAMES:
        mapping = suggest_mapping(frame, kind)
        named = sum(1 for field_name in mapping.values() if field_name)
        required = entity_spec(kind).required
        complete = all(name in mapping.values() for name in required if name != "customer_id")
        scores[kind] = named + (0.5 if complete else 0.0)
    payment_fields = [_payment_field(column) for column in frame.columns]
    if {"order_id", "amount"} <= set(payment_fields):
        paying = any("pay" in header_key(column) or "支付" in column for column in frame.columns)
        scores[PAYMENTS] = 2 + (1.5 if paying else 0.0)
    return max(KINDS, key=lambda kind: (scores.get(kind, -1), -KINDS.index(kind)))


def _prepare(engine: Engine, item: BatchFile, options: ImportOptions) -> _Prepared:
    table = read_file(item.source, file_name=item.file_name, sheet=item.sheet)
    frame = table.frame.copy()
    item_options = options
    if item.kind == PAYMENTS:
        mapping: dict[str, str | None] = {
            column: _payment_field(column) for column in frame.columns
        }
        if "order_id" not in mapping.values() or "amount" not in mapping.values():
            raise InputError("data.error.batch_payments", file=table.file_name)
    elif item.mapping is not None:
        mapping = dict(item.mapping)
    else:
        template = find_template(engine, item.kind, frame.columns)
        if template:
            mapping = dict(complete_mapping(frame.columns, template["mapping"]))
            saved = template.get("options", {}).get("value_map") or {}
            merged = {
                name: {**saved.get(name, {}), **options.value_map.get(name, {})}
                for name in {*saved, *options.value_map}
            }
            item_options = dataclasses.replace(options, value_map=merged)
        else:
            mapping = dict(suggest_mapping(frame, item.kind))
    return _Prepared(item, table, frame, mapping, item_options)


def _payment_field(column: str) -> str | None:
    key = header_key(column)
    if key in {header_key(a) for a in ORDER_ID_ALIASES}:
        return "order_id"
    if key in {header_key(a) for a in AMOUNT_ALIASES}:
        return "amount"
    return None


def _source_of(p: _Prepared, field_name: str) -> str | None:
    return next((c for c, f in p.mapping.items() if f == field_name), None)


def _add_linked(p: _Prepared, field_name: str, values: pd.Series, source: str) -> None:
    """Give `p` the column `values` (aligned on its rows) as its `field_name`, taken
    from `source` (a file name, STORE or ONE_PER_ROW)."""
    column = f"{LINKED}{field_name}"
    p.frame[column] = values.to_numpy(dtype=object)
    p.mapping[column] = field_name
    p.links[field_name] = source


def _order_keys(p: _Prepared) -> pd.Series:
    source = _source_of(p, "order_id")
    return v.normalise_ids(p.frame[source]) if source else pd.Series(dtype="str")


def _link(
    engine: Engine,
    entities: list[_Prepared],
    payments: list[_Prepared],
    linked: dict[str, int],
    options: ImportOptions,
) -> list[_Prepared]:
    """Fill what files lack from the files they share keys with, or from the store.
    Returns the orders the payments of a batch without an orders file update."""
    orders_files = [p for p in entities if p.item.kind == "orders"]
    paid = _payment_sums(payments)
    for p in payments:
        linked[p.table.file_name] = int(_order_keys(p).dropna().nunique())
    items = [p for p in entities if p.item.kind == "order_lines"]
    for p in orders_files:
        if _source_of(p, "amount") is None:
            sums = paid if paid is not None else _item_sums(entities)
            if sums is None:
                continue
            source = payments if paid is not None else items
            amounts = _order_keys(p).map(sums)
            _add_linked(p, "amount", amounts.map(_money_text), _names(source))
    order_facts = _order_facts(engine, orders_files, entities + payments)
    facts_source = _names(orders_files) if orders_files else STORE
    for p in entities:
        if p.item.kind not in ("order_lines", "tickets", "survey_responses"):
            continue
        if _source_of(p, "order_id") is None:
            continue
        keys = _order_keys(p)
        time_field = {"order_lines": "ordered_at", "tickets": "created_at"}.get(
            p.item.kind, "responded_at"
        )
        if _source_of(p, "customer_id") is None:
            _add_linked(p, "customer_id", keys.map(order_facts["customer_id"]), facts_source)
        if _source_of(p, time_field) is None:
            _add_linked(p, time_field, keys.map(order_facts["ordered_at"]), facts_source)
        if p.item.kind == "order_lines" and _source_of(p, "quantity") is None:
            _add_linked(p, "quantity", pd.Series("1", index=p.frame.index), ONE_PER_ROW)
    if paid is None or orders_files:
        return []
    stored = _stored_orders(engine, list(paid.index))
    if stored.empty:
        return []
    frame = pd.DataFrame(
        {
            "order_id": stored["order_id"],
            "customer_id": stored["customer_id"],
            "ordered_at": stored["ordered_at"],
            "amount": stored["order_id"].map(paid).map(_money_text),
        },
        dtype="str",
    )
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    source = payments[0].table
    table = dataclasses.replace(source, frame=frame, bad_lines=source.bad_lines.iloc[0:0])
    mapping = {column: column for column in frame.columns}
    item = dataclasses.replace(payments[0].item, kind="orders")
    return [_Prepared(item, table, frame, mapping, options, {"amount": _names(payments)})]


def _names(files: list[_Prepared]) -> str:
    return ", ".join(p.table.file_name for p in files)


def _money_text(value: float) -> str | None:
    return None if pd.isna(value) else f"{value:.2f}"


def _payment_sums(payments: list[_Prepared]) -> pd.Series | None:
    """Amount paid per order id over every payments file, or None without one."""
    if not payments:
        return None
    parts = []
    for p in payments:
        amounts, _bad = v.parse_money(p.frame[_source_of(p, "amount")])
        parts.append(pd.DataFrame({"order_id": _order_keys(p), "amount": amounts}))
    frame = pd.concat(parts).dropna()
    return frame.groupby("order_id")["amount"].sum().round(2)


def _item_sums(entities: list[_Prepared]) -> pd.Series | None:
    """Per order id: quantity x unit price plus freight over the batch's item files."""
    items = [p for p in entities if p.item.kind == "order_lines"]
    if not items:
        return None
    parts = []
    for p in items:
        price, _ = v.parse_money(p.frame[_source_of(p, "unit_price")])
        quantity_column = _source_of(p, "quantity")
        quantity = (
            v.parse_numbers(p.frame[quantity_column])[0]
            if quantity_column
            else pd.Series(1.0, index=p.frame.index)
        )
        freight = pd.Series(0.0, index=p.frame.index)
        freight_column = next(
            (
                c
                for c in p.frame.columns
                if header_key(c) in {header_key(a) for a in FREIGHT_ALIASES}
            ),
            None,
        )
        if freight_column:
            freight = v.parse_money(p.frame[freight_column])[0].fillna(0.0)
        line = price.astype("float64") * quantity.astype("float64") + freight.astype("float64")
        parts.append(pd.DataFrame({"order_id": _order_keys(p), "amount": line}))
    frame = pd.concat(parts).dropna()
    return frame.groupby("order_id")["amount"].sum().round(2)


def _order_facts(
    engine: Engine, orders_files: list[_Prepared], others: list[_Prepared]
) -> pd.DataFrame:
    """customer_id and ordered_at (as text) per order id: from the batch's orders files,
    else from the store for the ids other files name."""
    parts = []
    for p in orders_files:
        customer = _source_of(p, "customer_id")
        time = _source_of(p, "ordered_at")
        if customer and time:
            parts.append(
                pd.DataFrame(
                    {
                        "order_id": _order_keys(p).to_numpy(),
                        "customer_id": p.frame[customer].to_numpy(),
                        "ordered_at": p.frame[time].to_numpy(),
                    }
                )
            )
    named = pd.concat([_order_keys(p) for p in others]) if others else pd.Series(dtype="str")
    known = set(parts[0]["order_id"]) if parts else set()
    missing = [key for key in pd.unique(named.dropna()) if key not in known]
    if missing:
        stored = _stored_orders(engine, missing)
        if not stored.empty:
            parts.append(stored)
    if not parts:
        return pd.DataFrame(columns=["customer_id", "ordered_at"], dtype="str")
    facts = pd.concat(parts, ignore_index=True).dropna(subset=["order_id"])
    return facts.drop_duplicates("order_id").set_index("order_id")


STORE_LOOKUP_CHUNK = 10_000


def _stored_orders(engine: Engine, order_ids: list[str]) -> pd.DataFrame:
    """order_id, customer_id and ordered_at (ISO text) of the stored orders among ids."""
    o = models.orders
    rows = []
    with engine.connect() as conn:
        for start in range(0, len(order_ids), STORE_LOOKUP_CHUNK):
            chunk = order_ids[start : start + STORE_LOOKUP_CHUNK]
            rows += conn.execute(
                select(o.c.order_id, o.c.customer_id, o.c.ordered_at).where(o.c.order_id.in_(chunk))
            ).all()
    frame = rows_frame(rows, ["order_id", "customer_id", "ordered_at"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame.astype("str")


def _refuse_unknown_words(plan: BatchPlan) -> None:
    """InputError listing every word no field knows, with its file and count."""
    found = []
    for planned in plan.files:
        for row in planned.unknown.itertuples(index=False):
            found.append(f"{planned.file_name} {row.field}: {row.word} ({row.rows:,})")
    if found:
        raise InputError("data.error.batch_unknown_words", words="; ".join(found))


def parse_batch_items(items: Sequence[str]) -> list[tuple[str, str]]:
    """Command-line `KIND=FILE` items as (kind, path); InputError for another shape or
    an unknown kind."""
    pairs = []
    for item in items:
        kind, sep, path = item.partition("=")
        if not sep or not path:
            raise InputError("data.error.batch_item", item=item)
        if kind not in KINDS:
            raise InputError("data.error.batch_kind", kind=kind, kinds=", ".join(KINDS))
        pairs.append((kind, path))
    return pairs


__all__ = [
    "KINDS",
    "LOAD_ORDER",
    "PAYMENTS",
    "BatchFile",
    "BatchPlan",
    "BatchResult",
    "PlannedFile",
    "import_batch",
    "parse_batch_items",
    "plan_batch",
]
