"""Reading an uploaded file into a frame of text: CSV in any usual dialect, or XLSX.

`read_file(source)` detects what it is given: gzip, XLSX (with a sheet choice) or text;
for text the encoding (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030, others through
charset-normalizer) and the separator (comma, semicolon, tab, '|', or runs of
whitespace as in CDNOW) are detected without asking. Every cell comes back as text
(`str` dtype, NA for an empty cell) so nothing is lost to type guessing ('00001' keeps its
zeros); the values are read later by `crm_core.ingest.values`.

Rows that cannot be split into the header's columns (broken quoting, too many fields)
are not dropped: they come back in `TableRead.bad_lines` with their line number, so an
import rejects them with a reason. Large files stream in blocks and report progress.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import os
import re
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from crm_core.errors import InputError

Progress = Callable[[float], None]
Source = str | Path | bytes | bytearray | IO[bytes]

SAMPLE_BYTES = 1 << 20
BLOCK_BYTES = 4 << 20
WHITESPACE = "whitespace"
SCAN_THREAD = "read_file scan"  # the thread that hashes the file and counts its lines
SEPARATOR_CANDIDATES = (",", ";", "\t", "|")
MAX_PREVIEW_LINES = 60
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # where Arrow's CSV reader ends a line


@dataclass
class TableRead:
    """A file read into text columns.

    frame: one column per header (duplicate or empty headers get a suffix), every value
      text or NA; the index is the row number as the user sees it: the line of a text
      file, the row of a sheet (the header is row 1 when nothing stands above it).
    bad_lines: rows that could not be split into the header's columns:
      row_number, detail (what was wrong), text (the line as written).
    encoding / separator: what was detected (None for XLSX); separator is ',', ';',
      '\\t', '|' or 'whitespace'. sheets: the sheet names of an XLSX file.
    """

    frame: pd.DataFrame
    bad_lines: pd.DataFrame
    file_name: str
    sha256: str
    size_bytes: int
    kind: str
    encoding: str | None = None
    separator: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    complete: bool = True

    @property
    def rows_read(self) -> int:
        """Data rows in the file: the rows read plus the bad lines."""
        return len(self.frame) + len(self.bad_lines)


def read_table(
    source: Source,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    separator: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The file's rows as a frame of text columns (see `read_file`)."""
    return read_file(
        source, sheet=sheet, encoding=encoding, separator=separator, progress=progress
    ).frame


def read_file(
    source: Source,
    *,
    file_name: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    separator: str | None = None,
    limit_rows: int | None = None,
    progress: Progress | None = None,
) -> TableRead:
    """Read `source` (a path, bytes, or a binary file object such as a Streamlit upload).

    encoding / separator override detection; sheet picks an XLSX sheet (default: the
    first); limit_rows stops after about that many rows (for a preview; `complete` is
    then False). progress(fraction) is called as the file is read.

    Raises InputError for a missing, empty, unreadable or header-only file.
    """
    name, payload = _materialise(source, file_name)
    size = payload.stat().st_size if isinstance(payload, Path) else len(payload)
    if size == 0:
        raise InputError("data.error.empty_file", file=name)
    limits = read_limits()
    if size > limits.max_bytes:
        raise InputError("data.error.too_big", file=name, limit=_size_text(limits.max_bytes))
    scan = _Scan(payload)  # of the file as given
    text_scan = scan  # of the text read
    unpacked: Path | None = None
    try:
        head = _head_bytes(payload, 8)
        if head.startswith(b"\x1f\x8b"):
            payload = unpacked = _gunzip(payload, name, limits.max_bytes)
            head = _head_bytes(payload, 8)
            if not head:
                raise InputError("data.error.empty_file", file=name)
            text_scan = _Scan(payload, digest=False)
        if head.startswith(b"PK\x03\x04"):
            result = _read_xlsx(payload, name, sheet, limit_rows, progress)
        elif head.startswith(b"\xd0\xcf\x11\xe0"):
            raise InputError("data.error.xls_not_supported", file=name)
        else:
            result = _read_text(payload, name, encoding, separator, limit_rows, progress, text_scan)
        result.sha256 = scan.sha256()
    finally:  # a read that fails or stops early leaves no thread reading the file
        scan.stop()
        text_scan.stop()
        if unpacked is not None:
            unpacked.unlink(missing_ok=True)
    result.size_bytes = size
    if len(result.frame.columns) > limits.max_columns:
        raise InputError(
            "data.error.too_many_columns",
            file=name,
            columns=len(result.frame.columns),
            limit=limits.max_columns,
        )
    if len(result.frame) > limits.max_rows:
        raise InputError(
            "data.error.too_many_rows", file=name, rows=len(result.frame), limit=limits.max_rows
        )
    result.frame = without_nul(result.frame)
    if result.frame.empty and result.bad_lines.empty:
        unnamed = all(
            str(column) == f"column_{position}"
            for position, column in enumerate(result.frame.columns, start=1)
        )
        raise InputError("data.error.no_header" if unnamed else "data.error.no_rows", file=name)
    if progress:
        progress(1.0)
    return result


