"""End to end in headless Chromium: an analyst downloads a list for sending with a 10%
holdout on the Audiences page, names its campaign on the Campaigns page, and finds it in
the campaign list with its treated and control counts; screenshots of the page in both
languages go to tests/artifacts."""

from __future__ import annotations

import re

import pytest

from crm_core.i18n import translate
from crm_core.outreach.audiences import FOR_SENDING, list_exports
from crm_core.outreach.campaigns import campaign_summary
from crm_core.store import make_engine
from tests.conftest import TEST_ADMIN_PASSWORD, browser_tab
from tests.support.actors import ADMIN
from tests.support.browser import ARTIFACTS, choose_language, latest_order_date, sign_in

pytestmark = pytest.mark.browser

CAMPAIGN_ID = "HOLDOUT-10"


def _open(page, title_key: str, nav_key: str, language: str = "en") -> None:
    page.locator("[data-testid=stSidebarNav]").get_by_text(
        translate(nav_key, language), exact=True
    ).click()
    page.get_by_role("heading", name=translate(title_key, language)).wait_for()


def test_download_with_a_holdout_name_the_campaign_and_see_it_listed(page, demo_store_url):
    from playwright.sync_api import expect

    engine = make_engine(demo_store_url)
    as_of = latest_order_date(engine)
    sign_in(page, "test-analyst", TEST_ADMIN_PASSWORD)
    _open(page, "audiences.title", "nav.audiences")
    page.get_by_role("radiogroup", name=translate("audiences.purpose", "en")).get_by_text(
        translate(f"audiences.purpose.{FOR_SENDING}", "en"), exact=True
    ).click()
    holdout = page.get_by_role("spinbutton", name=translate("audiences.holdout", "en"))
    holdout.fill("10")
    holdout.press("Enter")
    page.get_by_text("will be held out at random").wait_for()
    before = set(list_exports(engine, actor=ADMIN)["id"])
    button = page.get_by_role("button", name=re.compile(r"^Download [\d,]+ customers$"))
    with page.expect_download() as download_info:
        button.click()
    content = download_info.value.path().read_bytes()
    exports = list_exports(engine, actor=ADMIN)
    export = exports.loc[~exports["id"].isin(before)].iloc[0]
    rows_in_file = len(content.decode("utf-8-sig").strip().splitlines()) - 1
    held_out = int(export["members"] - export["row_count"])
    assert rows_in_file == export["row_count"]
    assert 0.07 < held_out / export["members"] < 0.13

    _open(page, "campaigns.title", "nav.campaigns")
    page.get_by_role("tab", name=translate("campaigns.tab.setup", "en")).click()
    textbox = page.get_by_role
    textbox("textbox", name=translate("campaigns.create.campaign_id", "en")).fill(CAMPAIGN_ID)
    textbox("textbox", name=translate("campaigns.create.name", "en")).fill("Spring, 10% held out")
    started = (
        page.locator("[data-testid=stDateInput]")
        .filter(has_text=translate("campaigns.create.start_date", "en"))
        .get_by_role("spinbutton")
    )
    for segment, value in zip(started.all(), (as_of.year, as_of.month, as_of.day), strict=True):
        segment.focus()
        segment.press_sequentially(f"{value:02d}")
    page.get_by_role("button", name=translate("campaigns.create.button", "en")).click()
    page.get_by_text(translate("campaigns.create.done", "en", campaign_id=CAMPAIGN_ID)).wait_for()

    summary = campaign_summary(engine, as_of).set_index("campaign_id")
    assert summary.loc[CAMPAIGN_ID, "treated"] == rows_in_file
    assert summary.loc[CAMPAIGN_ID, "control"] == held_out
    page.get_by_role("tab", name=translate("campaigns.tab.list", "en")).click()
    tile = page.locator("[data-testid=stMetric]").filter(
        has_text=translate("campaigns.tile.campaigns", "en")
    )
    assert tile.locator("[data-testid=stMetricValue]").inner_text() == f"{len(summary):,}"
    page.get_by_role("tab", name=translate("campaigns.tab.one", "en")).click()
    picked = page.locator("[data-testid=stSelectbox]").filter(
        has_text=translate("campaigns.pick", "en")
    )
    expect(picked.locator("input")).to_have_value(re.compile(re.escape(f"({CAMPAIGN_ID})")))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "campaigns-one-en.png"), full_page=True)
    engine.dispose()


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_screenshots_of_the_campaign_list(browser, app_server, language):
    with browser_tab(browser, app_server.url) as page:
        sign_in(page, "test-admin", TEST_ADMIN_PASSWORD)
        page.get_by_role("heading", name=translate("overview.title", "en")).wait_for()
        if language != "en":
            choose_language(page, "en", "中文")
        _open(page, "campaigns.title", "nav.campaigns", language)
        page.get_by_text(translate("campaigns.chart.roi", language)).first.wait_for()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"campaigns-list-{language}.png"), full_page=True)
        page.get_by_role("tab", name=translate("campaigns.tab.one", language)).click()
        page.get_by_text(translate("campaigns.funnel.title", language)).first.wait_for()
        page.screenshot(path=str(ARTIFACTS / f"campaigns-one-{language}.png"), full_page=True)
        page.get_by_role("tab", name=translate("campaigns.tab.calculator", language)).click()
        page.get_by_text(translate("campaigns.plan.title", language)).first.wait_for()
        page.screenshot(path=str(ARTIFACTS / f"campaigns-ab-{language}.png"), full_page=True)
