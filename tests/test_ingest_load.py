"""Loading on SQLite and PostgreSQL: one transaction, upsert by natural key, history.

Every entity's sample file in data/samples imports; a re-upload changes nothing; a
changed row updates; unknown customers get a minimal record; a failure leaves the store
as it was; rejected rows are stored with their reason and come back as CSV.
"""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_core.errors import InputError
from crm_core.i18n import translate
from crm_core.ingest import (
    ImportOptions,
    entity_spec,
    find_template,
    import_file,
    import_history,
    import_rejects,
    list_templates,
    rejects_csv,
    save_template,
    suggest_mapping,
)
from crm_core.ingest.history import personal_columns, rejected_columns
from crm_core.store import data_version, models
from tests.support.actors import ADMIN, LI
from tests.support.schema import schema_differences

LOAD_MODULE = importlib.import_module("crm_core.ingest.load")
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def _rows(engine, table, order_by) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(select(table).order_by(order_by))
        return pd.DataFrame(result.mappings().all())


def _csv_bytes(text: str) -> bytes:
    return text.encode("utf-8")


ORDERS_V1 = """order_id,customer_id,ordered_at,amount,status
O1,C1,2024-03-01 10:00,100.10,paid
O2,C1,2024-03-02 11:00,20.00,paid
O3,C2,2024-03-03 12:00,35.55,unpaid
O4,C3,2024-03-04 13:00,0.00,paid
"""
ORDERS_V2 = """order_id,customer_id,ordered_at,amount,status
O1,C1,2024-03-01 10:00,100.1,paid
O2,C1,2024-03-02 11:00,25.00,paid
O3,C2,2024-03-03 12:00,35.55,paid
O4,C3,2024-03-04 13:00,0,paid
O5,C4,2024-03-05 14:00,9.99,paid
"""


def test_reupload_changes_nothing_and_a_changed_row_updates(store):
    first = import_file(store, _csv_bytes(ORDERS_V1), "orders", file_name="v1.csv", actor=LI)
    assert (first.inserted, first.updated, first.unchanged) == (4, 0, 0)
    assert first.customers_created == 3
    version = data_version(store)

    again = import_file(store, _csv_bytes(ORDERS_V1), "orders", file_name="v1.csv", actor=ADMIN)
    assert (again.accepted, again.inserted, again.updated, again.unchanged) == (4, 0, 0, 4)
    assert again.customers_created == 0
    assert again.summary_line() == "accepted 4, rejected 0, unchanged 4, updated 0"
    assert again.changed_nothing and not first.changed_nothing
    assert data_version(store) == version + 1

    changed = import_file(store, _csv_bytes(ORDERS_V2), "orders", file_name="v2.csv", actor=ADMIN)
    assert (changed.inserted, changed.updated, changed.unchanged) == (1, 2, 2)
    assert changed.customers_created == 1 and not changed.changed_nothing
    orders = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert float(orders.loc["O2", "amount"]) == 25.0
    assert orders.loc["O3", "status"] == "paid"
    assert orders.loc["O2", "import_batch_id"] == changed.batch_id
    assert orders.loc["O1", "import_batch_id"] == first.batch_id
    assert _count(store, models.customers, models.customers.c.is_placeholder.is_(True)) == 4
    assert schema_differences(store) == []  # no staging or delta table is left


def test_a_change_only_in_the_orders_of_order_lines_is_a_change(store):
    text = "订单号,客户ID,下单时间,数量,单价,订单状态\nA1,C1,2024-03-05,2,10,已付款\n"
    import_file(store, _csv_bytes(text), "order_lines", actor=ADMIN)
    refunded = import_file(
        store, _csv_bytes(text.replace("已付款", "已退款")), "order_lines", actor=ADMIN
    )
    assert (refunded.unchanged, refunded.related["orders"].updated) == (1, 1)
    assert not refunded.changed_nothing
    again = import_file(
        store, _csv_bytes(text.replace("已付款", "已退款")), "order_lines", actor=ADMIN
    )
    assert again.changed_nothing


def test_only_mapped_columns_are_written(store):
    import_file(
        store,
        _csv_bytes("客户ID,姓名,手机号\nC1,王芳,138 0013 8000\nC2,李强,139-0013-9001\n"),
        "customers",
        actor=ADMIN,
    )
    result = import_file(
        store, _csv_bytes("客户ID,姓名\nC1,王芳\nC2,李强强\n"), "customers", actor=ADMIN
    )
    assert (result.updated, result.unchanged) == (1, 1)
    customers = _rows(store, models.customers, models.customers.c.customer_id)
    assert customers["phone"].tolist() == ["13800138000", "13900139001"]
    assert customers["name"].tolist() == ["王芳", "李强强"]