NUL = "\x00"


def without_nul(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with NUL characters removed from its headers and cells: no database text
    holds one (PostgreSQL refuses it, SQLite cuts text at it), so both stores get the
    same value. Only the columns that hold one are rewritten."""
    renamed = {c: str(c).replace(NUL, "") for c in frame.columns if NUL in str(c)}
    if renamed:
        frame = frame.rename(columns=renamed)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            holds = values.str.contains(NUL, regex=False)
            if holds.fillna(False).any():
                frame[column] = values.str.replace(NUL, "", regex=False)
    return frame


def sheet_names(source: Source, file_name: str | None = None) -> list[str]:
    """The sheet names of an XLSX file (empty for a text file); file_name names an
    upload given as bytes in messages."""
    name, payload = _materialise(source, file_name)
    if not _head_bytes(payload, 4).startswith(b"PK\x03\x04"):
        return []
    from openpyxl import load_workbook

    workbook = _open_workbook(load_workbook, payload, name)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


# -- sources ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadLimits:
    """The most a file may hold once unpacked: bytes, data rows and columns. Settings:
    CRM_MAX_FILE_BYTES (default 2 GiB), CRM_MAX_ROWS (20,000,000), CRM_MAX_COLUMNS (500)."""

    max_bytes: int = 2 * 1024**3
    max_rows: int = 20_000_000
    max_columns: int = 500


def read_limits() -> ReadLimits:
    """The limits in force (environment settings over the defaults)."""
    default = ReadLimits()

    def setting(name: str, fallback: int) -> int:
        text = os.environ.get(name, "").strip()
        return int(text) if text.isdigit() and int(text) > 0 else fallback

    return ReadLimits(
        max_bytes=setting("CRM_MAX_FILE_BYTES", default.max_bytes),
        max_rows=setting("CRM_MAX_ROWS", default.max_rows),
        max_columns=setting("CRM_MAX_COLUMNS", default.max_columns),
    )


def _materialise(source: Source, file_name: str | None) -> tuple[str, Path | bytes]:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InputError("data.error.file_not_found", file=str(path))
        return file_name or path.name, path
    if isinstance(source, bytes | bytearray):
        return file_name or "upload", bytes(source)
    getvalue = getattr(source, "getvalue", None)
    data = getvalue() if callable(getvalue) else source.read()
    return file_name or str(getattr(source, "name", "upload")), bytes(data)


class _Scan:
    """The SHA-256 of a file and its lines (line breaks as Arrow reads them, see
    `_line_breaks`, plus one for a last line without one), computed on a thread of its
    own while the file is parsed (10M orders, 562 MB: about 1.2 s that no longer adds to
    the read)."""

    def __init__(self, payload: Path | bytes, *, digest: bool = True) -> None:
        self._payload = payload
        self._hashing = digest  # an unpacked gzip's text is counted, never hashed
        self._digest = ""
        self._lines = 0
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=SCAN_THREAD, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            digest = hashlib.sha256()
            payload = self._payload
            if isinstance(payload, bytes):
                view = memoryview(payload)
                for start in range(0, len(payload), BLOCK_BYTES):
                    if self._stopping:
                        return
                    end = start + BLOCK_BYTES
                    if self._hashing:
                        digest.update(view[start:end])
                    self._lines += _line_breaks(payload, start, end)
                    if payload[end - 1 : end + 1] == b"\r\n":  # counted in both blocks
                        self._lines -= 1
                last = payload[-1:]
            else:
                last = b""
                with payload.open("rb") as fh:
                    for block in iter(lambda: fh.read(BLOCK_BYTES), b""):
                        if self._stopping:
                            return
                        if self._hashing:
                            digest.update(block)
                        self._lines += _line_breaks(block)
                        if last.endswith(b"\r") and block.startswith(b"\n"):
                            self._lines -= 1  # a '\r\n' split between blocks, counted in both
                        last = block
            self._digest = digest.hexdigest()
            self._lines += 0 if last.endswith((b"\n", b"\r")) else 1
        except BaseException as error:  # raised where the result is asked for
            self._error = error

    def _result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """End the scan (at once if it is still reading) and wait for its thread."""
        self._stopping = True
        self._thread.join()

    def sha256(self) -> str:
        self._result()
        return self._digest

    def lines(self) -> int:
        self._result()
        return self._lines


def _line_breaks(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Line breaks in data[start:end] as `LINE_BREAK` finds them: '\\n', '\\r\\n' or a
    lone '\\r' (classic Mac)."""
    breaks = data.count(b"\n", start, end)
    returns = data.count(b"\r", start, end)
    if returns:
        breaks += returns - data.count(b"\r\n", start, end)
    return breaks


def _head_bytes(payload: Path | bytes, count: int) -> bytes:
    if isinstance(payload, bytes):
        return payload[:count]
    with payload.open("rb") as fh:
        return fh.read(count)


GUNZIP_CHUNK = 1 << 20


def _gunzip(payload: Path | bytes, name: str, limit: int) -> Path:
    """The unpacked file, streamed into a temporary file (the caller removes it) and
    stopped, with InputError, as soon as it passes `limit` bytes: a small gzip that
    unpacks to gigabytes never fills the memory."""
    target = Path(tempfile.mkstemp(prefix="crm-unpacked-", suffix=".csv")[1])
    written = 0
    try:
        source = io.BytesIO(payload) if isinstance(payload, bytes) else payload.open("rb")
        with source, gzip.GzipFile(fileobj=source) as packed, target.open("wb") as out:
            while chunk := packed.read(GUNZIP_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise InputError("data.error.too_big", file=name, limit=_size_text(limit))
                out.write(chunk)
    except (OSError, EOFError) as error:
        target.unlink(missing_ok=True)
        raise InputError("data.error.unreadable_file", file=name, detail=str(error)) from error
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _size_text(size: int) -> str:
    """Bytes as people write them: 2 GB, 500 MB, 20 KB."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:,.0f} {unit}"
    return f"{size} B"


class _CountingReader(io.RawIOBase):
    """A read-only stream that counts the bytes read so far. Arrow may read it from its
    own thread, so progress is reported by the caller's loop (`fraction`), never from
    here (a UI callback must run on the thread that owns it)."""

    def __init__(self, raw: IO[bytes], total: int) -> None:
        self.raw = raw
        self.total = max(total, 1)
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self.done += count
        return count

    def fraction(self) -> float:
        return min(self.done / self.total, 1.0)


def _open_stream(payload: Path | bytes) -> tuple[IO[bytes], _CountingReader]:
    raw: IO[bytes] = payload.open("rb") if isinstance(payload, Path) else io.BytesIO(payload)
    size = payload.stat().st_size if isinstance(payload, Path) else len(payload)
    counter = _CountingReader(raw, size)
    return io.BufferedReader(counter, buffer_size=BLOCK_BYTES), counter


# -- text files -------------------------------------------------------------------------


UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
WEB_PAGE_STARTS = (b"<html", b"<!doctype html", b"<table", b"<?xml")
"""How a web page or XML file saved under a spreadsheet's name (a back office's ".xls")
begins, in lower case."""


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without a BOM: its ASCII characters (digits, separators, line breaks)
    put a NUL in every other byte, on one side only ('utf-16-le' or 'utf-16-be')."""
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if max(even, odd) < max(4, len(sample) // 20) or min(even, odd) * 10 > max(even, odd):
        return None
    return "utf-16-le" if odd > even else "utf-16-be"


def detect_encoding(sample: bytes) -> str:
    """The encoding of a text sample: a BOM decides; else UTF-8 if it decodes, else
    GB18030 (a superset of GBK and GB2312) if it decodes, else charset-normalizer's best
    guess. Raises InputError when nothing reads it."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(UTF16_BOMS):
        return "utf-16"
    for candidate in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(candidate)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return candidate
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InputError("data.error.unreadable_encoding")
    return best.encoding


def detect_separator(lines: list[str]) -> tuple[str, int]:
    """(separator, header line index) for the first lines of a text file.

    The separator is the candidate that splits the lines into the most consistent number
    (>1) of fields; runs of whitespace when none does. The header index counts the
    non-blank lines and is chosen by `_header_index` (a title line above it is skipped).
    """
    lines = [line for line in lines if line.strip()]
    if not lines:
        return ",", 0
    best: tuple[float, int, str] = (0.0, 1, ",")
    for candidate in SEPARATOR_CANDIDATES:
        counts = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        if not counts:
            continue
        values, freq = np.unique(counts, return_counts=True)
        mode = int(values[np.argmax(freq)])
        share = float(freq.max()) / len(counts)
        if mode > 1 and (share, mode) > best[:2]:
            best = (share, mode, candidate)
    if best[1] > 1:
        separator = best[2]
        rows = list(csv.reader(lines, delimiter=separator))
    else:
        rows = [line.split() for line in lines]
        if _most_common([len(row) for row in rows]) <= 1:
            return ",", 0
        separator = WHITESPACE
    return separator, _header_index(rows)


def _header_index(rows: Sequence[Sequence[str]]) -> int:
    """Which of a text table's first non-empty rows is its header: the first with the
    usual number of fields that is not a title (`_first_not_title`), so a title line
    above it is skipped, also one an exporter padded with separators to the table's
    width. Where (nearly) every row of that width ends in an empty field, as when an
    exporter ends each data row with a separator, a row one field narrower is the header
    too.
    """
    widths = [len(row) for row in rows]
    usual = _most_common(widths)
    full = [row for row in rows if len(row) == usual]
    trailing = usual > 2 and sum(not row[-1].strip() for row in full) >= 0.9 * len(full)
    least = usual - 1 if trailing else usual
    wide = [index for index, width in enumerate(widths) if width >= least]
    return wide[_first_not_title([rows[index] for index in wide], usual)]


def _sheet_header_index(rows: Sequence[Sequence[str | None]]) -> int:
    """Which of a sheet's first rows is its header: the first filled one that is not a
    title (`_first_not_title`) in one or a few cells above it."""
    filled = [index for index, row in enumerate(rows) if _filled_cells(row)]
    if not filled:
        return 0
    width = _most_common([_filled_width(row) for row in rows])
    return filled[_first_not_title([rows[index] for index in filled], width)]


def _first_not_title(rows: Sequence[Sequence[str | None]], width: int) -> int:
    """The index of the first of `rows` that is not a title: a title fills at most half
    of a table `width` cells wide (one cell at least) and the row after it holds no data
    (`_holds_data`), so a header with unnamed columns above its data is kept."""
    least = min(width, width // 2 + 1)
    for index, row in enumerate(rows[:-1]):
        if _filled_cells(row) >= least or _holds_data(rows[index + 1]):
            return index
    return max(len(rows) - 1, 0)


NUMBER_LIKE = re.compile(r"(?=.*\d)[\d\s.,:/+\-¥$元%年月日时分秒]+")
"""A cell written as a number, amount, phone number, date or time: digits and the
punctuation those use."""


def _holds_data(row: Sequence[str | None]) -> bool:
    """Whether a row looks like data rather than a header: it has a cell written as a
    number, amount, date or time (NUMBER_LIKE), as data rows do and headers seldom."""
    return any(cell and NUMBER_LIKE.fullmatch(cell.strip()) for cell in row)


def _filled_cells(row: Sequence[str | None]) -> int:
    """The number of cells that are not empty or blank."""
    return sum(bool(cell and cell.strip()) for cell in row)


def _filled_width(row: Sequence[str | None]) -> int:
    """The number of fields up to the last one that is not empty."""
    return max((i + 1 for i, cell in enumerate(row) if cell and cell.strip()), default=0)


def _most_common(counts: list[int]) -> int:
    """The most frequent count (the smallest of those tied)."""
    return int(np.bincount(counts).argmax())


def _decoded_sample(payload: Path | bytes, encoding: str) -> list[str]:
    raw = _head_bytes(payload, SAMPLE_BYTES)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw, final=False)
    lines = LINE_BREAK.split(text)
    complete = len(raw) < SAMPLE_BYTES
    if not complete and lines:
        lines = lines[:-1]
    return lines[:MAX_PREVIEW_LINES]


def _column_names(header: list[str]) -> list[str]:
    """Header cells trimmed; empty ones named column_N; repeats get .1, .2 ..."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(header, start=1):
        name = cell.strip().lstrip("\ufeff").strip() or f"column_{position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _read_text(
    payload: Path | bytes,
    name: str,
    encoding: str | None,
    separator: str | None,
    limit_rows: int | None,
    progress: Progress | None,
    scan: _Scan,
) -> TableRead:
    if encoding is None:
        sample = _head_bytes(payload, SAMPLE_BYTES)
        if sample.lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:14].lower().startswith(WEB_PAGE_STARTS):
            raise InputError("data.error.web_page_file", file=name)
        with_bom = sample.startswith((codecs.BOM_UTF8, *UTF16_BOMS))
        encoding = (None if with_bom else _utf16_without_bom(sample)) or detect_encoding(sample)
        if sample.count(b"\x00") > max(2, len(sample) // 1000) and not encoding.startswith(
            "utf-16"
        ):  # a stray NUL in a cell is read past; text has no more than that
            raise InputError("data.error.binary_file", file=name)
        if encoding not in ("utf-8", "utf-8-sig") and _mostly_utf8(sample):
            return _read_not_utf8(payload, name, separator, limit_rows, progress, scan)
    lines = _decoded_sample(payload, encoding)
    if not any(line.strip() for line in lines):
        raise InputError("data.error.empty_file", file=name)
    detected, header_index = detect_separator(lines)
    separator = separator or detected
    non_blank = [line for line in lines if line.strip()]
    header_line = non_blank[min(header_index, len(non_blank) - 1)]
    skip = lines.index(header_line)
    if separator == WHITESPACE:
        header = header_line.split()
    else:
        header = next(csv.reader([header_line], delimiter=separator))
    # data rows that end in a separator are wider than the header: their last field is
    # read under a made-up name and dropped below when it is empty throughout
    named = len(header)
    if separator != WHITESPACE:
        widths = [len(row) for row in csv.reader(non_blank, delimiter=separator)]
        header += [""] * (_most_common(widths) - named)
    columns = _column_names(header)
    try:
        if separator == WHITESPACE:
            frame, bad = _read_whitespace(payload, encoding, columns, skip, limit_rows, progress)
        else:
            frame, bad = _read_delimited(
                payload, encoding, separator, columns, skip, limit_rows, progress, scan
            )
    except UnicodeDecodeError as error:
        if encoding in ("utf-8", "utf-8-sig"):
            return _read_not_utf8(payload, name, separator, limit_rows, progress, scan)
        raise InputError("data.error.unreadable_encoding") from error
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error) and encoding in ("utf-8", "utf-8-sig"):
            return _read_not_utf8(payload, name, separator, limit_rows, progress, scan)
        raise InputError("data.error.unreadable_file", file=name, detail=str(error)) from error
    frame = frame.drop(columns=[c for c in columns[named:] if frame[c].isna().all()])
    # numbered as the user sees the file: by its lines, the header's and those above it too
    frame.index = frame.index + (skip + 1)
    bad["row_number"] = bad["row_number"] + (skip + 1)
    complete = limit_rows is None or len(frame) + len(bad) < limit_rows
    if limit_rows is not None:
        frame = frame.iloc[:limit_rows]
        bad = bad[bad["row_number"] <= (frame.index.max() if len(frame) else 0)]
    return TableRead(
        frame=frame,
        bad_lines=bad,
        file_name=name,
        sha256="",
        size_bytes=0,
        kind="csv",
        encoding=encoding,
        separator=separator,
        complete=complete,
    )


