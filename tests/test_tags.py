"""Tags: each built-in rule on a hand-written shop (SQLite and PostgreSQL), the tag facts
aggregation, custom tags and rule overrides stored in the settings, labels and texts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.customers.features import customer_features
from crm_core.customers.tags import (
    BUILTIN_TAGS,
    FAVOURITE_PREFIX,
    TagFields,
    campaign_bounds,
    delete_tag,
    evaluate_tags,
    load_tags,
    save_tag,
    share_strictly_above,
    tag_facts,
    tag_label,
    tag_rows,
    tag_table,
    tags_text,
)
from crm_core.errors import InputError, PermissionDenied
from crm_core.store import bulk_insert, models
from tests.support.actors import ADMIN, ANALYST, VIEWER

AS_OF = dt.date(2024, 6, 30)


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _customers(ids: list[str], **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": ids})
    frame["name"] = [f"客户{i}" for i in ids]
    frame["phone"] = [f"1380000{n:04d}" for n in range(len(ids))]
    frame["signup_at"] = pd.to_datetime(["2023-01-01"] * len(ids))
    for flag in ("opt_out_sms", "opt_out_email", "opt_out_wecom"):
        frame[flag] = False
    for name, values in columns.items():
        frame[name] = values
    return frame


def _orders(rows: list[tuple]) -> pd.DataFrame:
    """rows: (order_id, customer_id, ordered_at, amount, status, discount, category)."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "order_id",
            "customer_id",
            "ordered_at",
            "amount",
            "status",
            "discount",
            "category",
        ],
    )
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], format="ISO8601")
    return frame


IDS = [
    "new", "repeat", "half", "campaign", "campaign_low", "big", "big2", "refund40", "refund30",
    "logistics", "logistics_old", "quality", "complainer", "old_complaint", "csat4", "csat3",
    "nps9", "nps6", "nps7", "browser", "browser_buys", "prospect_browser", "favourite",
    "birthday", "birthday_next", "opted",
]  # fmt: skip


