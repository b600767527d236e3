"""Likely duplicate customers (same phone or e-mail) and merging them after a preview."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_core.errors import InputError
from crm_core.ingest import import_file, likely_duplicate_customers, merge_customers
from crm_core.ingest.duplicates import _linked_groups
from crm_core.store import bulk_insert, data_version, models
from tests.support.actors import ADMIN, ANALYST

ORDERS = b"""order_id,customer_id,ordered_at,amount
O1,C1,2024-03-01,10
O2,C2,2024-03-02,20
O3,C2,2024-03-03,30
"""


@pytest.fixture
def shop(store):
    """C1 and C2 share a phone (written differently), C1 and C3 an e-mail (case), C5
    and C6 only a masked phone; C2 has orders, a ticket, an event, a survey answer and
    touches in campaigns K1 (which C1 also got) and K2."""
    phones = ["13800138000", "+86 138-0013-8000", None, "13900000000", "138****1", "138****1"]
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
            "name": [None, "王芳", "Fang", "李强", None, None],
            "phone": phones,
            "email": ["fang@example.com", None, "FANG@Example.com ", None, None, None],
            "opt_out_sms": [False, False, True, False, False, False],
        }
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["K1", "K2"],
            "name": ["K1", "K2"],
            "channel": ["sms", "sms"],
            "started_at": pd.to_datetime(["2024-03-01", "2024-03-02"]),
        }
    )
    touches = pd.DataFrame({"campaign_id": ["K1", "K1", "K2"], "customer_id": ["C1", "C2", "C2"]})
    with store.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.campaigns, campaigns)
        bulk_insert(conn, models.campaign_touches, touches)
        bulk_insert(
            conn,
            models.tickets,
            pd.DataFrame(
                {
                    "ticket_id": ["T1"],
                    "customer_id": ["C2"],
                    "ticket_type": ["quality"],
                    "created_at": pd.to_datetime(["2024-03-04"]),
                }
            ),
        )
        bulk_insert(
            conn,
            models.events,
            pd.DataFrame(
                {
                    "event_id": ["E1"],
                    "customer_id": ["C2"],
                    "event_type": ["browse"],
                    "occurred_at": pd.to_datetime(["2024-03-04"]),
                }
            ),
        )
        bulk_insert(
            conn,
            models.survey_responses,
            pd.DataFrame(
                {
                    "response_id": ["S1"],
                    "customer_id": ["C2"],
                    "responded_at": pd.to_datetime(["2024-03-05"]),
                    "nps": [9],
                }
            ),
        )
    import_file(store, ORDERS, "orders", file_name="orders.csv", actor=ADMIN)
    return store


def _owner_counts(engine, table) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.customer_id, func.count()).group_by(table.c.customer_id)
        ).all()
    return dict(rows)


def test_likely_duplicates_share_a_normalised_phone_or_email(shop):
    found = likely_duplicate_customers(shop)
    # C2 and C3 share nothing, but each shares a value with C1: one person, one group
    assert found["group"].unique().tolist() == [1]
    rows = zip(found["matched_on"], found["match_value"], found["customer_id"], strict=True)
    assert sorted(rows) == [
        ("email", "fang@example.com", "C1"),
        ("email", "fang@example.com", "C3"),
        ("phone", "13800138000", "C1"),
        ("phone", "13800138000", "C2"),
    ]
    orders = found.drop_duplicates("customer_id").set_index("customer_id")["orders"]
    assert orders.to_dict() == {"C1": 1, "C2": 2, "C3": 0}


def test_preview_says_what_moves_and_changes_nothing(shop):
    version = data_version(shop)
    plan = merge_customers(shop, "C1", ["C2", "C3"], preview=True, actor=ANALYST)
    assert not plan.applied
    assert plan.moves == {
        "orders": 2,
        "tickets": 1,
        "events": 1,
        "campaign_touches": 1,
        "survey_responses": 1,
    }
    assert plan.touches_dropped == 1
    assert plan.fields_filled["name"] == "王芳"
    assert plan.fields_filled["opt_out_sms"] is True
    assert data_version(shop) == version
    assert _owner_counts(shop, models.orders) == {"C1": 1, "C2": 2}


def test_merge_repoints_everything_in_one_transaction(shop):
    version = data_version(shop)
    plan = merge_customers(shop, "C1", ["C2", "C3"], preview=False, actor=ANALYST)
    assert plan.applied
    assert data_version(shop) == version + 1
    for table in (models.orders, models.tickets, models.events, models.survey_responses):
        assert set(_owner_counts(shop, table)) == {"C1"}
    with shop.connect() as conn:
        touches = conn.execute(
            select(models.campaign_touches.c.campaign_id, models.campaign_touches.c.customer_id)
        ).all()
        customers = pd.DataFrame(
            conn.execute(select(models.customers).order_by(models.customers.c.customer_id))
            .mappings()
            .all()
        ).set_index("customer_id")
    assert sorted(touches) == [("K1", "C1"), ("K2", "C1")]
    assert customers.loc["C1", "name"] == "王芳"
    assert bool(customers.loc["C1", "opt_out_sms"])
    assert customers.loc[["C2", "C3"], "merged_into"].tolist() == ["C1", "C1"]
    assert likely_duplicate_customers(shop).empty


def test_reuploading_after_a_merge_changes_nothing(shop):
    merge_customers(shop, "C1", ["C2"], preview=False, actor=ANALYST)
    again = import_file(shop, ORDERS, "orders", actor=ADMIN)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert again.customers_created == 0
    assert _owner_counts(shop, models.orders) == {"C1": 3}


@pytest.mark.parametrize(
    ("survivor", "merged", "key"),
    [
        ("C1", ["C1"], "data.error.merge_survivor_in_list"),
        ("C1", ["C99"], "data.error.merge_unknown_customer"),
        ("C1", [], "data.error.merge_nothing"),
    ],
)
def test_impossible_merges_are_refused(shop, survivor, merged, key):
    with pytest.raises(InputError) as raised:
        merge_customers(shop, survivor, merged, preview=False, actor=ANALYST)
    assert raised.value.key == key


def test_a_merged_record_cannot_be_merged_again(shop):
    merge_customers(shop, "C1", ["C2"], preview=False, actor=ANALYST)
    with pytest.raises(InputError) as raised:
        merge_customers(shop, "C3", ["C2"], preview=False, actor=ANALYST)
    assert raised.value.key == "data.error.merge_already_merged"


def test_reuploading_the_customers_file_after_a_merge_leaves_the_survivor_alone(store):
    members = "客户ID,姓名,手机号,邮箱\nP1,张三,13800138000,a@x.com\nP2,,138 0013 8000,\n"
    import_file(store, members.encode("utf-8"), "customers", actor=ADMIN)
    merge_customers(store, "P1", ["P2"], preview=False, actor=ANALYST)
    again = import_file(store, members.encode("utf-8"), "customers", actor=ADMIN)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    with store.connect() as conn:
        rows = conn.execute(
            select(
                models.customers.c.customer_id,
                models.customers.c.name,
                models.customers.c.email,
                models.customers.c.merged_into,
            ).order_by(models.customers.c.customer_id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("P1", "张三", "a@x.com", None),
        ("P2", None, None, "P1"),
    ]


def test_touches_of_a_merged_customer_and_its_survivor_keep_the_survivors_own(shop):
    merge_customers(
        shop, "C1", ["C2"], preview=False, actor=ANALYST
    )  # K1: C1's touch kept, K2 moved to C1
    touches = (
        "活动编号,客户ID,是否响应\n"
        "K1,C2,是\n"  # C2 is C1 now, and row 3 gives C1's own K1 touch
        "K1,C1,否\n"
        "K2,C2,是\n"
    ).encode()
    for _ in range(2):
        result = import_file(shop, touches, "campaign_touches", actor=ADMIN)
        assert result.rejects[["row_number", "reason", "detail"]].values.tolist() == [
            [2, "merged_customer", "C2"]
        ]
        stored = _rows(shop, models.campaign_touches)
        assert stored.values.tolist() == [["K1", "C1", False], ["K2", "C1", True]]
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 2)


def test_reuploading_campaign_responses_after_a_merge_changes_no_touch(store):
    members = (
        "客户ID,手机号,注册时间,AcceptedCmp1\n"
        "P1,13800138000,2024-03-01,0\n"
        "P2,138 0013 8000,2024-03-02,1\n"
    ).encode()
    import_file(store, members, "customers", actor=ADMIN)
    merge_customers(store, "P1", ["P2"], preview=False, actor=ANALYST)  # P1's own touch is kept
    before = _rows(store, models.campaign_touches)
    again = import_file(store, members, "customers", actor=ADMIN)
    touches = again.related["campaign_touches"]
    assert (touches.inserted, touches.updated, touches.unchanged) == (0, 0, 1)
    assert before.values.tolist() == [["AcceptedCmp1", "P1", False]]
    assert _rows(store, models.campaign_touches).equals(before)


def _rows(engine, table) -> pd.DataFrame:
    """(campaign_id, customer_id, responded) of the stored touches."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.campaign_id, table.c.customer_id, table.c.responded).order_by(
                table.c.campaign_id, table.c.customer_id
            )
        ).all()
    frame = pd.DataFrame(rows, columns=["campaign_id", "customer_id", "responded"])
    return frame.astype({"responded": bool})


