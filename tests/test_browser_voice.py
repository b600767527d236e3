"""End to end in headless Chromium: an analyst opens the Customer voice page, switches to
Chinese, opens the Service page on an earlier as-of date and downloads the tickets that
will breach within 24 hours, which equal crm_core's list; screenshots of both pages in
both languages go to tests/artifacts."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest

from crm_core import asof
from crm_core.customers.segments import preset
from crm_core.i18n import translate
from crm_core.outreach.audiences import load_audience_facts
from crm_core.store import make_engine
from crm_core.voice.groups import tiers_of
from crm_core.voice.service import tickets_at_risk
from crm_core.voice.sla import load_sla_policy, service_tickets, ticket_levels
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.support.browser import ARTIFACTS, choose_language, latest_order_date, sign_in

pytestmark = pytest.mark.browser

HORIZON_HOURS = 24


def _open(page, title_key: str, nav_key: str, language: str) -> None:
    page.locator("[data-testid=stSidebarNav]").get_by_text(
        translate(nav_key, language), exact=True
    ).click()
    page.get_by_role("heading", name=translate(title_key, language)).wait_for()


def _set_as_of(page, day: dt.date, language: str) -> None:
    """Type `day` into the sidebar's as-of date box."""
    box = (
        page.locator("[data-testid=stSidebar] [data-testid=stDateInput]")
        .filter(has_text=translate("app.as_of", language))
        .get_by_role("spinbutton")
    )
    for segment, value in zip(box.all(), (day.year, day.month, day.day), strict=True):
        segment.focus()
        segment.press_sequentially(f"{value:02d}")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # the calendar would swallow the next click


def _expected_at_risk(engine, as_of: dt.date) -> pd.DataFrame:
    moment = asof.last_second(as_of)
    facts = load_audience_facts(engine, as_of, None, preset("rfm11"))
    levels = ticket_levels(
        service_tickets(engine, as_of), load_sla_policy(engine), tiers_of(facts), moment
    )
    return tickets_at_risk(levels, moment, HORIZON_HOURS)


def test_voice_page_then_the_tickets_at_risk_download_in_chinese(page, demo_store_url):
    engine = make_engine(demo_store_url)
    latest = latest_order_date(engine)
    sign_in(page, "test-analyst", TEST_ADMIN_PASSWORD)
    page.get_by_role("heading", name=translate("overview.title", "en")).wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _open(page, "voice.title", "nav.voice", "en")
    page.get_by_text(translate("voice.chart.trend_caption", "en")).wait_for()
    page.screenshot(path=str(ARTIFACTS / "voice-trend-en.png"), full_page=True)

    choose_language(page, "en", "中文")
    page.get_by_role("heading", name=translate("voice.title", "zh-CN")).wait_for()
    page.get_by_role("tab", name=translate("voice.tab.text", "zh-CN")).click()
    page.get_by_text(translate("voice.text.words_title", "zh-CN")).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "voice-text-zh-CN.png"), full_page=True)

    as_of = latest - dt.timedelta(days=120)
    _set_as_of(page, as_of, "zh-CN")
    _open(page, "service.title", "nav.service", "zh-CN")
    page.get_by_text(as_of.isoformat()).first.wait_for()
    horizon = page.get_by_role("spinbutton", name=translate("service.horizon", "zh-CN"))
    horizon.fill(str(HORIZON_HOURS))
    horizon.press("Enter")
    page.get_by_role("tab", name=translate("service.tab.backlog", "zh-CN")).click()
    title = translate("service.risk.title", "zh-CN", hours=HORIZON_HOURS)
    page.get_by_text(title).wait_for()
    page.screenshot(path=str(ARTIFACTS / "service-backlog-zh-CN.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("button", name=translate("service.risk.download", "zh-CN")).click()
    content = download_info.value.path().read_bytes()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    expected = _expected_at_risk(engine, as_of)
    assert len(expected) > 0, "the demo should have open tickets due within 24 hours then"
    header = translate("service.column.ticket_id", "zh-CN")
    assert [row[header] for row in rows] == expected["ticket_id"].tolist()
    assert download_info.value.suggested_filename.startswith(f"tickets-due-in-{HORIZON_HOURS}h-")
    engine.dispose()


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_screenshots_of_the_service_page(browser, app_server, language):
    from tests.conftest import browser_tab

    with browser_tab(browser, app_server.url) as page:
        sign_in(page, "test-admin", TEST_ADMIN_PASSWORD)
        page.get_by_role("heading", name=translate("overview.title", "en")).wait_for()
        if language != "en":
            choose_language(page, "en", "中文")
        _open(page, "service.title", "nav.service", language)
        page.get_by_text(translate("service.chart.times_caption", language)).wait_for()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"service-times-{language}.png"), full_page=True)
        for tab, marker in (
            ("sla", "service.sla.caption"),
            ("volume", "service.volume.title"),
            ("policy", "service.policy.edit"),
        ):
            page.get_by_role("tab", name=translate(f"service.tab.{tab}", language)).click()
            page.get_by_text(translate(marker, language)).first.wait_for()
            page.screenshot(path=str(ARTIFACTS / f"service-{tab}-{language}.png"), full_page=True)
        _open(page, "voice.title", "nav.voice", language)
        page.get_by_role("tab", name=translate("voice.tab.groups", language)).click()
        page.get_by_text(translate("voice.group.caption", language, least=30)).wait_for()
        page.screenshot(path=str(ARTIFACTS / f"voice-groups-{language}.png"), full_page=True)
