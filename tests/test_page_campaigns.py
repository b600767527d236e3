"""AppTest of the Campaigns page on a demo shop: every role sees the list and one
campaign, in both languages; the list's figures are crm_core's; an analyst downloads a
list with a 10% holdout on the Audiences page and names its campaign here; the A/B
calculator gives the z-test's figures; the button of 'who responded' opens the
Audiences page with the segments that gained; only admins set the margin rate."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from crm_core.customers.segments import preset
from crm_core.i18n import translate
from crm_core.outreach.audiences import FOR_SENDING, list_exports
from crm_core.outreach.campaigns import (
    campaign_summary,
    gross_margin_rate,
    list_campaigns,
)
from crm_core.outreach.experiments import two_proportion_test
from crm_core.store import bulk_insert, bump_data_version, models
from tests.support.actors import ADMIN
from tests.support.apptest import demo_store_url, exception_text, open_page, store_engine
from ui.audiences import KEY_DOWNLOAD, KEY_HOLDOUT, KEY_INCLUDE_SEGMENTS, KEY_PURPOSE
from ui.campaigns import (
    KEY_BUILD_AUDIENCE,
    KEY_CREATE_FORM,
    KEY_LIST_DOWNLOAD,
    KEY_MARGIN_FORM,
    KEY_PICK,
)

CAMPAIGNS_PAGE = "views/campaigns.py"
AUDIENCES_PAGE = "views/audiences.py"
AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def page_store_url(tmp_path_factory) -> str:
    return demo_store_url(tmp_path_factory.mktemp("campaign-page"), 1_500, 8, AS_OF)


@pytest.fixture
def engine(page_store_url, monkeypatch):
    with store_engine(page_store_url, monkeypatch) as engine:
        yield engine


def _open(page: str, role: str, language: str = "en") -> AppTest:
    return open_page(page, role, language=language, as_of=AS_OF, username=f"camp-{role}")


def _texts(at: AppTest) -> list[str]:
    return [e.value for kind in (at.info, at.caption, at.warning) for e in kind]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
def test_every_role_sees_the_list_and_one_campaign(engine, downloads, role, language):
    at = _open(CAMPAIGNS_PAGE, role, language)
    assert at.title[0].value == translate("campaigns.title", language)
    summary = campaign_summary(engine, AS_OF)
    assert len(summary) > 0
    table = at.dataframe[0].value
    assert table["campaign_id"].tolist() == summary["campaign_id"].tolist()
    assert table["treated"].tolist() == summary["treated"].tolist()
    label = translate("campaigns.tile.campaigns", language)
    assert next(m for m in at.metric if m.label == label).value == f"{len(summary):,}"
    verdicts = {translate(f"campaigns.verdict.{v}", language) for v in summary["verdict"]}
    assert set(table["verdict"]) == verdicts
    # one campaign: the newest is picked, its arms shown
    assert at.session_state[KEY_PICK] == summary["campaign_id"].iloc[0]
    arm_label = translate("campaigns.arms.title", language)
    assert arm_label in [h.value for h in at.subheader]
    # downloads of the report are for everyone (no personal data); create is not
    assert KEY_LIST_DOWNLOAD in downloads
    create = translate("campaigns.create.not_allowed", language)
    assert (create in _texts(at)) == (role == "viewer")
    margin_inputs = [n for n in at.number_input if n.key == f"{KEY_MARGIN_FORM}.rate"]
    assert bool(margin_inputs) == (role == "admin")


def test_list_download_is_safe_and_in_the_users_language(engine, downloads):
    _open(CAMPAIGNS_PAGE, "analyst", "zh-CN")
    content = downloads[KEY_LIST_DOWNLOAD]()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    summary = campaign_summary(engine, AS_OF)
    assert len(rows) == len(summary)
    header = translate("campaigns.column.campaign_id", "zh-CN")
    assert [r[header] for r in rows] == summary["campaign_id"].tolist()


def test_a_list_downloaded_with_a_holdout_becomes_a_campaign(engine, downloads):
    at = _open(AUDIENCES_PAGE, "analyst")
    at.radio(key=KEY_PURPOSE).set_value(FOR_SENDING).run()
    at.number_input(key=KEY_HOLDOUT).set_value(10).run()
    assert not at.exception, exception_text(at)
    before = set(list_exports(engine, actor=ADMIN)["id"])
    content = downloads[KEY_DOWNLOAD]()
    exports = list_exports(engine, actor=ADMIN)
    export = exports.loc[~exports["id"].isin(before)].iloc[0]
    in_file = len(content.decode("utf-8-sig").strip().splitlines()) - 1
    assert in_file == export["row_count"]
    control = export["members"] - export["row_count"]
    assert 0.05 < control / export["members"] < 0.15

    at = _open(CAMPAIGNS_PAGE, "analyst")
    at.selectbox(key=f"{KEY_CREATE_FORM}.export").set_value(int(export["id"]))
    at.text_input(key=f"{KEY_CREATE_FORM}.campaign_id").input("SPRING-10")
    at.text_input(key=f"{KEY_CREATE_FORM}.name").input("Spring list with holdout")
    at.number_input(key=f"{KEY_CREATE_FORM}.cost").set_value(300.0)
    at.date_input(key=f"{KEY_CREATE_FORM}.date").set_value(AS_OF - dt.timedelta(days=3))
    at.button(key=f"{KEY_CREATE_FORM}.submit").click().run()
    assert not at.exception, exception_text(at)
    stored = list_campaigns(engine).set_index("campaign_id")
    assert stored.loc["SPRING-10", "export_id"] == export["id"]
    assert at.session_state[KEY_PICK] == "SPRING-10"
    at.run()
    summary = campaign_summary(engine, AS_OF).set_index("campaign_id")
    assert summary.loc["SPRING-10", "control"] == control
    assert summary.loc["SPRING-10", "treated"] == in_file
    assert "SPRING-10" in at.dataframe[0].value["campaign_id"].tolist()


def test_the_ab_calculator_gives_the_z_tests_figures(engine):
    at = _open(CAMPAIGNS_PAGE, "viewer")
    shown = next(d.value for d in at.dataframe if "statistic" in d.value.columns)
    expected = two_proportion_test(120, 1000, 100, 1000)
    row = shown.loc[shown["variant"] == "B"].iloc[0]
    assert float(row["p_value"]) == pytest.approx(expected.p_value, abs=5e-5)
    assert float(row["statistic"]) == pytest.approx(expected.z, abs=5e-5)
    assert row["difference"] == "+2.00 pp"
    assert shown.loc[shown["variant"] == "A", "p_value"].item() == "—"


def _campaign_that_worked(engine) -> str:
    """A campaign 10 days before the as-of date to every customer, half held out; half
    the treated bought the next day, a twentieth of the control."""
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(select(models.customers.c.customer_id))]
    started = pd.Timestamp(AS_OF) - pd.Timedelta(days=10) + pd.Timedelta(hours=9)
    control = np.arange(len(ids)) % 2 == 1
    buys = np.where(control, np.arange(len(ids)) % 40 == 1, np.arange(len(ids)) % 4 == 0)
    with engine.begin() as conn:
        bulk_insert(conn, models.campaigns, pd.DataFrame({
            "campaign_id": ["WORKED"], "name": ["It worked"], "channel": ["sms"],
            "started_at": [started], "cost": [100.0]}))  # fmt: skip
        bulk_insert(conn, models.campaign_touches, pd.DataFrame({
            "campaign_id": "WORKED", "customer_id": ids, "variant": "A",
            "is_control": control,
            "sent_at": [pd.NaT if c else started for c in control]}))  # fmt: skip
        bulk_insert(conn, models.orders, pd.DataFrame({
            "order_id": [f"worked-{k}" for k in np.flatnonzero(buys)],
            "customer_id": [ids[k] for k in np.flatnonzero(buys)],
            "ordered_at": started + pd.Timedelta(days=1), "amount": 50.0,
            "status": "paid"}))  # fmt: skip
        bump_data_version(conn)
    return "WORKED"


def test_who_responded_builds_an_audience_of_the_segments_that_gained(engine):
    campaign_id = _campaign_that_worked(engine)
    at = _open(CAMPAIGNS_PAGE, "analyst")
    at.selectbox(key=KEY_PICK).set_value(campaign_id).run()
    assert not at.exception, exception_text(at)
    assert translate("campaigns.groups.title") in [h.value for h in at.subheader]
    groups = next(d.value for d in at.dataframe if "label" in d.value.columns)
    assert (groups["uplift"] > 0).any()
    button = at.button(key=KEY_BUILD_AUDIENCE)
    assert not button.disabled
    button.click().run()
    assert not at.exception, exception_text(at)
    assert at.title[0].value == translate("audiences.title")
    chosen = at.session_state[KEY_INCLUDE_SEGMENTS]
    # the segments of the default scheme (and customers not scored the day before)
    assert chosen and set(chosen) <= {*preset("rfm11").segment_names, "not_scored"}


def test_only_an_admin_sets_the_margin_rate(engine):
    at = _open(CAMPAIGNS_PAGE, "admin")
    at.number_input(key=f"{KEY_MARGIN_FORM}.rate").set_value(42.0)
    at.button(key=f"{KEY_MARGIN_FORM}.submit").click().run()
    assert not at.exception, exception_text(at)
    assert gross_margin_rate(engine) == pytest.approx(0.42)


def test_a_cross_sell_lists_campaign_shows_buying_the_target_by_arm(engine):
    from crm_core.outreach.audiences import Audience, export_audience, load_audience_facts
    from crm_core.outreach.campaigns import create_campaign_from_export
    from crm_core.outreach.campaigns.cross_sell import cross_sell_report, cross_sell_target
    from crm_core.outreach.policy import ContactPolicy
    from tests.support.actors import ANALYST

    facts = load_audience_facts(engine, AS_OF - dt.timedelta(days=30), None, preset("rfm11"))
    audience = Audience(bought_items=("休闲零食",), not_bought_items=("家居日用",))
    exported, _ = export_audience(
        engine, facts, audience, channel="sms", policy=ContactPolicy(), actor=ANALYST,
        columns=["customer_id"], holdout_share=0.2, holdout_seed=9,
        created_at=dt.datetime.combine(AS_OF - dt.timedelta(days=30), dt.time(9)),
    )  # fmt: skip
    create_campaign_from_export(
        engine, exported.export_id, campaign_id="XSELL", name="Home goods for snack buyers",
        started_at=dt.datetime.combine(AS_OF - dt.timedelta(days=29), dt.time(9)),
        channel="sms", actor=ANALYST,
    )  # fmt: skip
    report = cross_sell_report(
        engine, "XSELL", AS_OF, cross_sell_target(engine, {"export_id": exported.export_id})
    )
    treated = report.arms.loc[~report.arms["is_control"], "recipients"].sum()
    assert treated == exported.row_count > 0
    assert report.arms["bought_target"].sum() > 0
    for language in ("en", "zh-CN"):
        at = _open(CAMPAIGNS_PAGE, "viewer", language)
        at.session_state[KEY_PICK] = "XSELL"
        at.run()
        assert not at.exception, exception_text(at)
        titles = [header.value for header in at.subheader]
        assert translate("campaigns.cross_sell.title", language) in titles
        shown = next(f.value for f in at.dataframe if "bought_target" in f.value.columns)
        assert shown["bought_target"].tolist() == report.arms["bought_target"].tolist()
        uplift = translate("campaigns.cross_sell.uplift", language)
        figures = [frame.value for frame in at.dataframe if "figure" in frame.value.columns]
        assert any(uplift in frame["figure"].tolist() for frame in figures)
