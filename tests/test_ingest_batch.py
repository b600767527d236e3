"""Relational exports imported as one batch (issue 19, points 2 and 9): files linked on
the order id, amounts from payments or items, customers and times from the order, one
transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_core import commands
from crm_core.errors import InputError
from crm_core.ingest import ImportOptions
from crm_core.ingest.batch import ONE_PER_ROW, BatchFile, import_batch, plan_batch
from crm_core.store import models
from tests.support.actors import ADMIN

CUSTOMERS = (
    "customer_id,customer_unique_id,customer_city\nc1,p1,sao paulo\nc2,p2,rio\nc3,p3,recife\n"
)
ORDERS = (
    "order_id,customer_id,order_status,order_purchase_timestamp\n"
    "o1,c1,delivered,2018-01-02 10:00:00\n"
    "o2,c2,invoiced,2018-01-03 11:00:00\n"
    "o3,c3,shipped,2018-01-04 12:00:00\n"
)
ITEMS = (
    "order_id,order_item_id,product_id,price,freight_value\n"
    "o1,1,sku-a,10.00,2.50\no1,2,sku-b,5.00,2.50\n"
    "o2,1,sku-a,10.00,3.00\no3,1,sku-c,40.00,0\n"
)
PAYMENTS = (
    "order_id,payment_sequential,payment_type,payment_value\n"
    "o1,1,credit_card,15.00\no1,2,voucher,5.00\no2,1,boleto,13.00\no3,1,credit_card,40.00\n"
)
REVIEWS = (
    "review_id,order_id,review_score,review_comment_message,review_creation_date\n"
    "r1,o1,5,great,2018-01-10 00:00:00\nr2,o2,2,late,2018-01-12 00:00:00\n"
)
ZH_ORDERS = (
    "订单号,会员id,下单时间,订单状态\n"
    "Z1,M1,2024-03-01 09:00,交易成功\nZ2,M2,2024-03-02 10:00,已发货\n"
)
ZH_ITEMS = "订单号,商品编码,数量,单价\nZ1,A,2,30\nZ1,B,1,15.5\nZ2,A,1,30\n"


def _files(*pairs: tuple[str, str, str]) -> list[BatchFile]:
    return [BatchFile(kind, text.encode("utf-8"), file_name=name) for kind, name, text in pairs]


def _rows(engine, table, *columns) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(select(table.c[columns[0]], *(table.c[c] for c in columns[1:]))).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_orders_take_their_amount_from_payments_and_items_their_customer_from_the_order(store):
    batch = _files(
        ("customers", "customers.csv", CUSTOMERS),
        ("orders", "orders.csv", ORDERS),
        ("order_lines", "items.csv", ITEMS),
        ("payments", "payments.csv", PAYMENTS),
        ("survey_responses", "reviews.csv", REVIEWS),
    )
    result = import_batch(store, batch, actor=ADMIN)
    orders = _rows(store, models.orders, "order_id", "customer_id", "amount", "status")
    assert {k: (c, float(a), s) for k, (c, a, s) in orders.items()} == {
        "o1": ("c1", 20.0, "paid"),
        "o2": ("c2", 13.0, "paid"),
        "o3": ("c3", 40.0, "paid"),
    }
    lines = _rows(store, models.order_lines, "sku", "order_id", "quantity")
    assert lines["sku-c"][0] == "o3" and float(lines["sku-c"][1]) == 1
    assert _count(store, models.order_lines) == 4
    answers = _rows(store, models.survey_responses, "response_id", "customer_id", "csat")
    assert answers == {"r1": ("c1", 5), "r2": ("c2", 2)}
    assert [line.split(":")[0] for line in result.summary_lines()] == [
        "customers customers.csv",
        "orders orders.csv",
        "order_lines items.csv",
        "payments payments.csv",
        "survey_responses reviews.csv",
    ]
    assert result.linked == {"payments.csv": 3}

    again = import_batch(store, batch, actor=ADMIN)
    assert all(r.changed_nothing for _, r in again.files if r is not None)


def test_without_payments_an_order_is_its_items_with_freight(store):
    batch = _files(("orders", "orders.csv", ORDERS), ("order_lines", "items.csv", ITEMS))
    import_batch(store, batch, actor=ADMIN)
    amounts = {k: float(a) for k, (a,) in _rows(store, models.orders, "order_id", "amount").items()}
    assert amounts == {"o1": 20.0, "o2": 13.0, "o3": 40.0}


def test_chinese_orders_without_amounts_take_quantity_times_price(store):
    batch = _files(("orders", "订单.csv", ZH_ORDERS), ("order_lines", "明细.csv", ZH_ITEMS))
    import_batch(store, batch, actor=ADMIN)
    amounts = {k: float(a) for k, (a,) in _rows(store, models.orders, "order_id", "amount").items()}
    assert amounts == {"Z1": 75.5, "Z2": 30.0}
    assert _count(store, models.order_lines) == 3


def test_later_files_link_to_orders_already_in_the_store(store):
    import_batch(store, _files(("orders", "o.csv", ORDERS), ("payments", "p.csv", PAYMENTS)),
                 actor=ADMIN)  # fmt: skip
    import_batch(store, _files(("survey_responses", "reviews.csv", REVIEWS)), actor=ADMIN)
    answers = _rows(store, models.survey_responses, "response_id", "customer_id")
    assert answers == {"r1": ("c1",), "r2": ("c2",)}
    corrected = PAYMENTS.replace("o3,1,credit_card,40.00", "o3,1,credit_card,42.00")
    result = import_batch(store, _files(("payments", "p2.csv", corrected)), actor=ADMIN)
    assert float(_rows(store, models.orders, "order_id", "amount")["o3"][0]) == 42.0
    assert result.summary_lines() == ["payments p2.csv: amounts of 3 orders"]


def test_a_failure_in_the_third_file_leaves_the_first_two_unimported(store):
    broken = "review_id,order_id,review_score,review_creation_date\nr1,o1,5,2018-01-10\n"
    batch = _files(
        ("customers", "customers.csv", CUSTOMERS),
        ("orders", "orders.csv", ORDERS),
        ("survey_responses", "reviews.csv", broken.replace("review_id,", "review_id,review_id,")),
    )
    with pytest.raises(InputError):
        import_batch(store, batch, actor=ADMIN)
    assert _count(store, models.customers) == _count(store, models.orders) == 0


def test_unknown_status_words_fail_the_batch_unless_mapped(store):
    odd = ORDERS.replace("shipped", "on_hold")
    batch = _files(("orders", "orders.csv", odd), ("payments", "payments.csv", PAYMENTS))
    with pytest.raises(InputError) as refused:
        import_batch(store, batch, actor=ADMIN)
    assert "orders.csv status: on_hold (1)" in refused.value.message("en")
    assert _count(store, models.orders) == 0
    mapped = ImportOptions(value_map={"status": {"on_hold": "unpaid"}})
    import_batch(store, batch, actor=ADMIN, options=mapped)
    assert _rows(store, models.orders, "order_id", "status")["o3"] == ("unpaid",)


def test_the_import_batch_command(sqlite_store, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", sqlite_store.url.render_as_string(hide_password=False))
    paths = {}
    for name, text in (("orders.csv", ORDERS.replace("shipped", "on_hold")),
                       ("items.csv", ITEMS), ("payments.csv", PAYMENTS)):  # fmt: skip
        paths[name] = tmp_path / name
        paths[name].write_text(text, encoding="utf-8")
    argv = ["import-batch", f"orders={paths['orders.csv']}", f"order_lines={paths['items.csv']}",
            f"payments={paths['payments.csv']}"]  # fmt: skip
    assert commands.main(argv) == 2
    assert "on_hold (1)" in capsys.readouterr().err
    assert commands.main([*argv, "--map", "status:on_hold=unpaid"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "orders orders.csv: accepted 3, rejected 0, unchanged 0, updated 0"
    assert out[1].startswith("order_lines items.csv: accepted 4, rejected 0")
    assert out[2] == "payments payments.csv: amounts of 3 orders"
    assert commands.main(["import-batch", "refunds=x.csv"]) == 2


def test_a_failure_while_loading_the_third_file_rolls_back_the_first_two(store, monkeypatch):
    from crm_core.ingest import batch as batch_module

    calls = []
    real = batch_module.load_in

    def failing_third(conn, validated, **kwargs):
        calls.append(validated.entity)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(conn, validated, **kwargs)

    monkeypatch.setattr(batch_module, "load_in", failing_third)
    batch = _files(
        ("customers", "customers.csv", CUSTOMERS),
        ("orders", "orders.csv", ORDERS),
        ("order_lines", "items.csv", ITEMS),
    )
    with pytest.raises(RuntimeError):
        import_batch(store, batch, actor=ADMIN)
    assert calls == ["customers", "orders", "order_lines"]
    for table in (models.customers, models.orders, models.order_lines, models.import_batches):
        assert _count(store, table) == 0


def test_the_plan_says_which_file_supplies_which_field(store):
    batch = _files(
        ("orders", "orders.csv", ORDERS.replace("shipped", "on_hold")),
        ("order_lines", "items.csv", ITEMS),
        ("payments", "payments.csv", PAYMENTS),
        ("survey_responses", "reviews.csv", REVIEWS),
    )
    plan = plan_batch(store, batch)
    by_name = {f.file_name: f for f in plan.files}
    assert by_name["orders.csv"].links == {"amount": "payments.csv"}
    assert by_name["items.csv"].links == {
        "customer_id": "orders.csv",
        "ordered_at": "orders.csv",
        "quantity": ONE_PER_ROW,
    }
    assert by_name["reviews.csv"].links == {"customer_id": "orders.csv"}  # it has its date
    assert by_name["orders.csv"].mapping["order_purchase_timestamp"] == "ordered_at"
    assert plan.unknown_words[["file", "word", "rows"]].values.tolist() == [
        ["orders.csv", "on_hold", 1]
    ]
    assert _count(store, models.orders) == 0  # planning writes nothing


def test_the_data_page_imports_linked_files_after_mapping_a_word(sqlite_store, monkeypatch):
    from crm_core.i18n import translate
    from tests.support.apptest import open_app

    url = sqlite_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "analyst", page="views/data.py")
    odd = ORDERS.replace("shipped", "on_hold")
    files = [("orders.csv", odd), ("items.csv", ITEMS), ("payments.csv", PAYMENTS)]
    at.file_uploader(key="crm.data.batch.files").set_value(
        [(name, text.encode(), "text/csv") for name, text in files]
    ).run()
    assert not at.exception
    kinds = [at.selectbox(key=f"crm.data.batch.kind.{name}").value for name, _ in files]
    assert kinds == ["orders", "order_lines", "payments"]
    sources = {row.field: row.source for row in at.dataframe[0].value.itertuples()}
    assert sources[translate("data.field.amount", "en")] == translate(
        "data.batch.from_file", "en", file="payments.csv"
    )
    assert at.button(key="crm.data.batch.import").disabled
    editor = next(e for e in at.data_editor if e.key.endswith("orders.csv.status"))
    at.session_state[editor.key] = {
        "edited_rows": {0: {"value": "unpaid"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.button(key="crm.data.batch.import").disabled
    at.button(key="crm.data.batch.import").click().run()
    assert not at.exception
    assert _rows(sqlite_store, models.orders, "order_id", "status")["o3"] == ("unpaid",)
    assert [s.value.split(":")[0] for s in at.success] == [
        "orders orders.csv",
        "order_lines items.csv",
        "payments payments.csv",
    ]


PEOPLE = (
    "customer_id,customer_unique_id,customer_city\nc1,p1,sao paulo\nc2,p2,rio\nc3,p1,sao paulo\n"
)
PEOPLE_ORDERS = (
    "order_id,customer_id,order_status,order_purchase_timestamp,payment_value\n"
    "o1,c1,delivered,2018-01-02 10:00:00,10\n"
    "o2,c2,delivered,2018-01-03 11:00:00,20\n"
    "o3,c3,delivered,2018-03-04 12:00:00,30\n"
)


def test_a_column_grouping_customer_ids_is_offered_as_the_person_key():
    from crm_core.ingest import suggest_mapping
    from crm_core.ingest.batch import person_key_candidates
    from tests.test_ingest_words import _frame

    frame = _frame(PEOPLE)
    candidates = person_key_candidates(frame, suggest_mapping(frame, "customers"))
    assert candidates.to_dict("records") == [
        {"column": "customer_unique_id", "ids": 3, "people": 2}
    ]
    one_each = _frame(CUSTOMERS)  # p1 p2 p3: no grouping, nothing offered
    assert person_key_candidates(one_each, suggest_mapping(one_each, "customers")).empty


def test_orders_are_attributed_to_the_person(store):
    batch = _files(("customers", "c.csv", PEOPLE), ("orders", "o.csv", PEOPLE_ORDERS))
    import_batch(store, batch, actor=ADMIN, person_key="customer_unique_id")
    orders = _rows(store, models.orders, "order_id", "customer_id")
    assert orders == {"o1": ("p1",), "o2": ("p2",), "o3": ("p1",)}
    assert set(_rows(store, models.customers, "customer_id")) == {"p1", "p2"}
    with pytest.raises(InputError):
        import_batch(store, batch, actor=ADMIN, person_key="no_such_column")


def test_the_data_page_offers_the_person_key_and_uses_it(sqlite_store, monkeypatch):
    from crm_core.i18n import translate
    from tests.support.apptest import open_app

    url = sqlite_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "admin", page="views/data.py")
    files = [("c.csv", PEOPLE), ("o.csv", PEOPLE_ORDERS)]
    at.file_uploader(key="crm.data.batch.files").set_value(
        [(name, text.encode(), "text/csv") for name, text in files]
    ).run()
    found = translate("data.batch.person_found", "en", file="c.csv",
                      column="customer_unique_id", ids="3", people="2")  # fmt: skip
    assert found in [w.value for w in at.warning]
    assert at.checkbox(key="crm.data.batch.person.c.csv").value
    at.button(key="crm.data.batch.import").click().run()
    assert not at.exception
    assert _rows(sqlite_store, models.orders, "order_id", "customer_id")["o3"] == ("p1",)
