"""`python -m crm_core import ENTITY FILE`: one summary line and exit 0, or the reason
and exit 2 with the store unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_core import commands as cli
from crm_core.commands import import_file
from crm_core.i18n import translate
from crm_core.ingest.duplicates import likely_duplicate_customers
from crm_core.store import make_engine, models

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture
def store_url(sqlite_store, monkeypatch) -> str:
    url = sqlite_store.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture(autouse=True)
def import_command_registered(monkeypatch):
    """The import command in the CLI's command list (whatever else it holds)."""
    if "import_file" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "import_file"))


WARM_UP_LINE = re.compile(
    r"^(First views prepared for \d{4}-\d{2}-\d{2} .*: [\d.]+ s"
    r"|No orders: no first views to prepare\.)\n",
    re.M,
)


def _summary(out: str) -> str:
    """What the import printed about its rows: the output without its last line, which
    says the first views were prepared (crm_core.customers.warm_up) and is checked here."""
    assert len(WARM_UP_LINE.findall(out)) == 1 and WARM_UP_LINE.search(out).end() == len(out)
    return WARM_UP_LINE.sub("", out)


def _count(url: str, table) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar()
    finally:
        engine.dispose()


def test_import_prints_one_line_and_a_reimport_is_unchanged(store_url, capsys):
    assert cli.main(["import", "orders", str(SAMPLES / "orders_taobao_gbk.csv")]) == 0
    assert _summary(capsys.readouterr().out) == "accepted 6, rejected 0, unchanged 0, updated 0\n"
    assert cli.main(["import", "orders", str(SAMPLES / "orders_taobao_gbk.csv")]) == 0
    assert _summary(capsys.readouterr().out) == "accepted 6, rejected 0, unchanged 6, updated 0\n"
    assert _count(store_url, models.orders) == 6


def test_day_first_sheet_and_rejects_options(store_url, tmp_path, capsys):
    code = cli.main(
        ["import", "order_lines", str(SAMPLES / "order_lines_day_first.csv"), "--day-first"]
    )
    assert code == 0
    assert _summary(capsys.readouterr().out).startswith("accepted 4, rejected 0")
    assert (
        cli.main(["import", "campaigns", str(SAMPLES / "campaigns.xlsx"), "--sheet", "活动"]) == 0
    )
    capsys.readouterr()
    bad = tmp_path / "touches.csv"
    bad.write_text("活动编号,客户ID,是否响应\nM2403,C1,是\nM2403,,否\nNOPE,C2,否\n", "utf-8")
    rejects = tmp_path / "rejects.csv"
    assert cli.main(["import", "campaign_touches", str(bad), "--rejects", str(rejects)]) == 0
    assert _summary(capsys.readouterr().out) == "accepted 1, rejected 2, unchanged 0, updated 0\n"
    written = pd.read_csv(rejects, dtype="str")
    assert written["reason_code"].tolist() == ["missing_value", "unknown_campaign"]
    assert written["Row"].tolist() == ["3", "4"]  # lines of the file


def test_order_lines_print_what_their_orders_got(store_url, tmp_path, capsys):
    lines = tmp_path / "lines.csv"
    text = (
        "订单号,客户ID,下单时间,数量,单价,订单状态\n"
        "A1,C1,2024-03-05,2,10,已付款\nA1,C1,2024-03-05,1,5,已付款\nA2,C2,2024-03-06,1,8,已付款\n"
    )
    lines.write_text(text, "utf-8")
    assert cli.main(["import", "order_lines", str(lines)]) == 0
    assert _summary(capsys.readouterr().out) == (
        "accepted 3, rejected 0, unchanged 0, updated 0; "
        "orders: inserted 2, unchanged 0, updated 0\n"
    )
    # the same lines, only the second order's status changed: the line says so
    lines.write_text(text.replace("1,8,已付款", "1,8,已退款"), "utf-8")
    assert cli.main(["import", "order_lines", str(lines)]) == 0
    assert _summary(capsys.readouterr().out) == (
        "accepted 3, rejected 0, unchanged 3, updated 0; "
        "orders: inserted 0, unchanged 1, updated 1\n"
    )


