"""The public data sets in ../shared/data import completely, and a second import of the
same file changes nothing. Expected counts come from independent pandas computations
over the raw files, written here, not from the import code."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import case, func, select

from crm_core.ingest import import_file
from crm_core.store import models
from tests.support.actors import ADMIN
from tests.support.requirements import shared_file

pytestmark = pytest.mark.slow


def _scalar(engine, statement):
    with engine.connect() as conn:
        return conn.execute(statement).scalar()


def _count(engine, table) -> int:
    return _scalar(engine, select(func.count()).select_from(table))


def _assert_second_import_changes_nothing(first, second) -> None:
    assert (second.accepted, second.rejected) == (first.accepted, first.rejected)
    assert (second.inserted, second.updated) == (0, 0)
    assert second.unchanged == second.accepted
    assert second.customers_created == 0
    for counts in second.related.values():
        assert (counts.inserted, counts.updated, counts.removed) == (0, 0, 0)


def test_cdnow_every_purchase_arrives(store):
    path = shared_file("cdnow/CDNOW_master.txt")
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    first = import_file(store, path, "orders", actor=ADMIN)
    assert (first.rows_read, first.accepted, first.rejected) == (len(raw), len(raw), 0)
    assert first.inserted == len(raw) == 69_659
    assert first.customers_created == raw["customer_id"].nunique() == 23_570
    assert _count(store, models.orders) == 69_659
    assert _count(store, models.customers) == 23_570
    total = _scalar(store, select(func.sum(models.orders.c.amount)))
    assert float(total) == pytest.approx(raw["dollar_value"].sum(), abs=0.005)
    first_day = _scalar(store, select(func.min(models.orders.c.ordered_at)))
    assert pd.Timestamp(first_day) == pd.to_datetime(raw["date"], format="%Y%m%d").min()

    second = import_file(store, path, "orders", actor=ADMIN)
    _assert_second_import_changes_nothing(first, second)
    assert _count(store, models.orders) == 69_659


def test_uci_online_retail_invoices_become_orders_and_refunds(store):
    path = shared_file("online_retail_uci/online_retail.csv.gz")
    raw = pd.read_csv(path, dtype="str", keep_default_na=False)
    known = raw[raw["CustomerID"].str.strip() != ""].copy()
    known["customer"] = known["CustomerID"].str.replace(r"\.0$", "", regex=True)
    known["value"] = known["Quantity"].astype(float) * known["UnitPrice"].astype(float)
    per_invoice = known.groupby("InvoiceNo")["value"].sum().round(2)
    is_refund = per_invoice.index.str.startswith("C") | (per_invoice < 0)
    expected_net = per_invoice[~is_refund].sum() - per_invoice[is_refund].abs().sum()

    first = import_file(store, path, "order_lines", actor=ADMIN)
    assert first.rows_read == len(raw)
    assert first.accepted == len(known)
    assert first.reject_counts == {"missing_value": len(raw) - len(known)}
    assert first.related["orders"].inserted == known["InvoiceNo"].nunique()
    assert first.customers_created == known["customer"].nunique()
    assert _count(store, models.orders) == known["InvoiceNo"].nunique()
    assert _count(store, models.customers) == known["customer"].nunique()
    assert _count(store, models.order_lines) == len(known)
    orders = models.orders
    refunds = _scalar(
        store, select(func.count()).where(orders.c.status == "refunded").select_from(orders)
    )
    assert refunds == int(is_refund.sum())
    signed = case((orders.c.status == "refunded", -orders.c.amount), else_=orders.c.amount)
    net = _scalar(store, select(func.sum(signed)))
    assert float(net) == pytest.approx(expected_net, abs=0.01)
    net_12346 = _scalar(store, select(func.sum(signed)).where(orders.c.customer_id == "12346"))
    assert float(net_12346) == 0.0

    second = import_file(store, path, "order_lines", actor=ADMIN)
    _assert_second_import_changes_nothing(first, second)


def test_ifood_customers_with_campaign_acceptances(store):
    path = shared_file("ifood_marketing_campaign/ml_project1_data.csv")
    raw = pd.read_csv(path)
    columns = ["AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5", "AcceptedCmp1", "AcceptedCmp2"]
    columns.append("Response")
    first = import_file(store, path, "customers", actor=ADMIN)
    assert (first.accepted, first.rejected, first.inserted) == (len(raw), 0, len(raw))
    assert first.related["campaigns"].inserted == len(columns)
    assert first.related["campaign_touches"].inserted == len(raw) * len(columns)
    touches = models.campaign_touches
    with store.connect() as conn:
        responded = dict(
            conn.execute(
                select(touches.c.campaign_id, func.count())
                .where(touches.c.responded.is_(True))
                .group_by(touches.c.campaign_id)
            ).all()
        )
        campaigns = pd.DataFrame(conn.execute(select(models.campaigns)).mappings().all())
        signups = conn.execute(
            select(func.min(models.customers.c.signup_at), func.max(models.customers.c.signup_at))
        ).one()
    assert responded == {name: int(raw[name].sum()) for name in columns}
    assert set(campaigns["campaign_id"]) == set(columns)
    assert (campaigns["cost"].astype(float) == 3 * len(raw)).all()
    assert (campaigns["revenue_per_response"].astype(float) == 11.0).all()
    dates = pd.to_datetime(raw["Dt_Customer"])
    assert (pd.Timestamp(signups[0]), pd.Timestamp(signups[1])) == (dates.min(), dates.max())

    second = import_file(store, path, "customers", actor=ADMIN)
    _assert_second_import_changes_nothing(first, second)
