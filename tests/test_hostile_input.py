"""Hostile and broken input (issue 20): a NUL byte in a cell, and re-uploads that change
nothing, handled the same on SQLite and PostgreSQL, by the library and the command line."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_core import commands
from crm_core.ingest import import_file, import_history, import_rejects
from crm_core.store import models
from tests.support.actors import ADMIN

NUL_FILE = b"customer_id,name,city\nc1,Wang\x00Fang,Shanghai\nc2,Li,Bei\x00jing\n"
WITH_REJECTS = (
    b"order_id,customer_id,ordered_at,amount\n"
    b"o1,c1,2024-01-01,10\no2,c1,not a date,10\no3,c2,2024-01-03,ten\n"
)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_nul_byte_in_a_cell_is_dropped_the_same_on_both_databases(store, tmp_path, monkeypatch):
    result = import_file(store, NUL_FILE, "customers", actor=ADMIN)
    assert (result.accepted, result.rejected) == (2, 0)
    with store.connect() as conn:
        rows = dict(
            conn.execute(select(models.customers.c.customer_id, models.customers.c.city)).all()
        )
    assert rows == {"c1": "Shanghai", "c2": "Beijing"}

    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    path = tmp_path / "nul.csv"
    path.write_bytes(NUL_FILE.replace(b"c1,", b"c3,"))
    assert commands.main(["import", "customers", str(path)]) == 0


def test_a_reupload_that_changes_nothing_stores_its_rejects_once(store):
    first = import_file(store, WITH_REJECTS, "orders", file_name="o.csv", actor=ADMIN)
    again = import_file(store, WITH_REJECTS, "orders", file_name="o.csv", actor=ADMIN)
    assert first.rejected == again.rejected == 2
    assert again.changed_nothing
    assert _count(store, models.import_rejects) == 2  # not 4
    assert len(import_history(store)) == 2  # the re-upload is recorded
    shown = import_rejects(store, again.batch_id)
    assert shown["reason"].tolist() == ["unreadable_date", "not_a_number"]

    changed = WITH_REJECTS.replace(b"o1,c1,2024-01-01,10", b"o1,c1,2024-01-01,11")
    third = import_file(store, changed, "orders", file_name="o.csv", actor=ADMIN)
    assert third.updated == 1
    assert _count(store, models.import_rejects) == 4  # another file: its own rejects


CONTACTS_IN_REJECTS = (
    "order_id,customer_id,ordered_at,amount,receiver,remark\n"
    "o1,c1,2024-01-01,10,王芳,ok\n"
    "o2,c2,not a date,10,13812345678,call 13987654321 or li.na@example.com\n"
    "o3,13700001111,2024-01-03,ten,李强,-\n"
).encode()


def test_contacts_in_any_cell_of_rejected_rows_are_masked_for_analysts(store):
    import io

    import pandas as pd

    from crm_core.auth import Actor
    from crm_core.ingest.history import columns_hidden_from, rejects_csv, rejects_table

    result = import_file(store, CONTACTS_IN_REJECTS, "orders", actor=ADMIN)
    for actor, masked in ((Actor("a", "analyst"), True), (Actor("b", "admin"), False)):
        hide = columns_hidden_from(actor, result.mapping, result.rejects)
        table = rejects_table(result.rejects, "en", hide)
        text = rejects_csv(result.rejects, language="en", hide=hide).decode("utf-8-sig")
        shown = " ".join(table.astype(str).to_numpy().ravel()) + text
        for contact in ("13812345678", "13987654321", "li.na@example.com", "13700001111"):
            assert (contact in shown) is not masked, (actor.role, contact)
        if masked:
            frame = pd.read_csv(io.StringIO(text), dtype="str")
            assert frame.loc[0, "remark"].startswith("call 139****4321 or ")
            assert frame.loc[0, "receiver"] == "138****5678"
