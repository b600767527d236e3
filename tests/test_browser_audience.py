"""End to end: build an audience in the real app (headless Chromium), download the CSV,
and check the file against the same audience computed with crm_core: header, row count,
members, and that customers the policy or the filters exclude are absent."""

from __future__ import annotations

import csv
import io
import re

import pytest

from crm_core.customers.segments import preset, segment_label
from crm_core.customers.tags import tag_label
from crm_core.i18n import translate
from crm_core.outreach.audiences import (
    DEFAULT_EXPORT_COLUMNS,
    Audience,
    column_header,
    list_exports,
    load_audience_facts,
    preview_audience,
    select_members,
)
from crm_core.outreach.policy import load_policy
from crm_core.store import make_engine
from tests.conftest import BROWSER_STEP_TIMEOUT_MS, TEST_ADMIN_PASSWORD
from tests.support.actors import ADMIN
from tests.support.browser import ARTIFACTS, latest_order_date, sign_in

pytestmark = pytest.mark.browser

SEGMENTS = ("at_risk", "cant_lose", "hibernating")
EXCLUDED_TAG = "high_end"


def _pick(page, label: str, option: str) -> None:
    """Choose `option` in the multiselect `label` and wait for its chip: on a loaded
    machine a pick made while the fragment reruns can be lost, and is then made again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    chip = page.get_by_test_id("stMultiSelect").filter(has_text=label).filter(has_text=option)
    for _ in range(3):
        page.get_by_label(label).click()
        page.get_by_role("option", name=option, exact=True).click()
        page.keyboard.press("Escape")
        try:
            chip.first.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"{option!r} could not be picked in {label!r}")


def test_build_an_audience_download_it_and_read_the_file(page, demo_store_url):
    engine = make_engine(demo_store_url)
    as_of = latest_order_date(engine)
    facts = load_audience_facts(engine, as_of, None, preset("rfm11"))
    audience = Audience(include_segments=SEGMENTS, exclude_tags=(EXCLUDED_TAG,))

    sign_in(page, "test-analyst", TEST_ADMIN_PASSWORD)
    page.locator("[data-testid=stSidebarNav]").get_by_text(
        translate("nav.audiences", "en"), exact=True
    ).click()
    page.get_by_role("heading", name=translate("audiences.title", "en")).wait_for()
    for segment in SEGMENTS:
        _pick(page, translate("audiences.include_segments", "en"), segment_label(segment, "en"))
    _pick(page, translate("audiences.exclude_tags", "en"), tag_label(EXCLUDED_TAG, "en"))

    # The policy reads contacts from the store at download time; nobody else exports
    # between here and the click, so this is the list the app must write.
    result = preview_audience(engine, facts, audience, "sms", load_policy(engine))
    expected = set(facts.customer_ids.to_numpy()[result.kept_positions])
    excluded_by_policy = set(facts.customer_ids.to_numpy()[result.excluded_positions()])
    not_selected = set(facts.customer_ids.to_numpy()[~select_members(facts, audience)])
    assert expected and excluded_by_policy, "the demo shop should exclude someone"

    from playwright.sync_api import expect

    # found by its shape first, so a wrong count is reported as the count the app shows
    button = page.get_by_role("button", name=re.compile(r"^Download [\d,]+ customers$"))
    try:
        expect(button).to_have_accessible_name(
            translate("audiences.download.button", "en", count=len(expected)),
            timeout=BROWSER_STEP_TIMEOUT_MS,
        )
    except AssertionError:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "audience-builder-failed.png"), full_page=True)
        raise
    exports_before = len(list_exports(engine, actor=ADMIN))
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "audience-download.csv"
    download.save_as(str(target))
    page.screenshot(path=str(ARTIFACTS / "audience-builder.png"), full_page=True)

    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows[0] == [column_header(name, "en") for name in DEFAULT_EXPORT_COLUMNS]
    assert len(rows) - 1 == len(expected)
    ids = {row[0] for row in rows[1:]}
    assert ids == expected
    assert not ids & excluded_by_policy
    assert not ids & not_selected
    assert all("****" in row[2] for row in rows[1:])  # an analyst's file is masked
    exports = list_exports(engine, actor=ADMIN)
    assert len(exports) == exports_before + 1
    assert exports.iloc[0]["created_by"] == "test-analyst"
    assert exports.iloc[0]["members"] == len(expected)
    engine.dispose()
