"""The generated demo shop: deterministic, consistent, shaped like a real shop, loadable."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from crm_core.commands import main
from crm_core.demo import (
    CITIES,
    LOAD_ORDER,
    TABLES,
    StoreNotEmptyError,
    generate_shop,
    load_demo_shop,
    load_shop,
    store_is_empty,
)
from crm_core.store import data_version, models, wait_for_background_builds

SMALL = 2_000
END = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def shop() -> dict[str, pd.DataFrame]:
    return generate_shop(SMALL, seed=42, end_date=END)


@pytest.fixture(scope="module")
def bigger_shop() -> dict[str, pd.DataFrame]:
    """Large enough for rates (campaign effect, complaint share) to show."""
    return generate_shop(20_000, seed=42, end_date=END)


def test_same_seed_gives_identical_frames(shop):
    again = generate_shop(SMALL, seed=42, end_date=END)
    assert list(again) == list(shop)
    for name, frame in shop.items():
        assert_frame_equal(again[name], frame, obj=name)


def test_a_different_seed_gives_a_different_shop(shop):
    other = generate_shop(SMALL, seed=43, end_date=END)
    assert (other["customers"]["phone"] != shop["customers"]["phone"]).mean() > 0.99
    assert len(other["orders"]) != len(shop["orders"])


def test_frames_carry_the_model_columns(shop):
    assert list(shop) == list(LOAD_ORDER)
    for name, frame in shop.items():
        expected = [c.name for c in TABLES[name].columns if c.name != "import_batch_id"]
        assert list(frame.columns) == expected, name
        for column in TABLES[name].columns:
            if not column.nullable and column.name in frame:
                assert frame[column.name].notna().all(), f"{name}.{column.name} has gaps"


def test_ids_are_readable_and_unique(shop):
    assert shop["customers"]["customer_id"].iloc[0] == "C0000001"
    assert shop["customers"]["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert shop["orders"]["order_id"].str.fullmatch(r"O\d{9}").all()
    for name, key in [
        ("customers", ["customer_id"]),
        ("orders", ["order_id"]),
        ("events", ["event_id"]),
        ("tickets", ["ticket_id"]),
        ("campaigns", ["campaign_id"]),
        ("campaign_touches", ["campaign_id", "customer_id"]),
        ("survey_responses", ["response_id"]),
    ]:
        assert not shop[name].duplicated(key).any(), name


def test_every_reference_points_at_an_existing_row(shop):
    customer_ids = set(shop["customers"]["customer_id"])
    order_ids = set(shop["orders"]["order_id"])
    for name in ("orders", "events", "tickets", "campaign_touches", "survey_responses"):
        assert set(shop[name]["customer_id"]) <= customer_ids, name
    assert set(shop["orders"]["refund_of"].dropna()) <= order_ids
    assert set(shop["tickets"]["order_id"].dropna()) <= order_ids
    campaign_ids = set(shop["campaigns"]["campaign_id"])
    assert set(shop["campaign_touches"]["campaign_id"]) <= campaign_ids
    assert set(shop["orders"]["campaign_id"].dropna()) <= campaign_ids
    orders = shop["orders"].set_index("order_id")
    tickets = shop["tickets"].dropna(subset=["order_id"])
    assert (
        orders.loc[tickets["order_id"], "customer_id"].to_numpy() == tickets["customer_id"]
    ).all()


def test_customers_look_like_chinese_shoppers(shop):
    customers = shop["customers"]
    assert customers["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert not customers["phone"].duplicated().any()
    emails = customers["email"].dropna()
    assert 0.2 < len(emails) / len(customers) < 0.6
    assert emails.str.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.com").all()
    assert not emails.duplicated().any()
    assert customers["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").all()
    known_cities = {(province, city) for province, city, _ in CITIES}
    assert set(zip(customers["province"], customers["city"], strict=True)) <= known_cities
    assert customers["province"].nunique() > 20
    assert set(customers["channel"]) == set(models.CHANNELS)
    assert set(customers["gender"].dropna()) == {"F", "M"}
    start = pd.Timestamp(END) - pd.DateOffset(years=3)
    assert customers["signup_at"].min() >= start
    assert customers["signup_at"].max() < pd.Timestamp(END) + pd.Timedelta(days=1)
    ages = (pd.Timestamp(END) - customers["birthday"].dropna()).dt.days / 365.25
    assert ages.between(17.9, 73).all()
    for channel in ("sms", "email", "wecom"):
        assert 0.0 < customers[f"opt_out_{channel}"].mean() < 0.1


def test_most_buyers_buy_once_and_a_few_very_often(shop):
    orders = shop["orders"]
    purchases = orders[orders["status"] != "refunded"]
    assert 9.0 < len(purchases) / SMALL < 11.0
    paid_per_customer = orders[orders["status"] == "paid"].groupby("customer_id").size()
    single = (paid_per_customer == 1).mean()
    assert 0.45 <= single <= 0.65
    assert paid_per_customer.quantile(0.99) >= 50
    assert len(paid_per_customer) < SMALL  # some customers never buy


def test_orders_happen_after_signup_and_within_the_history(shop):
    orders = shop["orders"].merge(shop["customers"][["customer_id", "signup_at"]])
    assert (orders["ordered_at"] >= orders["signup_at"]).all()
    assert orders["ordered_at"].max() < pd.Timestamp(END) + pd.Timedelta(days=1)
    paid = orders["status"] == "paid"
    assert orders.loc[paid, "paid_at"].notna().all()
    assert (orders.loc[paid, "paid_at"] >= orders.loc[paid, "ordered_at"]).all()
    assert orders.loc[~paid, "paid_at"].isna().all()


def test_statuses_money_and_categories(shop):
    orders = shop["orders"]
    assert set(orders["status"]) == set(models.ORDER_STATUSES)
    assert orders["status"].value_counts(normalize=True)["paid"] > 0.8
    assert set(orders["channel"]) == set(models.CHANNELS)
    assert (orders["amount"] > 0).all() and (orders["discount"] >= 0).all()
    cents = orders["amount"] * 100
    assert np.allclose(cents, cents.round(), atol=1e-6)
    assert 0.15 < (orders["discount"] > 0).mean() < 0.6
    assert orders["category"].nunique() >= 8


def test_refunds_reverse_earlier_paid_orders_and_never_exceed_them(shop):
    orders = shop["orders"]
    refunds = orders[orders["status"] == "refunded"]
    assert len(refunds) > 0
    assert refunds["refund_of"].notna().all()
    assert orders.loc[orders["status"] != "refunded", "refund_of"].isna().all()
    original = orders.set_index("order_id").loc[refunds["refund_of"]]
    assert (original["status"] == "paid").all()
    assert (original["customer_id"].to_numpy() == refunds["customer_id"].to_numpy()).all()
    assert (original["ordered_at"].to_numpy() < refunds["ordered_at"].to_numpy()).all()
    refunded_total = refunds.groupby("refund_of")["amount"].sum()
    paid_amount = orders.set_index("order_id").loc[refunded_total.index, "amount"]
    assert (refunded_total <= paid_amount + 1e-9).all()
    full = np.isclose(refunded_total.to_numpy(), paid_amount.to_numpy())
    assert 0.0 < full.mean() < 1.0  # both full and partial refunds


def test_touches_hold_out_a_control_group_that_is_never_contacted(shop):
    touches = shop["campaign_touches"]
    control = touches[touches["is_control"]]
    treated = touches[~touches["is_control"]]
    assert len(control) > 0 and len(treated) > len(control)
    assert (control["variant"] == "control").all()
    assert control[["sent_at", "opened_at", "clicked_at"]].isna().all().all()
    assert set(treated["variant"]) == {"A", "B"}
    assert treated["sent_at"].notna().all()
    opened = treated.dropna(subset=["opened_at"])
    assert (opened["opened_at"] >= opened["sent_at"]).all()
    both = treated.dropna(subset=["opened_at", "clicked_at"])
    assert (both["clicked_at"] >= both["opened_at"]).all()
    sms = touches["campaign_id"].isin(
        shop["campaigns"].loc[shop["campaigns"]["channel"] == "sms", "campaign_id"]
    )
    assert touches.loc[sms, "opened_at"].isna().all()  # SMS opens are not tracked


def test_campaigns_have_costs_and_contactable_audiences(shop):
    campaigns = shop["campaigns"]
    assert set(campaigns["channel"]) == set(models.CONTACT_CHANNELS)
    assert (campaigns["ended_at"] > campaigns["started_at"]).all()
    assert (campaigns["cost"] > 0).all() and (campaigns["cost_per_contact"] > 0).all()
    touches = shop["campaign_touches"].merge(campaigns[["campaign_id", "channel"]])
    touches = touches.merge(shop["customers"], on="customer_id", suffixes=("", "_customer"))
    for channel in models.CONTACT_CHANNELS:
        assert not touches.loc[touches["channel"] == channel, f"opt_out_{channel}"].any()
    assert touches.loc[touches["channel"] == "email", "email"].notna().all()
    sent = touches[touches["sent_at"].notna()]
    assert (sent["signup_at"] < sent["sent_at"]).all()


def test_treated_customers_buy_more_during_campaigns_than_the_control_group(bigger_shop):
    touches = bigger_shop["campaign_touches"]
    rate = touches.groupby("is_control")["responded"].mean()
    assert rate[False] > rate[True] + 0.01
    attributed = bigger_shop["orders"]["campaign_id"].notna()
    assert attributed.sum() > 0
    assert (bigger_shop["orders"].loc[attributed, "status"] == "paid").all()


def test_tickets_have_sane_times_ranges_and_complaints(bigger_shop):
    tickets = bigger_shop["tickets"]
    assert set(tickets["ticket_type"]) == set(models.TICKET_TYPES)
    assert set(tickets["priority"]) == set(models.TICKET_PRIORITIES)
    answered = tickets.dropna(subset=["first_response_at"])
    assert (answered["first_response_at"] >= answered["created_at"]).all()
    resolved = tickets.dropna(subset=["resolved_at"])
    assert (resolved["resolved_at"] >= resolved["first_response_at"]).all()
    assert 0.0 < tickets["resolved_at"].isna().mean() < 0.2
    hours = (answered["first_response_at"] - answered["created_at"]).dt.total_seconds() / 3600
    assert 0.5 < hours.median() < 12 and (hours > 24).any()
    csat = tickets["csat"].dropna()
    assert csat.between(1, 5).all() and set(csat) == {1, 2, 3, 4, 5}
    assert 0.1 < tickets["csat"].isna().mean() < 0.7
    assert tickets.loc[tickets["resolved_at"].isna(), "csat"].isna().all()
    by_csat = tickets.groupby(tickets["csat"] <= 2)["is_complaint"].mean()
    assert by_csat[True] > 2 * by_csat[False]
    by_type = tickets.groupby("ticket_type")["is_complaint"].mean()
    assert by_type["quality"] > by_type["consultation"]


def test_surveys_and_events(bigger_shop):
    surveys = bigger_shop["survey_responses"]
    nps = surveys["nps"]
    assert nps.notna().all() and nps.between(0, 10).all() and nps.nunique() == 11
    score = 100 * ((nps >= 9).mean() - (nps <= 6).mean())
    assert 0 < score < 60
    csat = surveys["csat"].dropna()
    assert csat.between(1, 5).all() and 0 < len(csat) < len(surveys)
    events = bigger_shop["events"]
    assert set(events["event_type"]) == set(models.EVENT_TYPES)
    recent = events["occurred_at"] >= pd.Timestamp(END) - pd.Timedelta(days=90)
    assert recent.mean() > 0.7
    buyers = set(bigger_shop["orders"]["customer_id"])
    assert (~events["customer_id"].isin(buyers)).any()  # browsers who never buy


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_load_writes_every_row_in_one_go(store, shop):
    assert store_is_empty(store)
    before = data_version(store)
    written = load_shop(store, shop)
    assert written == {name: len(frame) for name, frame in shop.items()}
    for name, frame in shop.items():
        assert _count(store, TABLES[name]) == len(frame), name
    assert data_version(store) == before + 1
    assert not store_is_empty(store)
    with store.connect() as conn:
        info = json.loads(
            conn.execute(
                select(models.settings.c.value).where(models.settings.c.key == "demo_shop")
            ).scalar_one()
        )
        first = conn.execute(
            select(models.customers).where(models.customers.c.customer_id == "C0000001")
        ).one()
        revenue = conn.execute(
            select(func.sum(models.orders.c.amount)).where(models.orders.c.status == "paid")
        ).scalar_one()
    assert info["customers"] == SMALL and info["seed"] == 42 and info["end_date"] == "2026-10-31"
    expected = shop["customers"].iloc[0]
    assert first.phone == expected["phone"] and first.name == expected["name"]
    assert first.signup_at == expected["signup_at"].to_pydatetime()
    if pd.notna(expected["birthday"]):
        assert first.birthday == expected["birthday"].date()
    paid = shop["orders"].loc[shop["orders"]["status"] == "paid", "amount"].sum()
    assert float(revenue) == pytest.approx(paid, abs=0.005)
    # The bulk load dropped and rebuilt the secondary indexes (PostgreSQL: after the commit).
    wait_for_background_builds()
    index_names = {ix["name"] for ix in inspect(store).get_indexes("orders")}
    assert {ix.name for ix in models.orders.indexes} <= index_names


def test_refuses_a_store_that_already_holds_data(store, shop):
    load_demo_shop(store, customers=300, seed=1)
    customers_before = _count(store, models.customers)
    with pytest.raises(StoreNotEmptyError) as raised:
        load_shop(store, shop)
    assert "empty" in raised.value.message("en")
    assert raised.value.message("zh-CN") != raised.value.message("en")
    assert _count(store, models.customers) == customers_before == 300


def test_a_failed_load_leaves_the_store_and_its_indexes_as_before(store, shop):
    broken = shop["orders"].head(50).copy()
    broken.loc[10, "customer_id"] = "C9999999"  # no such customer
    with pytest.raises(IntegrityError):
        load_shop(store, {"customers": shop["customers"], "orders": broken})
    assert store_is_empty(store)
    assert data_version(store) == 0
    index_names = {ix["name"] for ix in inspect(store).get_indexes("orders")}
    assert {ix.name for ix in models.orders.indexes} <= index_names
    assert [fk["referred_table"] for fk in inspect(store).get_foreign_keys("orders")] == [
        "customers"
    ]


def test_demo_command_loads_and_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["demo", "--customers", "400", "--seed", "3", "--end-date", "2025-12-31"]) == 0
    out = capsys.readouterr().out
    assert "customers:" in out and "400 rows" in out and "loaded in" in out
    assert main(["demo", "--customers", "400"]) == 2  # the store is no longer empty
    assert "empty" in capsys.readouterr().err


def test_order_lines_add_up_to_their_orders_and_hold_the_cross_sell(bigger_shop):
    from crm_core.customers.baskets import basket_matrix, pair_rules

    orders, lines = bigger_shop["orders"], bigger_shop["order_lines"]
    bought = orders[orders["status"] != "refunded"].set_index("order_id")
    assert set(lines["order_id"]) == set(bought.index)  # refunds have no lines
    per_order = lines.groupby("order_id")["amount"].sum()
    assert np.allclose(per_order, bought.loc[per_order.index, "amount"], atol=0.005)
    assert (lines["amount"] > 0).all() and (lines["quantity"] == 1).all()
    assert lines.groupby("order_id")["line_no"].max().between(1, 4).all()
    assert lines["sku"].str.fullmatch(r"[A-Z]{2}-\d{4}").all()
    assert lines.loc[lines["line_no"] == 1, "category"].tolist() == bought["category"].tolist()
    paid = lines[lines["order_id"].isin(orders.loc[orders["status"] == "paid", "order_id"])]
    rules = pair_rules(
        basket_matrix(paid.rename(columns={"sku": "item"})), min_support=0.0005
    ).set_index(["antecedent", "consequent"])
    assert rules.loc[("BF-0001", "MB-0593"), "lift"] > 3  # the best formula with bottles
    assert rules.loc[("SN-0001", "SN-0591"), "lift"] > 3  # the best nuts with a gift box
    names = lines.drop_duplicates("sku").set_index("sku")["description"]
    assert names["SN-0591"].startswith("坚果礼盒") and names["MB-0593"].startswith("奶瓶")
