"""A new shop can start without the demo: init-db without the demo flag keeps the store
empty (also when the app starts on it later), no demo setting crashes the app, an admin
removes a loaded demo from the Data page, and an empty store opens on the Data page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_core import commands
from crm_core.auth import COMMAND_LINE, create_user
from crm_core.bootstrap import (
    DEMO_CUSTOMERS_ENV,
    DEMO_IF_EMPTY_ENV,
    demo_customers_from_env,
    demo_shop_info,
    prepare_store,
)
from crm_core.customers.segments import preset, save_scheme
from crm_core.demo import generate_shop, load_shop, remove_demo_shop, store_is_empty
from crm_core.errors import PermissionDenied
from crm_core.i18n import translate
from crm_core.ingest import import_file, list_templates, save_template
from crm_core.predict.runs import latest_run
from crm_core.store import data_version, make_engine, models
from tests.support.actors import ADMIN, ANALYST
from tests.support.apptest import exception_text, open_app

SMALL_DEMO = "300"


@pytest.fixture
def no_demo_env(monkeypatch):
    monkeypatch.delenv(DEMO_IF_EMPTY_ENV, raising=False)
    monkeypatch.setenv(DEMO_CUSTOMERS_ENV, SMALL_DEMO)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_init_db_without_the_demo_flag_keeps_the_store_empty_for_the_app(
    tmp_path, monkeypatch, no_demo_env, capsys
):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert commands.main(["init-db"]) == 0
    engine = make_engine(url)
    assert store_is_empty(engine)
    report = prepare_store(engine)  # what the app does on its first start
    assert not report.demo_loaded
    assert store_is_empty(engine)
    assert "demo shop loaded" not in capsys.readouterr().out


def test_init_db_with_the_demo_flag_loads_the_demo(tmp_path, monkeypatch, no_demo_env, capsys):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert commands.main(["init-db", "--demo-if-empty"]) == 0
    assert "demo shop loaded: customers 300" in capsys.readouterr().out
    assert _count(make_engine(url), models.customers) == 300


def test_the_app_loads_the_demo_into_an_untouched_empty_store(sqlite_store, no_demo_env):
    assert prepare_store(sqlite_store).demo_rows["customers"] == 300


@pytest.mark.parametrize(("value", "customers"), [("0", 0), ("", 20_000), ("many", 20_000)])
def test_demo_size_settings_never_crash(monkeypatch, value, customers):
    monkeypatch.setenv(DEMO_CUSTOMERS_ENV, value)
    assert demo_customers_from_env() == customers


def test_no_demo_customers_means_no_demo(sqlite_store, monkeypatch):
    monkeypatch.delenv(DEMO_IF_EMPTY_ENV, raising=False)
    monkeypatch.setenv(DEMO_CUSTOMERS_ENV, "0")
    report = prepare_store(sqlite_store)
    assert not report.demo_loaded and store_is_empty(sqlite_store)


def test_the_first_start_scores_the_demo_and_removing_the_demo_removes_its_runs(
    sqlite_store, monkeypatch
):
    monkeypatch.delenv(DEMO_IF_EMPTY_ENV, raising=False)
    monkeypatch.setenv(DEMO_CUSTOMERS_ENV, "1500")
    prepare_store(sqlite_store)
    run = latest_run(sqlite_store)
    assert run is not None and run.created_by == "command-line"
    assert run.as_of.isoformat() == demo_shop_info(sqlite_store)["end_date"]
    assert _count(sqlite_store, models.customer_predictions) == run.customers > 0
    removed = remove_demo_shop(sqlite_store, ADMIN)
    assert removed["prediction_runs"] == 1 and removed["customer_predictions"] == run.customers
    assert latest_run(sqlite_store) is None


def test_a_demo_too_small_to_fit_starts_without_a_run(sqlite_store, no_demo_env, caplog):
    assert prepare_store(sqlite_store).demo_rows["customers"] == 300
    assert latest_run(sqlite_store) is None
    assert "no prediction run on the demo shop" in caplog.text


def test_removing_the_demo_keeps_users_templates_and_schemes(sqlite_store, no_demo_env):
    prepare_store(sqlite_store)
    import_file(sqlite_store, b"customer_id,ordered_at,amount\nX1,2026-10-01,5\n", "orders",
                actor=ADMIN)  # fmt: skip
    save_template(sqlite_store, "shop", "orders", {"id": "customer_id"}, ["id"], actor=ADMIN)
    save_scheme(sqlite_store, preset("lifecycle"), ADMIN)
    users = _count(sqlite_store, models.users)
    version = data_version(sqlite_store)
    with pytest.raises(PermissionDenied):
        remove_demo_shop(sqlite_store, ANALYST)
    assert not store_is_empty(sqlite_store)

    removed = remove_demo_shop(sqlite_store, ADMIN)
    assert removed["customers"] == 301 and removed["import_batches"] == 1
    for table in (models.customers, models.orders, models.tickets, models.import_batches):
        assert _count(sqlite_store, table) == 0
    assert _count(sqlite_store, models.users) == users
    assert _count(sqlite_store, models.segment_schemes) == 1
    assert len(list_templates(sqlite_store)) == 1
    assert demo_shop_info(sqlite_store) is None
    assert data_version(sqlite_store) > version
    assert not prepare_store(sqlite_store).demo_loaded  # the app does not bring it back


def test_an_empty_store_opens_on_the_data_page_for_who_may_import(sqlite_store, monkeypatch):
    url = sqlite_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "admin")
    assert not at.exception, exception_text(at)
    assert at.title[0].value == translate("data.title", "en")
    viewer = open_app(monkeypatch, url, "viewer")
    assert not viewer.exception, exception_text(viewer)
    assert viewer.title[0].value == translate("overview.title", "en")


def test_an_admin_removes_the_demo_from_the_data_page(sqlite_store, monkeypatch):
    load_shop(sqlite_store, generate_shop(200, seed=3))
    url = sqlite_store.url.render_as_string(hide_password=False)
    create_user(sqlite_store, "li", "a long enough password", "analyst", actor=COMMAND_LINE)
    analyst = open_app(monkeypatch, url, "analyst", page="views/data.py", username="li")
    assert not analyst.exception, exception_text(analyst)
    assert translate("demo.data_notice", "en", customers=200) in [i.value for i in analyst.info]
    assert not [b for b in analyst.button if b.key == "crm.data.remove_demo"]

    at = open_app(monkeypatch, url, "admin", page="views/data.py")
    assert at.button(key="crm.data.remove_demo").disabled
    at.checkbox(key="crm.data.remove_demo.sure").check().run()
    at.button(key="crm.data.remove_demo").click().run()
    assert not at.exception, exception_text(at)
    assert store_is_empty(sqlite_store)
    assert at.title[0].value == translate("data.title", "en")
    assert translate("demo.data_notice", "en", customers=200) not in [i.value for i in at.info]