NOT_UTF8 = "not UTF-8: this line has another encoding than the rest of the file"


def _read_not_utf8(
    payload: Path | bytes,
    name: str,
    separator: str | None,
    limit_rows: int | None,
    progress: Progress | None,
    scan: _Scan,
) -> TableRead:
    """A file that is not all UTF-8. When most of its non-ASCII lines are UTF-8 and a
    few are not (lines pasted from a GBK export), it is read as UTF-8 and those lines
    become bad lines named by their number; otherwise it is read as GB18030."""
    foreign = _foreign_lines(payload)
    if foreign is None:
        return _read_text(payload, name, "gb18030", separator, limit_rows, progress, scan)
    numbers, repaired = foreign
    try:
        table = _read_text(repaired, name, "utf-8", separator, limit_rows, progress, scan)
    finally:
        repaired.unlink(missing_ok=True)
    held = table.frame.index.isin(list(numbers))
    moved = pd.DataFrame(
        {
            "row_number": table.frame.index[held].astype("int64"),
            "detail": NOT_UTF8,
            "text": [numbers[n] for n in table.frame.index[held]],
        }
    )
    table.frame = table.frame.loc[~held]
    table.bad_lines = pd.concat([table.bad_lines, moved], ignore_index=True).sort_values(
        "row_number", ignore_index=True
    )
    return table


