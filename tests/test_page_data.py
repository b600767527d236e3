"""AppTest of the Data page: upload, mapping, import with counts and rejects, history,
saved mappings, duplicate customers; viewers are turned away.

Most tests run the page on its own over a fresh SQLite store (DATABASE_URL points at
it); one opens it through the real app with the shared harness.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from crm_core.bootstrap import DEMO_IF_EMPTY_ENV
from crm_core.i18n import translate
from crm_core.ingest import find_template, import_file, list_templates, save_template
from crm_core.ingest.history import REASON_CODE_COLUMN
from crm_core.outreach.privacy import mask_contacts
from crm_core.store import models
from tests.support.actors import ADMIN, LI
from tests.support.apptest import exception_text, open_app, open_page

ROOT = Path(__file__).resolve().parents[1]
PAGE = "views/data.py"
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture
def page_store(sqlite_store, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_store.url.render_as_string(hide_password=False))
    monkeypatch.setenv(DEMO_IF_EMPTY_ENV, "0")
    return sqlite_store


def _open(role: str = "analyst", language: str = "en") -> AppTest:
    return open_page(PAGE, role, language=language)


def _upload(at: AppTest, name: str, content: bytes, entity: str | None = None) -> AppTest:
    if entity:
        at.selectbox(key="crm.data.entity").select(entity).run()
    at.file_uploader(key="crm.data.file").set_value((name, content, "text/csv")).run()
    assert not at.exception, exception_text(at)
    return at


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_viewers_cannot_open_the_page(page_store, monkeypatch):
    at = open_app(monkeypatch, page_store.url.render_as_string(hide_password=False), "viewer")
    assert not at.exception, exception_text(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)


def test_a_gbk_export_is_detected_mapped_and_imported(page_store):
    at = _open()
    _upload(at, "orders.csv", (SAMPLES / "orders_taobao_gbk.csv").read_bytes(), "orders")
    assert any("gb18030" in text for text in _texts(at.caption))
    editor = at.data_editor[0].value
    fields = dict(zip(editor["column"], editor["field"], strict=True))
    assert fields["订单编号"] == "order_id" and fields["买家实付金额"] == "amount"
    assert fields["付款时间"] == "paid_at"
    at.button(key="crm.data.import").click().run()
    assert not at.exception, exception_text(at)
    done = translate(
        "data.import.done",
        file="orders.csv",
        accepted="6",
        inserted="6",
        updated="0",
        unchanged="0",
        rejected="0",
    )
    assert done in _texts(at.success)
    assert translate("data.import.customers_created", count="5") in _texts(at.info)
    assert translate("data.import.nothing_changed") not in _texts(at.info)
    assert translate("data.import.indexing") not in _texts(at.info)  # SQLite builds inside
    assert _count(page_store, models.orders) == 6

    at.button(key="crm.data.import").click().run()
    again = translate(
        "data.import.done",
        file="orders.csv",
        accepted="6",
        inserted="0",
        updated="0",
        unchanged="6",
        rejected="0",
    )
    assert again in _texts(at.success)
    assert translate("data.import.nothing_changed") in _texts(at.info)


def test_an_import_says_while_indexes_are_built_in_the_background(page_store, monkeypatch):
    running = [True]
    monkeypatch.setattr("ui.data_import.background_builds_running", lambda: running[0])
    at = _open()
    _upload(at, "orders.csv", (SAMPLES / "orders_taobao_gbk.csv").read_bytes(), "orders")
    at.button(key="crm.data.import").click().run()
    assert not at.exception, exception_text(at)
    assert translate("data.import.indexing") in _texts(at.info)
    running[0] = False
    at.run()
    assert at.success  # the result is still shown
    assert translate("data.import.indexing") not in _texts(at.info)


def test_rejected_rows_are_counted_listed_and_downloadable(page_store):
    content = (
        "客户ID,下单时间,实付金额\nC1,2024-03-01,10\n,2024-03-02,5\nC3,昨天,5\nC4,2024-03-04,十\n"
    ).encode()
    at = _upload(_open(), "shop.csv", content, "orders")
    at.button(key="crm.data.import").click().run()
    assert not at.exception, exception_text(at)
    by_reason = at.dataframe[-2].value
    assert sorted(by_reason[translate("data.rejects.reason")]) == sorted(
        translate(f"data.reason.{r}") for r in ("missing_value", "unreadable_date", "not_a_number")
    )
    first = at.dataframe[-1].value
    assert first[translate("data.rejects.row")].tolist() == [3, 4, 5]  # lines of the file
    assert REASON_CODE_COLUMN not in first.columns  # the download has it, for a re-upload
    download = at.get("download_button")[0]
    assert download.proto.label == translate("data.rejects.download")


def test_empty_cells_show_empty_and_an_ignored_column_says_ignore(page_store):
    content = "客户ID,下单时间,实付金额,备注\nC1,2024-03-01,10,\nC2,2024-03-02,ten,送货上门\n"
    at = _upload(_open(), "shop.csv", content.encode(), "orders")
    at.button(key="crm.data.import").click().run()
    assert not at.exception, exception_text(at)
    ignore = translate("data.mapping.ignore")
    assert at.data_editor[0].proto.placeholder == ignore
    # then the preview, the rejects, the history tab's tables: no "None" cells
    placeholders = [frame.proto.placeholder for frame in at.dataframe]
    assert placeholders[0] == ignore and placeholders[1:] == [""] * 6


def test_a_result_shows_only_under_the_file_and_entity_it_was_imported_as(page_store):
    content = "客户ID,下单时间,实付金额\nC1,2024-03-01,10\n".encode()
    at = _upload(_open(), "shop.csv", content, "orders")
    at.button(key="crm.data.import").click().run()
    assert len(at.success) == 1
    at.selectbox(key="crm.data.entity").select("customers").run()
    assert not at.exception, exception_text(at)
    assert len(at.success) == 0
    at.selectbox(key="crm.data.entity").select("orders").run()
    assert len(at.success) == 1  # the same file as the same entity: its last import
    _upload(at, "other.csv", content.replace(b"C1", b"C2"))
    assert len(at.success) == 0


def test_a_missing_required_column_blocks_the_import(page_store):
    at = _upload(_open(), "partial.csv", b"customer_id,amount\nC1,10\n", "orders")
    assert any("ordered_at" in text for text in _texts(at.warning))
    assert at.button(key="crm.data.import").disabled


def test_an_unreadable_file_shows_one_message(page_store):
    at = _upload(_open(), "empty.csv", b"order_id,customer_id\n", "orders")
    assert _texts(at.error) == [translate("data.error.no_rows", file="empty.csv")]


def test_a_mapping_saved_on_the_page_is_applied_to_the_next_upload(page_store):
    content = "会员,时间,付款\nC1,2024-03-01,10\n".encode()
    save_template(
        page_store,
        "小店导出",
        "orders",
        {"会员": "customer_id", "时间": "ordered_at", "付款": "amount"},
        ["会员", "时间", "付款"],
        actor=LI,
    )
    at = _upload(_open(), "shop.csv", content, "orders")
    assert translate("data.template.applied", name="小店导出") in _texts(at.info)
    fields = at.data_editor[0].value.set_index("column")["field"]
    assert fields["会员"] == "customer_id"
    at.text_input(key="crm.data.template_name").input("再存一份").run()
    at.button(key="crm.data.save_template").click().run()
    assert translate("data.template.saved", name="再存一份") in _texts(at.success)
    with page_store.connect() as conn:
        names = set(conn.execute(select(models.mapping_templates.c.name)).scalars())
    assert names == {"小店导出", "再存一份"}

    # the shop's export gained a column: started from its template, it is updated under
    # its name; from the suggested mapping, that name is refused as another source's
    wider = _upload(at, "shop2.csv", "会员,时间,付款,备注\nC1,2024-03-01,10,x\n".encode())
    assert translate("data.template.applied", name="小店导出") not in _texts(wider.info)
    wider.text_input(key="crm.data.template_name").input("小店导出").run()
    wider.button(key="crm.data.save_template").click().run()
    assert _texts(wider.error) == [translate("data.error.template_name_taken", name="小店导出")]
    templates = list_templates(page_store, "orders").set_index("name")["id"]
    box = next(b for b in wider.selectbox if b.key.startswith("crm.data.template."))
    box.set_value(int(templates["小店导出"])).run()
    wider.button(key="crm.data.save_template").click().run()
    assert translate("data.template.saved", name="小店导出") in _texts(wider.success)
    updated = find_template(page_store, "orders", ["会员", "时间", "付款", "备注"])
    assert updated["name"] == "小店导出"


def test_an_xlsx_sheet_is_chosen_and_imported(page_store):
    at = _open()
    at.selectbox(key="crm.data.entity").select("campaigns").run()
    at.file_uploader(key="crm.data.file").set_value(
        ("campaigns.xlsx", (SAMPLES / "campaigns.xlsx").read_bytes(), "application/vnd.ms-excel")
    ).run()
    sheet = next(box for box in at.selectbox if box.key and box.key.startswith("crm.data.sheet"))
    assert sheet.options == ["说明", "活动"]
    sheet.select("活动").run()
    at.button(key="crm.data.import").click().run()
    assert not at.exception, exception_text(at)
    assert _count(page_store, models.campaigns) == 2


def test_history_lists_imports_and_their_rejects(page_store):
    import_file(page_store, b"customer_id,date,amount\nC1,2024-03-01,10\nC2,never,5\n", "orders",
                file_name="march.csv", actor=LI)  # fmt: skip
    at = _open()
    history = at.dataframe[0].value
    assert history["file_name"].tolist() == ["march.csv"]
    assert history["rejected"].tolist() == [1]
    rejects = at.dataframe[-1].value
    assert rejects[translate("data.rejects.reason")].tolist() == [
        translate("data.reason.unreadable_date")
    ]

    # the next import with rejects is the one shown, not the one picked before it
    import_file(page_store, b"customer_id,date,amount\nC3,2024-03-02,ten\n", "orders",
                file_name="april.csv", actor=LI)  # fmt: skip
    at.run()
    assert not at.exception, exception_text(at)
    picked = at.selectbox(key=f"crm.data.history_batch.{at.dataframe[0].value['id'].iloc[0]}")
    assert "april.csv" in picked.format_func(picked.value)
    rejects = at.dataframe[-1].value
    assert rejects[translate("data.rejects.reason")].tolist() == [
        translate("data.reason.not_a_number")
    ]


def test_duplicates_are_previewed_and_merged_with_phones_masked_for_analysts(page_store):
    import_file(page_store, SAMPLES / "customers.csv", "customers", actor=ADMIN)
    import_file(page_store, SAMPLES / "orders_taobao_gbk.csv", "orders", actor=ADMIN)
    at = _open("analyst")
    duplicates = at.dataframe[-1].value
    assert set(duplicates["customer_id"]) == {"C0001", "C0006"}
    assert all("****" in phone for phone in duplicates["phone"])
    at.button(key="crm.data.duplicates.preview").click().run()
    assert not at.exception, exception_text(at)
    plan = [text for text in _texts(at.info) if "C0001" in text]
    assert plan and "0" in plan[0]
    at.button(key="crm.data.duplicates.merge").click().run()
    assert not at.exception, exception_text(at)
    assert translate("data.duplicates.done", count=1, survivor="C0001") in _texts(at.success)
    with page_store.connect() as conn:
        merged = conn.execute(
            select(models.customers.c.merged_into).where(models.customers.c.customer_id == "C0006")
        ).scalar()
    assert merged == "C0001"


def test_admins_see_phone_numbers_in_duplicates(page_store):
    import_file(page_store, SAMPLES / "customers.csv", "customers", actor=ADMIN)
    at = _open("admin")
    duplicates = at.dataframe[-1].value
    assert "13800138000" in set(duplicates["phone"])
    # the two records share a phone and an e-mail: one group, one row per record
    matches = (
        f"{translate('data.duplicates.email')} wang.fang@example.com, "
        f"{translate('data.duplicates.phone')} 13800138000"
    )
    label = translate("data.duplicates.group_label", matches=matches, count=2)
    assert at.selectbox(key="crm.data.duplicates.group").options == [label]
    assert sorted(duplicates["customer_id"]) == ["C0001", "C0006"]


def test_a_chained_group_names_each_shared_value_once_and_defaults_to_the_smallest_id(
    page_store,
):
    # A-B share a phone, B-C an e-mail, C-D another phone that masks like the first
    members = (
        "客户ID,手机号,邮箱\n"
        "D,13811118000,\n"
        "C,13811118000,B@example.com\n"
        "B,138 0013 8000,b@example.com\n"
        "A,13800138000,\n"
    )
    import_file(page_store, members.encode("utf-8"), "customers", actor=ADMIN)
    at = _open("analyst")
    phone, email = translate("data.duplicates.phone"), translate("data.duplicates.email")
    masked = mask_contacts(pd.Series(["b@example.com", "13800138000", "13811118000"]))
    assert masked[1] == masked[2]  # told apart by the group, not by their masked text
    matches = f"{email} {masked[0]}, {phone} {masked[1]}, {phone} {masked[2]}"
    label = translate("data.duplicates.group_label", matches=matches, count=4)
    assert at.selectbox(key="crm.data.duplicates.group").options == [label]
    assert at.dataframe[-1].value["customer_id"].tolist() == ["A", "B", "C", "D"]
    assert at.selectbox(key="crm.data.duplicates.survivor.1").value == "A"


def test_the_page_speaks_chinese(page_store):
    at = _open(language="zh-CN")
    assert at.title[0].value == "数据"
    assert [tab.label for tab in at.tabs] == [
        "上传",
        "关联文件",
        "导入历史",
        "重复客户",
        "数据质量",
    ]


def test_chinese_lists_are_joined_with_the_enumeration_comma(page_store):
    import_file(page_store, SAMPLES / "customers.csv", "customers", actor=ADMIN)
    at = _open("admin", language="zh-CN")
    label = at.selectbox(key="crm.data.duplicates.group").options[0]
    assert label == "邮箱 wang.fang@example.com、手机号 13800138000：2 条记录"


def test_rejects_csv_download_has_a_reason_column(page_store):
    from crm_core.ingest import rejects_csv

    result = import_file(
        page_store, b"customer_id,date,amount\nC1,2024-03-01,=1+1\n", "orders", actor=ADMIN
    )
    frame = pd.read_csv(io.BytesIO(rejects_csv(page_store, result.batch_id)), dtype="str")
    assert frame["Reason"].tolist() == [translate("data.reason.not_a_number")]
    assert frame["amount"].tolist() == ["'=1+1"]


def test_the_page_opens_inside_the_app(monkeypatch, demo_store_url):
    at = open_app(monkeypatch, demo_store_url, "analyst", page="views/data.py")
    assert not at.exception, exception_text(at)
    assert at.title[0].value == translate("data.title")
