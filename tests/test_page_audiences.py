"""AppTest of the Audiences and Exports pages: viewers get no download at all, an
analyst's download is masked, an admin's is not; the builder's count follows crm_core;
admins edit the policy; analysts add tags; the Exports page downloads the same list.

Downloads are deferred (the file is written when clicked), so the tests capture the
callable each download button registers and call it as Streamlit would.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crm_core.customers.segments import preset
from crm_core.customers.tags import load_tags
from crm_core.errors import PermissionDenied
from crm_core.i18n import translate
from crm_core.outreach.audiences import (
    FOR_REVIEW,
    Audience,
    apply_policy,
    contact_counts,
    export_member_ids,
    list_exports,
    load_audience_facts,
    select_members,
)
from crm_core.outreach.policy import DEFAULT_POLICY, ContactPolicy, load_policy, save_policy
from crm_core.outreach.triggers import (
    TRIGGER_LISTS,
    TriggerSettings,
    load_trigger_settings,
    save_trigger_settings,
)
from crm_core.predict.runs import run_predictions
from crm_core.sessions import end_session, start_session
from tests.support.actors import ADMIN, ANALYST
from tests.support.apptest import (
    APP_PATH,
    demo_store_url,
    exception_text,
    open_app,
    open_page,
    store_engine,
    store_user,
)
from ui.audiences import (
    KEY_COLUMNS,
    KEY_CONTACT_CHANNEL,
    KEY_DOWNLOAD,
    KEY_EXPORT_DOWNLOAD,
    KEY_FORMAT,
    KEY_INCLUDE_SEGMENTS,
    KEY_POLICY_FORM,
    KEY_PURPOSE,
    KEY_RANGE,
    KEY_TAG_ADD_ROW,
    KEY_TAG_COMBINE,
    KEY_TAG_NAME,
    KEY_TAG_ROW,
    KEY_TAG_ROWS,
    KEY_TAG_RULE,
    KEY_TAG_SAVE,
    KEY_TRIGGER_DOWNLOAD,
)
from ui.audiences.builder import KEY_RISK_LEVELS
from ui.context import KEY_AS_OF, KEY_AS_OF_CHOSEN, KEY_SESSION_COOKIE, KEY_USER

ROOT = Path(__file__).resolve().parents[1]
AUDIENCES_PAGE = "views/audiences.py"
EXPORTS_PAGE = "views/exports.py"
AS_OF = dt.date(2026, 10, 31)
MASKED = re.compile(r"^(\+86 )?\d{3}\*{4}\d{4}$")


@pytest.fixture(scope="module")
def page_store_url(tmp_path_factory) -> str:
    return demo_store_url(tmp_path_factory.mktemp("audience-page"), 800, 5, AS_OF)


@pytest.fixture
def engine(page_store_url, monkeypatch):
    with store_engine(page_store_url, monkeypatch) as engine:
        yield engine


@pytest.fixture(scope="module")
def predicted_store_url(tmp_path_factory) -> str:
    """A store of its own with a prediction run (the module store has none)."""
    url = demo_store_url(tmp_path_factory.mktemp("audience-predictions"), 2_000, 7, AS_OF)
    with pytest.MonkeyPatch.context() as patch, store_engine(url, patch) as engine:
        run_predictions(engine, AS_OF, actor=ADMIN)
    return url


@pytest.fixture
def predicted_engine(predicted_store_url, monkeypatch):
    with store_engine(predicted_store_url, monkeypatch) as engine:
        yield engine


def _open(page: str, role: str, language: str = "en") -> AppTest:
    return open_page(page, role, language=language, as_of=AS_OF, username=f"page-{role}")


def _metric(at: AppTest, key: str, language: str = "en") -> int:
    label = translate(key, language)
    return int(next(m for m in at.metric if m.label == label).value.replace(",", ""))


def _csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _expected_kept(engine, channel: str | None, audience: Audience) -> set[str]:
    facts = load_audience_facts(engine, AS_OF, None, preset("rfm11"))
    contacts = contact_counts(engine, facts.customer_ids, AS_OF, DEFAULT_POLICY.cap_window_days)
    result = apply_policy(
        facts, select_members(facts, audience), channel, load_policy(engine), contacts
    )
    return set(facts.customer_ids.to_numpy()[result.kept_positions])


def test_viewer_sees_the_audience_but_cannot_download(engine, downloads):
    at = _open(AUDIENCES_PAGE, "viewer")
    assert not at.download_button
    assert not downloads
    assert translate("audiences.download.not_allowed") in [info.value for info in at.info]
    assert _metric(at, "audiences.size.customers") == 800


def test_analyst_download_is_masked_and_recorded(engine, downloads):
    at = _open(AUDIENCES_PAGE, "analyst")
    kept = _metric(at, "audiences.policy.kept")
    assert kept == len(_expected_kept(engine, "sms", Audience()))
    before = len(list_exports(engine, actor=ADMIN))
    rows = _csv(downloads[KEY_DOWNLOAD]())
    assert len(rows) == kept
    addresses = [row[translate("audiences.column.address")] for row in rows]
    assert all(MASKED.match(address) for address in addresses), addresses[:5]
    exports = list_exports(engine, actor=ADMIN)
    assert len(exports) == before + 1
    newest = exports.iloc[0]
    assert (newest["created_by"], newest["members"], newest["channel"]) == (
        "page-analyst",
        kept,
        "sms",
    )


def test_admin_download_is_not_masked(engine, downloads):
    at = _open(AUDIENCES_PAGE, "admin")
    assert at.download_button(key=KEY_DOWNLOAD)
    rows = _csv(downloads[KEY_DOWNLOAD]())
    facts = load_audience_facts(engine, AS_OF, None, preset("rfm11"))
    phones = dict(zip(facts.customer_ids, facts.features["phone"], strict=True))
    id_header = translate("audiences.column.customer_id")
    address_header = translate("audiences.column.address")
    assert rows and all(row[address_header] == phones[row[id_header]] for row in rows)


def test_builder_count_follows_the_chosen_segments_and_channel(engine, downloads):
    at = _open(AUDIENCES_PAGE, "analyst")
    at.multiselect(key=KEY_INCLUDE_SEGMENTS).select("at_risk").select("cant_lose")
    at.radio(key=KEY_CONTACT_CHANNEL).set_value("email")
    at.run()
    assert not at.exception, exception_text(at)
    audience = Audience(include_segments=("at_risk", "cant_lose"))
    facts = load_audience_facts(engine, AS_OF, None, preset("rfm11"))
    assert _metric(at, "audiences.size.customers") == int(select_members(facts, audience).sum())
    expected = _expected_kept(engine, "email", audience)
    assert _metric(at, "audiences.policy.kept") == len(expected)
    rows = _csv(downloads[KEY_DOWNLOAD]())
    assert {row[translate("audiences.column.customer_id")] for row in rows} == expected
    summaries = [m.value for m in at.markdown if "excluded" in m.value]
    assert any(translate("audiences.channel.email") in text for text in summaries)


def test_the_page_in_chinese(engine, downloads):
    at = _open(AUDIENCES_PAGE, "analyst", language="zh-CN")
    assert at.title[0].value == translate("audiences.title", "zh-CN")
    assert _metric(at, "audiences.size.customers", "zh-CN") == 800
    rows = _csv(downloads[KEY_DOWNLOAD]())
    assert translate("audiences.column.segment", "zh-CN") in rows[0]


def test_only_admins_get_the_policy_form(engine):
    analyst = _open(AUDIENCES_PAGE, "analyst")
    assert translate("audiences.policy.admins_only") in [info.value for info in analyst.info]
    assert not [n for n in analyst.number_input if str(n.key).startswith(KEY_POLICY_FORM)]
    admin = _open(AUDIENCES_PAGE, "admin")
    admin.number_input(key=f"{KEY_POLICY_FORM}.quiet_period_days").set_value(14)
    next(b for b in admin.button if b.label == translate("audiences.policy.save")).click()
    admin.run()
    assert not admin.exception, exception_text(admin)
    try:
        assert load_policy(engine).quiet_period_days == 14
        assert translate("audiences.policy.saved") in [s.value for s in admin.success]
    finally:
        save_policy(engine, DEFAULT_POLICY, ADMIN)


def test_analyst_adds_a_tag_and_viewer_cannot(engine):
    viewer = _open(AUDIENCES_PAGE, "viewer")
    assert not [b for b in viewer.button if b.key == KEY_TAG_SAVE]
    at = _open(AUDIENCES_PAGE, "analyst")
    at.text_input(key=KEY_TAG_NAME).input("大额常客")
    at.text_area(key=KEY_TAG_RULE).input('{"field": "monetary", "op": ">=", "value": 2000}')
    at.button(key=KEY_TAG_SAVE).click()
    at.run()
    assert not at.exception, exception_text(at)
    assert "大额常客" in [tag.name for tag in load_tags(engine)]
    at.text_area(key=KEY_TAG_RULE).input('{"field": "monetary", "op": ">="')
    at.button(key=KEY_TAG_SAVE).click()
    at.run()
    assert at.error and "JSON" in at.error[0].value


def test_the_rule_builder_writes_the_rule_in_the_users_words(engine):
    at = _open(AUDIENCES_PAGE, "analyst", language="zh-CN")
    first, second = at.session_state[KEY_TAG_ROWS]  # the example rule of a new tag
    op = at.selectbox(key=f"{KEY_TAG_ROW}.{first}.op")
    assert op.label == "条件" and "至少" in op.options and "介于" in op.options
    assert at.radio(key=KEY_TAG_COMBINE).options == ["全部满足（且）", "任一满足（或）"]
    at.selectbox(key=f"{KEY_TAG_ROW}.{first}.field").set_value("monetary").run()
    at.text_input(key=f"{KEY_TAG_ROW}.{first}.value").input("2000").run()
    at.button(key=f"{KEY_TAG_ROW}.{second}.remove").click().run()
    at.button(key=KEY_TAG_ADD_ROW).click().run()
    (added,) = [row for row in at.session_state[KEY_TAG_ROWS] if row != first]
    at.selectbox(key=f"{KEY_TAG_ROW}.{added}.op").set_value("between").run()
    at.text_input(key=f"{KEY_TAG_ROW}.{added}.value").input("2，5").run()
    at.radio(key=KEY_TAG_COMBINE).set_value("any").run()
    assert not at.exception, exception_text(at)
    rule = {
        "any": [
            {"field": "monetary", "op": ">=", "value": 2000},
            {"field": "purchases", "op": "between", "value": [2, 5]},
        ]
    }
    assert json.loads(at.text_area(key=KEY_TAG_RULE).value) == rule
    reads = "规则含义：消费金额至少 2,000；或购买次数（全部历史）介于 2 至 5"
    assert reads in [caption.value for caption in at.caption]
    at.text_input(key=KEY_TAG_NAME).input("大额或常来")
    at.button(key=KEY_TAG_SAVE).click().run()
    assert not at.exception, exception_text(at)
    saved = {tag.name: tag.condition for tag in load_tags(engine)}
    assert saved["大额或常来"] == rule
    nested = {"all": [{"any": [rule["any"][0]]}, rule["any"][1]]}
    at.text_area(key=KEY_TAG_RULE).input(json.dumps(nested)).run()  # typed by an expert
    assert at.session_state[KEY_TAG_ROWS] == []
    assert translate("tags.builder.nested", "zh-CN") in [c.value for c in at.caption]
    at.run()  # an expert's nested rule stays as typed until they ask to start over
    assert json.loads(at.text_area(key=KEY_TAG_RULE).value) == nested
    at.text_area(key=KEY_TAG_RULE).input('{"field": "purchase", "op": ">=", "value": 2}').run()
    assert not at.exception, exception_text(at)  # a typo in a field: the builder steps aside
    assert at.session_state[KEY_TAG_ROWS] == []
    at.text_area(key=KEY_TAG_RULE).input("5").run()  # JSON, but no rule
    assert not at.exception, exception_text(at)
    at.button(key=KEY_TAG_ADD_ROW).click().run()  # "replace it with a new rule"
    assert json.loads(at.text_area(key=KEY_TAG_RULE).value) == {
        "field": "purchases",
        "op": ">=",
        "value": 2,
    }
    (only,) = at.session_state[KEY_TAG_ROWS]
    assert at.button(key=f"{KEY_TAG_ROW}.{only}.remove").disabled  # one condition stays
    flat = {"field": "last_nps", "op": "is_null"}
    at.text_area(key=KEY_TAG_RULE).input(json.dumps(flat)).run()
    (row,) = at.session_state[KEY_TAG_ROWS]
    assert at.selectbox(key=f"{KEY_TAG_ROW}.{row}.op").value == "is_null"
    assert at.text_input(key=f"{KEY_TAG_ROW}.{row}.value").disabled


def _trigger_titles(at) -> dict[str, str]:
    titles = {}
    for expander in at.expander:
        for name in TRIGGER_LISTS:
            start = translate(f"triggers.{name}.title", "en", count=0).split("(")[0]
            if expander.label.startswith(start):
                titles[name] = expander.label
    assert set(titles) == set(TRIGGER_LISTS)
    return titles


def test_a_trigger_list_title_counts_the_rows_of_its_file(engine, downloads):
    at = _open(AUDIENCES_PAGE, "analyst")
    before_policy = translate("triggers.before_policy", "en", count=0).split("0")[0].strip()
    differing = 0
    for name in TRIGGER_LISTS:
        at.run()  # the titles as they stand after the previous list's download
        title = _trigger_titles(at)[name]
        shown = int(re.search(r"\(([\d,]+)\)", title).group(1).replace(",", ""))
        rows = _csv(downloads[f"{KEY_TRIGGER_DOWNLOAD}{name}"]())
        assert shown == len(rows), (title, len(rows))
        if before_policy in title:
            differing += 1
            total = int(re.search(r"— ([\d,]+)", title).group(1).replace(",", ""))
            assert total > shown
    assert differing >= 1  # the demo's contact policy removes someone from some list
    for name in TRIGGER_LISTS:  # a second download of a list leaves out its first
        at.run()
        shown = int(re.search(r"\(([\d,]+)\)", _trigger_titles(at)[name]).group(1).replace(",", ""))
        assert shown == len(_csv(downloads[f"{KEY_TRIGGER_DOWNLOAD}{name}"]())), name


def test_a_download_offered_before_the_session_ended_is_refused(engine, downloads):
    analyst = store_user(str(engine.url), "analyst", "leaves-soon")
    at = AppTest.from_file(str(APP_PATH), default_timeout=120)
    at.session_state[KEY_USER] = analyst  # signed in through the form, as app.py does it
    at.session_state[KEY_SESSION_COOKIE] = start_session(engine, analyst).cookie
    at.session_state[KEY_AS_OF] = AS_OF
    at.session_state[KEY_AS_OF_CHOSEN] = True
    at.run()
    at.switch_page(AUDIENCES_PAGE).run()
    assert not at.exception, exception_text(at)
    exports_before = len(list_exports(engine, actor=ADMIN))
    end_session(engine, at.session_state[KEY_SESSION_COOKIE])  # signed out in another tab
    with pytest.raises(PermissionDenied):
        downloads[KEY_DOWNLOAD]()
    with pytest.raises(PermissionDenied):
        downloads[f"{KEY_TRIGGER_DOWNLOAD}winback"]()
    assert len(list_exports(engine, actor=ADMIN)) == exports_before  # nothing written


def test_trigger_lists_download_for_analysts(engine, downloads):
    at = _open(AUDIENCES_PAGE, "analyst")
    trigger_keys = [b.key for b in at.download_button if "trigger" in str(b.key)]
    assert len(trigger_keys) == 5
    viewer_downloads = _open(AUDIENCES_PAGE, "viewer").download_button
    assert not viewer_downloads


def test_analyst_saves_trigger_days_typed_with_a_chinese_comma(engine):
    at = _open(AUDIENCES_PAGE, "analyst")
    label = translate("triggers.settings.winback_days")
    next(box for box in at.text_input if box.label == label).input("30，45 45")
    next(b for b in at.button if b.label == translate("triggers.settings.save")).click()
    at.run()
    assert not at.exception, exception_text(at)
    try:
        assert load_trigger_settings(engine).winback_days == (30, 45)
        assert translate("triggers.settings.saved") in [s.value for s in at.success]
    finally:
        save_trigger_settings(engine, TriggerSettings(), ANALYST)


def test_exports_page_downloads_the_same_members_again(engine, downloads):
    _open(AUDIENCES_PAGE, "admin")
    downloads[KEY_DOWNLOAD]()
    newest = int(list_exports(engine, actor=ADMIN).iloc[0]["id"])
    page = _open(EXPORTS_PAGE, "analyst")
    assert page.dataframe[0].value["id"].iloc[0] == newest
    rows = _csv(downloads[KEY_EXPORT_DOWNLOAD]())
    ids = {row[translate("audiences.column.customer_id")] for row in rows}
    assert ids == set(export_member_ids(engine, newest))
    address_header = translate("audiences.column.address")
    assert all(MASKED.match(row[address_header]) for row in rows)
    details = page.table[0].value.set_index(translate("exports.detail.item"))
    value = translate("exports.detail.value")
    assert details.loc[translate("exports.detail.source"), value] == "audience"
    kept = int(str(details.loc[translate("exports.detail.kept"), value]).replace(",", ""))
    assert kept == int(list_exports(engine, actor=ADMIN).iloc[1]["members"])  # the original
    assert not [c for c in page.code if c.language == "json"]  # no raw JSON any more


def test_exports_page_is_not_in_a_viewers_menu(page_store_url, monkeypatch, downloads):
    at = open_app(monkeypatch, page_store_url, "viewer", as_of=AS_OF)
    assert not at.exception, exception_text(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(EXPORTS_PAGE)


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
def test_audiences_page_through_the_app(demo_store_url, monkeypatch, downloads, role):
    at = open_app(monkeypatch, demo_store_url, role, page="views/audiences.py")
    assert not at.exception, exception_text(at)
    assert at.title[0].value == translate("audiences.title")
    if role == "viewer":
        assert not at.download_button
        return
    rows = _csv(downloads[KEY_DOWNLOAD]())
    address = np.array([row[translate("audiences.column.address")] for row in rows])
    masked = np.array([bool(MASKED.match(value)) for value in address])
    assert len(rows) > 0
    assert masked.all() if role == "analyst" else not masked.any()


def test_the_csv_then_the_xlsx_of_one_audience_have_the_same_rows(engine, downloads):
    save_policy(engine, ContactPolicy(cap_contacts=1), ADMIN)  # the CSV alone reaches it
    try:
        at = _open(AUDIENCES_PAGE, "analyst")
        kept = _metric(at, "audiences.policy.kept")
        csv_rows = _csv(downloads[KEY_DOWNLOAD]())
        at.run()
        assert _metric(at, "audiences.policy.kept") == kept  # the list on screen stays whole
        at.radio(key=KEY_FORMAT).set_value("xlsx").run()
        workbook = openpyxl.load_workbook(io.BytesIO(downloads[KEY_DOWNLOAD]()))
        xlsx_rows = workbook.active.max_row - 1
        assert len(csv_rows) == xlsx_rows == kept

        at.radio(key=KEY_PURPOSE).set_value(FOR_REVIEW).run()
        downloads[KEY_DOWNLOAD]()
        marketing = list_exports(engine, actor=ADMIN)["is_marketing"].head(3).tolist()
        assert [bool(flag) for flag in marketing] == [False, True, True]
    finally:
        save_policy(engine, DEFAULT_POLICY, ADMIN)


def test_prediction_filters_wait_for_a_run(engine):
    at = _open(AUDIENCES_PAGE, "analyst")
    assert translate("audiences.predictions.none") in [c.value for c in at.caption]
    assert not [m for m in at.multiselect if m.key == KEY_RISK_LEVELS]
    assert not [n for n in at.number_input if "probability_alive" in str(n.key)]
    assert "clv_12m" not in at.multiselect(key=KEY_COLUMNS).options


def test_churn_risk_level_and_prediction_ranges_change_the_count(predicted_engine, downloads):
    facts = load_audience_facts(predicted_engine, AS_OF, None, preset("rfm11"))
    assert facts.prediction_run is not None
    at = _open(AUDIENCES_PAGE, "analyst")
    assert translate("audiences.predictions.none") not in [c.value for c in at.caption]
    everyone = _metric(at, "audiences.size.customers")
    assert everyone == len(facts)

    at.multiselect(key=KEY_RISK_LEVELS).select("high").run()
    assert not at.exception, exception_text(at)
    high = _metric(at, "audiences.size.customers")
    expected = int(select_members(facts, Audience(churn_risk_levels=("high",))).sum())
    assert high == expected and 0 < high < everyone

    at.number_input(key=f"{KEY_RANGE}probability_alive.min").set_value(50).run()
    at.number_input(key=f"{KEY_RANGE}clv_12m.max").set_value(100).run()
    assert not at.exception, exception_text(at)
    audience = Audience(
        churn_risk_levels=("high",), probability_alive=(0.5, None), clv_12m=(None, 100)
    )
    narrowed = _metric(at, "audiences.size.customers")
    assert narrowed == int(select_members(facts, audience).sum())
    assert narrowed < high

    at.multiselect(key=KEY_COLUMNS).select("clv_12m").select("churn_risk").run()
    rows = _csv(downloads[KEY_DOWNLOAD]())
    assert {row[translate("audiences.column.customer_id")] for row in rows} == _expected_kept(
        predicted_engine, "sms", audience
    )
    risks = [float(row[translate("audiences.column.churn_risk")]) for row in rows]
    assert risks and all(0 <= risk <= 1 for risk in risks)
    assert all(float(row[translate("audiences.column.clv_12m")]) <= 100 for row in rows)


def test_a_range_typed_upside_down_is_an_error_message(engine):
    at = _open(AUDIENCES_PAGE, "analyst")
    at.number_input(key=f"{KEY_RANGE}frequency.min").set_value(5).run()
    at.number_input(key=f"{KEY_RANGE}frequency.max").set_value(2).run()
    assert not at.exception, exception_text(at)
    assert any("frequency" in error.value for error in at.error)


@pytest.fixture
def fresh_engine(tmp_path, monkeypatch):
    """A store of its own: the module store's lists have used up the contact cap."""
    url = demo_store_url(tmp_path, 600, 13, AS_OF)
    with store_engine(url, monkeypatch) as engine:
        yield engine


