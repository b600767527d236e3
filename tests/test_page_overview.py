"""AppTest of the Overview page through the real app: the KPI tiles and charts render for
every role and language, the period selector recomputes, and an empty store says so."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from crm_core.auth import COMMAND_LINE, create_user
from crm_core.customers.overview import KPI_UNITS, periods
from crm_core.i18n import translate
from crm_core.store import bulk_insert, make_engine, models, upgrade_to_head
from crm_core.store.models import ROLES
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.support.apptest import demo_store_url, exception_text, open_app
from ui.context import KEY_LANGUAGE

PAGE = "views/overview.py"
KEY_PERIOD_DAYS = "crm.overview.period_days"


def _labels(language: str) -> list[str]:
    return [translate(f"overview.kpi.{kpi}", language) for kpi in KPI_UNITS]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_kpi_tiles_and_charts(monkeypatch, demo_store_url, role):
    at = open_app(monkeypatch, demo_store_url, role, page=PAGE)
    assert not at.exception, exception_text(at)
    assert [m.label for m in at.metric] == _labels("en")
    assert all(m.help for m in at.metric)
    assert all(m.value not in ("", None) for m in at.metric)
    assert len(at.get("plotly_chart")) == 3


def test_tiles_follow_the_language(monkeypatch, demo_store_url):
    at = open_app(monkeypatch, demo_store_url, "viewer", page=PAGE, language="zh-CN")
    assert not at.exception, exception_text(at)
    assert [m.label for m in at.metric] == _labels("zh-CN")
    assert translate("overview.kpi.customers.help", "zh-CN") in at.metric[0].help


def _latest_order_date(url: str) -> dt.date:
    engine = make_engine(url)
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    engine.dispose()
    return pd.Timestamp(latest).date()


def test_period_selector_recomputes_the_tiles(monkeypatch, demo_store_url):
    as_of = _latest_order_date(demo_store_url)
    at = open_app(monkeypatch, demo_store_url, "analyst", page=PAGE, as_of=as_of)
    assert not at.exception, exception_text(at)
    month, _ = periods(as_of, 30)
    assert month.first_day.isoformat() in at.caption[0].value
    orders_30 = at.metric[2].value
    at.radio(key=KEY_PERIOD_DAYS).set_value(365).run()
    assert not at.exception, exception_text(at)
    year, _ = periods(as_of, 365)
    assert year.first_day.isoformat() in at.caption[0].value
    assert at.metric[2].value != orders_30  # a year of the demo shop has more orders

    at.session_state[KEY_LANGUAGE] = "zh-CN"  # the choice survives a language switch
    at.run()
    assert not at.exception, exception_text(at)
    assert at.radio(key=KEY_PERIOD_DAYS).value == 365
    assert year.first_day.isoformat() in at.caption[0].value
    assert at.metric[0].label == translate("overview.kpi.customers", "zh-CN")


def test_an_as_of_before_any_order_shows_zeros_not_errors(monkeypatch, demo_store_url):
    at = open_app(monkeypatch, demo_store_url, "admin", page=PAGE, as_of=dt.date(2000, 1, 31))
    assert not at.exception, exception_text(at)
    orders_tile = at.metric[_labels("en").index(translate("overview.kpi.orders", "en"))]
    assert orders_tile.value == "0"
    assert translate("overview.chart.cohorts.empty", "en") in [i.value for i in at.info]


def test_a_store_without_orders_says_so(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    with engine.begin() as conn:  # a customer but no order: not empty, so no demo shop
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    create_user(engine, "test-viewer", TEST_ADMIN_PASSWORD, "viewer", actor=COMMAND_LINE)
    engine.dispose()
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD)
    at = open_app(monkeypatch, url, "viewer", page=PAGE)
    assert not at.exception, exception_text(at)
    assert len(at.metric) == 0
    assert translate("overview.empty", "en") in [i.value for i in at.info]


def test_the_nps_tile_of_a_shop_without_survey_answers_says_so(monkeypatch, tmp_path):
    url = demo_store_url(tmp_path, 300, 3, dt.date(2026, 10, 31))
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(delete(models.survey_responses))
    engine.dispose()
    for language in ("en", "zh-CN"):
        at = open_app(monkeypatch, url, "viewer", page=PAGE, language=language)
        assert not at.exception, exception_text(at)
        tiles = {m.label: m for m in at.metric}
        nps = tiles[translate("overview.kpi.nps", language)]
        assert nps.value == translate("overview.kpi.nps.none", language)
        assert nps.help == translate("overview.kpi.nps.none_help", language)
        assert len(tiles) == len(KPI_UNITS)
