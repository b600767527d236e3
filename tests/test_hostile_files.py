"""Hostile files built at test time, scaled to low limits so they stay small (issue 20,
points 1 and 2): a gzip bomb is refused in one line without filling the memory, a
sheet that claims a huge dimension is read by its real cells, and too many columns are
refused; on the command line and on the Data page."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from crm_core.errors import InputError
from crm_core.i18n import translate
from crm_core.ingest import read as read_module
from crm_core.ingest.read import read_file
from tests.support.apptest import exception_text, open_app

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 20
BOMB_MB = 300


def _bomb(path: Path, megabytes: int = BOMB_MB) -> Path:
    """A CSV of `megabytes` of one repeated line, gzipped to a few hundred KB."""
    line = b"C1,2024-01-01,10\n" * 4096
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"customer_id,ordered_at,amount\n")
        for _ in range(megabytes * 1024 * 1024 // len(line)):
            out.write(line)
    return path


def _peak_memory_mb(argv: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """Exit code, peak resident memory (MB) and stderr of a command-line import run in a
    process of its own."""
    code = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(done.returncode, peak)\n"
        "sys.stderr.write(done.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "crm_core", *argv],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    returncode, peak = result.stdout.split()
    return int(returncode), float(peak), result.stderr


def test_a_gzip_bomb_is_refused_in_one_line_without_filling_the_memory(tmp_path, sqlite_store):
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_store.url.render_as_string(hide_password=False),
        "CRM_MAX_FILE_BYTES": str(LIMIT_MB * 1024 * 1024),
    }
    small = tmp_path / "small.csv"
    small.write_text("customer_id,ordered_at,amount\nC1,2024-01-01,10\n", encoding="utf-8")
    _code, baseline, _ = _peak_memory_mb(["import", "orders", str(small)], env)
    bomb = _bomb(tmp_path / "orders.csv")
    assert bomb.stat().st_size < 2 * 1024 * 1024
    code, peak, stderr = _peak_memory_mb(["import", "orders", str(bomb)], env)
    assert code == 2
    assert stderr.strip().splitlines() == [
        "error: " + translate("data.error.too_big", "en", file="orders.csv", limit="20 MB")
    ]
    assert "Traceback" not in stderr
    assert peak < baseline + LIMIT_MB + 100, (baseline, peak)  # unpacking 300 MB would show


def test_a_sheet_claiming_a_huge_dimension_is_read_by_its_cells(tmp_path, monkeypatch):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["customer_id", "ordered_at", "amount"])
    for i in range(20):
        sheet.append([f"C{i}", "2024-01-01", i])
    buffer = io.BytesIO()
    workbook.save(buffer)
    claimed = tmp_path / "claims.xlsx"
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(claimed, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:C21" />', b'<dimension ref="A1:XFD400" />')
                assert b"XFD400" in data
            target.writestr(item, data)
    cells = []
    counted = read_module._cell_text

    def counting(value):
        cells.append(value)
        return counted(value)

    monkeypatch.setattr(read_module, "_cell_text", counting)
    table = read_file(claimed)
    assert list(table.frame.columns) == ["customer_id", "ordered_at", "amount"]
    assert len(table.frame) == 20
    assert len(cells) < 1_000  # the claimed 16,384 x 400 cells are never made up


def test_too_many_columns_are_refused(monkeypatch):
    monkeypatch.setenv("CRM_MAX_COLUMNS", "50")
    header = ",".join(f"c{i}" for i in range(60))
    with pytest.raises(InputError) as refused:
        read_file((header + "\n" + ",".join("1" * 60) + "\n").encode(), file_name="wide.csv")
    assert refused.value.key == "data.error.too_many_columns"
    assert "60" in refused.value.message("en")


def test_the_data_page_refuses_a_gzip_bomb_with_a_message(tmp_path, sqlite_store, monkeypatch):
    monkeypatch.setenv("CRM_MAX_FILE_BYTES", str(LIMIT_MB * 1024 * 1024))
    url = sqlite_store.url.render_as_string(hide_password=False)
    at = open_app(monkeypatch, url, "analyst", page="views/data.py")
    bomb = _bomb(tmp_path / "bomb.csv", megabytes=60).read_bytes()
    at.file_uploader(key="crm.data.file").set_value(("bomb.csv", bomb, "text/csv")).run()
    assert not at.exception, exception_text(at)
    expected = translate("data.error.too_big", "en", file="bomb.csv", limit="20 MB")
    assert expected in [e.value for e in at.error]


def test_a_10_mb_line_keeps_the_good_rows(store):
    from crm_core.ingest import import_file
    from tests.support.actors import ADMIN

    text = "customer_id,name\nC1,Ann\nC2," + "x" * (10 * 1024 * 1024) + "\nC3,Zoe\nC4,a,b,c\n"
    result = import_file(store, text.encode(), "customers", actor=ADMIN)
    assert result.accepted == 3  # C2's name is cut to the column's length
    assert result.rejects.set_index("row_number")["reason"].to_dict() == {5: "bad_line"}


def test_a_line_in_another_encoding_is_rejected_by_its_number(store):
    from crm_core.ingest import import_file
    from tests.support.actors import ADMIN

    data = (
        "customer_id,name\nC1,王芳\n".encode()
        + "C2,李强\n".encode("gbk")
        + "C3,张伟\nC4,赵六\n".encode()
    )
    table = read_file(data, file_name="mixed.csv")
    assert table.encoding == "utf-8"
    assert table.frame["name"].tolist() == ["王芳", "张伟", "赵六"]
    assert table.bad_lines[["row_number", "text"]].values.tolist() == [[3, "C2,李强"]]
    result = import_file(store, data, "customers", file_name="mixed.csv", actor=ADMIN)
    assert result.accepted == 3
    assert result.rejects.set_index("row_number")["reason"].to_dict() == {3: "bad_line"}


def test_a_header_of_only_spaces_is_named_as_such():
    with pytest.raises(InputError) as refused:
        read_file(b"   ,   ,  \n", file_name="blank.csv")
    assert refused.value.key == "data.error.no_header"
    assert "blank.csv" in refused.value.message("zh-CN")