def test_a_customers_upload_completes_placeholder_records(store):
    import_file(store, _csv_bytes(ORDERS_V1), "orders", actor=ADMIN)
    result = import_file(
        store, _csv_bytes("customer_id,name\nC1,Ann\nC9,Zoe\n"), "customers", actor=ADMIN
    )
    assert (result.inserted, result.updated) == (1, 1)
    customers = _rows(store, models.customers, models.customers.c.customer_id)
    flags = dict(zip(customers["customer_id"], customers["is_placeholder"], strict=True))
    assert flags == {"C1": False, "C2": True, "C3": True, "C9": False}


@pytest.mark.parametrize(
    ("file_name", "entity", "table", "rows"),
    [
        ("customers.csv", "customers", models.customers, 6),
        ("orders_taobao_gbk.csv", "orders", models.orders, 6),
        ("order_lines_day_first.csv", "order_lines", models.order_lines, 4),
        ("events.tsv", "events", models.events, 4),
        ("tickets.csv", "tickets", models.tickets, 3),
        ("campaigns.xlsx", "campaigns", models.campaigns, 2),
        ("survey_responses.csv", "survey_responses", models.survey_responses, 3),
    ],
)
def test_every_entity_sample_imports_and_reimports_unchanged(store, file_name, entity, table, rows):
    options = ImportOptions(day_first=True)
    sheet = "活动" if file_name.endswith(".xlsx") else None
    first = import_file(
        store, SAMPLES / file_name, entity, options=options, sheet=sheet, actor=ADMIN
    )
    assert (first.accepted, first.rejected, first.inserted) == (rows, 0, rows)
    assert _count(store, table) == rows
    second = import_file(
        store, SAMPLES / file_name, entity, options=options, sheet=sheet, actor=ADMIN
    )
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, rows)


def test_sample_values_arrive_as_written(store):
    import_file(store, SAMPLES / "customers.csv", "customers", actor=ADMIN)
    orders = import_file(store, SAMPLES / "orders_taobao_gbk.csv", "orders", actor=ADMIN)
    assert orders.customers_created == 1  # C0007 is not in customers.csv
    stored = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert float(stored.loc["T202403050001", "amount"]) == 1288.0
    assert stored.loc["T202403080004", "status"] == "refunded"
    assert stored.loc["T202403090005", "status"] == "unpaid"
    assert stored.loc["T202403070003", "status"] == "cancelled"
    assert stored.loc["T202403100006", "channel"] == "wecom"
    assert stored.loc["T202403050001", "paid_at"] == pd.Timestamp("2024-03-05 10:13:05")
    import_file(store, SAMPLES / "campaigns.xlsx", "campaigns", sheet="活动", actor=ADMIN)
    touches = import_file(store, SAMPLES / "campaign_touches.csv", "campaign_touches", actor=ADMIN)
    assert touches.rejected == 0
    stored_touches = _rows(store, models.campaign_touches, models.campaign_touches.c.customer_id)
    control = stored_touches.set_index("customer_id").loc["C0003"]
    assert control["is_control"] and control["variant"] == "control"
    surveys = import_file(store, SAMPLES / "survey_responses.csv", "survey_responses", actor=ADMIN)
    assert surveys.rejected == 0
    answers = _rows(store, models.survey_responses, models.survey_responses.c.response_id)
    assert answers["responded_at"].tolist()[:2] == [
        pd.Timestamp("2024-03-08 10:00"),
        pd.Timestamp("2024-03-08 10:30"),
    ]


def test_order_lines_reupload_replaces_the_orders_lines(store):
    full = "InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n" + (
        "A1,1,2024-03-01,10,C1\nA1,2,2024-03-01,5,C1\nA1,1,2024-03-01,1,C1\nA2,1,2024-03-02,7,C2\n"
    )
    shorter = "InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\nA1,1,2024-03-01,10,C1\n"
    first = import_file(store, _csv_bytes(full), "order_lines", actor=ADMIN)
    assert first.related["orders"].inserted == 2
    second = import_file(store, _csv_bytes(shorter), "order_lines", actor=ADMIN)
    assert (second.unchanged, second.removed) == (1, 2)
    assert second.related["orders"].updated == 1
    lines = _rows(store, models.order_lines, models.order_lines.c.line_no)
    assert lines[lines["order_id"] == "A1"]["line_no"].tolist() == [1]
    orders = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert float(orders.loc["A1", "amount"]) == 10.0
    assert float(orders.loc["A2", "amount"]) == 7.0