def test_records_linked_through_another_record_form_one_group(store):
    members = (
        "客户ID,手机号,邮箱\n"
        "A,13800138000,\n"
        "B,138 0013 8000,b@example.com\n"
        "C,,B@example.com\n"
        "D,13900139000,\n"
        "E,+86 139 0013 9000,\n"
        "F,13700137000,f@example.com\n"
    )
    import_file(store, members.encode("utf-8"), "customers", actor=ADMIN)
    found = likely_duplicate_customers(store)
    groups = found.groupby("group")["customer_id"].agg(lambda ids: sorted(set(ids)))
    assert groups.to_dict() == {1: ["A", "B", "C"], 2: ["D", "E"]}
    assert sorted(found.loc[found["customer_id"] == "B", "matched_on"]) == ["email", "phone"]
    merge_customers(store, "A", ["B", "C"], preview=False, actor=ANALYST)
    assert likely_duplicate_customers(store)["customer_id"].tolist() == ["D", "E"]


def test_groups_tell_apart_ids_that_differ_only_in_a_trailing_nul():
    # NumPy's fixed-width strings drop trailing NULs; "A" and "A\x00" are two records
    ids = pd.Series(["A", "B", "A\x00", "C"], dtype="str")
    groups = _linked_groups(ids, np.array([0, 0, 1, 1]))
    assert groups.tolist() == [1, 1, 2, 2]