def test_a_mapping_file_is_used(store_url, tmp_path, capsys):
    data = tmp_path / "shop.csv"
    data.write_text("会员,时间,付款\nC1,2024-03-01,10\n", "utf-8")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps({"会员": "customer_id", "时间": "ordered_at", "付款": "amount"}), "utf-8"
    )
    assert cli.main(["import", "orders", str(data), "--mapping", str(mapping)]) == 0
    assert _summary(capsys.readouterr().out) == "accepted 1, rejected 0, unchanged 0, updated 0\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"customer_id,amount\nC1,10\n", "ordered_at"),
        (b"", "empty"),
        (b"order_id,customer_id,ordered_at,amount\n", "no data rows"),
    ],
)
def test_unusable_files_exit_2_with_the_reason(store_url, tmp_path, capsys, content, message):
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    assert cli.main(["import", "orders", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert _count(store_url, models.import_batches) == 0


def test_the_command_runs_as_a_process(store_url, tmp_path):
    script = (
        "import sys\n"
        "from crm_core import commands as cli\n"
        "if 'import_file' not in cli.COMMAND_MODULES:\n"
        "    cli.COMMAND_MODULES = (*cli.COMMAND_MODULES, 'import_file')\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "DATABASE_URL": store_url, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(
        [sys.executable, "-c", script, "import", "customers", str(SAMPLES / "customers.csv")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert (ok.returncode, _summary(ok.stdout)) == (
        0,
        "accepted 6, rejected 0, unchanged 0, updated 0\n",
    )
    missing = subprocess.run(
        [sys.executable, "-c", script, "import", "customers", str(tmp_path / "none.csv")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "none.csv" in missing.stderr and "Traceback" not in missing.stderr


TICKETS = (
    "工单号,会员ID,工单类型,创建时间\nT1,C1,物流,2024-03-05 10:00\nT2,C2,咨询,2024-03-05 11:00\n"
)


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ("missing/rejects.csv", "data.error.rejects_folder_missing"),
        ("a_file.txt/rejects.csv", "data.error.rejects_folder_missing"),
        (".", "data.error.rejects_is_folder"),
    ],
)
def test_an_unusable_rejects_path_exits_2_before_importing(
    store_url, tmp_path, capsys, target, key
):
    data = tmp_path / "tickets.csv"
    data.write_text(TICKETS, "utf-8")
    (tmp_path / "a_file.txt").write_text("", "utf-8")
    rejects = tmp_path / target
    code = cli.main(["import", "tickets", str(data), "--rejects", str(rejects)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == f"error: {translate(key, path=str(rejects))}\n"
    assert _count(store_url, models.tickets) == 0
    assert _count(store_url, models.import_batches) == 0


def test_a_rejects_folder_without_write_permission_exits_2(
    store_url, tmp_path, capsys, monkeypatch
):
    data = tmp_path / "tickets.csv"
    data.write_text(TICKETS, "utf-8")
    rejects = tmp_path / "rejects.csv"
    # A read-only folder, simulated: tests may run as root, who can write anywhere.
    monkeypatch.setattr(import_file.os, "access", lambda *args, **kwargs: False)
    assert cli.main(["import", "tickets", str(data), "--rejects", str(rejects)]) == 2
    message = translate("data.error.rejects_not_writable", path=str(rejects))
    assert capsys.readouterr().err == f"error: {message}\n"
    assert _count(store_url, models.tickets) == 0


@pytest.mark.parametrize(
    ("cell", "zone"),
    [("2024-03-05T10:00:00Z", "Mars/Base"), ("2024-03-05 10:00:00", "Mars/Base"),
     ("2024-03-05 10:00:00", "Asia")],
    ids=["zoned", "plain", "region"],
)  # fmt: skip
def test_an_unknown_timezone_is_refused_when_the_arguments_are_parsed(
    store_url, tmp_path, capsys, cell, zone
):
    data = tmp_path / "events.csv"
    data.write_text(f"customer_id,event_type,occurred_at\nU1,pv,{cell}\n", "utf-8")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["import", "events", str(data), "--timezone", zone])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert translate("data.error.unknown_timezone", zone=zone) in captured.err
    assert _count(store_url, models.events) == 0


def test_a_known_timezone_converts_zoned_cells(store_url, tmp_path, capsys):
    data = tmp_path / "events.csv"
    data.write_text("customer_id,event_type,occurred_at\nU1,pv,2024-03-05T10:00:00Z\n", "utf-8")
    assert cli.main(["import", "events", str(data), "--timezone", "Asia/Tokyo"]) == 0
    assert _summary(capsys.readouterr().out) == "accepted 1, rejected 0, unchanged 0, updated 0\n"
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(models.events.c.occurred_at)).scalar()
    finally:
        engine.dispose()
    assert pd.Timestamp(stored) == pd.Timestamp("2024-03-05 19:00")  # 10:00 UTC in Tokyo


def test_phones_written_as_floats_are_stored_whole_and_found_as_duplicates(
    store_url, tmp_path, capsys
):
    data = tmp_path / "customers.csv"
    data.write_text(
        "customer_id,phone\nC1,13800138000.0\nC2,+86 138 0013 8000\nC3,13900139001.00\n", "utf-8"
    )
    assert cli.main(["import", "customers", str(data)]) == 0
    assert _summary(capsys.readouterr().out) == "accepted 3, rejected 0, unchanged 0, updated 0\n"
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(models.customers.c.customer_id, models.customers.c.phone).order_by(
                    models.customers.c.customer_id
                )
            ).all()
        duplicates = likely_duplicate_customers(engine)
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("C1", "13800138000"),
        ("C2", "13800138000"),
        ("C3", "13900139001"),
    ]
    assert sorted(duplicates["customer_id"]) == ["C1", "C2"]