def _mostly_utf8(sample: bytes) -> bool:
    """Whether more of the sample's non-ASCII lines are UTF-8 than not (a UTF-8 file
    with a few lines from another encoding, which a detector reads as GB18030)."""
    utf8, other = 0, 0
    for line in sample.split(b"\n")[:-1]:  # the last line may be cut off by the sample
        if max(line, default=0) < 0x80:
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
    return other > 0 and utf8 > other


def _foreign_lines(payload: Path | bytes) -> tuple[dict[int, str], Path] | None:
    """({line number: its text read as GB18030}, a copy of the file with those lines
    turned into UTF-8) when the lines that are not UTF-8 are fewer than the non-ASCII
    lines that are; None otherwise (the file is in another encoding throughout)."""
    source = io.BytesIO(payload) if isinstance(payload, bytes) else payload.open("rb")
    foreign: dict[int, str] = {}
    utf8_lines = 0
    target = Path(tempfile.mkstemp(prefix="crm-repaired-", suffix=".csv")[1])
    with source, target.open("wb") as out:
        for number, line in enumerate(source, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                text = line.decode("gb18030", errors="replace")
                foreign[number] = text.rstrip("\r\n")
                out.write(text.encode("utf-8"))
                continue
            if max(line, default=0) >= 0x80:
                utf8_lines += 1
            out.write(line)
    if not foreign or utf8_lines <= len(foreign):
        target.unlink(missing_ok=True)
        return None
    return foreign, target


def _empty_bad_lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_number": pd.Series([], dtype="int64"),
            "detail": pd.Series([], dtype="str"),
            "text": pd.Series([], dtype="str"),
        }
    )