def test_touches_of_unknown_campaigns_are_rejected_with_their_row(store):
    text = "活动编号,客户ID\nM1,C1\nM9,C2\n"
    import_file(
        store, _csv_bytes("活动编号,渠道,开始时间\nM1,短信,2024-03-01\n"), "campaigns", actor=ADMIN
    )
    result = import_file(store, _csv_bytes(text), "campaign_touches", actor=ADMIN)
    assert (result.accepted, result.rejected) == (1, 1)
    reject = result.rejects.iloc[0]
    assert (reject["row_number"], reject["reason"], reject["detail"]) == (
        3,  # the file's line
        "unknown_campaign",
        "M9",
    )
    assert reject["raw"] == {"活动编号": "M9", "客户ID": "C2"}
    assert _count(store, models.import_rejects) == 1

    mixed = "活动编号,客户ID\nM1,C1\nM9,C2\nM1,\n"  # line 4 lacks its customer
    result = import_file(store, _csv_bytes(mixed), "campaign_touches", actor=ADMIN)
    assert result.rejects["row_number"].tolist() == [3, 4]
    assert result.rejects["reason"].tolist() == ["unknown_campaign", "missing_value"]


def test_a_failure_while_loading_leaves_the_store_as_before(store, monkeypatch):
    import_file(store, _csv_bytes(ORDERS_V1), "orders", actor=ADMIN)
    version = data_version(store)

    def broken(conn):
        raise RuntimeError("disk full")

    monkeypatch.setattr(LOAD_MODULE, "bump_data_version", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(store, _csv_bytes(ORDERS_V2), "orders", actor=ADMIN)
    assert data_version(store) == version
    assert _count(store, models.orders) == 4
    assert _count(store, models.customers) == 3
    assert _count(store, models.import_batches) == 1
    orders = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert float(orders.loc["O2", "amount"]) == 20.0
    assert schema_differences(store) == []  # the staging tables went with the rollback


def test_a_missing_required_column_names_it_and_changes_nothing(store):
    with pytest.raises(InputError) as raised:
        import_file(store, _csv_bytes("customer_id,amount\nC1,10\n"), "orders", actor=ADMIN)
    assert raised.value.key == "data.error.missing_columns"
    for language in ("en", "zh-CN"):  # the field and the entity by their labels
        field = translate("data.field.ordered_at", language)
        expected = translate(
            "data.error.missing_columns", language,
            entity=translate("data.entity.orders", language), fields=f"{field} (ordered_at)",
        )  # fmt: skip
        assert raised.value.message(language) == expected
    assert "导入订单缺少必需的列：下单时间 (ordered_at)" in raised.value.message("zh-CN")
    assert _count(store, models.import_batches) == 0
    assert data_version(store) == 0


def test_rejects_are_stored_listed_and_downloadable(store):
    text = ORDERS_V1 + "O6,,2024-03-06,5,paid\nO7,C7,someday,5,paid\nO8,C8,2024-03-08,lots,paid\n"
    result = import_file(store, _csv_bytes(text), "orders", file_name="shop.csv", actor=LI)
    assert (result.rows_read, result.accepted, result.rejected) == (7, 4, 3)
    assert result.reject_counts == {"missing_value": 1, "unreadable_date": 1, "not_a_number": 1}
    stored = import_rejects(store, result.batch_id)
    assert stored["row_number"].tolist() == [6, 7, 8]  # lines of the file, header = 1
    assert stored["reason"].tolist() == ["missing_value", "unreadable_date", "not_a_number"]
    assert stored["raw"].iloc[1]["ordered_at"] == "someday"
    history = import_history(store)
    batch = history.iloc[0]
    assert (batch["file_name"], batch["created_by"], batch["entity"]) == (
        "shop.csv",
        "li",
        "orders",
    )
    assert (batch["rows_read"], batch["accepted"], batch["rejected"]) == (7, 4, 3)
    assert len(batch["file_sha256"]) == 64
    english = pd.read_csv(io.BytesIO(rejects_csv(store, result.batch_id)), dtype="str")
    assert english["Reason"].tolist() == ["Missing value", "Unreadable date", "Not a number"]
    assert english["order_id"].tolist() == ["O6", "O7", "O8"]
    chinese = pd.read_csv(io.BytesIO(rejects_csv(store, result.batch_id, language="zh-CN")))
    assert chinese["原因"].tolist()[1] == "无法识别的日期"


def test_contact_columns_of_rejected_rows_are_found_mapped_or_not(store):
    text = (
        "订单号,会员手机号,下单时间,金额,收货人手机,Buyer E-mail,Tel No,微信号,备注\n"
        "A1,13700137000,2024-03-05,十元,13800138000,wang@example.com,62345678,wx_li,电话联系\n"
        "A2,13700137000,2024-03-05,10,13800138000,li@example.com,62345678,wx_li,备注,多一列\n"
    )
    mapping = {**suggest_mapping(text.splitlines()[0].split(","), "orders")}
    mapping["会员手机号"] = "customer_id"  # a phone as the customer's id is an id here
    result = import_file(store, text.encode(), "orders", mapping=mapping, actor=ADMIN)
    rejects = import_rejects(store, result.batch_id)
    columns = rejected_columns(rejects)
    assert columns[:9] == text.splitlines()[0].split(",") and columns[9:] == ["line"]
    hide = personal_columns(result.mapping, columns)
    assert hide == ["收货人手机", "Buyer E-mail", "Tel No", "微信号", "line"]
    assert personal_columns({"手机": "phone"}, ["手机", "邮箱"]) == ["手机", "邮箱"]
    hidden = pd.read_csv(io.BytesIO(rejects_csv(rejects, hide=hide)), dtype="str")
    shown = ["会员手机号", "收货人手机", "Buyer E-mail", "Tel No", "备注"]
    assert hidden.iloc[0][shown].tolist() == [
        "13700137000", "138****8000", "w***@example.com", "****5678", "电话联系",
    ]  # fmt: skip
    assert hidden.iloc[1]["line"] == (
        "A2,137****7000,2024-03-05,10,138****8000,l*@example.com,****5678,wx_li,备注,多一列"
    )


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_corrected_rejects_file_imports_its_rows(store, language):
    text = "订单号,会员ID,下单时间,金额\nA1,C1,2024-03-05,12.50\nA2,C1,2024-03-06,十元\n"
    first = import_file(store, _csv_bytes(text), "orders", actor=ADMIN)
    assert first.reject_counts == {"not_a_number": 1}
    rejects = pd.read_csv(
        io.BytesIO(rejects_csv(store, first.batch_id, language=language)), dtype="str"
    )
    rejects["金额"] = "10.00"  # the user corrects the cell in the row's own column
    corrected = rejects.to_csv(index=False).encode("utf-8")
    again = import_file(store, corrected, "orders", actor=ADMIN)
    assert (again.accepted, again.rejected, again.inserted) == (1, 0, 1)
    stored = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert float(stored.loc["A2", "amount"]) == 10.0


def test_a_saved_mapping_is_reused_for_the_same_headers(store):
    text = "会员,时间,付款\nC1,2024-03-01,10\n"
    mapping = suggest_mapping(pd.DataFrame(columns=["会员", "时间", "付款"]), "orders")
    assert mapping["会员"] is None
    chosen = {"会员": "customer_id", "时间": "ordered_at", "付款": "amount"}
    save_template(store, "小店导出", "orders", chosen, ["会员", "时间", "付款"], actor=LI)
    assert find_template(store, "orders", ["付款", "会员", "时间"])["name"] == "小店导出"
    assert find_template(store, "customers", ["付款", "会员", "时间"]) is None
    assert find_template(store, "orders", ["会员", "时间"]) is None
    result = import_file(store, _csv_bytes(text), "orders", actor=ADMIN)
    assert (result.accepted, result.rejected) == (1, 0)

    # the same source saved again replaces its mapping; another source may not take it
    save_template(store, "小店导出", "orders", chosen, ["付款", "时间", "会员"], actor=LI)
    with pytest.raises(InputError) as taken:
        save_template(
            store, " 小店导出 ", "orders", {"ID": "customer_id"}, ["ID", "日期", "金额"], actor=LI
        )
    assert taken.value.key == "data.error.template_name_taken"
    assert "小店导出" in taken.value.message("zh-CN")
    assert find_template(store, "orders", ["付款", "会员", "时间"])["name"] == "小店导出"
    assert len(list_templates(store, "orders")) == 1


def test_two_hundred_thousand_rows_with_one_percent_bad_lose_no_good_row(store, tmp_path):
    rows = 200_000
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "订单号": [f"N{i:07d}" for i in range(rows)],
            "客户ID": [f"U{c:05d}" for c in rng.integers(0, 20_000, rows)],
            "下单时间": (
                pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 3e7, rows), unit="s")
            ).strftime("%Y-%m-%d %H:%M:%S"),
            "实付金额": np.round(rng.gamma(2.0, 60.0, rows), 2).astype(str),
            "订单状态": rng.choice(["已付款", "交易成功", "已退款", "交易关闭"], rows),
        }
    )
    bad_rows = rng.choice(rows, 2_000, replace=False)
    kinds = np.arange(2_000) % 4
    frame.loc[bad_rows[kinds == 0], "客户ID"] = ""
    frame.loc[bad_rows[kinds == 1], "下单时间"] = "2023-13-45"
    frame.loc[bad_rows[kinds == 2], "实付金额"] = "约100"
    frame.loc[bad_rows[kinds == 3], "订单状态"] = "???"
    path = tmp_path / "big_gbk.csv"
    frame.to_csv(path, index=False, encoding="gbk")

    result = import_file(store, path, "orders", actor=ADMIN)
    assert (result.rows_read, result.accepted, result.rejected) == (200_000, 198_000, 2_000)
    assert result.reject_counts == {
        "missing_value": 500,
        "unreadable_date": 500,
        "not_a_number": 500,
        "unknown_value": 500,
    }
    assert sorted(result.rejects["row_number"]) == sorted(bad_rows + 2)  # + header, from 1
    good = frame.drop(index=bad_rows)
    with store.connect() as conn:
        stored_ids = set(conn.execute(select(models.orders.c.order_id)).scalars())
        stored_total = conn.execute(select(func.sum(models.orders.c.amount))).scalar()
    assert stored_ids == set(good["订单号"])
    assert float(stored_total) == pytest.approx(good["实付金额"].astype(float).sum(), abs=0.005)
    again = import_file(store, path, "orders", actor=ADMIN)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 198_000)


