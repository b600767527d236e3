"""Likely duplicate customers (same phone number or e-mail) and merging them.

A merge keeps one record, the survivor, and re-points the other records' orders,
tickets, events, campaign touches and survey responses to it, in one transaction.
The merged records are kept, marked merged_into = survivor, so the merge stays
traceable and a later upload naming a merged id lands on the survivor (see load.py);
analyses count customers with merged_into IS NULL. The survivor keeps its own values
and takes a merged record's value only where its own is empty; its signup is the
earliest; an opt-out on any of the records holds for the survivor (a customer who said
no keeps saying no). When two of the records were touched by the same campaign, the
survivor's touch (else the first merged record's) is kept and the other dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Connection, Engine, delete, func, select, update

from crm_core.auth import IMPORT, SEE_PERSONAL_DATA, Actor, require
from crm_core.errors import InputError
from crm_core.ingest.values import normalise_emails, normalise_phones
from crm_core.outreach.privacy import mask_contacts, mask_personal_columns
from crm_core.store import bump_data_version, models, rows_frame

MOVED_TABLES = ("orders", "tickets", "events", "campaign_touches", "survey_responses")
FILLED_FIELDS = ("name", "phone", "email", "gender", "birthday", "province", "city", "channel")
OPT_OUTS = ("opt_out_sms", "opt_out_email", "opt_out_wecom")
IN_CHUNK = 500

DUPLICATE_COLUMNS = [
    "group", "match", "matched_on", "match_value", "customer_id", "name", "phone", "email",
    "is_placeholder", "orders", "last_order_at",
]  # fmt: skip


def likely_duplicate_customers(engine: Engine) -> pd.DataFrame:
    """Customers sharing a normalised phone number or e-mail address, one row per
    customer and match (DUPLICATE_COLUMNS). group numbers the sets of records that look
    like one person, linked directly or through other records (a customer sharing a
    phone with one record and an e-mail with another has a row for each match); match
    numbers the shared values (a masked value stays told apart); matched_on is 'phone'
    or 'email'; orders and last_order_at help pick the survivor.
    Masked phone numbers (138****8000) are not compared. Merged records are left out."""
    customers = models.customers
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                customers.c.customer_id,
                customers.c.name,
                customers.c.phone,
                customers.c.email,
                customers.c.is_placeholder,
            ).where(
                customers.c.merged_into.is_(None),
                (customers.c.phone.is_not(None)) | (customers.c.email.is_not(None)),
            )
        ).all()
    frame = rows_frame(rows, ["customer_id", "name", "phone", "email", "is_placeholder"])
    if frame.empty:
        return pd.DataFrame(columns=DUPLICATE_COLUMNS)
    phone, _ = normalise_phones(frame["phone"].astype("str"))
    email, _ = normalise_emails(frame["email"].astype("str"))
    phone = phone.where(~phone.str.contains("*", regex=False).fillna(False).astype(bool))
    matches = []
    for matched_on, keys in (("phone", phone), ("email", email)):
        shared = keys.notna() & keys.duplicated(keep=False)
        if shared.any():
            part = frame[shared].assign(matched_on=matched_on, match_value=keys[shared])
            matches.append(part)
    if not matches:
        return pd.DataFrame(columns=DUPLICATE_COLUMNS)
    found = pd.concat(matches, ignore_index=True)
    found["match"] = pd.factorize(pd.MultiIndex.from_frame(found[["matched_on", "match_value"]]))[0]
    found["group"] = _linked_groups(found["customer_id"], found["match"].to_numpy())
    found = found.sort_values(
        ["group", "matched_on", "match_value", "customer_id"], ignore_index=True
    )
    found["match"] = pd.factorize(found["match"])[0] + 1  # numbered in the order listed
    with engine.connect() as conn:
        activity = _order_activity(conn, found["customer_id"].unique().tolist())
    found = found.merge(activity, on="customer_id", how="left")
    found["orders"] = found["orders"].fillna(0).astype("int64")
    return found[DUPLICATE_COLUMNS]


def _linked_groups(customer_ids: pd.Series, match_codes: np.ndarray) -> np.ndarray:
    """Group number (1..) of each (customer, shared value) row: records linked by a
    shared value, directly or through other records (A and B share a phone, B and C an
    e-mail: one group), numbered in the order of each group's smallest customer id.
    match_codes numbers the shared values from 0."""
    customer_codes, customers = pd.factorize(customer_ids, sort=True)
    # nodes: customers first, then the shared values; an edge joins a record to its value
    nodes = len(customers) + int(match_codes.max()) + 1
    edges = coo_matrix(
        (np.ones(len(customer_codes)), (customer_codes, len(customers) + match_codes)),
        shape=(nodes, nodes),
    )
    _, component = connected_components(edges, directed=False)
    first_customer = pd.Series(customer_codes).groupby(component[customer_codes]).transform("min")
    return pd.factorize(first_customer, sort=True)[0] + 1


def _order_activity(conn: Connection, ids: list[str]) -> pd.DataFrame:
    orders = models.orders
    parts = []
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        parts.extend(
            conn.execute(
                select(orders.c.customer_id, func.count(), func.max(orders.c.ordered_at))
                .where(orders.c.customer_id.in_(chunk))
                .group_by(orders.c.customer_id)
            ).all()
        )
    frame = pd.DataFrame(parts, columns=["customer_id", "orders", "last_order_at"])
    frame["last_order_at"] = pd.to_datetime(frame["last_order_at"])
    return frame


@dataclass
class MergePlan:
    """What a merge moves (or moved): rows re-pointed per table, campaign touches
    dropped as duplicates, and the survivor's empty fields filled from merged records."""

    survivor_id: str
    merged_ids: list[str]
    moves: dict[str, int] = field(default_factory=dict)
    touches_dropped: int = 0
    fields_filled: dict[str, object] = field(default_factory=dict)
    applied: bool = False