MAX_BLOCK_BYTES = 256 * 1024 * 1024
"""The longest line a file may hold (a line longer than a block is read with larger
blocks, up to this)."""


def _read_delimited(
    payload: Path | bytes,
    encoding: str,
    separator: str,
    columns: list[str],
    skip: int,
    limit_rows: int | None,
    progress: Progress | None,
    scan: _Scan,
    block_size: int = BLOCK_BYTES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse with Arrow's streaming CSV reader; rows with the wrong number of fields are
    collected by the invalid-row handler (line number and text) instead of failing. A
    line longer than a block is read again with blocks doubled, up to MAX_BLOCK_BYTES."""
    invalid: list[tuple[int, str, int]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((int(row.number or 0), str(row.text), int(row.actual_columns)))
        return "skip"

    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    stream, counter = _open_stream(payload)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                encoding=arrow_encoding,
                skip_rows=skip + 1,
                column_names=columns,
                use_threads=False,
                block_size=block_size,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=separator,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.large_string()),  # pandas' str
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        batches = []
        rows = 0
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            if progress:
                progress(counter.fraction() * 0.95)
            if limit_rows is not None and rows + len(invalid) >= limit_rows:
                break
    except pa.ArrowInvalid as error:
        # nothing after the header: an empty file, or a header line without a line break
        if "Empty CSV file" in str(error) or "Could not skip initial" in str(error):
            batches = []
        elif "straddl" in str(error) and block_size < MAX_BLOCK_BYTES:
            stream.close()
            return _read_delimited(
                payload, encoding, separator, columns, skip, limit_rows, progress, scan,
                block_size * 2,
            )  # fmt: skip
        else:
            raise
    finally:
        stream.close()
    schema = pa.schema([(c, pa.large_string()) for c in columns])
    table = pa.Table.from_batches(batches, schema=schema)
    frame = table.to_pandas()
    frame.columns = columns
    for column in columns:
        frame[column] = frame[column].astype("str")
    complete = limit_rows is None or rows + len(invalid) < limit_rows
    total_lines = scan.lines() - skip - 1 if complete else None
    return _number_rows(frame, invalid, separator, len(columns), skip + 1, total_lines)


def _number_rows(
    frame: pd.DataFrame,
    invalid: list[tuple[int, str, int]],
    separator: str,
    width: int,
    header_lines: int,
    total_lines: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every row its line number (1 = first data line) and split records that
    swallowed several lines through a broken quote back into their lines.

    Records lie in file order: Arrow numbers each bad record by its place among the
    records (`invalid`: record number counting the header_lines, text, fields found),
    the good rows fill the other places in order, and a record's first line follows
    the lines of all records before it. A good row spans 1 + its embedded line breaks. A
    good row whose embedded lines look like whole records (as many separators as a
    record has) is a broken quote too and is split like a bad record. Blank lines arrive
    as all-empty rows and are dropped after numbering.
    """
    records = sorted((number - header_lines, text, actual) for number, text, actual in invalid)
    while records and records[-1][0] > len(frame) + len(records):
        records.pop()  # parsed ahead of the rows read (a preview stops early)
    bad_span = sum(len(LINE_BREAK.split(text)) for _, text, _ in records)
    spans = None  # every good row is one line
    if len(frame) and total_lines is not None and len(frame) + bad_span != total_lines:
        spans = np.ones(len(frame), dtype="int64")
        for column in frame.columns:
            spans += frame[column].str.count(LINE_BREAK.pattern).fillna(0).to_numpy("int64")
    if not records:
        starts = np.arange(1, len(frame) + 1, dtype="int64")
        if spans is not None:
            starts = 1 + np.cumsum(spans) - spans
    else:
        bad_places = np.array([place - 1 for place, _, _ in records], dtype="int64")
        good = np.ones(len(frame) + len(records), dtype=bool)
        good[bad_places] = False
        record_spans = np.ones(len(good), dtype="int64")
        record_spans[bad_places] = [len(LINE_BREAK.split(text)) for _, text, _ in records]
        if spans is not None:
            record_spans[good] = spans
        record_starts = 1 + np.cumsum(record_spans) - record_spans
        starts = record_starts[good]
        records = [
            (int(record_starts[place]), text, actual)
            for place, (_, text, actual) in zip(bad_places, records, strict=True)
        ]
    frame.index = pd.Index(starts[: len(frame)], dtype="int64")

    if spans is not None and (multi_line := spans > 1).any():
        joined = frame[multi_line].fillna("").astype("str").agg(separator.join, axis=1)
        swallowed = joined.map(
            lambda text: any(
                piece.count(separator) >= width - 1 for piece in LINE_BREAK.split(text)[1:]
            )
        )
        for line, text in joined[swallowed].items():
            records.append((int(line), text, width))
        frame = frame.drop(index=joined.index[swallowed])

    bad_rows: list[tuple[int, str, str]] = []
    recovered: list[tuple[int, list[str]]] = []
    for start, text, actual in records:
        pieces = LINE_BREAK.split(text)
        if len(pieces) == 1:
            bad_rows.append((start, f"{actual} of {width} fields", text))
            continue
        for offset, piece in enumerate(pieces):
            cells = next(csv.reader([piece], delimiter=separator), [])
            if len(cells) == width:
                recovered.append((start + offset, cells))
            elif piece.strip():
                bad_rows.append((start + offset, f"{len(cells)} of {width} fields", piece))
    if recovered:
        extra = pd.DataFrame([cells for _, cells in recovered], columns=frame.columns)
        extra = extra.astype("str").apply(lambda col: col.where(col.str.len() > 0))
        extra.index = pd.Index([line for line, _ in recovered], dtype="int64")
        frame = pd.concat([frame, extra]).sort_index()
    frame = _without_blank_rows(frame)
    bad = _empty_bad_lines()
    if bad_rows:
        bad = pd.DataFrame(bad_rows, columns=["row_number", "detail", "text"])
        bad = bad.astype({"row_number": "int64", "detail": "str", "text": "str"})
        bad = bad.sort_values("row_number", ignore_index=True)
    return frame, bad


def _without_blank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the all-empty rows that blank lines become (once numbered)."""
    blank = frame.isna().all(axis=1)
    return frame[~blank] if blank.any() else frame


def _read_whitespace(
    payload: Path | bytes,
    encoding: str,
    columns: list[str],
    skip: int,
    limit_rows: int | None,
    progress: Progress | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Whitespace-separated text (CDNOW): pandas' C parser in chunks; quotes are not
    special; a line with too many fields is reported by pandas and kept as a bad line.
    Blank lines are read as empty rows so that rows can be numbered by their lines."""
    stream, counter = _open_stream(payload)
    chunks: list[pd.DataFrame] = []
    messages: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reader = pd.read_csv(
                io.TextIOWrapper(stream, encoding=encoding, newline=""),
                sep=r"\s+",
                header=None,
                names=columns,
                skiprows=skip + 1,
                dtype="str",
                keep_default_na=False,
                na_values=[""],
                quoting=csv.QUOTE_NONE,
                on_bad_lines="warn",
                skip_blank_lines=False,
                chunksize=500_000,
                engine="c",
            )
            rows = 0
            for chunk in reader:
                chunks.append(chunk)
                rows += len(chunk)
                if progress:
                    progress(counter.fraction() * 0.95)
                if limit_rows is not None and rows >= limit_rows:
                    break
            messages = [str(w.message) for w in caught]
    finally:
        stream.close()
    frame = pd.concat(chunks) if chunks else pd.DataFrame(columns=columns, dtype="str")
    frame = frame.astype("str")
    bad_rows = []
    for message in messages:
        for match in re.finditer(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)", message):
            line, expected, saw = (int(g) for g in match.groups())
            bad_rows.append((line - skip - 1, f"{saw} of {expected} fields", ""))
    bad_numbers = np.array(sorted(r[0] for r in bad_rows), dtype="int64")
    lines = np.arange(1, len(frame) + len(bad_numbers) + 1, dtype="int64")
    frame.index = pd.Index(np.setdiff1d(lines, bad_numbers), dtype="int64")
    frame = _without_blank_rows(frame)
    bad = _empty_bad_lines()
    if bad_rows:
        bad = pd.DataFrame(bad_rows, columns=["row_number", "detail", "text"])
        bad = bad.astype({"row_number": "int64", "detail": "str", "text": "str"})
        texts = _lines_at(payload, encoding, set((bad["row_number"] + skip).tolist()))
        bad["text"] = [texts.get(n + skip, "") for n in bad["row_number"]]
    return frame, bad


def _lines_at(payload: Path | bytes, encoding: str, numbers: set[int]) -> dict[int, str]:
    """The text of the given 0-based physical lines (for the few bad lines only)."""
    found: dict[int, str] = {}
    raw = payload.open("rb") if isinstance(payload, Path) else io.BytesIO(payload)
    with io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="") as text:
        for index, line in enumerate(text):
            if index in numbers:
                found[index] = line.rstrip("\r\n")
                if len(found) == len(numbers):
                    break
    return found


