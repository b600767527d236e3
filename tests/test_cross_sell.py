"""Cross-sell on a store (crm_core.customers.baskets, crm_core.outreach.audiences):
what each customer bought and when, their next best category, audiences "bought A, not
B, within N days" and "next best category = X", the export column, and what a pair is
worth per segment; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.customers.baskets import (
    ALL_SEGMENTS,
    CustomerItems,
    basket_lines,
    basket_matrix,
    basket_table,
    customer_items,
    pair_basket_facts,
)
from crm_core.customers.segments import preset
from crm_core.errors import InputError
from crm_core.outreach.audiences import (
    Audience,
    export_frame,
    load_audience_facts,
    select_members,
)
from crm_core.store import bulk_insert, models

AS_OF = dt.date(2026, 6, 30)
SKUS = {
    "N1": ("snacks", "每日坚果"),
    "G1": ("gifts", "坚果礼盒"),
    "F1": ("formula", "婴儿奶粉"),
    "B1": ("baby", "奶瓶"),
}
# order, customer, time, status, amount, [(sku, quantity)]
ORDERS = [
    ("o1", "c1", "2026-06-20 10:00", "paid", 50.0, [("N1", 1)]),  # A lately, never B
    ("o2", "c2", "2026-06-25 10:00", "paid", 60.0, [("N1", 2)]),
    ("o3", "c2", "2025-01-10 10:00", "paid", 90.0, [("G1", 1)]),  # B long ago
    ("o4", "c3", "2026-03-01 10:00", "paid", 40.0, [("N1", 1)]),  # A, but not lately
    ("o5", "c4", "2026-06-28 10:00", "cancelled", 50.0, [("N1", 1)]),
    ("o6", "c5", "2026-06-29 23:59", "paid", 45.0, [("N1", 1), ("G1", -1)]),  # B returned
    ("o7", "c6", "2026-07-05 10:00", "paid", 50.0, [("N1", 1)]),  # after the as-of day
    ("o8", "c7", "2026-06-15 10:00", "paid", 150.0, [("N1", 1), ("G1", 1)]),
    ("o9", "c8", "2026-05-01 10:00", "paid", 300.0, [("F1", 1), ("B1", 2)]),
    ("o10", "c7", "2026-06-01 10:00", "paid", 140.0, [("N1", 1), ("G1", 1), ("B1", 1)]),
]


def _load_shop(engine) -> None:
    _load_orders(engine, [f"c{n}" for n in range(1, 10)], ORDERS)


@pytest.fixture
def shop(store):
    _load_shop(store)
    return store


def _members(facts, audience: Audience) -> set[str]:
    return set(facts.customer_ids[select_members(facts, audience)])


def test_a_cross_sell_audience_keeps_recent_a_buyers_and_excludes_everyone_who_bought_b(shop):
    facts = load_audience_facts(shop, AS_OF, None, preset("rfm11"))
    by_sku = Audience(
        item_level="sku", bought_items=("N1",), bought_within_days=30, not_bought_items=("G1",)
    )
    # c2 bought B 17 months ago, c7 with A; c3's A is 121 days old; c4's order was
    # cancelled; c6 bought after the as-of day; c5 returned B, so never bought it
    assert _members(facts, by_sku) == {"c1", "c5"}
    by_category = Audience(
        bought_items=("snacks",), bought_within_days=30, not_bought_items=("gifts",)
    )
    assert _members(facts, by_category) == {"c1", "c5"}
    ever = Audience(bought_items=("snacks",), not_bought_items=("gifts",))
    assert _members(facts, ever) == {"c1", "c3", "c5"}
    assert _members(facts, Audience(bought_items=("N1",), item_level="sku")) == {
        "c1", "c2", "c3", "c5", "c7"
    }  # fmt: skip
    one_day = Audience(item_level="sku", bought_items=("N1",), bought_within_days=1)
    assert _members(facts, one_day) == set()  # c5 bought at 23:59 the day before
    two_days = Audience(item_level="sku", bought_items=("N1",), bought_within_days=2)
    assert _members(facts, two_days) == {"c5"}
    unknown = Audience(item_level="sku", bought_items=("N9",))
    assert _members(facts, unknown) == set()


def test_next_best_category_is_an_audience_filter_and_an_export_column(shop):
    facts = load_audience_facts(shop, AS_OF, None, preset("rfm11"))
    # snacks baskets (o1, o2, o4, o6, o8, o10 up to the as-of day, o5 cancelled) hold
    # gifts in o8 and o10: every snacks buyer without gifts gets gifts first; c8's baby
    # goes with gifts and with snacks in o10 (a tie, broken by name)
    assert _members(facts, Audience(next_best_categories=("gifts",))) == {
        "c1", "c3", "c5", "c8"
    }  # fmt: skip
    # c2 bought snacks and gifts; baby goes with both (o10)
    assert _members(facts, Audience(next_best_categories=("baby",))) == {"c2"}
    best = dict(zip(facts.customer_ids, facts.next_best_categories(), strict=True))
    assert best["c7"] == "formula"  # its baby went with formula in o9
    assert best["c4"] is None and best["c9"] is None  # bought nothing (o5 was cancelled)
    positions = np.flatnonzero(facts.customer_ids.isin(["c1", "c9"]).to_numpy())
    frame = export_frame(facts, positions, ["customer_id", "next_best_category"], None)
    assert frame.set_index("customer_id")["next_best_category"].fillna("-").to_dict() == {
        "c1": "gifts",
        "c9": "-",
    }


def test_cross_sell_definitions_round_trip_and_old_lists_keep_their_identity():
    audience = Audience(
        item_level="sku", bought_items=("N1",), bought_within_days=30, not_bought_items=("G1",)
    )
    payload = audience.to_dict()
    assert Audience.from_dict(payload) == audience
    assert payload["bought_items"] == ["N1"] and payload["bought_within_days"] == 30
    plain = Audience(include_segments=("Champions",)).to_dict()
    assert not {"item_level", "bought_items", "next_best_categories"} & set(plain)
    idle = Audience(include_segments=("Champions",), item_level="sku", bought_within_days=9)
    assert idle.to_dict() == plain  # settings without items select the same members
    for wrong in (
        {"item_level": "brand"},
        {"bought_within_days": 0},
        {"bought_within_days": 2.5},
        {"bought_items": "N1"},
    ):
        with pytest.raises(InputError):
            Audience(**wrong)


def test_customer_items_read_in_the_database_equal_those_built_from_the_lines(shop):
    lines = basket_lines(shop, "sku", until=AS_OF)
    times = {o: pd.Timestamp(t) for o, _c, t, *_ in ORDERS}
    purchases = lines.assign(sku=lines["item"], ordered_at=lines["order_id"].map(times))
    read = customer_items(shop, AS_OF, "sku")
    built = CustomerItems.from_purchases(purchases, AS_OF, "sku")
    assert list(read.customers) == list(built.customers)
    assert list(read.items) == list(built.items) == ["B1", "F1", "G1", "N1"]
    assert (read.days != built.days).nnz == 0
    days = pd.DataFrame(read.days.toarray(), index=read.customers, columns=read.items)
    assert days.loc["c1", "N1"] == 11  # 10 whole days before the as-of day, plus 1
    assert days.loc["c5", "N1"] == 2 and days.loc["c5", "G1"] == 0


def test_a_pairs_worth_is_the_baskets_with_a_and_b_against_those_with_a_alone(shop):
    unnamed = pd.DataFrame(  # a line without SKU or category is still an item in o8
        {
            "order_id": ["o8"],
            "line_no": [9],
            "quantity": [1.0],
            "unit_price": [5.0],
            "amount": [5.0],
        }
    )
    with shop.begin() as conn:
        bulk_insert(conn, models.order_lines, unnamed)
    lines = basket_lines(shop, "category", until=AS_OF)
    segments = pd.Series({"c1": "new", "c2": "new", "c7": "loyal"})
    facts = pair_basket_facts(
        basket_table(lines), basket_matrix(lines), "snacks", "gifts", segments
    ).set_index(["segment", "with_pair"])
    overall_with = facts.loc[(ALL_SEGMENTS, True)]
    assert overall_with["baskets"] == 2  # o8, o10
    assert overall_with["items_per_basket"] == pytest.approx(3.0)  # o8 3 lines, o10 3
    assert overall_with["average_order_value"] == pytest.approx(145.0)
    overall_without = facts.loc[(ALL_SEGMENTS, False)]
    assert overall_without["baskets"] == 4  # o1, o2, o4, o6 (o6's gifts were returned)
    assert overall_without["items_per_basket"] == pytest.approx(1.0)
    assert overall_without["average_order_value"] == pytest.approx((50 + 60 + 40 + 45) / 4)
    assert facts.loc[("loyal", True), "baskets"] == 2
    assert ("loyal", False) not in facts.index
    assert facts.loc[("new", False), "baskets"] == 2
    assert list(facts.index.get_level_values(0))[:2] == [ALL_SEGMENTS, ALL_SEGMENTS]


def test_rules_carry_the_revenue_of_the_baskets_holding_both(shop):
    from crm_core.customers.baskets import pair_rules

    rules = pair_rules(basket_matrix(basket_lines(shop, "category", until=AS_OF)))
    pair = rules.set_index(["antecedent", "consequent"])
    assert pair.loc[("snacks", "gifts"), "revenue"] == pytest.approx(290.0)  # o8 + o10
    assert pair.loc[("gifts", "baby"), "revenue"] == pytest.approx(140.0)
    assert pair.loc[("formula", "baby"), "revenue"] == pytest.approx(300.0)


def test_a_campaign_from_a_cross_sell_list_measures_buying_b_and_basket_size(store):
    """40 recent nut buyers who never bought the gift box get a list with a 25% holdout;
    after the send, chosen treated and control customers buy the gift box, nuts alone or
    both, inside and outside the 7-day window: the figures are counted by hand."""
    from crm_core.outreach.audiences import export_audience
    from crm_core.outreach.campaigns import create_campaign_from_export
    from crm_core.outreach.campaigns.cross_sell import cross_sell_report, cross_sell_target
    from crm_core.outreach.experiments import two_proportion_test, welch_test
    from crm_core.outreach.policy import ContactPolicy
    from tests.support.actors import ANALYST

    people = [f"p{n:02d}" for n in range(40)]
    before = [
        (f"b{n:02d}", c, "2026-06-20 10:00", "paid", 50.0, [("N1", 1)])
        for n, c in enumerate(people)
    ]
    _load_orders(store, people, before)
    facts = load_audience_facts(store, AS_OF, None, preset("rfm11"))
    audience = Audience(
        item_level="sku", bought_items=("N1",), bought_within_days=30, not_bought_items=("G1",)
    )
    exported, _ = export_audience(
        store, facts, audience, channel=None, policy=ContactPolicy(), actor=ANALYST,
        columns=["customer_id"], holdout_share=0.25, holdout_seed=3,
    )  # fmt: skip
    started = dt.datetime(2026, 7, 1, 9, 0)
    create_campaign_from_export(
        store, exported.export_id, campaign_id="XS", name="Gift box for nut buyers",
        started_at=started, channel="sms", actor=ANALYST,
    )  # fmt: skip
    with store.connect() as conn:
        touches = pd.read_sql(
            "SELECT customer_id, is_control FROM campaign_touches WHERE campaign_id = 'XS'", conn
        )
    control = sorted(touches.loc[touches["is_control"].astype(bool), "customer_id"])
    treated = sorted(touches.loc[~touches["is_control"].astype(bool), "customer_id"])
    assert len(control) == 10 and len(treated) == 30
    both, nuts, soon = [("N1", 1), ("G1", 1)], [("N1", 2)], "2026-07-04 12:00"
    after = [
        *[(f"t{n}", c, "2026-07-03 12:00", "paid", 120.0, both) for n, c in enumerate(treated[:9])],
        *[(f"u{n}", c, soon, "paid", 50.0, nuts) for n, c in enumerate(treated[9:15])],
        ("late", treated[15], "2026-07-08 09:00", "paid", 90.0, [("G1", 1)]),  # window ended
        ("cx", treated[16], "2026-07-02 09:00", "cancelled", 90.0, [("G1", 1)]),
        ("c1", control[0], "2026-07-02 12:00", "paid", 90.0, [("G1", 1)]),
        ("c2", control[1], "2026-07-05 12:00", "paid", 50.0, [("N1", 1)]),
    ]  # fmt: skip
    _load_orders(store, [], after)
    target = cross_sell_target(store, {"export_id": exported.export_id})
    assert (target.level, target.items, target.rule) == ("sku", ("G1",), "not_bought")
    report = cross_sell_report(store, "XS", dt.date(2026, 7, 31), target)
    arms = report.arms.set_index("arm")
    assert arms.loc["A", ["recipients", "bought_target", "orders"]].tolist() == [30, 9, 15]
    assert arms.loc["A", "items_per_basket"] == pytest.approx((9 * 2 + 6 * 1) / 15)
    assert arms.loc["control", ["recipients", "bought_target", "orders"]].tolist() == [10, 1, 2]
    assert arms.loc["control", "target_rate"] == pytest.approx(0.1)
    expected = two_proportion_test(9, 30, 1, 10)
    assert report.target_uplift.difference == pytest.approx(0.2)
    assert report.target_uplift.p_value == pytest.approx(expected.p_value)
    sizes = welch_test([2.0] * 9 + [1.0] * 6, [1.0, 1.0])
    assert report.basket_size.difference == pytest.approx(sizes.difference)
    assert cross_sell_target(store, {"export_id": None}) is None


def _load_orders(engine, customers: list[str], orders: list) -> None:
    frame = pd.DataFrame(
        [(o, c, pd.Timestamp(t), s, a) for o, c, t, s, a, _ in orders],
        columns=["order_id", "customer_id", "ordered_at", "status", "amount"],
    )
    lines = pd.DataFrame(
        [
            (o, n, sku, SKUS[sku][1], SKUS[sku][0], float(q), 10.0, 10.0 * q)
            for o, _c, _t, _s, _a, items in orders
            for n, (sku, q) in enumerate(items, start=1)
        ],
        columns=[
            "order_id", "line_no", "sku", "description", "category", "quantity",
            "unit_price", "amount",
        ],
    )  # fmt: skip
    with engine.begin() as conn:
        if customers:
            bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": customers}))
        bulk_insert(conn, models.orders, frame)
        bulk_insert(conn, models.order_lines, lines)


def test_category_rules_are_kept_per_data_version_and_a_few_customers_score_alike(shop):
    from crm_core.customers.baskets import (
        RULE_DAYS,
        RULES_KEY,
        PurchaseHistory,
        pair_rules,
        stored_category_rules,
    )
    from crm_core.store import bump_data_version
    from crm_core.store.settings import read_setting

    since = AS_OF - dt.timedelta(days=RULE_DAYS - 1)
    fresh = pair_rules(
        basket_matrix(basket_lines(shop, "category", since, AS_OF)[["order_id", "item"]])
    )
    first = stored_category_rules(shop, AS_OF)
    pd.testing.assert_frame_equal(first, fresh, check_dtype=False)
    assert len(read_setting(shop, RULES_KEY)) == 1
    pd.testing.assert_frame_equal(stored_category_rules(shop, AS_OF), first)  # read back
    assert len(read_setting(shop, RULES_KEY)) == 1
    _load_orders(
        shop, ["c20"], [("o20", "c20", "2026-06-29 10:00", "paid", 80.0, [("F1", 1), ("G1", 1)])]
    )
    with shop.begin() as conn:
        bump_data_version(conn)
    changed = stored_category_rules(shop, AS_OF)
    assert ("formula", "gifts") in set(
        zip(changed["antecedent"], changed["consequent"], strict=True)
    )
    assert len(read_setting(shop, RULES_KEY)) == 2

    history = PurchaseHistory(shop, AS_OF)
    everyone = history.next_best()
    few = history.next_best_of(["c1", "c8", "c9"])
    expected = everyone[everyone["customer_id"].isin(["c1", "c8", "c9"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(few.reset_index(drop=True), expected)