def test_a_cross_sell_list_keeps_recent_a_buyers_and_leaves_out_b_buyers(fresh_engine, downloads):
    engine = fresh_engine
    from crm_core.customers.baskets import customer_items
    from ui.audiences import KEY_BOUGHT, KEY_CROSS_SELL, KEY_NEXT_BEST, KEY_NOT_BOUGHT, KEY_WITHIN

    at = _open(AUDIENCES_PAGE, "analyst")
    assert not [m for m in at.multiselect if str(m.key).startswith(KEY_BOUGHT)]  # until asked
    at.toggle(key=KEY_CROSS_SELL).set_value(True).run()
    assert not at.exception, exception_text(at)
    at.multiselect(key=KEY_BOUGHT + "category").select("休闲零食")
    at.number_input(key=KEY_WITHIN).set_value(180)
    at.multiselect(key=KEY_NOT_BOUGHT + "category").select("家居日用").run()
    assert not at.exception, exception_text(at)
    audience = Audience(
        bought_items=("休闲零食",), bought_within_days=180, not_bought_items=("家居日用",)
    )
    facts = load_audience_facts(engine, AS_OF, None, preset("rfm11"))
    members = select_members(facts, audience)
    assert _metric(at, "audiences.size.customers") == int(members.sum()) > 0
    at.multiselect(key=KEY_COLUMNS).select("next_best_category").run()
    expected = _expected_kept(engine, "sms", audience)  # before this download counts
    assert _metric(at, "audiences.policy.kept") == len(expected) > 0
    rows = _csv(downloads[KEY_DOWNLOAD]())
    ids = {row[translate("audiences.column.customer_id")] for row in rows}
    assert ids == expected
    items = customer_items(engine, AS_OF, "category")
    ids_series = pd.Series(sorted(ids))
    assert not items.bought(ids_series, ["家居日用"]).any()  # nobody who bought B
    assert items.bought(ids_series, ["休闲零食"], 180).all()
    best = dict(zip(facts.customer_ids, facts.next_best_categories(), strict=True))
    id_header = translate("audiences.column.customer_id")
    next_header = translate("audiences.column.next_best_category")
    assert all(row[next_header] == (best[row[id_header]] or "") for row in rows)
    assert any(row[next_header] for row in rows)
    newest = list_exports(engine, actor=ADMIN).iloc[0]
    assert newest["members"] == len(rows)

    at.multiselect(key=KEY_NEXT_BEST).select("家居日用").run()
    assert not at.exception, exception_text(at)
    narrowed = Audience(**{**audience.to_dict(), "next_best_categories": ["家居日用"]})
    assert _metric(at, "audiences.size.customers") == int(select_members(facts, narrowed).sum())
