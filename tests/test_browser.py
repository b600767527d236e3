"""End to end: the real app in headless Chromium, driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_core.i18n import translate
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, AppServer
from tests.support.requirements import require

pytestmark = pytest.mark.browser
STEP_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def app_server(demo_store_url) -> Iterator[AppServer]:
    server = AppServer({"DATABASE_URL": demo_store_url, "CRM_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    page.goto(app_server.url)
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    page.get_by_label(translate("auth.username", "en")).fill(username)
    page.get_by_label(translate("auth.password", "en")).fill(password)
    page.get_by_role("button", name=translate("auth.sign_in", "en")).click()


def choose_language(page, current: str, target_name: str) -> None:
    page.locator("[data-testid=stSidebar]").get_by_label(translate("app.language", current)).click()
    page.get_by_role("option", name=target_name).click()


def test_sign_in_switch_languages_and_see_the_overview_tiles(page):
    sign_in(page, "admin", TEST_ADMIN_PASSWORD)
    tiles = page.locator("[data-testid=stMetric]")
    tiles.first.wait_for()
    assert tiles.count() >= 7
    overview_en = translate("nav.overview", "en")
    overview_zh = translate("nav.overview", "zh-CN")

    choose_language(page, "en", "中文")
    page.locator("[data-testid=stSidebarNav]").get_by_text(overview_zh).wait_for()
    page.locator("[data-testid=stMetric]").first.wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview-zh.png"), full_page=True)

    choose_language(page, "zh-CN", "English")
    page.locator("[data-testid=stSidebarNav]").get_by_text(overview_en).wait_for()
    tiles = page.locator("[data-testid=stMetric]")
    tiles.first.wait_for()
    assert tiles.count() >= 7
    page.screenshot(path=str(ARTIFACTS / "overview-en.png"), full_page=True)


def test_wrong_password_is_refused(page):
    sign_in(page, "admin", "not-the-password")
    page.get_by_text(translate("auth.sign_in_failed", "en")).wait_for()
    assert page.locator("[data-testid=stMetric]").count() == 0