def test_an_upload_without_an_optional_column_keeps_the_stored_values(store):
    import_file(store, SAMPLES / "tickets.csv", "tickets", actor=ADMIN)
    text = (
        "工单号,客户ID,工单类型,创建时间\n"
        "K001,C0001,物流,2024-03-06 09:00\n"
        "K004,C0002,咨询,2024-03-12\n"
    )
    result = import_file(store, _csv_bytes(text), "tickets", actor=ADMIN)
    assert (result.inserted, result.updated, result.unchanged) == (1, 0, 1)
    tickets = _rows(store, models.tickets, models.tickets.c.ticket_id).set_index("ticket_id")
    assert tickets.loc["K001", "priority"] == "high"
    assert tickets.loc["K001", "csat"] == 4
    assert tickets.loc["K004", "priority"] == "normal"
    assert not tickets.loc["K004", "is_complaint"]


def test_cells_written_as_no_value_are_empty(store):
    text = (
        "order_id,customer_id,ordered_at,amount,status,channel,discount,paid_at\n"
        "O1,C1,2024-03-05,10,paid,NULL,-,#N/A\n"
        "O2,C1,2024-03-06,12,paid,--,N/A,null\n"
        "O3,C1,2024-03-07,n/a,paid,,,\n"
        "O4,C1,2024-03-08,14,paid,None,nan,NaN\n"
        "O5,C1,2024-03-09,16,paid,Null,,\n"
    )
    result = import_file(store, _csv_bytes(text), "orders", actor=ADMIN)
    assert (result.accepted, result.rejected) == (4, 1)
    assert result.rejects[["row_number", "reason"]].values.tolist() == [[4, "missing_value"]]
    stored = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert stored["channel"].isna().all() and stored["paid_at"].isna().all()
    assert stored["discount"].astype(float).tolist() == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("entity", "text"),
    [
        (
            "orders",
            "order_id,customer_id,ordered_at,amount\n"
            "A1,C1,2024-03-05,10\n,C2,2024-03-06,12\nnan,C3,2024-03-07,14\n",
        ),
        (
            "events",
            "event_id,customer_id,event_type,occurred_at\n"
            "E1,C1,browse,2024-03-05\n,C2,cart,2024-03-06\nNone,C3,cart,2024-03-07\n",
        ),
        (
            "survey_responses",
            "response_id,customer_id,responded_at,nps\n"
            "R1,C1,2024-03-05,9\n,C2,2024-03-06,7\nnan,C3,2024-03-07,3\n",
        ),
    ],
)
def test_a_row_without_its_id_is_rejected_where_the_file_has_ids(store, entity, text):
    key = entity_spec(entity).key[0]
    for _ in range(2):  # into an empty table, then into one that holds the first row
        result = import_file(store, _csv_bytes(text), entity, actor=ADMIN)
        assert result.accepted == 1
        rejects = result.rejects[["row_number", "column_name", "reason"]].values.tolist()
        assert rejects == [[3, key, "missing_value"], [4, key, "missing_value"]]
    assert _count(store, entity_spec(entity).table) == 1


