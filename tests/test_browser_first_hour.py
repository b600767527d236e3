"""End to end, a new shop's first hour (issue 19): the real app on a clean store without
the demo opens on the Data page; the admin uploads a marketplace's three linked exports
(orders without amounts, their items, their payments), maps a status word the app does
not know, imports them, and the Overview shows non-zero figures."""

from __future__ import annotations

import pytest

from crm_core.bootstrap import DEMO_IF_EMPTY_ENV
from crm_core.i18n import translate
from crm_core.store import make_engine, models
from tests.conftest import TEST_ADMIN_PASSWORD, browser_tab
from tests.support.browser import ARTIFACTS, AppServer, sign_in
from tests.test_ingest_batch import ITEMS, ORDERS, PAYMENTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clean_app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('first-hour') / 'crm.db'}"
    server = AppServer(
        {"DATABASE_URL": url, "CRM_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD, DEMO_IF_EMPTY_ENV: "0"}
    )
    server.start()
    yield server, url
    server.stop()


def _settled(page) -> None:
    """Wait until the app's run has finished (its status widget is gone)."""
    from playwright.sync_api import expect

    expect(page.locator("[data-testid=stStatusWidget]")).to_have_count(0, timeout=60_000)


def test_a_clean_shop_imports_linked_exports_and_sees_its_figures(browser, clean_app, tmp_path):
    from playwright.sync_api import expect

    server, url = clean_app
    files = []
    for name, text in (("orders.csv", ORDERS.replace("shipped", "on_hold")),
                       ("items.csv", ITEMS), ("payments.csv", PAYMENTS)):  # fmt: skip
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    with browser_tab(browser, server.url) as page:
        sign_in(page, "admin", TEST_ADMIN_PASSWORD)
        page.get_by_role("heading", name=translate("data.title", "en")).wait_for()
        page.get_by_role("tab", name=translate("data.tab.batch", "en")).click()
        page.locator("[data-testid=stFileUploaderDropzoneInput]").nth(1).set_input_files(files)
        page.get_by_text(translate("data.words.title", "en")).wait_for()
        _settled(page)
        import_button = page.get_by_role(
            "button", name=translate("data.batch.import", "en", count=3)
        )
        expect(import_button).to_be_disabled()

        words = page.locator("[data-testid=stDataFrame]").nth(1)  # after the orders table
        words.scroll_into_view_if_needed()
        box = words.bounding_box()
        page.mouse.dblclick(box["x"] + box["width"] - 40, box["y"] + 35 + 17)  # first row
        page.get_by_role("option", name=translate("data.value.unpaid", "en"), exact=True).click()
        page.keyboard.press("Escape")
        _settled(page)
        expect(import_button).to_be_enabled()
        import_button.click()
        page.get_by_text("payments payments.csv: amounts of 3 orders").wait_for()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "first-hour-import-en.png"), full_page=True)

        page.locator("[data-testid=stSidebarNav]").get_by_text(
            translate("nav.overview", "en"), exact=True
        ).click()
        tiles = page.locator("[data-testid=stMetric]")
        tiles.nth(6).wait_for()
        orders_tile = tiles.filter(has_text=translate("overview.kpi.orders", "en")).first
        assert orders_tile.locator("[data-testid=stMetricValue]").inner_text().strip() == "2"
        page.screenshot(path=str(ARTIFACTS / "first-hour-overview-en.png"), full_page=True)

    engine = make_engine(url)
    with engine.connect() as conn:
        statuses = dict(conn.execute(models.orders.select().with_only_columns(
            models.orders.c.order_id, models.orders.c.status)).all())  # fmt: skip
    engine.dispose()
    assert statuses == {"o1": "paid", "o2": "paid", "o3": "unpaid"}
