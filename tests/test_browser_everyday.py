"""End to end in headless Chromium at 1440x900, what a manager meets every day: the RFM
explorer in English and Chinese shows each cut-point with a slider and a number input
beside it, a grid whose cells name their segment and label their numbers under a legend,
and the tabs below it, and a click on a grid cell opens its customers; the uploader
speaks Chinese. Screenshots go to tests/artifacts."""

from __future__ import annotations

import re

import pytest

from crm_core.customers.segments import preset, segment_labels
from crm_core.i18n import translate
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.support.browser import ARTIFACTS, sign_in
from ui.rfm import TABS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_rfm_explorer_labels_its_grid_and_pairs_sliders_with_number_inputs(
    browser, app_server, language
):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(app_server.url)
        sign_in(page, "test-analyst", TEST_ADMIN_PASSWORD)
        page.locator("[data-testid=stSidebarNav]").wait_for()
        page.wait_for_timeout(1_000)  # the session cookie is written by the next run
        page.goto(f"{app_server.url}/rfm?lang={language}&scheme=rfm11")  # a deep link
        page.get_by_role("heading", name=translate("rfm.title", language)).wait_for()
        for number in range(1, 5):  # R's four cut-points: each a slider and a number
            label = translate("rfm.cut_label", language, axis="R", number=number)
            page.get_by_role("slider", name=label).wait_for()
            box = page.get_by_role("spinbutton", name=label)
            box.wait_for()
            assert re.fullmatch(r"[\d,]+", box.input_value())

        grid = page.locator(".js-plotly-plot").first
        grid.get_by_text(translate("rfm.grid.legend", language)).wait_for()
        texts = " ".join(grid.locator("text").all_text_contents())
        customers_word = translate("rfm.grid.cell_customers", language, value="").strip()
        average_word = translate("rfm.grid.cell_average", language, value="").strip()
        assert customers_word in texts and average_word in texts
        names = segment_labels(preset("rfm11"), language)
        assert names["champions"] in texts and names["hibernating"] in texts
        tabs = [translate(f"rfm.tab.{name}", language) for name in TABS]
        assert page.get_by_role("tab").all_inner_texts()[: len(tabs)] == tabs
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"rfm-explorer-{language}.png"))

        # a click on a cell (its invisible marker lies over the words) lists its customers
        champions = grid.get_by_text(names["champions"]).first
        champions.scroll_into_view_if_needed()
        box = champions.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)  # Plotly picks the point under the pointer on hover
        page.wait_for_timeout(500)
        page.mouse.click(x, y)
        page.get_by_role(
            "tab", name=translate("rfm.tab.customers", language), selected=True
        ).wait_for()
    finally:
        context.close()


def test_the_uploader_speaks_chinese(browser, app_server):
    """Streamlit writes its uploader's button and size line in English; the app's style
    rule shows them in the session's language."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(app_server.url)
        sign_in(page, "test-analyst", TEST_ADMIN_PASSWORD)
        page.locator("[data-testid=stSidebarNav]").wait_for()
        page.wait_for_timeout(1_000)
        page.goto(f"{app_server.url}/data?lang=zh-CN")
        dropzone = page.locator("[data-testid=stFileUploaderDropzone]").first
        dropzone.wait_for()
        page.wait_for_timeout(1_000)
        shown = dropzone.evaluate(
            """zone => [
                'button [data-testid=stMarkdownContainer] p',
                '[data-testid=stFileUploaderDropzoneInstructions] span',
            ].map(selector => {
                const element = zone.querySelector(selector);
                return [getComputedStyle(element).fontSize,
                        getComputedStyle(element, '::after').content];
            })"""
        )
        (button_size, button_text), (line_size, line_text) = shown
        assert button_size == "0px" and button_text == f'"{translate("upload.button", "zh-CN")}"'
        assert line_size == "0px" and line_text.startswith('"每个文件不超过 1 GB • CSV')
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "data-upload-zh-CN.png"))
    finally:
        context.close()
