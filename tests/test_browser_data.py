"""End to end: an analyst uploads a GBK export with Chinese headers on the Data page of
the real app (headless Chromium), imports it, downloads the rejected rows, and uploads
the same file again; the store and the downloaded file are checked."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from sqlalchemy import select

from crm_core.auth import COMMAND_LINE, create_user
from crm_core.bootstrap import prepare_store
from crm_core.i18n import translate
from crm_core.ingest.history import REASON_CODE_COLUMN
from crm_core.outreach.privacy import mask_contacts
from crm_core.store import make_engine, models
from tests.conftest import DEMO_TEST_CUSTOMERS, TEST_ADMIN_PASSWORD, browser_tab
from tests.support.browser import ARTIFACTS, AppServer, sign_in

pytestmark = pytest.mark.browser

# A shop back office's export as Excel saves it: a title line padded with separators,
# then the header; ￥ and 元 amounts, Chinese dates and statuses. Lines 5-7 are bad.
EXPORT = (
    "店铺订单导出 2024年3月,,,,,\n"
    "订单编号,会员ID,下单时间,实付金额,订单状态,手机号\n"
    'B-1001,M001,2024年3月5日,"￥1,234.50",已付款,138-0013-8000\n'
    "B-1002,M002,2024/3/6,88元,交易成功,13900139000\n"
    "B-1003,,2024-03-07,10,已付款,13700137000\n"
    "B-1004,M003,昨天,10,已付款,13600136000\n"
    "B-1005,M004,2024-03-08,=1+2,已付款,13500135000\n"
    "B-1006,M001,2024-03-09 10:00:00,12,已取消,\n"
).encode("gbk")
ACCEPTED = {"B-1001": 1234.50, "B-1002": 88.0, "B-1006": 12.0}
REJECTED = {5: "missing_value", 6: "unreadable_date", 7: "not_a_number"}  # by file line


@pytest.fixture(scope="module")
def import_store(tmp_path_factory) -> str:
    """A store of its own (this test writes to it) with an admin and an analyst; the app
    adds a small demo shop on its first start."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser-import') / 'crm.db'}"
    engine = make_engine(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD)
        prepare_store(engine, load_demo_if_empty=False)
    create_user(engine, "test-analyst", TEST_ADMIN_PASSWORD, "analyst", actor=COMMAND_LINE)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def import_app(import_store):
    server = AppServer(
        {
            "DATABASE_URL": import_store,
            "CRM_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD,
            "CRM_DEMO_CUSTOMERS": str(DEMO_TEST_CUSTOMERS),
        }
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def data_page(browser, import_app):
    with browser_tab(browser, import_app.url) as tab:
        yield tab


def _choose_orders(page) -> None:
    from playwright.sync_api import expect

    box = page.get_by_role("combobox", name=translate("data.entity", "en"))
    expect(box).to_have_count(1)  # a rerun's stale copy is gone once the run has finished
    box.click()
    page.get_by_role("option", name=translate("data.entity.orders", "en"), exact=True).click()
    expect(page.get_by_text(translate("data.entity_help.orders", "en"))).to_have_count(1)


def _upload_and_import(page, path) -> None:
    """Give the file to the uploader, wait for its mapping, press Import."""
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(path))
    page.get_by_text(translate("data.mapping.title", "en"), exact=True).wait_for()
    page.get_by_text("gb18030", exact=False).first.wait_for()
    page.get_by_role("button", name=translate("data.import.button", "en"), exact=True).click()


def _done(file_name: str, inserted: int, unchanged: int) -> str:
    """The page's message after importing EXPORT: 3 rows accepted, 3 rejected."""
    return translate(
        "data.import.done", "en", file=file_name, accepted="3", inserted=str(inserted),
        updated="0", unchanged=str(unchanged), rejected="3",
    )  # fmt: skip


def _stored_orders(url: str) -> dict[str, float]:
    """The file's orders in the store (the app adds a demo shop beside them)."""
    orders = models.orders
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(orders.c.order_id, orders.c.amount).where(orders.c.order_id.like("B-%"))
        ).all()
    engine.dispose()
    return {order_id: float(amount) for order_id, amount in rows}


def test_upload_a_gbk_export_import_it_download_the_rejects_and_upload_it_again(
    data_page, import_store, tmp_path
):
    from playwright.sync_api import expect

    page = data_page
    export = tmp_path / "店铺订单.csv"
    export.write_bytes(EXPORT)
    sign_in(page, "test-analyst", TEST_ADMIN_PASSWORD)
    page.locator("[data-testid=stSidebarNav]").get_by_text(
        translate("nav.data", "en"), exact=True
    ).click()
    page.get_by_role("heading", name=translate("data.title", "en")).wait_for()
    _choose_orders(page)
    _upload_and_import(page, export)
    done = _done(export.name, inserted=3, unchanged=0)
    page.get_by_text(done).wait_for()
    page.get_by_text(translate("data.import.customers_created", "en", count="2")).wait_for()
    assert _stored_orders(import_store) == ACCEPTED
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "data-import-en.png"), full_page=True)

    # the tables' own toolbar offers no CSV (it would hold raw formulas and phone numbers)
    rejected_rows = page.locator("[data-testid=stDataFrame]:visible").last
    rejected_rows.hover()
    page.get_by_role("button", name="Search").first.wait_for()
    assert page.get_by_role("button", name="Download as CSV").count() == 0
    with page.expect_download() as download_info:
        page.get_by_role("button", name=translate("data.rejects.download", "en")).click()
    download = download_info.value
    assert download.suggested_filename == f"{export.name}.rejects.csv"
    saved = tmp_path / "rejects.csv"
    download.save_as(saved)
    text = saved.read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    row_column = translate("data.rejects.row", "en")
    assert {int(row[row_column]): row[REASON_CODE_COLUMN] for row in rows} == REJECTED
    by_line = {int(row[row_column]): row for row in rows}
    # the formula an amount cell held is neutralised, and an analyst sees no phone number
    assert by_line[7][translate("data.rejects.value", "en")] == "'=1+2"
    assert by_line[7]["实付金额"] == "'=1+2"
    assert by_line[6]["手机号"] == mask_contacts(pd.Series(["13600136000"]))[0]
    assert "13600136000" not in text

    _upload_and_import(page, export)
    again = _done(export.name, inserted=0, unchanged=3)
    page.get_by_text(again).wait_for()
    assert _stored_orders(import_store) == ACCEPTED

    # another file that cannot be read: its message alone, not the last import's result
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(empty))
    page.get_by_text(translate("data.error.empty_file", "en", file=empty.name)).wait_for()
    download_button = page.get_by_role("button", name=translate("data.rejects.download", "en"))
    expect(page.get_by_text(again)).to_have_count(0)  # stale elements go when the run ends
    expect(download_button).to_have_count(0)

    # an old Excel file reaches the app, which says what to do with it
    old_excel = tmp_path / "订单.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(old_excel))
    told = translate("data.error.xls_not_supported", "en", file=old_excel.name)
    page.get_by_text(told).wait_for()
