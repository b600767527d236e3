"""Trigger lists on a hand-written shop (SQLite and PostgreSQL): win-back and lost
reminders on their exact days, birthdays this month, payment reminders (new customers
after 2 hours, returning customers from the next day, large orders flagged) and
thank-you coupons after a well-rated resolved ticket; the preview of each list with the
contact policy; days typed as text."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from crm_core import asof
from crm_core.customers.features import customer_features
from crm_core.customers.segments import preset
from crm_core.errors import InputError, PermissionDenied
from crm_core.outreach.audiences import load_audience_facts
from crm_core.outreach.policy import DEFAULT_POLICY
from crm_core.outreach.triggers import (
    TRIGGER_LISTS,
    TriggerSettings,
    birthday_list,
    days_text,
    list_positions,
    load_trigger_settings,
    lost_list,
    marketing_result,
    parse_days,
    payment_reminders,
    save_trigger_settings,
    settings_text,
    thank_you_list,
    trigger_list,
    trigger_preview,
    trigger_previews,
    winback_list,
)
from crm_core.store import bulk_insert, models
from tests.support.actors import ANALYST, VIEWER

AS_OF = dt.date(2024, 6, 30)
AT = dt.datetime(2024, 6, 30, 23, 0)
RECENCY_CUSTOMERS = {"w45": 45, "w46": 46, "w60": 60, "w90": 90, "l120": 120, "l360": 360}


def _days_ago(days: int, hour: int = 10) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(AS_OF - dt.timedelta(days=days), dt.time(hour)))


def _order(order_id, customer, at, status="paid", amount=100.0) -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer,
        "ordered_at": pd.Timestamp(at),
        "amount": amount,
        "status": status,
    }


@pytest.fixture
def trigger_shop(store):
    ids = [
        *RECENCY_CUSTOMERS, "came_back", "b1", "b2", "b3", "b4", "newbie", "newbie2", "regular",
        "regular2", "newbie_big", "stale", "paid_later", "ty",
    ]  # fmt: skip
    birthdays = {"b1": "1990-06-01", "b2": "1985-06-30", "b3": "1990-07-01"}
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"客户-{c}" for c in ids],
            "phone": [f"1370000{n:04d}" for n in range(len(ids))],
            "birthday": pd.to_datetime(pd.Series([birthdays.get(c) for c in ids])),
            "signup_at": pd.to_datetime(["2023-01-01"] * len(ids)),
        }
    )
    orders = [_order(f"p-{c}", c, _days_ago(days)) for c, days in RECENCY_CUSTOMERS.items()] + [
        _order("p-came_back-old", "came_back", _days_ago(60)),
        _order("p-came_back-new", "came_back", _days_ago(3)),
        _order("u1", "newbie", "2024-06-30 21:00", "unpaid"),
        _order("u2", "newbie2", "2024-06-30 21:00:01", "unpaid"),
        _order("p-regular", "regular", "2024-01-01 10:00"),
        _order("u3", "regular", "2024-06-30 08:00", "unpaid"),
        _order("p-regular2", "regular2", "2024-02-01 10:00"),
        _order("u4", "regular2", "2024-06-29 23:30", "unpaid"),
        _order("u5", "newbie_big", "2024-06-30 10:00", "unpaid", 1500.0),
        _order("u6", "stale", "2024-06-27 22:00", "unpaid"),
        _order("u7", "paid_later", "2024-06-30 12:00", "unpaid"),
        _order("p-paid_later", "paid_later", "2024-06-30 13:00"),
        _order("c1", "stale", "2024-06-30 09:00", "cancelled"),
        _order("u-future", "newbie", "2024-07-01 09:00", "unpaid"),
    ]
    tickets = pd.DataFrame(
        {
            "ticket_id": ["ty1", "ty2", "ty3", "ty4", "ty5", "ty6"],
            "customer_id": ["ty", "b1", "b2", "newbie", "regular", "stale"],
            "ticket_type": ["logistics", "quality", "return", "consultation", "quality", "return"],
            "created_at": pd.to_datetime(["2024-06-25"] * 6),
            "resolved_at": pd.to_datetime(
                [
                    "2024-06-29 10:00",
                    "2024-06-29 10:00",
                    "2024-06-27 22:00",
                    "2024-06-30 22:00",
                    None,
                    "2024-06-30 23:30",
                ]
            ),
            "csat": pd.array([5, 3, 5, 4, None, 5], dtype="Int64"),
        }
    )
    with store.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, pd.DataFrame(orders))
        bulk_insert(conn, models.tickets, tickets)
    return store


def test_winback_and_lost_lists_catch_the_exact_days(trigger_shop):
    features = customer_features(trigger_shop, AS_OF)
    winback = winback_list(features, TriggerSettings())
    assert winback[["customer_id", "recency_days"]].values.tolist() == [
        ["w45", 45],
        ["w60", 60],
        ["w90", 90],
    ]
    lost = lost_list(features, TriggerSettings())
    assert lost["customer_id"].tolist() == ["l120", "l360"]
    assert lost["last_purchase_at"].iloc[0] == _days_ago(120)


def test_each_list_has_its_own_editable_day_set(trigger_shop):
    features = customer_features(trigger_shop, AS_OF)
    settings = TriggerSettings(winback_days=(46, 60), lost_days=(90,))
    assert winback_list(features, settings)["customer_id"].tolist() == ["w46", "w60"]
    assert lost_list(features, settings)["customer_id"].tolist() == ["w90"]


def test_birthdays_this_month_by_day(trigger_shop):
    features = customer_features(trigger_shop, AS_OF)
    birthdays = birthday_list(features, AS_OF)
    assert birthdays[["customer_id", "birthday_day"]].values.tolist() == [["b1", 1], ["b2", 30]]
    assert birthday_list(features, dt.date(2024, 7, 15))["customer_id"].tolist() == ["b3"]


def test_payment_reminders_for_new_and_returning_customers(trigger_shop):
    due = payment_reminders(trigger_shop, AS_OF, TriggerSettings(), at=AT)
    rows = due.set_index("order_id")
    # u1: new customer, exactly 2 hours ago; u2 one second short of 2 hours; u3 a
    # returning customer's order of today (due tomorrow); u4 returning, ordered
    # yesterday; u5 new and large; u6 older than 72 hours; u7 new (the paid order
    # came after it).
    assert list(rows.index) == ["u4", "u5", "u7", "u1"]  # oldest order first
    assert rows.loc["u1", "customer_type"] == "new"
    assert rows.loc["u4", "customer_type"] == "returning"
    assert rows.loc["u7", "customer_type"] == "new"
    assert rows.loc["u1", "remind_from"] == pd.Timestamp("2024-06-30 23:00")
    assert rows.loc["u4", "remind_from"] == pd.Timestamp("2024-06-30 00:00")
    assert rows["phone_call"].to_dict() == {"u4": False, "u5": True, "u1": False, "u7": False}
    assert rows.loc["u5", "amount"] == 1500.0
    assert rows.loc["u1", "name"] == "客户-newbie"


def test_payment_reminder_settings_and_the_end_of_day(trigger_shop):
    settings = TriggerSettings(new_customer_delay_hours=1, large_order_amount=2000)
    due = payment_reminders(trigger_shop, AS_OF, settings, at=AT)
    assert set(due["order_id"]) == {"u1", "u2", "u4", "u5", "u7"}
    assert not due["phone_call"].any()
    at_end_of_day = payment_reminders(trigger_shop, AS_OF, TriggerSettings())
    assert asof.last_second(AS_OF) == dt.datetime(2024, 6, 30, 23, 59, 59)
    assert set(at_end_of_day["order_id"]) == {"u1", "u2", "u4", "u5", "u7"}


def test_thank_you_list_after_a_well_rated_resolved_ticket(trigger_shop):
    listed = thank_you_list(trigger_shop, AS_OF, TriggerSettings(), at=AT)
    assert listed[["ticket_id", "customer_id", "csat"]].values.tolist() == [
        ["ty4", "newbie", 4],
        ["ty1", "ty", 5],
    ]
    stricter = TriggerSettings(thank_you_min_csat=5, thank_you_within_hours=73)
    assert thank_you_list(trigger_shop, AS_OF, stricter, at=AT)["ticket_id"].tolist() == [
        "ty1",
        "ty3",
    ]


def test_trigger_list_by_name(trigger_shop):
    features = customer_features(trigger_shop, AS_OF)
    assert trigger_list("lost", trigger_shop, features, AS_OF, TriggerSettings())[
        "customer_id"
    ].tolist() == ["l120", "l360"]
    with pytest.raises(InputError):
        trigger_list("anniversary", trigger_shop, features, AS_OF, TriggerSettings())


@pytest.mark.parametrize(
    "changes",
    [
        {"winback_days": ()},
        {"winback_days": (0, 45)},
        {"lost_days": (120.5,)},
        {"lost_days": ("abc",)},
        {"thank_you_min_csat": 6},
        {"thank_you_min_csat": 3.5},
        {"large_order_amount": -1},
        {"new_customer_delay_hours": True},
    ],
)
def test_bad_trigger_settings_are_refused(changes):
    with pytest.raises(InputError):
        TriggerSettings(**changes)


def test_trigger_settings_are_stored_for_roles_that_download(sqlite_store):
    assert load_trigger_settings(sqlite_store) == TriggerSettings()
    changed = TriggerSettings(winback_days=(30, 45), lost_days=(180,), large_order_amount=800)
    with pytest.raises(PermissionDenied):
        save_trigger_settings(sqlite_store, changed, VIEWER)
    save_trigger_settings(sqlite_store, changed, ANALYST)
    assert load_trigger_settings(sqlite_store) == changed
    assert TriggerSettings.from_dict(changed.to_dict()) == changed
    with pytest.raises(InputError):
        TriggerSettings.from_dict({"winback": [45]})


def _facts(shop):
    return load_audience_facts(shop, AS_OF, None, preset("rfm11"))


def test_a_marketing_preview_applies_the_policy_to_its_customers(trigger_shop):
    facts = _facts(trigger_shop)
    contacts = np.zeros(len(facts), dtype=np.int64)
    over_cap = facts.customer_ids.tolist().index("w60")
    contacts[over_cap] = DEFAULT_POLICY.cap_contacts  # at the cap: excluded
    preview = trigger_preview(
        trigger_shop,
        facts,
        "winback",
        TriggerSettings(),
        channel="sms",
        policy=DEFAULT_POLICY,
        contacts=contacts,
        at=AT,
    )
    assert preview.rows["customer_id"].tolist() == ["w45", "w60", "w90"]
    result = preview.policy_result
    assert (result.kept, result.excluded) == (2, 1)
    assert result.excluded_counts["over_cap"] == 1
    kept = set(facts.customer_ids.to_numpy()[result.kept_positions])
    assert kept == {"w45", "w90"}


def test_payment_reminders_and_empty_lists_have_no_policy_result(trigger_shop):
    facts = _facts(trigger_shop)
    contacts = np.full(len(facts), 99, dtype=np.int64)
    common = {"channel": "sms", "policy": DEFAULT_POLICY, "contacts": contacts, "at": AT}
    payment = trigger_preview(trigger_shop, facts, "payment", TriggerSettings(), **common)
    assert len(payment.rows) == 4 and payment.policy_result is None
    nobody = TriggerSettings(lost_days=(999,))
    lost = trigger_preview(trigger_shop, facts, "lost", nobody, **common)
    assert lost.rows.empty and lost.policy_result is None


def test_previews_of_every_list_in_order(trigger_shop):
    facts = _facts(trigger_shop)
    previews = trigger_previews(
        trigger_shop,
        facts,
        TriggerSettings(),
        channel=None,
        policy=DEFAULT_POLICY,
        contacts=np.zeros(len(facts), dtype=np.int64),
        at=AT,
    )
    assert [p.name for p in previews] == list(TRIGGER_LISTS)
    by_name = {p.name: p for p in previews}
    assert by_name["thank_you"].rows["customer_id"].tolist() == ["newbie", "ty"]
    assert by_name["thank_you"].policy_result.kept == 2


def test_a_customer_listed_twice_is_counted_once(trigger_shop):
    facts = _facts(trigger_shop)
    rows = pd.DataFrame({"customer_id": ["w45", "w45", "nobody-knows", "w90"]})
    positions = list_positions(facts, rows)
    assert positions[2] == -1
    result = marketing_result(
        facts, positions, None, DEFAULT_POLICY, np.zeros(len(facts), dtype=np.int64)
    )
    assert len(result.positions) == 2
    assert set(facts.customer_ids.to_numpy()[result.positions]) == {"w45", "w90"}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("45, 60, 90", (45.0, 60.0, 90.0)),
        ("45，60 90", (45.0, 60.0, 90.0)),
        (" 7 ,, ", (7.0,)),
        ("1e2", (100.0,)),
        ("", ()),
    ],
)
def test_days_typed_as_text(text, days):
    assert parse_days(text) == days


def test_days_that_are_not_numbers_are_refused_by_the_settings():
    parsed = parse_days("45, sixty")
    assert len(parsed) == 1 and math.isnan(parsed[0])
    with pytest.raises(InputError):
        TriggerSettings(winback_days=parsed)
    with pytest.raises(InputError):
        TriggerSettings(lost_days=parse_days(""))


def test_days_text_round_trips_through_the_settings():
    assert days_text((45, 60, 90)) == "45, 60, 90"
    assert TriggerSettings(winback_days=parse_days(days_text((90, 45, 45)))).winback_days == (
        45,
        90,
    )


def test_settings_as_the_help_texts_show_them():
    settings = TriggerSettings(
        winback_days=(30,),
        new_customer_delay_hours=1.5,
        large_order_amount=12345.6,
        thank_you_min_csat=5,
    )
    assert settings_text(settings) == {
        "winback_days": "30",
        "lost_days": "120, 360",
        "delay": "1.5",
        "max_age": "72",
        "large": "12,346",
        "csat": "5",
        "within": "72",
    }