# -- spreadsheets -----------------------------------------------------------------------


def _open_workbook(load_workbook: Any, payload: Path | bytes, name: str) -> Any:
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        data = payload.read_bytes() if isinstance(payload, Path) else payload
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise InputError("data.error.broken_xlsx", file=name, detail=str(error)) from error


def _cell_text(value: Any) -> str | None:
    """A spreadsheet cell as text: dates as ISO, whole floats without '.0'."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _read_xlsx(
    payload: Path | bytes,
    name: str,
    sheet: str | None,
    limit_rows: int | None,
    progress: Progress | None,
) -> TableRead:
    from openpyxl import load_workbook

    workbook = _open_workbook(load_workbook, payload, name)
    try:
        sheets = list(workbook.sheetnames)
        chosen = sheet or sheets[0]
        if chosen not in sheets:
            raise InputError("data.error.unknown_sheet", sheet=chosen, sheets=", ".join(sheets))
        worksheet = workbook[chosen]
        total = max(worksheet.max_row or 1, 1)  # as declared: for progress only
        # Never trust the declared dimension (a sheet may claim A1:XFD20001): read the
        # cells the sheet holds, row by row.
        worksheet.reset_dimensions()
        limits = read_limits()
        rows: list[list[str | None]] = []  # the non-empty rows, header and any title included
        numbers: list[int] = []
        for index, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] is None:
                cells.pop()
            if len(cells) > limits.max_columns:
                raise InputError(
                    "data.error.too_many_columns",
                    file=name,
                    columns=len(cells),
                    limit=limits.max_columns,
                )
            if len(rows) > limits.max_rows:
                raise InputError(
                    "data.error.too_many_rows", file=name, rows=len(rows), limit=limits.max_rows
                )
            if all(c is None for c in cells):
                continue
            rows.append(cells)
            numbers.append(index)
            if progress and index % 20_000 == 0:
                progress(min(index / total, 1.0) * 0.95)
            if limit_rows is not None and len(rows) >= limit_rows + MAX_PREVIEW_LINES:
                break  # the header is among the first MAX_PREVIEW_LINES
    finally:
        workbook.close()
    others = [s for s in sheets if s != chosen]
    if not rows and not others:
        raise InputError("data.error.empty_file", file=name)
    header_index = _sheet_header_index(rows[:MAX_PREVIEW_LINES]) if rows else 0
    header = [c or "" for c in rows[header_index]] if rows else []
    rows = rows[header_index + 1 :]
    numbers = numbers[header_index + 1 :]
    if not rows and others:  # the first sheet is often a cover or a note
        raise InputError(
            "data.error.empty_sheet", file=name, sheet=chosen, sheets=", ".join(others)
        )
    complete = limit_rows is None or len(rows) < limit_rows
    if limit_rows is not None:
        rows, numbers = rows[:limit_rows], numbers[:limit_rows]
    while (
        header
        and not header[-1].strip()
        and all(len(r) < len(header) or r[len(header) - 1] is None for r in rows)
    ):
        header.pop()
    columns = _column_names(header)
    width = len(columns)
    matrix = [(r + [None] * width)[:width] for r in rows]
    frame = pd.DataFrame(matrix, columns=columns, dtype="str")
    frame.index = pd.Index(numbers, dtype="int64")
    return TableRead(
        frame=frame,
        bad_lines=_empty_bad_lines(),
        file_name=name,
        sha256="",
        size_bytes=0,
        kind="xlsx",
        sheet=chosen,
        sheets=sheets,
        complete=complete,
    )
