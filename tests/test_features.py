"""customer_features: aggregated in SQLite and PostgreSQL, checked on a hand-written
shop (every definition) and on CDNOW against an independent pandas computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from crm_core.customers import features
from crm_core.customers.features import FEATURE_COLUMNS, _match_facts, customer_features
from crm_core.errors import InputError
from crm_core.store import bulk_insert, models, read_arrow
from tests.support.requirements import shared_file

AS_OF = dt.date(2024, 6, 30)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def load_tiny_shop(engine) -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hugo"],
            "name": ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Gina", "Hugo"],
            "phone": ["13812345678", None, None, None, None, None, None, None],
            "province": ["浙江", "上海", None, None, None, None, None, None],
            "birthday": pd.to_datetime(["1990-07-02", None, None, None, None, None, None, None]),
            "signup_at": pd.to_datetime(
                [None, None, None, None, None, None, "2024-07-05 09:00", "2024-07-05 09:00"]
            ),
            "opt_out_sms": [True, False, False, False, False, False, False, False],
            "merged_into": [None, None, None, None, None, "alice", None, None],
        }
    )
    orders = pd.DataFrame(
        [
            # alice: two purchases, a partial refund, one unpaid and one cancelled order
            ("o1", "alice", "2024-01-10 10:00", 100.00, "paid"),
            ("o2", "alice", "2024-06-28 23:59", 50.50, "paid"),
            ("o3", "alice", "2024-06-29 08:00", 20.00, "refunded"),
            ("o4", "alice", "2024-06-29 09:00", 999.00, "unpaid"),
            ("o5", "alice", "2024-06-29 10:00", 888.00, "cancelled"),
            # after the as-of date: ignored
            ("o6", "alice", "2024-07-01 00:00", 70.00, "paid"),
            ("o7", "alice", "2024-07-01 00:00", 10.00, "refunded"),
            # bob: an old purchase (outside a 30-day window) and one on the as-of day
            ("o8", "bob", "2022-03-01 12:00", 300.00, "paid"),
            ("o9", "bob", "2024-06-30 23:59:59", 40.00, "paid"),
            # carol: only before the window; refund bigger than the purchase -> negative
            ("o10", "carol", "2023-01-05 10:00", 30.00, "paid"),
            ("o11", "carol", "2023-02-01 10:00", 45.00, "refunded"),
            # dave: never paid (prospect)
            ("o12", "dave", "2024-05-01 10:00", 60.00, "unpaid"),
            # frank is merged into alice; gina signed up after as_of
            ("o13", "hugo", "2024-06-01 10:00", 15.00, "paid"),
        ],
        columns=["order_id", "customer_id", "ordered_at", "amount", "status"],
    )
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], format="ISO8601")
    tickets = pd.DataFrame(
        [
            ("t1", "alice", "quality", "2024-06-01 10:00", "2024-06-03 10:00", 2, True),
            ("t2", "alice", "logistics", "2024-01-01 10:00", None, None, True),
            ("t3", "alice", "consultation", "2024-06-20 10:00", None, 5, False),
            ("t4", "alice", "quality", "2024-07-02 10:00", None, 1, True),
            ("t5", "bob", "return", "2023-12-01 10:00", None, None, True),
        ],
        columns=[
            "ticket_id",
            "customer_id",
            "ticket_type",
            "created_at",
            "resolved_at",
            "csat",
            "is_complaint",
        ],
    )
    for column in ("created_at", "resolved_at"):
        tickets[column] = pd.to_datetime(tickets[column])
    tickets["csat"] = tickets["csat"].astype("Int64")
    surveys = pd.DataFrame(
        [
            ("s1", "alice", "2024-06-25 10:00", 9, 4),
            ("s2", "alice", "2024-05-01 10:00", 3, None),
            ("s3", "bob", "2024-03-01 10:00", 7, None),
            ("s4", "bob", "2024-07-03 10:00", 0, 1),
        ],
        columns=["response_id", "customer_id", "responded_at", "nps", "csat"],
    )
    surveys["responded_at"] = pd.to_datetime(surveys["responded_at"])
    surveys["csat"] = surveys["csat"].astype("Int64")
    events = pd.DataFrame(
        [
            ("e1", "alice", "browse", "2024-06-01 00:00"),
            ("e2", "alice", "browse", "2024-06-30 22:00"),
            ("e3", "alice", "cart", "2024-06-15 10:00"),
            ("e4", "alice", "browse", "2024-05-31 23:59"),
            ("e5", "alice", "browse", "2024-07-01 00:00"),
            ("e6", "carol", "browse", "2024-06-10 10:00"),
        ],
        columns=["event_id", "customer_id", "event_type", "occurred_at"],
    )
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["k1", "k2"],
            "name": ["summer", "spring"],
            "channel": ["sms", "sms"],
            "started_at": pd.to_datetime(["2024-06-10", "2024-03-01"]),
        }
    )
    touches = pd.DataFrame(
        {
            "campaign_id": ["k1", "k1", "k2"],
            "customer_id": ["alice", "bob", "alice"],
            "is_control": [False, True, False],
            "sent_at": pd.to_datetime(["2024-06-10 09:00", None, "2024-03-01 09:00"]),
        }
    )
    with engine.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, orders)
        bulk_insert(conn, models.tickets, tickets)
        bulk_insert(conn, models.survey_responses, surveys)
        bulk_insert(conn, models.events, events)
        bulk_insert(conn, models.campaigns, campaigns)
        bulk_insert(conn, models.campaign_touches, touches)


def test_every_definition_on_a_tiny_shop(store):
    load_tiny_shop(store)
    facts = customer_features(store, AS_OF)
    assert list(facts.columns) == list(FEATURE_COLUMNS)
    # frank (merged) and gina (signed up after as_of, no purchase) are left out;
    # hugo signed up later but bought before as_of, so he counts
    assert facts["customer_id"].tolist() == ["alice", "bob", "carol", "dave", "erin", "hugo"]
    row = facts.set_index("customer_id")

    alice = row.loc["alice"]
    assert alice["recency_days"] == 2  # last purchase 2024-06-28 23:59
    assert alice["frequency"] == 2
    assert alice["purchase_amount"] == pytest.approx(150.50)
    assert alice["refunds"] == pytest.approx(20.0) and alice["refund_count"] == 1
    assert alice["monetary"] == pytest.approx(130.50)
    assert alice["avg_order_value"] == pytest.approx(75.25)
    assert alice["first_purchase_at"] == ts("2024-01-10 10:00")
    assert alice["last_purchase_at"] == ts("2024-06-28 23:59")
    assert alice["tenure_days"] == (AS_OF - dt.date(2024, 1, 10)).days
    assert alice["spend_12m"] == pytest.approx(150.50) and alice["orders_12m"] == 2
    assert alice["complaints"] == 2 and alice["complaints_90d"] == 1
    assert alice["last_complaint_at"] == ts("2024-06-01 10:00")
    # ratings up to as_of: t1 rated when resolved 06-03 (2), t3 06-20 (5), s1 06-25 (4)
    assert alice["last_csat"] == 4
    assert alice["last_nps"] == 9
    # 30 days ending on the as-of day: 06-01 00:00 and 06-30 22:00 count, 05-31 does not
    assert alice["browse_events_30d"] == 2 and alice["cart_events_30d"] == 1
    assert alice["campaign_touches_30d"] == 1
    assert alice["province"] == "浙江" and alice["phone"] == "13812345678"
    assert bool(alice["opt_out_sms"]) and not bool(alice["opt_out_email"])
    assert alice["birthday"] == ts("1990-07-02")
    assert not alice["is_prospect"]

    bob = row.loc["bob"]
    assert bob["recency_days"] == 0  # bought at 23:59:59 on the as-of day
    assert bob["frequency"] == 2 and bob["monetary"] == pytest.approx(340.0)
    assert bob["spend_12m"] == pytest.approx(40.0) and bob["orders_12m"] == 1
    assert bob["complaints"] == 1 and bob["complaints_90d"] == 0
    assert bob["last_nps"] == 7 and np.isnan(bob["last_csat"])
    assert bob["campaign_touches_30d"] == 0  # control group, never sent

    carol = row.loc["carol"]
    assert carol["frequency"] == 1 and carol["monetary"] == pytest.approx(-15.0)
    assert carol["refund_count"] == 1 and carol["spend_12m"] == 0

    for prospect in ("dave", "erin"):
        assert row.loc[prospect, "frequency"] == 0
        assert row.loc[prospect, "monetary"] == 0
        assert np.isnan(row.loc[prospect, "recency_days"])
        assert pd.isna(row.loc[prospect, "first_purchase_at"])
        assert row.loc[prospect, "is_prospect"]
    assert row.loc["hugo", "recency_days"] == 29


def test_window_limits_purchases_and_refunds_only(store):
    load_tiny_shop(store)
    row = customer_features(store, AS_OF, window_days=30).set_index("customer_id")
    # the window is the 30 days ending on the as-of day: 2024-06-01 .. 2024-06-30
    assert row.loc["bob", "frequency"] == 1
    assert row.loc["bob", "monetary"] == pytest.approx(40.0)
    assert row.loc["bob", "first_purchase_at"] == ts("2022-03-01 12:00")
    assert row.loc["alice", "frequency"] == 1
    assert row.loc["alice", "monetary"] == pytest.approx(30.50)
    assert row.loc["alice", "spend_12m"] == pytest.approx(150.50)
    assert row.loc["hugo", "frequency"] == 1  # 2024-06-01 10:00 is inside
    carol = row.loc["carol"]
    assert carol["frequency"] == 0 and carol["refunds"] == 0 and carol["monetary"] == 0
    assert np.isnan(carol["recency_days"]) and not carol["is_prospect"]


def test_earlier_as_of_sees_only_what_was_known_then(store):
    load_tiny_shop(store)
    row = customer_features(store, dt.date(2024, 1, 31)).set_index("customer_id")
    assert row.loc["alice", "frequency"] == 1 and row.loc["alice", "recency_days"] == 21
    assert row.loc["alice", "complaints"] == 1 and row.loc["alice", "complaints_90d"] == 1
    assert np.isnan(row.loc["alice", "last_nps"])
    assert "hugo" not in row.index


@pytest.mark.parametrize("window_days", [0, -5, 2.5])
def test_bad_window_is_an_input_error(sqlite_store, window_days):
    with pytest.raises(InputError) as error:
        customer_features(sqlite_store, AS_OF, window_days=window_days)
    assert error.value.key == "rfm.error.window_days"


def test_empty_store_gives_an_empty_frame_with_every_column(store):
    facts = customer_features(store, AS_OF)
    assert facts.empty and list(facts.columns) == list(FEATURE_COLUMNS)


# ------------------------------------------------------------------------------ CDNOW

CDNOW_AS_OF = dt.date(1998, 6, 30)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    path = shared_file("cdnow/CDNOW_master.txt")
    frame = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    frame["ordered_at"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


def load_cdnow(engine, cdnow: pd.DataFrame) -> None:
    customers = pd.DataFrame({"customer_id": cdnow["customer_id"].unique()})
    orders = pd.DataFrame(
        {
            "order_id": "cd" + pd.Series(np.arange(len(cdnow))).astype(str),
            "customer_id": cdnow["customer_id"],
            "ordered_at": cdnow["ordered_at"],
            "amount": cdnow["dollar_value"],
            "status": "paid",
        }
    )
    with engine.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, orders)


def expected_rfm(cdnow: pd.DataFrame, as_of: dt.date, window_days: int | None) -> pd.DataFrame:
    """Independent pandas: recency, frequency, monetary per customer."""
    rows = cdnow[cdnow["ordered_at"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    if window_days is not None:
        rows = rows[rows["ordered_at"] >= pd.Timestamp(as_of) - pd.Timedelta(days=window_days - 1)]
    grouped = rows.groupby("customer_id").agg(
        last=("ordered_at", "max"),
        frequency=("ordered_at", "size"),
        monetary=("dollar_value", "sum"),
    )
    everyone = pd.Index(sorted(cdnow["customer_id"].unique()), name="customer_id")
    grouped = grouped.reindex(everyone)
    grouped["recency_days"] = (pd.Timestamp(as_of) - grouped["last"]).dt.days
    grouped["frequency"] = grouped["frequency"].fillna(0).astype(int)
    grouped["monetary"] = grouped["monetary"].fillna(0.0)
    return grouped


@pytest.mark.parametrize("window_days", [None, 365])
def test_cdnow_recency_frequency_monetary_match_pandas(store, cdnow, window_days):
    load_cdnow(store, cdnow)
    facts = customer_features(store, CDNOW_AS_OF, window_days=window_days)
    expected = expected_rfm(cdnow, CDNOW_AS_OF, window_days)
    assert len(facts) == 23_570
    got = facts.set_index("customer_id")
    assert got.index.equals(expected.index)
    np.testing.assert_array_equal(got["frequency"].to_numpy(), expected["frequency"].to_numpy())
    np.testing.assert_allclose(
        got["monetary"].to_numpy(), expected["monetary"].to_numpy(), atol=0.005
    )
    np.testing.assert_array_equal(
        got["recency_days"].to_numpy(), expected["recency_days"].to_numpy(dtype=float)
    )
    if window_days is None:
        assert got["frequency"].sum() == 69_659
        assert got["monetary"].sum() == pytest.approx(2_500_315.63, abs=0.05)
        assert not got["is_prospect"].any()
    else:
        assert (got["frequency"] == 0).sum() > 0


def test_facts_are_matched_to_customers_by_id_whatever_their_order():
    attributes = {"customer_id": pa.chunked_array([["a", "b", "c"]])}
    purchases = {
        "customer_id": pa.chunked_array([["c"], ["merged-away", "a"]]),
        "frequency": pa.chunked_array([[3], [9, 1]]),
        "last_purchase_at": pa.chunked_array([["2024-03-05 10:00:00.000000"], [None, None]]),
    }
    no_events = {  # a group with no rows at all comes back untyped and empty
        "customer_id": pa.chunked_array([], type=pa.null()),
        "browse_events_30d": pa.chunked_array([], type=pa.null()),
    }
    columns = _match_facts(attributes, [purchases, no_events])
    assert columns["customer_id"].to_pylist() == ["a", "b", "c"]
    np.testing.assert_array_equal(columns["frequency"], [1.0, np.nan, 3.0])
    assert columns["last_purchase_at"].tolist()[2] == dt.datetime(2024, 3, 5, 10)
    assert np.isnat(columns["last_purchase_at"][:2]).all()
    assert np.isnan(columns["browse_events_30d"]).all() and len(columns["browse_events_30d"]) == 3


def test_every_fact_comes_from_the_same_state_of_the_store(store, monkeypatch):
    load_tiny_shop(store)
    before = customer_features(store, AS_OF).set_index("customer_id").loc["alice", "frequency"]
    reads = []

    def read_then_commit_an_order(conn, statement):
        result = read_arrow(conn, statement)
        if not reads:  # another session commits a purchase after the first read
            with store.begin() as other:
                bulk_insert(other, models.orders, _one_more_purchase_of_alice())
        reads.append(statement)
        return result

    monkeypatch.setattr(features, "read_arrow", read_then_commit_an_order)
    during = customer_features(store, AS_OF).set_index("customer_id").loc["alice", "frequency"]
    assert len(reads) > 2
    assert during == before
    monkeypatch.undo()
    after = customer_features(store, AS_OF).set_index("customer_id").loc["alice", "frequency"]
    assert after == before + 1


def _one_more_purchase_of_alice() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["late"],
            "customer_id": ["alice"],
            "ordered_at": pd.Timestamp("2024-06-29 10:00"),
            "amount": 5.0,
            "status": "paid",
        }
    )
