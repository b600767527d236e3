"""AppTest of the Customer voice and Service pages on a demo shop: every role, both
languages, figures equal crm_core's; comments masked for viewers and not for admins;
the tickets at risk download equals crm_core's list; only admins change the SLA policy,
and a wrong entry is refused with what was typed kept."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from crm_core import asof
from crm_core.customers.segments import preset
from crm_core.i18n import translate
from crm_core.outreach.audiences import load_audience_facts
from crm_core.voice.groups import tiers_of
from crm_core.voice.nps import nps_estimate, survey_answers
from crm_core.voice.service import tickets_at_risk
from crm_core.voice.sla import load_sla_policy, service_tickets, ticket_levels
from tests.support.apptest import demo_store_url, exception_text, open_page, store_engine
from ui.voice import (
    KEY_HORIZON,
    KEY_POLICY_FORM,
    KEY_RANGE,
    KEY_RISK_DOWNLOAD,
    KEY_TEXT_WORD,
    SERVICE_PREFIX,
)

VOICE_PAGE = "views/voice.py"
SERVICE_PAGE = "views/service.py"
AS_OF = dt.date(2026, 10, 31)
ROLES = ["viewer", "analyst", "admin"]


@pytest.fixture(scope="module")
def page_store_url(tmp_path_factory) -> str:
    return demo_store_url(tmp_path_factory.mktemp("voice-page"), 3_000, 8, AS_OF)


@pytest.fixture
def engine(page_store_url, monkeypatch):
    with store_engine(page_store_url, monkeypatch) as engine:
        yield engine


def _open(page: str, role: str, language: str = "en", as_of: dt.date = AS_OF):
    return open_page(page, role, language=language, as_of=as_of, username=f"voice-{role}")


def _metric(at, key: str, language: str) -> str:
    label = translate(key, language)
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_voice_page_with_crm_cores_figures(engine, role, language):
    at = _open(VOICE_PAGE, role, language)
    assert at.title[0].value == translate("voice.title", language)
    answers = survey_answers(engine, AS_OF, since=AS_OF - dt.timedelta(days=364))
    scores = answers["nps"].dropna().astype(int)
    nps = float(nps_estimate((scores >= 9).sum(), (scores <= 6).sum(), len(scores)).nps)
    assert _metric(at, "voice.tile.nps", language) == f"{nps:+.1f}"
    assert _metric(at, "voice.tile.answers", language) == f"{len(scores):,}"
    tabs = [tab.label for tab in at.tabs]
    names = ("trend", "groups", "text")
    assert tabs == [translate(f"voice.tab.{name}", language) for name in names]
    periods = at.dataframe[0].value
    assert periods["answers"].sum() == len(scores)


def test_comments_are_masked_for_a_viewer_and_not_for_an_admin(engine):
    answers = survey_answers(engine, AS_OF)
    with_number = answers["comment"].fillna("").str.contains("13800138000")
    assert with_number.any(), "the demo shop should hold a comment with a phone number"
    first = answers.loc[with_number, "responded_at"].min().date()
    for role, visible in (("viewer", False), ("admin", True)):
        at = _open(VOICE_PAGE, role)
        at.date_input(key=KEY_RANGE).set_value(first).run()
        assert not at.exception, exception_text(at)
        comments = at.dataframe[-1].value
        text = " ".join(comments["comment"].astype(str))
        assert ("13800138000" in text) == visible
        assert ("138****8000" in text) == (not visible)


def test_a_word_filters_the_comments(engine):
    at = _open(VOICE_PAGE, "analyst")
    at.text_input(key=KEY_TEXT_WORD).set_value("物流").run()
    assert not at.exception, exception_text(at)
    comments = at.dataframe[-1].value
    assert len(comments) > 0
    assert comments["comment"].str.contains("物流").all()


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_service_page(engine, role, language):
    at = _open(SERVICE_PAGE, role, language)
    assert at.title[0].value == translate("service.title", language)
    moment = asof.last_second(AS_OF)
    facts = load_audience_facts(engine, AS_OF, None, preset("rfm11"))
    levels = ticket_levels(
        service_tickets(engine, AS_OF), load_sla_policy(engine), tiers_of(facts), moment
    )
    assert _metric(at, "service.tile.open", language) == f"{int(levels['is_open'].sum()):,}"
    policy_buttons = [b for b in at.button if b.key and KEY_POLICY_FORM in b.key]
    assert bool(policy_buttons) == (role == "admin")


def test_the_tickets_at_risk_download_is_crm_cores_list(engine, downloads):
    # mid-history, many tickets are still open and within their targets
    as_of = dt.date(2026, 6, 30)
    at = _open(SERVICE_PAGE, "analyst", "zh-CN", as_of=as_of)
    at.number_input(key=KEY_HORIZON).set_value(24).run()
    assert not at.exception, exception_text(at)
    content = downloads[KEY_RISK_DOWNLOAD]()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    moment = asof.last_second(as_of)
    facts = load_audience_facts(engine, as_of, None, preset("rfm11"))
    levels = ticket_levels(
        service_tickets(engine, as_of), load_sla_policy(engine), tiers_of(facts), moment
    )
    expected = tickets_at_risk(levels, moment, 24)
    assert len(expected) > 0, "the demo should have open tickets due within 24 hours"
    header = translate("service.column.ticket_id", "zh-CN")
    assert [row[header] for row in rows] == expected["ticket_id"].tolist()
    stage = translate("service.column.stage", "zh-CN")
    assert {row[stage] for row in rows} <= {
        translate("service.stage.first_response", "zh-CN"),
        translate("service.stage.resolution", "zh-CN"),
    }


def test_only_an_admin_changes_the_sla_policy_and_a_wrong_day_is_refused(engine):
    at = _open(SERVICE_PAGE, "admin")
    holidays = at.text_area(key=SERVICE_PREFIX + "policy.holidays")
    holidays.set_value("2026-10-01..2026-10-07\n2026-13-01")
    at.radio(key=SERVICE_PREFIX + "policy.clock").set_value("business")
    submit = next(b for b in at.button if b.key and KEY_POLICY_FORM in b.key)
    submit.click().run()
    assert not at.exception, exception_text(at)
    assert any("2026-13-01" in e.value for e in at.error)
    assert load_sla_policy(engine).clock == "calendar"
    assert "2026-13-01" in at.text_area(key=SERVICE_PREFIX + "policy.holidays").value
    at.text_area(key=SERVICE_PREFIX + "policy.holidays").set_value("2026-10-01..2026-10-07")
    next(b for b in at.button if b.key and KEY_POLICY_FORM in b.key).click().run()
    assert not at.exception, exception_text(at)
    policy = load_sla_policy(engine)
    assert policy.clock == "business"
    assert len(policy.calendar.holidays) == 7
