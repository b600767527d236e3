"""Reading files as users have them: encodings, separators, broken lines, spreadsheets.

Every file is made by the test in tmp_path; the assertions check what was detected, that
every data row is either read or reported as a bad line with its number, and that a
file that cannot be used fails with one typed error naming the problem.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import threading

import pandas as pd
import pytest
from openpyxl import Workbook

from crm_core.errors import InputError
from crm_core.ingest import read_file, read_table, sheet_names
from crm_core.ingest.read import SCAN_THREAD

CHINESE_ORDERS = (
    "客户ID,订单号,下单时间,实付金额,订单状态\n"
    'C001,A1001,2024/3/5 10:00,"￥1,234.50",已付款\n'
    "C002,A1002,2024年3月6日,88元,交易关闭\n"
)


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_gbk_file_with_chinese_headers_is_detected(tmp_path):
    path = _write(tmp_path, "订单.csv", CHINESE_ORDERS.encode("gbk"))
    table = read_file(path)
    assert table.encoding == "gb18030"
    assert table.separator == ","
    assert list(table.frame.columns) == ["客户ID", "订单号", "下单时间", "实付金额", "订单状态"]
    assert table.frame.loc[2, "实付金额"] == "￥1,234.50"  # row numbers are the file's lines
    assert table.frame.loc[3, "订单状态"] == "交易关闭"
    assert table.file_name == "订单.csv"


def test_utf8_bom_and_semicolons(tmp_path):
    data = "\ufeffcustomer_id;amount\nC1;12,50\nC2;7\n".encode()
    table = read_file(_write(tmp_path, "bom.csv", data))
    assert table.encoding == "utf-8-sig"
    assert table.separator == ";"
    assert list(table.frame.columns) == ["customer_id", "amount"]
    assert table.frame["amount"].tolist() == ["12,50", "7"]


@pytest.mark.parametrize(("separator", "name"), [("\t", "tab"), ("|", "pipe")])
def test_tab_and_pipe_separators(tmp_path, separator, name):
    data = separator.join(["id", "name"]) + "\n" + separator.join(["1", "王芳"]) + "\n"
    table = read_file(_write(tmp_path, f"{name}.txt", data.encode()))
    assert table.separator == separator
    assert table.frame.loc[2].tolist() == ["1", "王芳"]


def test_utf16_unicode_text_from_excel(tmp_path):
    data = "客户ID\t金额\r\nC1\t10\r\n".encode("utf-16")
    table = read_file(_write(tmp_path, "unicode.txt", data))
    assert table.encoding == "utf-16"
    assert table.frame.loc[2].tolist() == ["C1", "10"]


def test_whitespace_separated_file_with_a_bad_line(tmp_path):
    data = (
        b" customer_id  date  dollar_value\r\n"
        b" 00001 19970101  11.77\r\n"
        b" 00002 19970112 1 2 3\r\n"
        b" 00003 19970102  20.76\r\n"
    )
    table = read_file(_write(tmp_path, "cdnow.txt", data))
    assert table.separator == "whitespace"
    assert table.frame["customer_id"].tolist() == ["00001", "00003"]
    assert table.frame.index.tolist() == [2, 4]
    assert table.bad_lines["row_number"].tolist() == [3]
    assert "00002" in table.bad_lines["text"].iloc[0]
    assert table.rows_read == 3


def test_whitespace_separated_rows_after_a_blank_line_keep_their_line_numbers(tmp_path):
    data = (
        b"cust date qty amount\n"
        b"00001 19970101 1 11.77\n"
        b"\n"
        b"00002 19970112 2 x\n"
        b"00003 19970112 2 12.00 extra\n"
        b"00004 19970113 2 12.00\n"
    )
    table = read_file(_write(tmp_path, "cdnow.txt", data))
    assert table.frame["cust"].tolist() == ["00001", "00002", "00004"]
    assert table.frame.index.tolist() == [2, 4, 6]
    assert table.bad_lines["row_number"].tolist() == [5]
    assert table.bad_lines["text"].tolist() == ["00003 19970112 2 12.00 extra"]


def test_broken_quoting_loses_no_line(tmp_path):
    data = (
        b"id,name,amount\n"
        b"1,Ann,10\n"
        b'2,"Bob,20\n'
        b"3,Cy,30\n"
        b"4,Di\n"
        b"5,Ed,50,extra\n"
        b'6,"Fay, the second",60\n'
        b"7,Gus,70\n"
    )
    table = read_file(_write(tmp_path, "broken.csv", data))
    good = table.frame
    assert good["id"].tolist() == ["1", "3", "6", "7"]
    assert good.index.tolist() == [2, 4, 7, 8]
    assert good.loc[7, "name"] == "Fay, the second"
    assert table.bad_lines["row_number"].tolist() == [3, 5, 6]
    assert table.bad_lines["text"].tolist()[0] == '2,"Bob,20'
    assert table.rows_read == 7


def test_quoted_newlines_stay_in_their_row_and_later_rows_keep_their_numbers(tmp_path):
    data = b'id,comment\n1,"line one\nline two"\n2,ok\n\n3,fine\n'
    table = read_file(_write(tmp_path, "comments.csv", data))
    assert table.frame["comment"].tolist() == ["line one\nline two", "ok", "fine"]
    assert table.frame.index.tolist() == [2, 4, 6]
    assert table.bad_lines.empty


def test_bad_lines_after_a_multi_line_record_get_their_own_line_numbers(tmp_path):
    data = (
        "导出\n"
        "order_id,customer_id,note\n"
        'N1,C1,"two\nlines"\n'
        "N2,C2,ok\n"
        "N3,C3,x,extra\n"
        'N4,C4,"a\nb"\n'
        "N5,C5,x,y\n"
        "N6,C6,fine\n"
    ).encode()
    table = read_file(_write(tmp_path, "notes.csv", data))
    assert table.frame["order_id"].tolist() == ["N1", "N2", "N4", "N6"]
    assert table.frame.index.tolist() == [3, 5, 7, 10]  # a title line, then the header
    assert table.bad_lines["row_number"].tolist() == [6, 9]
    assert table.bad_lines["text"].tolist() == ["N3,C3,x,extra", "N5,C5,x,y"]


def test_bad_lines_after_a_broken_quote_get_their_own_line_numbers(tmp_path):
    data = (
        b"order_id,customer_id,amount,note\n"
        b'N1,C1,10,"ok\n'
        b"N2,C2,10,fine\n"
        b'N3,C3,10,"x\n'
        b"N4,C4,bad,x\n"
        b"N5,C5,10,x,y\n"
        b"N6,,10,x\n"
    )
    table = read_file(_write(tmp_path, "quotes.csv", data))
    assert table.frame["order_id"].tolist() == ["N1", "N2", "N3", "N4", "N6"]
    assert table.frame.index.tolist() == [2, 3, 4, 5, 7]
    assert table.bad_lines["row_number"].tolist() == [6]
    assert table.bad_lines["text"].tolist() == ["N5,C5,10,x,y"]


def test_a_title_line_above_the_header_is_skipped(tmp_path):
    data = "订单导出 2024-03\n订单号,客户ID,金额\nA1,C1,10\nA2,C2,20\n".encode()
    table = read_file(_write(tmp_path, "title.csv", data))
    assert list(table.frame.columns) == ["订单号", "客户ID", "金额"]
    assert table.frame["订单号"].tolist() == ["A1", "A2"]
    assert table.frame.index.tolist() == [3, 4]


@pytest.mark.parametrize(
    "title",
    [
        "店铺订单报表 2024年3月,,,\n",
        ",,,\n店铺订单报表,,,\n",
        "店铺订单报表,导出时间 2024-04-01,,\n",
    ],
)
def test_a_title_line_padded_to_the_table_width_is_skipped(tmp_path, title):
    data = (title + "订单号,客户ID,实付金额,订单状态\nA1,C1,10,已付款\nA2,C2,20,\n").encode("gbk")
    table = read_file(_write(tmp_path, "padded.csv", data))
    assert list(table.frame.columns) == ["订单号", "客户ID", "实付金额", "订单状态"]
    assert table.frame["订单号"].tolist() == ["A1", "A2"]
    first = title.count("\n") + 2
    assert table.frame.index.tolist() == [first, first + 1]
    assert table.bad_lines.empty


@pytest.mark.parametrize(
    ("data", "columns"),
    [
        (",customer_id\n0,C1\n1,C2\n", ["column_1", "customer_id"]),  # pandas' to_csv
        (
            "客户ID,金额,,,\nC1,10,a,b,c\nC2,20,a,b,c\n",
            ["客户ID", "金额", "column_3", "column_4", "column_5"],
        ),
    ],
)
def test_a_header_with_mostly_unnamed_columns_above_its_data_is_kept(tmp_path, data, columns):
    table = read_file(_write(tmp_path, "unnamed.csv", data.encode()))
    assert list(table.frame.columns) == columns
    assert table.frame.index.tolist() == [2, 3]


@pytest.mark.parametrize("title", ["", "工单导出 2024-03\n"])
def test_data_rows_ending_in_a_separator_keep_the_header(tmp_path, title):
    data = (
        title + "ticket_id,customer_id,ticket_type,created_at\n"
        "T1,C1,物流,2024-03-05,\n"
        "T2,C2,退款,2024-03-06,\n"
        "T3,C3,物流,2024-03-07,\n"
    ).encode()
    table = read_file(_write(tmp_path, "tickets.csv", data))
    assert list(table.frame.columns) == ["ticket_id", "customer_id", "ticket_type", "created_at"]
    assert table.frame["ticket_id"].tolist() == ["T1", "T2", "T3"]
    assert table.frame["created_at"].tolist() == ["2024-03-05", "2024-03-06", "2024-03-07"]
    first = 3 if title else 2
    assert table.frame.index.tolist() == [first, first + 1, first + 2]
    assert table.bad_lines.empty


def test_a_title_line_above_sparse_rows_is_not_taken_for_the_header(tmp_path):
    data = (
        b"Customers,2024-01\n"
        b"customer_id,name,phone,email,city\n"
        b"c1,Ann,,,\nc2,Bo,,,\nc3,Cy,,,Shanghai\n"
    )
    table = read_file(_write(tmp_path, "customers.csv", data))
    assert list(table.frame.columns) == ["customer_id", "name", "phone", "email", "city"]
    assert table.frame["customer_id"].tolist() == ["c1", "c2", "c3"]
    assert table.frame.index.tolist() == [3, 4, 5]


def test_classic_mac_line_endings_read_like_newlines(tmp_path):
    text = 'ticket_id,customer_id,note\nT1,C1,"two\nlines"\nT2,C2,ok\n\nT3,C3,x,extra\nT4,C4,fine\n'
    with_newlines = read_file(_write(tmp_path, "lf.csv", text.encode()))
    with_returns = read_file(_write(tmp_path, "cr.csv", text.replace("\n", "\r").encode()))
    for table in (with_newlines, with_returns):
        assert list(table.frame.columns) == ["ticket_id", "customer_id", "note"]
        assert table.frame["ticket_id"].tolist() == ["T1", "T2", "T4"]
        assert table.frame.index.tolist() == [2, 4, 7]
        assert table.bad_lines["row_number"].tolist() == [6]
        assert table.bad_lines["text"].tolist() == ["T3,C3,x,extra"]
    assert with_returns.frame.loc[2, "note"] == "two\rlines"


def test_a_stray_carriage_return_in_a_field_ends_the_line_as_arrow_reads_it(tmp_path):
    data = (
        "ticket_id,customer_id,ticket_type,created_at\n"
        "T1,C1,物流,2024-03-05\n"
        "T2,C2\r物流,物流,2024-03-05\n"
        "T3,C3,退款,2024-03-06\n"
    ).encode()
    table = read_file(_write(tmp_path, "stray.csv", data))
    assert table.frame["ticket_id"].tolist() == ["T1", "T3"]
    assert table.frame.index.tolist() == [2, 5]
    assert table.bad_lines["row_number"].tolist() == [3, 4]
    assert table.bad_lines["text"].tolist() == ["T2,C2", "物流,物流,2024-03-05"]


def test_duplicate_and_empty_headers_get_distinct_names(tmp_path):
    table = read_file(_write(tmp_path, "dup.csv", b"id,note,note,\n1,a,b,c\n"))
    assert list(table.frame.columns) == ["id", "note", "note.1", "column_4"]


def test_gzipped_csv(tmp_path):
    packed = gzip.compress(CHINESE_ORDERS.encode())
    table = read_file(_write(tmp_path, "orders.csv.gz", packed))
    assert len(table.frame) == 2
    assert table.encoding == "utf-8"
    assert table.sha256 == hashlib.sha256(packed).hexdigest()  # of the file as uploaded


def test_ids_and_empty_cells_are_kept_as_text(tmp_path):
    table = read_file(_write(tmp_path, "ids.csv", b"id,code,city\n00001,NA,\n"))
    assert table.frame.loc[2, "id"] == "00001"
    assert table.frame.loc[2, "code"] == "NA"
    assert pd.isna(table.frame.loc[2, "city"])


WEB_PAGE = "data.error.web_page_file"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"", "data.error.empty_file"),
        (b"\n\n  \n", "data.error.empty_file"),
        (b"customer_id,amount\n", "data.error.no_rows"),
        (b"customer_id,amount", "data.error.no_rows"),  # no line break after the header
        ("客户ID,金额".encode("gbk"), "data.error.no_rows"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "data.error.xls_not_supported"),
        (b"PK\x03\x04not really a zip", "data.error.broken_xlsx"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00\n,\x00\x03\x00>", "data.error.binary_file"),
        (b"\xef\xbb\xbf <!DOCTYPE html><table><tr><td>1</td></tr></table>", WEB_PAGE),
        (b'<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?>', WEB_PAGE),
    ],
)
def test_unusable_files_raise_one_typed_error(tmp_path, data, key):
    with pytest.raises(InputError) as raised:
        read_file(_write(tmp_path, "bad.csv", data))
    assert raised.value.key == key
    assert "bad.csv" in raised.value.message()
    assert "bad.csv" in raised.value.message("zh-CN")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_and_a_stray_nul_are_read(tmp_path, encoding):
    text = "订单号,客户ID,金额\nA1,C1,10\nA2,C2,20\n"
    table = read_file(_write(tmp_path, "u16.csv", text.encode(encoding)))
    assert table.encoding == encoding
    assert table.frame["订单号"].tolist() == ["A1", "A2"]
    stray = read_file(_write(tmp_path, "nul.csv", b"id,note\nA1,ok\nA2,bad\x00note\n"))
    assert stray.frame["note"].tolist() == ["ok", "badnote"]  # no database stores a NUL


def test_a_broken_workbook_uploaded_as_bytes_is_named_by_its_file():
    with pytest.raises(InputError) as raised:
        sheet_names(b"PK\x03\x04not really a zip", file_name="订单.xlsx")
    assert raised.value.key == "data.error.broken_xlsx"
    assert "订单.xlsx" in raised.value.message("zh-CN")


def test_a_refused_file_leaves_no_thread_reading_it(tmp_path):
    # the hash and line count run on a thread while the file is read; an old Excel file
    # is refused at its first bytes, long before that thread is through 64 MB
    path = _write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0" + b"x" * (64 << 20))
    with pytest.raises(InputError):
        read_file(path)
    assert SCAN_THREAD not in {thread.name for thread in threading.enumerate()}


def test_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(InputError) as raised:
        read_file(tmp_path / "nowhere.csv")
    assert raised.value.key == "data.error.file_not_found"


def test_an_upload_object_is_read_like_a_file():
    upload = io.BytesIO(CHINESE_ORDERS.encode("gbk"))
    upload.name = "export.csv"
    table = read_file(upload)
    assert table.file_name == "export.csv"
    assert len(table.frame) == 2
    assert table.sha256 == hashlib.sha256(CHINESE_ORDERS.encode("gbk")).hexdigest()


def _workbook(tmp_path):
    book = Workbook()
    first = book.active
    first.title = "说明"
    first.append(["这是一张说明页"])
    orders = book.create_sheet("订单")
    orders.append(["订单号", "客户ID", "下单时间", "实付金额"])
    orders.append(["A1", 17850.0, dt.datetime(2024, 3, 5, 10, 30), 1234.5])
    orders.append([None, None, None, None])
    orders.append(["A2", "00002", 45356, "88元"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_xlsx_with_a_sheet_choice(tmp_path):
    path = _workbook(tmp_path)
    assert sheet_names(path) == ["说明", "订单"]
    table = read_file(path, sheet="订单")
    assert table.kind == "xlsx" and table.sheet == "订单" and table.sheets == ["说明", "订单"]
    frame = table.frame
    assert frame.loc[2].tolist() == ["A1", "17850", "2024-03-05 10:30:00", "1234.5"]
    assert frame.loc[4].tolist() == ["A2", "00002", "45356", "88元"]
    assert frame.index.tolist() == [2, 4]  # the sheet's row numbers


def test_xlsx_title_rows_above_the_header_are_skipped(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["店铺订单报表 2024年3月"])
    sheet.append([])
    sheet.append(["订单号", "客户ID", "实付金额"])
    sheet.append(["A1", "C1", 10.0])
    sheet.append([None, None, None])
    sheet.append(["A2", "C2", 20.5])
    path = tmp_path / "report.xlsx"
    book.save(path)
    table = read_file(path)
    assert list(table.frame.columns) == ["订单号", "客户ID", "实付金额"]
    assert table.frame.loc[4].tolist() == ["A1", "C1", "10"]
    assert table.frame.loc[6].tolist() == ["A2", "C2", "20.5"]
    assert table.frame.index.tolist() == [4, 6]  # the sheet's row numbers


def test_xlsx_header_with_an_unnamed_last_column_is_kept(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["订单号", "客户ID", "实付金额", None])
    sheet.append(["A1", "C1", 10.0, "note"])
    sheet.append(["A2", "C2", 20.5, "note"])
    path = tmp_path / "unnamed.xlsx"
    book.save(path)
    table = read_file(path)
    assert list(table.frame.columns)[:3] == ["订单号", "客户ID", "实付金额"]
    assert table.frame["订单号"].tolist() == ["A1", "A2"]
    assert table.frame.index.tolist() == [2, 3]


def test_xlsx_unknown_sheet_names_the_sheets(tmp_path):
    with pytest.raises(InputError) as raised:
        read_file(_workbook(tmp_path), sheet="Sheet9")
    assert raised.value.key == "data.error.unknown_sheet"
    assert "订单" in raised.value.message()


@pytest.mark.parametrize("first_sheet", [[], [["订单号", "客户ID"]]])  # empty, header only
def test_an_empty_sheet_of_a_workbook_is_named_with_the_others(tmp_path, first_sheet):
    book = Workbook()
    book.active.title = "空表"
    for row in first_sheet:
        book.active.append(row)
    book.create_sheet("订单").append(["订单号", "客户ID"])
    book["订单"].append(["A1", "C1"])
    path = tmp_path / "two.xlsx"
    book.save(path)
    for sheet in (None, "空表"):
        with pytest.raises(InputError) as raised:
            read_file(path, sheet=sheet)
        assert raised.value.key == "data.error.empty_sheet"
        told = "“空表” of two.xlsx has no data rows. Choose another sheet: 订单"
        assert told in str(raised.value)
    assert read_file(path, sheet="订单").frame["订单号"].tolist() == ["A1"]


def test_preview_stops_early_and_says_so(tmp_path):
    rows = "".join(f"{i},C{i}\n" for i in range(50_000))
    path = _write(tmp_path, "big.csv", ("id,customer\n" + rows).encode())
    preview = read_file(path, limit_rows=100)
    assert not preview.complete
    assert 100 <= len(preview.frame) < 50_000
    full = read_file(path)
    assert full.complete and len(full.frame) == 50_000


def test_progress_is_reported_up_to_the_end(tmp_path):
    rows = "".join(f"{i},C{i % 97},2024-03-05,{i % 500}.5\n" for i in range(300_000))
    path = _write(tmp_path, "progress.csv", ("id,customer,date,amount\n" + rows).encode())
    seen: list[float] = []
    frame = read_table(path, progress=seen.append)
    assert len(frame) == 300_000
    assert len(seen) > 2
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_a_file_whose_every_row_is_broken_reports_each_row(tmp_path):
    data = b"order_id,customer_id,ordered_at,amount\n1,2\n3,4,5,6,7\n"
    table = read_file(_write(tmp_path, "garbage.csv", data))
    assert list(table.frame.columns) == ["order_id", "customer_id", "ordered_at", "amount"]
    assert table.frame.empty
    assert table.bad_lines["row_number"].tolist() == [2, 3]
    assert table.bad_lines["detail"].tolist() == ["2 of 4 fields", "5 of 4 fields"]