def test_empty_cells_in_optional_columns_take_the_store_defaults(store):
    orders = import_file(
        store,
        _csv_bytes(
            "order_id,customer_id,ordered_at,amount,status,channel,discount\n"
            "O1,C1,2024-03-05,10,,,\n"
            "O2,C1,2024-03-05,12,已取消,门店,-1\n"
        ),
        "orders",
        actor=ADMIN,
    )
    assert (orders.accepted, orders.rejected) == (2, 0)
    stored = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert stored.loc["O1", "status"] == "paid"  # ImportOptions.default_status
    assert stored.loc["O2", "status"] == "cancelled"
    assert float(stored.loc["O1", "discount"]) == 0.0
    assert float(stored.loc["O2", "discount"]) == 1.0  # a discount written negative

    customers = import_file(
        store,
        _csv_bytes("会员ID,短信退订,邮件退订\nM1,是,\nM2,,是\n").decode("utf-8").encode("gbk"),
        "customers",
        actor=ADMIN,
    )
    assert (customers.accepted, customers.rejected) == (2, 0)
    stored = _rows(store, models.customers, models.customers.c.customer_id).set_index("customer_id")
    assert stored.loc["M1", "opt_out_sms"] and not stored.loc["M1", "opt_out_email"]
    assert not stored.loc["M2", "opt_out_sms"] and stored.loc["M2", "opt_out_email"]

    tickets = import_file(
        store,
        _csv_bytes("工单号,客户ID,工单类型,创建时间,优先级,是否投诉\nK1,M1,物流,2024-03-06,,\n"),
        "tickets",
        actor=ADMIN,
    )
    assert (tickets.accepted, tickets.rejected) == (1, 0)
    stored = _rows(store, models.tickets, models.tickets.c.ticket_id).set_index("ticket_id")
    assert stored.loc["K1", "priority"] == "normal"
    assert not stored.loc["K1", "is_complaint"]