@pytest.fixture
def tag_shop(store):
    """A shop where each customer exists to show one tag rule (or its boundary)."""
    birthdays = [pd.NaT] * len(IDS)
    birthdays[IDS.index("birthday")] = _ts("1990-06-15")
    birthdays[IDS.index("birthday_next")] = _ts("1990-07-01")
    customers = _customers(
        IDS,
        birthday=pd.to_datetime(pd.Series(birthdays)),
        opt_out_sms=[c == "opted" for c in IDS],
        opt_out_wecom=[c == "opted" for c in IDS],
    )
    orders = [
        ("o-new", "new", "2024-06-20 10:00", 100, "paid", 0, "snacks"),
        ("o-r1", "repeat", "2024-01-10 10:00", 100, "paid", 10, "snacks"),
        ("o-r2", "repeat", "2024-03-01 10:00", 100, "paid", 5, "snacks"),
        ("o-r3", "repeat", "2024-05-01 10:00", 100, "paid", 0, "snacks"),
        ("o-h1", "half", "2024-01-11 10:00", 100, "paid", 10, "snacks"),
        ("o-h2", "half", "2024-01-12 10:00", 100, "paid", 0, "snacks"),
        # the campaign runs 2024-03-01 .. 2024-03-10 23:59:59 (inclusive)
        ("o-c1", "campaign", "2024-03-01 00:00", 100, "paid", 0, "snacks"),
        ("o-c2", "campaign", "2024-03-10 23:59:59", 100, "paid", 0, "snacks"),
        ("o-c3", "campaign", "2024-03-11 00:00", 100, "paid", 0, "snacks"),
        ("o-cl1", "campaign_low", "2024-02-29 23:59:59", 100, "paid", 0, "snacks"),
        ("o-cl2", "campaign_low", "2024-03-05 12:00", 100, "paid", 0, "snacks"),
        ("o-big", "big", "2024-04-01 10:00", 5000, "paid", 0, "apparel"),
        ("o-big2", "big2", "2024-04-01 10:00", 3000, "paid", 0, "apparel"),
        ("o-rf40", "refund40", "2024-04-01 10:00", 100, "paid", 0, "snacks"),
        ("o-rf40r", "refund40", "2024-04-05 10:00", 40, "refunded", 0, "snacks"),
        ("o-rf30", "refund30", "2024-04-01 10:00", 100, "paid", 0, "snacks"),
        ("o-rf30r", "refund30", "2024-04-05 10:00", 30, "refunded", 0, "snacks"),
        ("o-bb", "browser_buys", "2024-06-25 10:00", 100, "paid", 0, "snacks"),
        ("o-br", "browser", "2024-05-01 10:00", 100, "paid", 0, "snacks"),
        ("o-f1", "favourite", "2024-01-01 10:00", 10, "paid", 0, "banana"),
        ("o-f2", "favourite", "2024-01-02 10:00", 10, "paid", 0, "apple"),
        ("o-f3", "favourite", "2024-01-03 10:00", 10, "paid", 0, "banana"),
        ("o-f4", "favourite", "2024-01-04 10:00", 10, "paid", 0, "apple"),
        ("o-f5", "favourite", "2024-01-05 10:00", 10, "paid", 0, None),
        ("o-f6", "favourite", "2024-01-06 10:00", 10, "paid", 0, None),
        ("o-f7", "favourite", "2024-01-07 10:00", 10, "paid", 0, None),
        ("o-f8", "favourite", "2024-01-08 10:00", 10, "unpaid", 0, "cherry"),
        ("o-late", "new", "2024-07-02 10:00", 100, "paid", 0, "snacks"),
    ]
    tickets = pd.DataFrame(
        [
            ("t1", "logistics", "logistics", "2024-05-01", None, None, False),
            ("t2", "logistics", "logistics", "2024-06-01", None, None, False),
            ("t3", "logistics_old", "logistics", "2024-05-01", None, None, False),
            ("t4", "logistics_old", "logistics", "2023-06-01", None, None, False),
            ("t5", "quality", "quality", "2024-02-01", None, None, False),
            ("t6", "complainer", "quality", "2024-06-20", None, None, True),
            ("t7", "old_complaint", "return", "2023-12-01", None, None, True),
            ("t8", "csat4", "consultation", "2024-06-01", "2024-06-02", 4, False),
            ("t9", "csat3", "consultation", "2024-06-01", "2024-06-02", 3, False),
        ],
        columns=[
            "ticket_id", "customer_id", "ticket_type", "created_at", "resolved_at", "csat",
            "is_complaint",
        ],
    )  # fmt: skip
    tickets["created_at"] = pd.to_datetime(tickets["created_at"])
    tickets["resolved_at"] = pd.to_datetime(tickets["resolved_at"])
    tickets["csat"] = tickets["csat"].astype("Int64")
    surveys = pd.DataFrame(
        {
            "response_id": ["s1", "s2", "s3"],
            "customer_id": ["nps9", "nps6", "nps7"],
            "responded_at": pd.to_datetime(["2024-06-01"] * 3),
            "nps": [9, 6, 7],
        }
    )
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "customer_id": ["browser", "browser_buys", "prospect_browser", "repeat"],
            "event_type": ["browse", "browse", "browse", "browse"],
            "occurred_at": pd.to_datetime(["2024-06-20", "2024-06-20", "2024-06-21", "2024-04-01"]),
        }
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["c1", "c2"],
            "name": ["春季活动", "overlapping"],
            "channel": ["sms", "sms"],
            "started_at": pd.to_datetime(["2024-03-01", "2024-03-03"]),
            "ended_at": pd.to_datetime(["2024-03-05 23:59:59", "2024-03-10 23:59:59"]),
        }
    )
    with store.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.campaigns, campaigns)
        bulk_insert(conn, models.orders, _orders(orders))
        bulk_insert(conn, models.tickets, tickets)
        bulk_insert(conn, models.survey_responses, surveys)
        bulk_insert(conn, models.events, events)
    return store


def _tagged(store, tags=None) -> dict[str, set[str]]:
    features = customer_features(store, AS_OF)
    fields = TagFields(features, tag_facts(store, AS_OF), AS_OF)
    matrix = evaluate_tags(fields, load_tags(store) if tags is None else tags)
    ids = features["customer_id"].to_numpy()
    return {name: set(ids[matrix.column(name)]) for name in matrix.names}


def test_campaign_periods_are_merged_and_end_inclusively(tag_shop):
    bounds = campaign_bounds(tag_shop, AS_OF)
    assert bounds == [dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 11)]


def test_tag_facts_count_purchases_discounts_campaigns_tickets_and_favourites(tag_shop):
    facts = tag_facts(tag_shop, AS_OF).set_index("customer_id")
    assert facts.loc["repeat", "purchases"] == 3
    assert facts.loc["repeat", "discounted_purchases"] == 2
    assert facts.loc["campaign", "campaign_purchases"] == 2
    assert facts.loc["campaign_low", "campaign_purchases"] == 1
    # two bananas and two apples tie: the alphabetically first wins; orders without a
    # category (three) and unpaid ones (cherry) do not count.
    assert facts.loc["favourite", "favourite_category"] == "apple"
    assert facts.loc["favourite", "purchases"] == 7
    assert facts.loc["logistics", "logistics_tickets_365d"] == 2
    assert facts.loc["logistics_old", "logistics_tickets_365d"] == 1
    assert facts.loc["new", "purchases"] == 1  # the July order is after as_of
    assert "prospect_browser" not in facts.index
    assert "nps9" not in facts.index


