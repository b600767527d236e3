"""Words the app does not know (issue 19, point 4): listed with their counts, mapped by
the user on the Data page, on the command line or by a saved template, instead of
rejecting the rows; marketplace status words and timestamp headers known by default."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from crm_core import commands
from crm_core.errors import InputError
from crm_core.i18n import translate
from crm_core.ingest import ImportOptions, import_file, save_template, suggest_mapping, validate
from crm_core.ingest.words import check_value_map, parse_value_map, unknown_words
from crm_core.store import make_engine, models
from tests.support.actors import ADMIN
from tests.test_page_data import _open, _upload
from tests.test_page_data import page_store as page_store  # the fixture

OLIST = (
    "order_id,customer_id,order_status,order_purchase_timestamp,payment_value\n"
    "o1,c1,delivered,2018-01-02 10:00:00,10\n"
    "o2,c2,invoiced,2018-01-03 10:00:00,20\n"
    "o3,c3,processing,2018-01-04 10:00:00,30\n"
    "o4,c4,unavailable,2018-01-05 10:00:00,40\n"
    "o5,c5,on_hold,2018-01-06 10:00:00,50\n"
    "o6,c6,on_hold,2018-01-07 10:00:00,60\n"
    "o7,c7,拍下未付,2018-01-08 10:00:00,70\n"
)


def _frame(text: str) -> pd.DataFrame:
    rows = [line.split(",") for line in text.strip().splitlines()]
    return pd.DataFrame(rows[1:], columns=rows[0], dtype="str")


def _stored_statuses(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(models.orders.c.order_id, models.orders.c.status)).all()
    return dict(rows)


def test_marketplace_headers_and_status_words_are_known_by_default():
    frame = _frame(OLIST)
    mapping = suggest_mapping(frame, "orders")
    assert mapping["order_purchase_timestamp"] == "ordered_at"
    assert mapping["order_status"] == "status"
    validated = validate(frame, "orders", mapping)
    statuses = dict(zip(validated.good["order_id"], validated.good["status"], strict=True))
    assert statuses == {"o1": "paid", "o2": "paid", "o3": "paid", "o4": "cancelled"}
    assert sorted(validated.rejects["reason"]) == ["unknown_value"] * 3


def test_unknown_words_are_listed_with_their_counts():
    frame = _frame(OLIST)
    unknown = unknown_words(frame, "orders", suggest_mapping(frame, "orders"))
    assert unknown.to_dict("records") == [
        {"field": "status", "column": "order_status", "word": "on_hold", "rows": 2},
        {"field": "status", "column": "order_status", "word": "拍下未付", "rows": 1},
    ]
    mapped = unknown_words(
        frame, "orders", suggest_mapping(frame, "orders"), {"status": {"ON HOLD": "unpaid"}}
    )
    assert mapped["word"].tolist() == ["拍下未付"]  # words compare like the tables' words


def test_a_value_map_turns_unknown_words_into_values():
    frame = _frame(OLIST)
    options = ImportOptions(value_map={"status": {"on_hold": "unpaid", "拍下未付": "unpaid"}})
    validated = validate(frame, "orders", suggest_mapping(frame, "orders"), options)
    assert validated.rejects.empty
    assert (
        validated.good.set_index("order_id").loc[["o5", "o6", "o7"], "status"].tolist()
        == ["unpaid"] * 3
    )


def test_a_value_map_is_checked():
    assert check_value_map("orders", {"status": {"x": "paid"}}) == {"status": {"x": "paid"}}
    with pytest.raises(InputError) as bad_value:
        check_value_map("orders", {"status": {"x": "shipped"}})
    assert "paid, unpaid, cancelled, refunded" in bad_value.value.message("en")
    with pytest.raises(InputError) as bad_field:
        check_value_map("orders", {"amount": {"x": "paid"}})
    assert bad_field.value.key == "data.error.value_map_field"
    assert parse_value_map(["status:on hold=unpaid", "channel:抖音直播=online"]) == {
        "status": {"on hold": "unpaid"},
        "channel": {"抖音直播": "online"},
    }
    with pytest.raises(InputError):
        parse_value_map(["status=paid"])


def test_a_saved_template_maps_its_words_on_the_next_import(store):
    frame = _frame(OLIST)
    mapping = suggest_mapping(frame, "orders")
    words = {"status": {"on_hold": "unpaid", "拍下未付": "unpaid"}}
    save_template(
        store, "olist", "orders", mapping, list(frame.columns), actor=ADMIN,
        options={"value_map": words},
    )  # fmt: skip
    result = import_file(store, OLIST.encode(), "orders", actor=ADMIN)
    assert (result.accepted, result.rejected) == (7, 0)
    assert _stored_statuses(store)["o6"] == "unpaid"


def test_the_import_command_maps_words_given_with_map(sqlite_store, monkeypatch, tmp_path, capsys):
    url = sqlite_store.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    path = tmp_path / "olist.csv"
    path.write_text(OLIST, encoding="utf-8")
    argv = ["import", "orders", str(path), "--map", "status:on_hold=unpaid"]
    assert commands.main([*argv, "--map", "status:拍下未付=unpaid"]) == 0
    assert "rejected 0" in capsys.readouterr().out
    assert _stored_statuses(make_engine(url))["o7"] == "unpaid"
    assert commands.main([*argv, "--map", "status:x=shipped"]) == 2
    assert "shipped" in capsys.readouterr().err


def test_the_data_page_lists_unknown_words_and_imports_them_as_mapped(page_store):
    at = _upload(_open(), "olist.csv", OLIST.encode(), "orders")
    editor = next(e for e in at.data_editor if e.key.endswith(".words.status"))
    table = editor.value
    assert table[["word", "rows"]].values.tolist() == [["on_hold", 2], ["拍下未付", 1]]
    assert translate("data.words.title") in [s.value for s in at.subheader]
    at.session_state[editor.key] = {
        "edited_rows": {0: {"value": "unpaid"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="crm.data.import").click().run()
    statuses = _stored_statuses(page_store)
    assert statuses["o5"] == statuses["o6"] == "unpaid"
    assert "o7" not in statuses  # left on reject: rejected with its reason
    assert "o4" in statuses
