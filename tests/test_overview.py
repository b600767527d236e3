"""Overview KPIs and monthly charts checked against values computed by hand on a tiny shop.

The shop (as_of 2024-06-30, 30-day periods):
  current period  C = 2024-06-01 .. 2024-06-30   (90-day active window 2024-04-02 .. 06-30)
  previous period P = 2024-05-02 .. 2024-05-31   (90-day active window 2024-03-03 .. 05-31)
  new-customer cohorts (first paid day): C: 2024-05-02 .. 05-31, P: 2024-04-02 .. 05-01
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from crm_core.customers import overview
from crm_core.customers.overview import (
    KPI_UNITS,
    cohort_retention,
    has_nps_responses,
    kpis,
    month_number,
    month_start,
    monthly_revenue,
    new_vs_returning_by_month,
    periods,
)
from crm_core.errors import InputError
from crm_core.figures.overview import (
    CohortLabels,
    NewReturningLabels,
    RevenueLabels,
    cohort_heatmap_figure,
    new_vs_returning_figure,
    revenue_by_month_figure,
)
from crm_core.store import bulk_insert, models

AS_OF = dt.date(2024, 6, 30)

CUSTOMERS = [
    # customer_id, signup_at, merged_into
    ("c01", "2023-01-10 09:00", None),
    ("c02", "2024-05-05 09:00", None),
    ("c03", "2024-05-12 09:00", None),
    ("c04", None, None),  # no signup date: known (with an unpaid order on 2024-04-20)
    ("c05", "2024-06-15 09:00", None),  # signed up in C, never ordered
    ("c06", None, None),  # no signup date, no order: known, a prospect
    ("c07", "2023-05-01 09:00", "c01"),  # merged into c01: never counted
    ("c08", "2023-06-01 09:00", None),
    ("c09", "2024-04-01 09:00", None),
    ("c10", "2024-04-20 09:00", None),
    ("c11", "2022-12-01 09:00", None),
    ("c12", "2024-06-28 09:00", None),
    ("c13", "2023-03-01 09:00", None),
    ("c14", "2023-09-09 09:00", None),
    ("c15", None, None),  # no signup date, first order after as_of: known, a prospect
    ("c16", "2024-04-03 09:00", None),
]

ORDERS = [
    # order_id, customer_id, ordered_at, amount, status, refund_of
    ("o01", "c01", "2023-02-01 10:00", 100, "paid", None),
    ("o02", "c01", "2024-06-10 12:00", 200, "paid", None),
    ("o03", "c02", "2024-05-10 09:00", 150, "paid", None),
    ("o04", "c02", "2024-06-09 23:00", 50, "paid", None),  # first paid day + 30: in time
    ("o05", "c03", "2024-05-15 14:00", 80, "paid", None),
    ("o06", "c03", "2024-06-15 08:00", 120, "paid", None),  # first paid day + 31: too late
    ("o07", "c04", "2024-04-20 10:00", 60, "unpaid", None),
    ("o08", "c04", "2024-06-05 10:00", 200, "cancelled", None),
    ("o09", "c08", "2024-03-10 10:00", 300, "paid", None),
    ("o10", "c08", "2024-05-20 10:00", 120, "paid", None),
    ("o11", "c08", "2024-06-03 10:00", 120, "refunded", "o10"),
    ("o12", "c09", "2024-04-10 10:00", 60, "paid", None),
    ("o13", "c09", "2024-05-09 10:00", 40, "paid", None),
    ("o14", "c09", "2024-05-15 10:00", 40, "refunded", "o13"),
    ("o15", "c10", "2024-04-25 10:00", 90, "paid", None),
    ("o16", "c10", "2024-05-01 10:00", 90, "unpaid", None),
    ("o17", "c11", "2023-12-24 10:00", 500, "paid", None),
    ("o18", "c11", "2024-05-31 23:30", 250, "paid", None),  # last minutes of P
    ("o19", "c11", "2024-06-01 00:00", 100, "paid", None),  # first instant of C
    ("o20", "c12", "2024-06-29 10:00", 70, "paid", None),
    ("o21", "c12", "2024-06-29 18:00", 30, "paid", None),
    ("o22", "c13", "2023-03-05 10:00", 40, "paid", None),
    ("o23", "c13", "2023-08-01 10:00", 60, "paid", None),
    ("o24", "c13", "2024-04-05 10:00", 80, "paid", None),
    ("o25", "c14", "2023-09-10 10:00", 45, "paid", None),
    ("o26", "c01", "2024-07-01 00:00", 999, "paid", None),  # after as_of: ignored
    ("o27", "c15", "2024-07-02 10:00", 10, "paid", None),  # after as_of: ignored
    ("o28", "c13", "2024-05-02 00:00", 35, "paid", None),  # first instant of P
    ("o29", "c14", "2024-06-20 10:00", 20, "refunded", "o25"),
    ("o30", "c08", "2024-06-25 10:00", 65, "paid", None),
    ("o31", "c16", "2024-04-03 10:00", 25, "paid", None),
    ("o32", "c16", "2024-04-03 15:00", 25, "paid", None),  # same-day repurchase
]

SURVEYS = [
    # response_id, customer_id, responded_at, nps
    ("s01", "c01", "2024-06-11 10:00", 10),
    ("s02", "c01", "2024-06-20 10:00", 6),  # c01's last answer in C: detractor
    ("s03", "c02", "2024-06-12 10:00", 9),
    ("s04", "c08", "2024-06-04 10:00", 3),
    ("s05", "c11", "2024-06-02 10:00", 8),
    ("s06", "c12", "2024-06-30 10:00", None),  # CSAT only: no NPS answer
    ("s07", "c09", "2024-05-10 10:00", 10),
    ("s08", "c11", "2024-05-20 10:00", 9),
    ("s09", "c03", "2024-05-20 10:00", 7),
    ("s10", "c01", "2024-05-01 10:00", 0),  # before P: ignored
    ("s11", "c08", "2024-05-31 23:59", 5),
]


def _load(engine, surveys=True) -> None:
    customers = pd.DataFrame(CUSTOMERS, columns=["customer_id", "signup_at", "merged_into"])
    customers["signup_at"] = pd.to_datetime(customers["signup_at"])
    orders = pd.DataFrame(
        ORDERS,
        columns=["order_id", "customer_id", "ordered_at", "amount", "status", "refund_of"],
    )
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    orders["amount"] = orders["amount"].astype(float)
    responses = pd.DataFrame(SURVEYS, columns=["response_id", "customer_id", "responded_at", "nps"])
    responses["responded_at"] = pd.to_datetime(responses["responded_at"])
    responses["nps"] = responses["nps"].astype("Int64")
    with engine.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, orders)
        if surveys:
            bulk_insert(conn, models.survey_responses, responses)


@pytest.fixture
def shop(store):
    _load(store)
    return store


def test_periods_cover_inclusive_days():
    current, previous = periods(AS_OF, 30)
    assert (current.first_day, current.last_day) == (dt.date(2024, 6, 1), AS_OF)
    assert (previous.first_day, previous.last_day) == (dt.date(2024, 5, 2), dt.date(2024, 5, 31))
    assert current.days == previous.days == 30
    assert current.ends_before == dt.datetime(2024, 7, 1)


@pytest.mark.parametrize("bad", [0, -5, 100_000])
def test_period_days_out_of_range_is_an_input_error(bad):
    with pytest.raises(InputError) as raised:
        periods(AS_OF, bad)
    assert str(bad) in raised.value.message("en")


def test_kpis_match_hand_computed_values(shop):
    frame = kpis(shop, AS_OF, 30).set_index("kpi")
    assert list(frame.index) == list(KPI_UNITS)
    expected = {
        # customers known at the end, as the RFM explorer counts them (not merged; no
        # signup date, a signup on/before the end, or a paid order before it):
        # C: c01 c02 c03 c04 c05 c06 c08 c09 c10 c11 c12 c13 c14 c15 c16 = 15 (not c07)
        # P: the same without c05 (signup 06-15) and c12 (signup 06-28) = 13
        "customers": (15, 13),
        # paid order in 04-02..06-30: c01 c02 c03 c08 c09 c10 c11 c12 c13(04-05) c16(04-03)=10
        # paid order in 03-03..05-31: c02 c03 c08(03-10) c09 c10 c11(05-31 23:30) c13 c16 = 8
        "active_customers": (10, 8),
        # C paid: o02 o04 o06 o19 o20 o21 o30 = 7 (o08 cancelled, o26 after as_of)
        # P paid: o03 o05 o10 o13 o18 o28 = 6 (o16 unpaid)
        "orders": (7, 6),
        # C: paid 200+50+120+100+70+30+65 = 635, refunds o11 120 + o29 20 = 140 -> 495
        # P: paid 150+80+120+40+250+35 = 675, refunds o14 40 -> 635
        "net_revenue": (495.0, 635.0),
        # C: 635 / 7; P: 675 / 6 = 112.5
        "average_order_value": (635 / 7, 112.5),
        # paid orders up to C end: c01 2, c02 2, c03 2, c08 3, c09 2, c10 1, c11 3,
        #   c12 2 (same day), c13 4, c14 1, c16 2 -> 9 repeaters of 11 buyers
        # up to P end: c01 1, c02 1, c03 1, c08 2, c09 2, c10 1, c11 2, c13 4, c14 1,
        #   c16 2 -> 5 repeaters of 10 buyers
        "repeat_purchase_rate": (9 / 11, 5 / 10),
        # C cohort (first paid 05-02..05-31): c02 (05-10, again 06-09 = day 30: yes),
        #   c03 (05-15, again 06-15 = day 31: no) -> 1 / 2
        # P cohort (first paid 04-02..05-01): c09 (04-10, again 05-09: yes), c10 (04-25,
        #   only an unpaid order after: no), c16 (04-03, again the same day: yes) -> 2 / 3
        "new_customer_repurchase_30d": (1 / 2, 2 / 3),
        # C, last answer per customer: c01 6 (det), c02 9 (pro), c08 3 (det), c11 8
        #   -> 100 * (1 - 2) / 4 = -25
        # P: c09 10 (pro), c11 9 (pro), c03 7, c08 5 (det); s10 is 05-01 -> 100*(2-1)/4 = 25
        "nps": (-25.0, 25.0),
    }
    for kpi, (current, previous) in expected.items():
        row = frame.loc[kpi]
        assert row["current"] == pytest.approx(current), kpi
        assert row["previous"] == pytest.approx(previous), kpi
        assert row["change"] == pytest.approx(current - previous), kpi
        assert row["relative_change"] == pytest.approx((current - previous) / abs(previous)), kpi
    assert frame.loc["net_revenue", "unit"] == "money"
    assert frame.loc["repeat_purchase_rate", "unit"] == "share"


def test_kpis_over_a_year_count_orders_by_hand(shop):
    frame = kpis(shop, AS_OF, 365).set_index("kpi")
    # current 2023-07-02..2024-06-30 paid: o02 o03 o04 o05 o06 o09
    # o10 o12 o13 o15 o17 o18 o19 o20 o21 o23 o24 o25 o28 o30 o31 o32 = 22
    # previous 2022-07-03..2023-07-01 paid: o01 (2023-02-01), o22 (2023-03-05) = 2
    assert frame.loc["orders", "current"] == 22
    assert frame.loc["orders", "previous"] == 2
    # previous net revenue: 100 + 40 = 140, no refunds in that year
    assert frame.loc["net_revenue", "previous"] == pytest.approx(140.0)


def test_kpis_without_surveys_leave_nps_empty(store):
    _load(store, surveys=False)
    frame = kpis(store, AS_OF, 30).set_index("kpi")
    assert math.isnan(frame.loc["nps", "current"])
    assert math.isnan(frame.loc["nps", "relative_change"])
    assert not has_nps_responses(store)


def test_has_nps_responses(shop):
    assert has_nps_responses(shop)


def test_kpis_of_an_empty_store(store):
    frame = kpis(store, AS_OF, 90).set_index("kpi")
    assert frame.loc["customers", "current"] == 0
    assert frame.loc["orders", "previous"] == 0
    assert frame.loc["net_revenue", "current"] == 0
    for kpi in ("average_order_value", "repeat_purchase_rate", "nps", "orders"):
        assert math.isnan(frame.loc[kpi, "relative_change"]), kpi
    assert math.isnan(frame.loc["average_order_value", "current"])


def test_monthly_revenue_by_hand(shop):
    frame = monthly_revenue(shop, AS_OF, months=4)
    assert list(frame["month"]) == list(
        pd.to_datetime(["2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01"])
    )
    # March: o09 300. April: o12 60 + o15 90 + o24 80 + o31 25 + o32 25 = 280.
    # May: o03 150 + o05 80 + o10 120 + o13 40 + o18 250 + o28 35 = 675, refund o14 40.
    # June: 635 paid in 7 orders (see the KPI test), refunds 120 + 20 = 140.
    assert list(frame["paid_revenue"]) == pytest.approx([300, 280, 675, 635])
    assert list(frame["refunds"]) == pytest.approx([0, 0, 40, 140])
    assert list(frame["net_revenue"]) == pytest.approx([300, 280, 635, 495])
    assert list(frame["paid_orders"]) == [1, 5, 6, 7]
    assert not frame["is_partial"].any()  # 06-30 is the last day of June


def test_monthly_revenue_marks_the_partial_month_and_cuts_at_as_of(shop):
    frame = monthly_revenue(shop, dt.date(2024, 6, 20), months=2)
    # June up to 06-20: o02 200 + o04 50 + o06 120 + o19 100 = 470; refunds o11 120 + o29 20
    assert list(frame["paid_revenue"]) == pytest.approx([675, 470])
    assert list(frame["refunds"]) == pytest.approx([40, 140])
    assert list(frame["is_partial"]) == [False, True]


def test_new_vs_returning_by_hand(shop):
    frame = new_vs_returning_by_month(shop, AS_OF, months=4)
    # March: c08 (first paid 03-10: new).
    # April: c09 c10 c16 new, c13 returning. May: c02 c03 new; c08 c09 c11 c13 returning.
    # June: c12 new; c01 c02 c03 c08 c11 returning.
    assert list(frame["active_customers"]) == [1, 4, 6, 6]
    assert list(frame["new_customers"]) == [1, 3, 2, 1]
    assert list(frame["returning_customers"]) == [0, 1, 4, 5]


def test_cohort_retention_by_hand(shop):
    frame = cohort_retention(shop, AS_OF, months=4)
    cells = {
        (row.cohort_month.strftime("%Y-%m"), row.months_since): (
            row.cohort_size,
            row.active_customers,
        )
        for row in frame.itertuples()
    }
    assert cells == {
        # March cohort {c08}: April none, May o10, June o30
        ("2024-03", 0): (1, 1),
        ("2024-03", 1): (1, 0),
        ("2024-03", 2): (1, 1),
        ("2024-03", 3): (1, 1),
        # April cohort {c09, c10, c16}: May c09 (o13); June none (o14 is a refund)
        ("2024-04", 0): (3, 3),
        ("2024-04", 1): (3, 1),
        ("2024-04", 2): (3, 0),
        # May cohort {c02, c03}: both again in June
        ("2024-05", 0): (2, 2),
        ("2024-05", 1): (2, 2),
        # June cohort {c12}
        ("2024-06", 0): (1, 1),
    }
    april_may = frame.loc[(frame["cohort_month"] == "2024-04-01") & (frame["months_since"] == 1)]
    assert april_may["retention"].iloc[0] == pytest.approx(1 / 3)


def test_monthly_frames_of_an_empty_store(store):
    assert monthly_revenue(store, AS_OF, months=3)["net_revenue"].tolist() == [0, 0, 0]
    assert new_vs_returning_by_month(store, AS_OF, months=2)["active_customers"].tolist() == [0, 0]
    assert cohort_retention(store, AS_OF, months=6).empty


def test_month_numbers_round_trip():
    assert month_start(month_number(dt.date(2024, 12, 31))) == dt.date(2024, 12, 1)
    assert month_number(dt.date(2025, 1, 1)) - month_number(dt.date(2024, 12, 1)) == 1


def test_figures_carry_the_given_labels_and_values(shop):
    labels = RevenueLabels("月份", "金额", "净销售额", "本月至今", "退款")
    revenue = revenue_by_month_figure(monthly_revenue(shop, dt.date(2024, 6, 20), 3), labels)
    bars = {trace.name: trace for trace in revenue.data if trace.type == "bar"}
    assert list(bars["净销售额"].x) == ["2024-04", "2024-05"]
    assert list(bars["净销售额"].y) == pytest.approx([280, 635])
    assert list(bars["本月至今"].x) == ["2024-06"]  # the partial month in its own trace
    assert revenue.layout.xaxis.title.text == "月份"

    split = new_vs_returning_figure(
        new_vs_returning_by_month(shop, AS_OF, 4), NewReturningLabels("M", "C", "新客", "老客")
    )
    assert [trace.name for trace in split.data] == ["新客", "老客"]
    assert list(split.data[0].y) == [1, 3, 2, 1]

    heatmap = cohort_heatmap_figure(
        cohort_retention(shop, AS_OF, 4), CohortLabels("首月", "月数", "留存", "人数")
    )
    cells = heatmap.data[0]
    assert list(cells.y) == ["2024-03 (1)", "2024-04 (3)", "2024-05 (2)", "2024-06 (1)"]
    assert cells.z[1][1] == pytest.approx(1 / 3)  # April cohort, one month later
    assert math.isnan(cells.z[3][1])  # July is not observable yet
    assert cells.zmax == pytest.approx(1.0)  # highest later retention: May cohort in June


def test_kpis_come_from_one_state_of_the_store(shop, monkeypatch):
    customer_history = overview._customer_history

    def history_then_a_late_order(conn, current, previous):
        part = customer_history(conn, current, previous)
        late = pd.DataFrame(
            {
                "order_id": ["late"],
                "customer_id": ["c01"],
                "ordered_at": pd.Timestamp("2024-06-29 10:00"),
                "amount": 10.0,
                "status": "paid",
            }
        )
        with shop.begin() as other:
            bulk_insert(other, models.orders, late)
        return part

    monkeypatch.setattr(overview, "_customer_history", history_then_a_late_order)
    assert kpis(shop, AS_OF, 30).set_index("kpi").loc["orders", "current"] == 7
    monkeypatch.undo()
    assert kpis(shop, AS_OF, 30).set_index("kpi").loc["orders", "current"] == 8


@pytest.mark.parametrize("as_of", [AS_OF, dt.date(2024, 5, 31), dt.date(2024, 6, 20)])
def test_overview_and_rfm_explorer_count_the_same_customers(shop, as_of):
    from crm_core.customers.features import customer_features
    from crm_core.customers.rfm import prepare_facts
    from crm_core.customers.segments import population_summary

    frame = kpis(shop, as_of, 30).set_index("kpi")
    facts = prepare_facts(customer_features(shop, as_of))
    assert population_summary(facts)["customers"] == frame.loc["customers", "current"]