def test_values_a_rule_fills_in_for_a_missing_column_do_not_overwrite_stored_ones(store):
    import_file(
        store,
        _csv_bytes(
            "order_id,customer_id,ordered_at,amount,status,discount\n"
            "A1,C1,2024-03-05 10:00,20,refunded,3\n"
        ),
        "orders",
        actor=ADMIN,
    )
    # an orders file without a status column: 'paid' for new orders only
    orders = import_file(
        store,
        _csv_bytes("order_id,customer_id,ordered_at,amount\nA1,C1,2024-03-05 10:00,20\n"),
        "orders",
        actor=ADMIN,
    )
    assert (orders.inserted, orders.updated, orders.unchanged) == (0, 0, 1)
    # order lines carry neither an order's status nor its discount
    lines = import_file(
        store,
        _csv_bytes(
            "order_id,customer_id,ordered_at,quantity,unit_price\n"
            "A1,C1,2024-03-05 10:00,2,10\n"
            "A2,C1,2024-03-06 10:00,1,5\n"
        ),
        "order_lines",
        actor=ADMIN,
    )
    assert lines.related["orders"].unchanged == 1 and lines.related["orders"].inserted == 1
    stored = _rows(store, models.orders, models.orders.c.order_id).set_index("order_id")
    assert stored.loc["A1", "status"] == "refunded"
    assert float(stored.loc["A1", "discount"]) == 3.0
    assert stored.loc["A2", "status"] == "paid"

    import_file(
        store,
        _csv_bytes("活动编号,活动名称,渠道,开始时间\nM1,春季短信,短信,2024-03-01\n"),
        "campaigns",
        actor=ADMIN,
    )
    campaigns = import_file(
        store, _csv_bytes("活动编号,渠道,开始时间\nM1,短信,2024-03-01\n"), "campaigns", actor=ADMIN
    )
    assert (campaigns.updated, campaigns.unchanged) == (0, 1)
    assert _rows(store, models.campaigns, models.campaigns.c.campaign_id)["name"].tolist() == [
        "春季短信"
    ]

    import_file(
        store,
        _csv_bytes(
            "campaign_id,customer_id,group,sent_at\n"
            "M1,C1,A,2024-03-01\nM1,C2,control,2024-03-01\nM1,C3,B,2024-03-01\n"
        ),
        "campaign_touches",
        actor=ADMIN,
    )
    responses = import_file(
        store,
        _csv_bytes("campaign_id,customer_id,responded\nM1,C1,1\nM1,C2,0\nM1,C3,1\n"),
        "campaign_touches",
        actor=ADMIN,
    )
    assert responses.updated == 3  # responded was unknown (NULL)
    touches = _rows(store, models.campaign_touches, models.campaign_touches.c.customer_id)
    assert touches["variant"].tolist() == ["A", "control", "B"]
    assert touches["is_control"].astype(bool).tolist() == [False, True, False]
    assert touches["responded"].astype(bool).tolist() == [True, False, True]


