"""End to end: the real app in headless Chromium, driven by Playwright."""

from __future__ import annotations

import pytest

from crm_core.i18n import translate
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.support.browser import ARTIFACTS, choose_language, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_switch_languages_and_see_the_overview_tiles(page):
    sign_in(page, "admin", TEST_ADMIN_PASSWORD)
    tiles = page.locator("[data-testid=stMetric]")
    tiles.nth(6).wait_for()  # tiles render one by one: wait for the seventh
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
    tiles.nth(6).wait_for()  # tiles render one by one: wait for the seventh
    assert tiles.count() >= 7
    page.screenshot(path=str(ARTIFACTS / "overview-en.png"), full_page=True)


def test_wrong_password_is_refused(page):
    sign_in(page, "admin", "not-the-password")
    page.get_by_text(translate("auth.sign_in.failed", "en")).wait_for()
    assert page.locator("[data-testid=stMetric]").count() == 0


def test_ten_wrong_passwords_lock_the_account(page, demo_store_url):
    from crm_core.sign_ins import LOCK_ACCOUNT_AFTER
    from tests.support.apptest import TEST_PASSWORD, store_user

    store_user(demo_store_url, "viewer", "lock-me")
    failed = page.get_by_text(translate("auth.sign_in.failed", "en"))
    locked_start = translate("auth.sign_in.locked", "en", until="")[:20]
    for attempt in range(1, LOCK_ACCOUNT_AFTER + 1):
        sign_in(page, "lock-me", f"wrong-{attempt}")
        # one try at a time: a click during a run starts the next run beside it, and a
        # slowed try takes a second
        page.wait_for_timeout(1_800)
        if attempt < LOCK_ACCOUNT_AFTER:
            failed.wait_for()
    page.get_by_text(locked_start).wait_for()
    sign_in(page, "lock-me", TEST_PASSWORD)  # the right password is refused meanwhile
    page.get_by_text(locked_start).wait_for()
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid=stMetric]").count() == 0
    assert page.get_by_role("textbox", name=translate("auth.sign_in.password", "en")).count() == 1
