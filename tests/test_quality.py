"""The data-quality report (issue 19, point 5): numbers that say what the data can
support, warnings on the Overview and the RFM explorer, id-like columns left out."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from crm_core.i18n import translate
from crm_core.ingest import import_file
from crm_core.ingest.quality import data_quality, id_like_columns, quality_warnings
from tests.support.actors import ADMIN
from tests.support.apptest import exception_text, open_app

TODAY = dt.date(2026, 12, 7)


def _orders(rows: list[tuple[str, str, str, float]]) -> bytes:
    lines = ["order_id,customer_id,ordered_at,amount"]
    lines += [f"{o},{c},{t},{a}" for o, c, t, a in rows]
    return ("\n".join(lines) + "\n").encode()


def _by_check(engine) -> pd.DataFrame:
    return data_quality(engine, TODAY).set_index("check")


def test_per_order_customer_ids_are_flagged(store):
    rows = [(f"o{i}", f"c{i}", "2025-01-01 10:00", 10.0) for i in range(120)]
    import_file(store, _orders(rows), "orders", actor=ADMIN)
    report = _by_check(store)
    assert report.loc["one_time_buyers", "value"] == 1.0
    assert report.loc["ids_look_per_order", "level"] == "warn"
    assert report.loc["orders_without_customer_record", "count"] == 120
    sentences = quality_warnings(data_quality(store, TODAY), "en")
    assert sentences == [
        translate("quality.warning.ids_look_per_order", "en", share="100.0%", count="120")
    ]


def test_repeat_buyers_dates_and_amounts(store):
    rows = [(f"o{i}", f"c{i % 10}", "2025-01-01 10:00", 10.0) for i in range(40)]
    rows += [("late", "c1", "2027-05-01 10:00", 10.0), ("huge", "c2", "2025-02-01", 5000.0)]
    import_file(store, _orders(rows), "orders", actor=ADMIN)
    report = _by_check(store)
    assert report.loc["one_time_buyers", "value"] == 0.0
    assert report.loc["ids_look_per_order", "level"] == "ok"
    assert report.loc["dates_out_of_range", "count"] == 1
    assert report.loc["amount_outliers", "count"] == 1
    assert [s.split(" ")[0] for s in quality_warnings(data_quality(store, TODAY), "en")] == [
        "1",
        "1",
    ]


def test_id_like_columns():
    assert id_like_columns(["customer_unique_id", "city", "会员编号", "order_no", "备注"]) == [
        "customer_unique_id",
        "会员编号",
        "order_no",
    ]


def test_the_overview_warns_and_the_data_page_lists_the_checks(sqlite_store, monkeypatch):
    rows = [(f"o{i}", f"c{i}", "2025-01-01 10:00", 10.0) for i in range(120)]
    import_file(sqlite_store, _orders(rows), "orders", actor=ADMIN)
    url = sqlite_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "analyst", page="views/overview.py", language="zh-CN")
    assert not at.exception, exception_text(at)
    expected = translate("quality.warning.ids_look_per_order", "zh-CN", share="100.0%", count="120")
    assert expected in [w.value for w in at.warning]
    rfm = open_app(monkeypatch, url, "analyst", page="views/rfm.py")
    assert translate("quality.warning.ids_look_per_order", "en", share="100.0%", count="120") in [
        w.value for w in rfm.warning
    ]
    data = open_app(monkeypatch, url, "analyst", page="views/data.py")
    table = data.table[0].value
    checks = dict(zip(table.index, table.iloc[:, 0], strict=True))
    assert checks[translate("quality.check.one_time_buyers", "en")] == "100.0%"
    assert checks[translate("quality.check.ids_look_per_order", "en")] == "yes"


def test_an_import_shows_what_the_data_cannot_support(sqlite_store, monkeypatch):
    url = sqlite_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "analyst", page="views/data.py")
    rows = [(f"o{i}", f"c{i}", "2025-01-01 10:00", 10.0) for i in range(120)]
    at.selectbox(key="crm.data.entity").select("orders").run()
    at.file_uploader(key="crm.data.file").set_value(("o.csv", _orders(rows), "text/csv")).run()
    at.button(key="crm.data.import").click().run()
    assert not at.exception, exception_text(at)
    expected = translate("quality.warning.ids_look_per_order", "en", share="100.0%", count="120")
    assert expected in [w.value for w in at.warning]