def test_a_value_the_files_data_decides_still_updates_a_stored_row(store):
    import_file(
        store,
        _csv_bytes("order_id,customer_id,ordered_at,amount,status\nB1,C1,2024-03-07,30,paid\n"),
        "orders",
        actor=ADMIN,
    )
    # no status column, but a negative amount: the order was refunded
    refund = import_file(
        store,
        _csv_bytes("order_id,customer_id,ordered_at,amount\nB1,C1,2024-03-07,-30\n"),
        "orders",
        actor=ADMIN,
    )
    assert (refund.updated, refund.unchanged) == (1, 0)
    stored = _rows(store, models.orders, models.orders.c.order_id).iloc[0]
    assert (stored["status"], float(stored["amount"])) == ("refunded", 30.0)

    import_file(
        store, _csv_bytes("活动编号,渠道,开始时间\nM1,短信,2024-03-01\n"), "campaigns", actor=ADMIN
    )
    import_file(
        store,
        _csv_bytes("campaign_id,customer_id,group\nM1,C1,B\nM1,C2,control\nM1,C3,B\n"),
        "campaign_touches",
        actor=ADMIN,
    )
    # a control flag without a variant column says who was in the control group, and
    # keeps the variant a treated customer got
    flags = import_file(
        store,
        _csv_bytes("campaign_id,customer_id,is_control\nM1,C1,yes\nM1,C2,no\nM1,C3,no\n"),
        "campaign_touches",
        actor=ADMIN,
    )
    assert (flags.updated, flags.unchanged) == (2, 1)
    touches = _rows(store, models.campaign_touches, models.campaign_touches.c.customer_id)
    assert touches[["variant", "is_control"]].values.tolist() == [
        ["control", True],
        ["A", False],
        ["B", False],
    ]


def test_campaigns_from_a_customers_file_keep_what_the_file_does_not_say(store):
    with_cost = "ID,Dt_Customer,Z_CostContact,AcceptedCmp1\n1,2024-03-01,3,1\n2,2024-03-02,3,0\n"
    import_file(store, _csv_bytes(with_cost), "customers", actor=ADMIN)
    campaign = _rows(store, models.campaigns, models.campaigns.c.campaign_id).iloc[0]
    assert float(campaign["cost"]) == 6.0
    without_cost = "ID,Dt_Customer,AcceptedCmp1\n1,2024-03-01,1\n2,2024-03-02,0\n"
    again = import_file(store, _csv_bytes(without_cost), "customers", actor=ADMIN)
    assert (again.related["campaigns"].updated, again.related["campaigns"].unchanged) == (0, 1)
    campaign = _rows(store, models.campaigns, models.campaigns.c.campaign_id).iloc[0]
    assert (float(campaign["cost"]), float(campaign["cost_per_contact"])) == (6.0, 3.0)