def duplicates_shown_to(found: pd.DataFrame, actor: Actor | None) -> pd.DataFrame:
    """`found` (from likely_duplicate_customers) as `actor` may see it: phone, e-mail
    and the matched value masked for a role that may not see personal data."""
    if found.empty or (actor is not None and actor.may(SEE_PERSONAL_DATA)):
        return found
    shown = mask_personal_columns(found, actor)
    return shown.assign(match_value=mask_contacts(found["match_value"].astype("str")))


def merge_customers(
    engine: Engine,
    survivor_id: str,
    merged_ids: list[str],
    *,
    preview: bool = True,
    actor: Actor,
) -> MergePlan:
    """Merge `merged_ids` into `survivor_id` (see the module docstring).

    preview=True only says what would happen; preview=False does it in one transaction
    and bumps the data version. Raises InputError for an unknown or already merged id or
    a survivor listed among the merged ones, PermissionDenied unless `actor` may import.
    """
    require(actor, IMPORT)
    merged_ids = list(dict.fromkeys(str(m) for m in merged_ids))
    if not merged_ids:
        raise InputError("data.error.merge_nothing")
    if survivor_id in merged_ids:
        raise InputError("data.error.merge_survivor_in_list", customer=survivor_id)
    with engine.begin() as conn:
        records = _customer_records(conn, [survivor_id, *merged_ids])
        plan = _plan(conn, records, survivor_id, merged_ids)
        if not preview:
            _apply(conn, plan, records)
            plan.applied = True
            bump_data_version(conn)
    return plan


def _customer_records(conn: Connection, ids: list[str]) -> pd.DataFrame:
    customers = models.customers
    rows = conn.execute(select(customers).where(customers.c.customer_id.in_(ids))).mappings().all()
    records = pd.DataFrame([dict(r) for r in rows], columns=list(customers.c.keys()))
    missing = [i for i in ids if i not in set(records["customer_id"])]
    if missing:
        raise InputError("data.error.merge_unknown_customer", customers=", ".join(missing))
    already = records[records["merged_into"].notna()]["customer_id"].tolist()
    if already:
        raise InputError("data.error.merge_already_merged", customers=", ".join(already))
    return records.set_index("customer_id").loc[ids]


def _plan(
    conn: Connection, records: pd.DataFrame, survivor_id: str, merged_ids: list[str]
) -> MergePlan:
    plan = MergePlan(survivor_id=survivor_id, merged_ids=merged_ids)
    for name in MOVED_TABLES:
        table = models.metadata.tables[name]
        plan.moves[name] = int(
            conn.execute(select(func.count()).where(table.c.customer_id.in_(merged_ids))).scalar()
        )
    touches = _touches(conn, [survivor_id, *merged_ids])
    plan.touches_dropped = int(touches["drop"].sum())
    plan.moves["campaign_touches"] -= plan.touches_dropped
    survivor = records.loc[survivor_id]
    for name in FILLED_FIELDS:
        if pd.isna(survivor[name]):
            others = records.loc[merged_ids, name].dropna()
            if len(others):
                plan.fields_filled[name] = others.iloc[0]
    signups = records["signup_at"].dropna()
    if len(signups) and (pd.isna(survivor["signup_at"]) or signups.min() < survivor["signup_at"]):
        plan.fields_filled["signup_at"] = signups.min()
    for name in OPT_OUTS:
        if not bool(survivor[name]) and records.loc[merged_ids, name].astype(bool).any():
            plan.fields_filled[name] = True
    if bool(survivor["is_placeholder"]) and not records.loc[merged_ids, "is_placeholder"].all():
        plan.fields_filled["is_placeholder"] = False
    return plan


def _touches(conn: Connection, ids: list[str]) -> pd.DataFrame:
    """Touches of the customers, with drop = True for those a merge would duplicate."""
    table = models.campaign_touches
    rows = conn.execute(
        select(table.c.campaign_id, table.c.customer_id).where(table.c.customer_id.in_(ids))
    ).all()
    touches = rows_frame(rows, ["campaign_id", "customer_id"])
    rank = {customer: position for position, customer in enumerate(ids)}
    touches["rank"] = touches["customer_id"].map(rank)
    touches = touches.sort_values(["campaign_id", "rank"])
    touches["drop"] = touches.duplicated("campaign_id", keep="first")
    return touches


def _apply(conn: Connection, plan: MergePlan, records: pd.DataFrame) -> None:
    touches_table = models.campaign_touches
    dropped = _touches(conn, [plan.survivor_id, *plan.merged_ids])
    for row in dropped[dropped["drop"]].itertuples(index=False):
        conn.execute(
            delete(touches_table).where(
                touches_table.c.campaign_id == row.campaign_id,
                touches_table.c.customer_id == row.customer_id,
            )
        )
    for name in MOVED_TABLES:
        table = models.metadata.tables[name]
        conn.execute(
            update(table)
            .where(table.c.customer_id.in_(plan.merged_ids))
            .values(customer_id=plan.survivor_id)
        )
    customers = models.customers
    if plan.fields_filled:
        conn.execute(
            update(customers)
            .where(customers.c.customer_id == plan.survivor_id)
            .values(**{k: _plain(v) for k, v in plan.fields_filled.items()})
        )
    conn.execute(
        update(customers)
        .where(customers.c.customer_id.in_(plan.merged_ids))
        .values(merged_into=plan.survivor_id)
    )


def _plain(value: object) -> object:
    """A pandas scalar as the Python value SQLAlchemy binds."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value
