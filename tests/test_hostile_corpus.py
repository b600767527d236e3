"""A hostile corpus, built at test time and scaled to low limits (issue 20): each file's
outcome — refused in one line, or good rows kept with the bad ones rejected by number —
is the same on SQLite and PostgreSQL, through the command line and the Data page, and
a refused file leaves the store as it was."""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import dataclass

import openpyxl
import pytest
from sqlalchemy import func, select

from crm_core import commands
from crm_core.bootstrap import DEMO_IF_EMPTY_ENV
from crm_core.i18n import translate
from crm_core.store import models
from tests.support.apptest import exception_text, open_app

LIMITS = {"CRM_MAX_FILE_BYTES": str(8 * 1024 * 1024), "CRM_MAX_COLUMNS": "40"}


@dataclass(frozen=True)
class Case:
    """A hostile file: its name and bytes, and either the error key it is refused with
    or the orders it keeps."""

    name: str
    data: bytes
    refused: str | None = None
    kept: int = 0


def _gzip_bomb() -> bytes:
    buffer = io.BytesIO()
    line = b"C1,2024-01-01,10\n" * 4096
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        out.write(b"customer_id,ordered_at,amount\n")
        for _ in range(40 * 1024 * 1024 // len(line)):
            out.write(line)
    return buffer.getvalue()


def _claiming_sheet() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["order_id", "customer_id", "ordered_at", "amount"])
    for i in range(5):
        sheet.append([f"X{i}", f"C{i}", "2024-01-02", 10 + i])
    buffer, claimed = io.BytesIO(), io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(claimed, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:D6" />', b'<dimension ref="A1:XFD300" />')
            target.writestr(item, data)
    return claimed.getvalue()


ORDERS = "order_id,customer_id,ordered_at,amount\n"
CASES = [
    Case("bomb.csv", _gzip_bomb(), refused="data.error.too_big"),
    Case("wide.csv", (",".join(f"c{i}" for i in range(50)) + "\n" + "1," * 49 + "1\n").encode(),
         refused="data.error.too_many_columns"),
    Case("claims.xlsx", _claiming_sheet(), kept=5),
    Case("nul.csv", (ORDERS + "N1,C1,2024-01-01,1\x000\nN2,C2,2024-01-02,5\n").encode(), kept=2),
    Case("far.csv", (ORDERS + "F1,C1,9999-12-31,10\nF2,C1,2024-01-01,10\n").encode(), kept=1),
    Case("long.csv", (ORDERS + "L1,C1,2024-01-01,10\nL2," + "x" * (6 * 1024 * 1024)
                      + ",2024-01-01,10\nL3,C3,2024-01-01,10\n").encode(), kept=2),
    Case("mixed.csv", (ORDERS + "M1,王芳,2024-01-01,10\n").encode()
         + "M2,李强,2024-01-01,10\n".encode("gbk")
         + "M3,张伟,2024-01-01,10\nM4,赵六,2024-01-01,10\n".encode(),
         kept=3),
    Case("spaces.csv", b"   ,   ,  \n", refused="data.error.no_header"),
]  # fmt: skip


def _orders(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(models.orders)).scalar_one())


@pytest.fixture
def limits(monkeypatch):
    for name, value in LIMITS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_command_line(store, limits, monkeypatch, tmp_path, capsys, case):
    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    path = tmp_path / case.name
    path.write_bytes(case.data)
    code = commands.main(["import", "orders", str(path)])
    out, err = capsys.readouterr()
    if case.refused:
        assert code == 2
        assert err.count("\n") == 1 and "Traceback" not in err
        assert case.name in err
        assert _orders(store) == 0
    else:
        assert code == 0, err
        assert f"accepted {case.kept}," in out
        assert _orders(store) == case.kept


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_data_page(store, limits, monkeypatch, case):
    monkeypatch.setenv(DEMO_IF_EMPTY_ENV, "0")
    url = store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "analyst", page="views/data.py")
    at.selectbox(key="crm.data.entity").select("orders").run()
    at.file_uploader(key="crm.data.file").set_value((case.name, case.data, "text/csv")).run()
    assert not at.exception, exception_text(at)
    if case.refused:
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and case.name in errors[0]
        assert not [b for b in at.button if b.key == "crm.data.import"]
        assert _orders(store) == 0
        return
    at.button(key="crm.data.import").click().run()
    assert not at.exception, exception_text(at)
    assert _orders(store) == case.kept
    assert translate("data.import.done", "en", file=case.name, accepted=str(case.kept),
                     inserted=str(case.kept), updated="0", unchanged="0",
                     rejected=str(_rejected(case))) in [s.value for s in at.success]  # fmt: skip


def _rejected(case: Case) -> int:
    return {"far.csv": 1, "long.csv": 1, "mixed.csv": 1}.get(case.name, 0)


def test_the_bomb_is_small_and_unpacks_past_the_limit():
    bomb = next(case for case in CASES if case.name == "bomb.csv")
    assert len(bomb.data) < 1024 * 1024
    assert len(gzip.decompress(bomb.data)) > int(LIMITS["CRM_MAX_FILE_BYTES"])
