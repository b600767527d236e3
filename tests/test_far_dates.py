"""An order dated 9999-12-31 (written straight into the store, as an old import let it
in) breaks no page: no date arithmetic overflows and the as-of date stays plausible."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from crm_core import asof
from crm_core.i18n import translate
from crm_core.store import models
from tests.support.apptest import APP_PATH, PAGE_FILES, exception_text, open_app, store_user
from ui.context import KEY_CONTEXT, KEY_USER


@pytest.fixture
def far_store(sqlite_store):
    with sqlite_store.begin() as conn:
        conn.execute(insert(models.customers).values(customer_id="c1", is_placeholder=False))
        for order_id, when in (
            ("far", dt.datetime(9999, 12, 31)),
            ("real", dt.datetime(2024, 1, 1)),
        ):
            conn.execute(
                insert(models.orders).values(
                    order_id=order_id, customer_id="c1", ordered_at=when, amount=10, status="paid"
                )
            )
    return sqlite_store


@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_opens_on_a_store_with_an_order_in_year_9999(far_store, monkeypatch, page):
    url = far_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "admin", page=page)
    assert not at.exception, exception_text(at)
    assert translate("app.error.unexpected", "en") not in [e.value for e in at.error]
    assert at.session_state[KEY_CONTEXT].as_of == dt.date(2024, 1, 1)  # the plausible newest


@pytest.mark.parametrize("chosen", ["9999-12-31", "0001-01-01"])
def test_a_link_to_a_date_at_the_end_of_time_is_clamped(far_store, monkeypatch, chosen):
    url = far_store.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(str(APP_PATH), default_timeout=120)
    at.session_state[KEY_USER] = store_user(url, "admin")
    at.query_params["as_of"] = chosen
    at.run()
    assert not at.exception, exception_text(at)
    assert at.session_state[KEY_CONTEXT].as_of == asof.clamp(dt.date.fromisoformat(chosen))
    at.switch_page("views/rfm.py").run()
    assert not at.exception, exception_text(at)


def test_boundaries_never_overflow():
    assert asof.end_of(dt.date.max) == dt.datetime(9999, 1, 1)
    assert asof.window_start(dt.date(1, 1, 1), 10**6) == dt.datetime.min
    assert asof.last_second(dt.date.max) == dt.datetime(9998, 12, 31, 23, 59, 59)


def test_an_unexpected_error_shows_a_message_not_a_traceback(far_store, monkeypatch, caplog):
    from crm_core.customers import overview

    def broken(*_args, **_kwargs):
        raise RuntimeError("/srv/crm/secret/path.py exploded")

    monkeypatch.setattr(overview, "stored_overview", broken)
    url = far_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "admin", page="views/overview.py")
    assert not at.exception  # no traceback element reaches the page
    assert [e.value for e in at.error] == [translate("app.error.unexpected", "en")]
    assert "exploded" in caplog.text  # the details are in the log


def test_implausible_dates_are_rejected_with_their_row(store, tmp_path, monkeypatch, capsys):
    from crm_core import commands
    from crm_core.ingest import ImportOptions, import_file
    from tests.support.actors import ADMIN

    text = (
        "order_id,customer_id,ordered_at,amount\n"
        "a,c1,2024-01-01,10\nb,c1,9999-12-31,10\nc,c1,1899-05-01,10\nd,c1,2027-12-01,10\n"
    )
    options = ImportOptions(latest_date=dt.date(2027, 12, 7))  # a year after 2026-12-07
    result = import_file(store, text.encode(), "orders", options=options, actor=ADMIN)
    assert result.accepted == 2  # a and d
    rejects = result.rejects.set_index("row_number")
    assert rejects["reason"].to_dict() == {3: "date_out_of_range", 4: "date_out_of_range"}
    assert set(rejects["column_name"]) == {"ordered_at"}

    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    path = tmp_path / "far.csv"
    path.write_text(text.replace("a,c1", "e,c2").replace("d,c1", "f,c2"), encoding="utf-8")
    assert commands.main(["import", "orders", str(path)]) == 0
    out = capsys.readouterr().out
    assert "rejected 2" in out