def test_each_builtin_tag_rule(tag_shop):
    tagged = _tagged(tag_shop)
    assert tagged["new_customer"] == {"new", "browser_buys"}
    assert {"repeat", "half", "campaign", "favourite"} <= tagged["repeat_buyer"]
    assert "new" not in tagged["repeat_buyer"]
    assert tagged["price_sensitive"] == {"repeat"}  # 2 of 3; "half" has exactly 0.5
    assert tagged["campaign_buyer"] == {"campaign"}  # 2 of 3; campaign_low has 1 of 2
    assert tagged["high_end"] == {"big", "big2"}  # 12 buyers: 1/12 and 0/12 above
    assert tagged["return_heavy"] == {"refund40"}  # refund30 has exactly 0.3
    assert tagged["logistics_sensitive"] == {"logistics"}
    assert tagged["quality_sensitive"] == {"quality", "complainer"}
    assert tagged["complainer"] == {"complainer"}
    assert tagged["satisfied"] == {"csat4"}
    assert tagged["promoter"] == {"nps9"}
    assert tagged["detractor"] == {"nps6"}
    assert tagged["browsing_without_buying"] == {"browser", "prospect_browser"}
    assert tagged["birthday_this_month"] == {"birthday"}
    assert tagged["opted_out_sms"] == {"opted"}
    assert tagged["opted_out_wecom"] == {"opted"}
    assert tagged["opted_out_email"] == set()
    assert tagged[f"{FAVOURITE_PREFIX}apple"] >= {"favourite"}
    assert f"{FAVOURITE_PREFIX}banana" not in tagged  # nobody favours it: no tag
    assert tagged[f"{FAVOURITE_PREFIX}apparel"] == {"big", "big2"}


def test_a_custom_tag_and_a_changed_rule_are_stored_and_applied(tag_shop):
    save_tag(tag_shop, "高价值复购", {"all": [
        {"field": "purchases", "op": ">=", "value": 2},
        {"field": "monetary", "op": ">=", "value": 300},
    ]}, ANALYST)  # fmt: skip
    save_tag(tag_shop, "return_heavy", {"field": "refund_share", "op": ">=", "value": 0.3}, ADMIN)
    tags = load_tags(tag_shop)
    assert [t.name for t in tags][-1] == "高价值复购"
    assert next(t for t in tags if t.name == "return_heavy").customised
    tagged = _tagged(tag_shop)
    assert tagged["高价值复购"] == {"repeat", "campaign"}
    assert tagged["return_heavy"] == {"refund40", "refund30"}

    delete_tag(tag_shop, "return_heavy", ANALYST)
    delete_tag(tag_shop, "高价值复购", ANALYST)
    tags = load_tags(tag_shop)
    assert "高价值复购" not in [t.name for t in tags]
    assert (
        next(t for t in tags if t.name == "return_heavy").condition
        == (BUILTIN_TAGS["return_heavy"])
    )


def test_tag_edits_are_checked(sqlite_store):
    with pytest.raises(PermissionDenied):
        save_tag(sqlite_store, "x", {"field": "frequency", "op": ">", "value": 1}, VIEWER)
    with pytest.raises(InputError) as unknown_field:
        save_tag(sqlite_store, "x", {"field": "no_such_field", "op": ">", "value": 1}, ADMIN)
    assert "no_such_field" in str(unknown_field.value)
    with pytest.raises(InputError):
        save_tag(sqlite_store, "a, b", {"field": "frequency", "op": ">", "value": 1}, ADMIN)
    with pytest.raises(InputError):
        save_tag(
            sqlite_store,
            f"{FAVOURITE_PREFIX}tea",
            {"field": "frequency", "op": ">", "value": 1},
            ADMIN,
        )
    with pytest.raises(InputError):
        delete_tag(sqlite_store, "never-added", ADMIN)
    assert [t.kind for t in load_tags(sqlite_store)] == ["builtin"] * len(BUILTIN_TAGS)


def test_labels_table_and_text_of_tags(tag_shop):
    features = customer_features(tag_shop, AS_OF)
    matrix = evaluate_tags(
        TagFields(features, tag_facts(tag_shop, AS_OF), AS_OF), load_tags(tag_shop)
    )
    table = tag_table(matrix, "zh-CN").set_index("tag")
    assert table.loc["return_heavy", "label"] == "高退货"
    assert table.loc["return_heavy", "customers"] == 1
    assert table.loc["return_heavy", "share"] == pytest.approx(1 / len(features))
    assert "0.3" in table.loc["return_heavy", "rule"]
    assert tag_label(f"{FAVOURITE_PREFIX}apple", "en") == "Favourite category: apple"
    row = int(np.flatnonzero(features["customer_id"].to_numpy() == "opted")[0])
    assert tags_text(matrix, np.array([row]), "en")[0] == "Opted out of SMS, Opted out of WeCom"
    both = tag_rows(matrix, ["opted_out_sms", "opted_out_wecom"], "all")
    assert set(features["customer_id"].to_numpy()[both]) == {"opted"}


def test_share_strictly_above_ranks_ties_together():
    ranks = share_strictly_above(np.array([10.0, 30.0, 30.0, np.nan, 20.0]))
    np.testing.assert_allclose(ranks[[0, 1, 2, 4]], [75.0, 0.0, 0.0, 50.0])
    assert np.isnan(ranks[3])
