"""Vectorised parsing of the values found in shop exports.

Every parser takes a column of text (pandas `str` dtype, NA for an empty cell) and returns
the parsed column plus a boolean `bad` mask: True where a non-empty cell could not be
read. Empty cells are never bad here; whether a value is required is decided by the
caller. Nothing loops over rows in Python: the work is done by pandas string methods,
`pd.to_datetime` with explicit formats tried in order (each only on the cells still
unread), and by mapping the distinct values of a column (`pd.factorize`). A column that
Arrow reads whole (plain ISO timestamps, plain numbers: what most machine exports hold)
takes that one vectorised cast instead of the general path.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_SHOP_TIMEZONE = "Asia/Shanghai"
"""Timestamps that carry a zone (2024-03-05T10:00:00Z, ...+08:00, Unix epoch seconds) are
converted to this zone and stored without it: the store holds the shop's local time."""

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIAL_RANGE = (20_000.0, 80_000.0)  # 1954-10-03 .. 2119-01-10
"""Numbers in this range in a date column are Excel serial day numbers (days since
1899-12-30, the fraction is the time of day)."""

UNIX_SECONDS_RANGE = (100_000_000, 4_102_444_800)  # 1973-03-03 .. 2100-01-01 (UTC)


NO_VALUE_WORDS: frozenset[str] = frozenset(
    {"NULL", "Null", "null", "None", "NaN", "nan", "N/A", "n/a", "#N/A", "-", "--"}
)
"""Cells that exports write for "no value" (databases, BI tools, Python and pandas
scripts, Excel's #N/A, a dash in a report): read as empty, so an optional column written
that way keeps its row. Exact spellings only: 'NA' and 'Nan' can be a code or a name."""


def clean_text(column: pd.Series) -> pd.Series:
    """Trimmed text; cells that are empty after trimming (or NA), or one of
    NO_VALUE_WORDS, become NA. The apostrophe a downloaded rejects file puts before a
    formula-like cell ('-25, '=x) is dropped, so a corrected rejects file uploads as
    written."""
    text = column.astype("str").str.strip()
    if text.str.startswith("'").any():
        text = text.str.replace(r"^'([=+\-@＝＋－＠])", r"\1", regex=True)
    return text.mask((text == "") | text.isin(NO_VALUE_WORDS))


def normalise_ids(column: pd.Series) -> pd.Series:
    """Identifiers as text: trimmed, and a whole number written as a float by a
    spreadsheet ('17850.0') loses its '.0'. Leading zeros are kept ('00001')."""
    text = clean_text(column)
    if text.str.contains(".", regex=False).any():
        text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text


def word_key(word: str) -> str:
    """How a word is compared with a table of known words: NFKC (full-width letters to
    ASCII), lower case, without spaces, '-' and '_'."""
    return re.sub(r"[\s\-_]+", "", unicodedata.normalize("NFKC", word).lower())


def map_words(column: pd.Series, table: dict[str, str]) -> pd.Series:
    """Replace each cell by its entry in `table` (keys compared by `word_key`); cells not
    in the table become NA. Works on the distinct values only, so a 10M-row column of a
    few words is cheap."""
    return parse_words(column, table)[0]


def parse_words(column: pd.Series, table: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """`map_words` plus the mask of non-empty cells that are not in the table. The
    distinct cells are cleaned and looked up once each (Arrow's dictionary encoding),
    then spread back by their codes, so a 10M-row column costs one int32 code per cell
    besides the result."""
    encoded = pc.dictionary_encode(pa.array(column.astype("str"), from_pandas=True))
    if isinstance(encoded, pa.Array):
        encoded = pa.chunked_array([encoded])
    encoded = encoded.unify_dictionaries()  # one dictionary for all chunks
    if encoded.num_chunks:
        distinct = encoded.chunk(0).dictionary.to_pandas()
    else:
        distinct = pd.Series([], dtype="str")
    text = clean_text(distinct.astype("str"))
    keys = text.str.normalize("NFKC").str.lower().str.replace(r"[\s\-_]+", "", regex=True)
    lookup = {word_key(k): v for k, v in table.items()}
    mapped = keys.map(lookup)
    words = pa.array(mapped.to_numpy(dtype=object), pa.large_string(), from_pandas=True)
    unknown = pa.array((text.notna() & mapped.isna()).to_numpy(dtype=bool))
    spread = pa.chunked_array(
        [words.take(chunk.indices) for chunk in encoded.chunks], pa.large_string()
    )
    flags = pa.chunked_array([unknown.take(chunk.indices) for chunk in encoded.chunks], pa.bool_())
    values = spread.to_pandas().astype("str")
    values.index = column.index
    bad = pd.Series(flags.fill_null(False).to_numpy(), index=column.index)
    return values, bad


# -- dates and times --------------------------------------------------------------------

_ZONE_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2}|[+-]\d{2})$"
_TIME_WITH_ZONE = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?[ \t]*" + _ZONE_SUFFIX
_YEAR_FIRST = r"^\d{4}[ \t]*[-/.年][ \t]*\d{1,2}[ \t]*[-/.月][ \t]*\d{1,2}"
_DAY_OR_MONTH_FIRST = r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_NUMBER = r"^\d+(?:\.\d+)?$"


def parse_datetimes(
    column: pd.Series,
    *,
    day_first: bool = False,
    timezone: str = DEFAULT_SHOP_TIMEZONE,
) -> tuple[pd.Series, pd.Series]:
    """Read a column of dates or timestamps into naive shop-local `datetime64[us]`.

    Forms read, tried in this order on the cells not read yet:
    timestamps with a zone (…Z, …+08:00, … UTC) converted to `timezone`; ISO dates and
    times (2024-03-05, 2024-3-5 9:05, 20240305, 2024/3/5, 2024.03.05); Chinese dates
    (2024年3月5日 14:30); 05/03/2024 read day first when `day_first` else month first
    (also with '-' or '.'; such a cell that fails in the chosen order is bad, never
    silently read the other way round); Excel serial numbers (45356 = 2024-03-05, fractions are the
    time); Unix epoch seconds or milliseconds (UTC, converted to `timezone`); finally
    pandas' general parser for month names (5 Mar 2024, March 5, 2024).
    """
    plain = _arrow_cast(column, pa.timestamp("us"))
    if plain is not None:
        return plain, pd.Series(False, index=column.index)
    text = clean_text(column)
    text = text.str.replace(r"[ \t]*(?:UTC|GMT)$", "+00:00", regex=True)
    result = pd.Series(pd.NaT, index=column.index, dtype="datetime64[us]")
    todo = text.notna()

    def take(mask: pd.Series, parsed: pd.Series) -> None:
        nonlocal todo
        got = mask & parsed.notna()
        if got.any():
            result.loc[got] = parsed.loc[got]
            todo = todo & ~got

    def remaining(pattern: str) -> pd.Series:
        if not todo.any():
            return pd.Series(False, index=text.index)
        return todo & text.str.contains(pattern, regex=True).fillna(False).astype(bool)

    zoned = remaining(_TIME_WITH_ZONE)
    if zoned.any():
        parsed = pd.to_datetime(text[zoned], format="ISO8601", errors="coerce", utc=True)
        take(zoned, parsed.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]"))

    if todo.any():
        plain = todo & ~text.str.contains(_ZONE_SUFFIX, regex=True).fillna(False).astype(bool)
        take(plain, _to_datetime(text.where(plain), "ISO8601"))

    chinese = remaining(_YEAR_FIRST)
    if chinese.any():
        normalised = (
            text[chinese]
            .str.replace(r"\s*[年月/.]\s*", "-", regex=True)
            .str.replace(r"\s*日\s*", " ", regex=True)
            .str.replace(r"\s*[时點点:]\s*", ":", regex=True)
            .str.replace(r"\s*分\s*", ":", regex=True)
            .str.replace(r"\s*秒\s*", "", regex=True)
            .str.replace(r"[-:]\s*$", "", regex=True)
            .str.strip()
        )
        take(chinese, _to_datetime(normalised, "ISO8601"))

    day_or_month = remaining(_DAY_OR_MONTH_FIRST)
    if day_or_month.any():
        normalised = text[day_or_month].str.replace(r"[-.]", "/", regex=True)
        normalised = normalised.str.replace("T", " ", regex=False)
        first = "%d/%m/%Y" if day_first else "%m/%d/%Y"
        for fmt in (first, f"{first} %H:%M", f"{first} %H:%M:%S", f"{first} %H:%M:%S.%f"):
            mask = day_or_month & todo
            if not mask.any():
                break
            take(mask, _to_datetime(normalised.where(mask[day_or_month]), fmt))

    numbers = remaining(_NUMBER)
    if numbers.any():
        values = pd.to_numeric(text[numbers], errors="coerce")
        low, high = EXCEL_SERIAL_RANGE
        serial = values.between(low, high)
        if serial.any():
            days = values[serial].astype("float64")
            stamps = EXCEL_EPOCH + pd.to_timedelta(days, unit="D")
            take(numbers & serial.reindex(text.index, fill_value=False), stamps.dt.round("s"))
        seconds = values.where(values >= 1e12, values * 1000) if len(values) else values
        low_s, high_s = UNIX_SECONDS_RANGE
        epoch = ~serial & seconds.between(low_s * 1000, high_s * 1000)
        if epoch.any():
            stamps = pd.to_datetime(seconds[epoch].astype("int64"), unit="ms", utc=True)
            local = stamps.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]")
            take(numbers & epoch.reindex(text.index, fill_value=False), local)

    if todo.any():
        leftovers = todo & ~text.str.match(_DAY_OR_MONTH_FIRST).fillna(False).astype(bool)
        if leftovers.any():
            take(leftovers, _to_datetime(text.where(leftovers), "mixed", day_first=day_first))

    bad = text.notna() & result.isna()
    return result, bad


def is_known_timezone(name: str) -> bool:
    """Whether `name` is a zone pandas converts to (Asia/Shanghai, UTC, +08:00). Checked
    up front: a zone is only looked up when a file has a zoned cell."""
    try:
        pd.Timestamp(0, tz=name)
    except (LookupError, ValueError, OSError):  # OSError: a region's folder ('Asia')
        return False
    return True


def _arrow_cast(column: pd.Series, arrow_type: pa.DataType) -> pd.Series | None:
    """`column` cast whole by Arrow, or None when any cell is not in Arrow's strict form
    (ISO 8601 without a zone for timestamps, a plain number for floats; no spaces, no
    empty strings); missing cells stay missing. Arrow's form is a subset of what the
    general parsers read, and reads to the same values."""
    try:
        values = pa.array(column, from_pandas=True).cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    dtype = "datetime64[us]" if pa.types.is_timestamp(arrow_type) else "float64"
    return pd.Series(values.to_numpy(zero_copy_only=False), index=column.index, dtype=dtype)


def guess_day_first(column: pd.Series) -> bool | None:
    """Whether dates written nn/nn/yyyy in `column` must be day first (True: a first
    number above 12 and no second number above 12), month first (False: the reverse),
    or None when the column does not say (no such dates, or both or neither)."""
    text = clean_text(column).dropna()
    parts = text.str.extract(r"^(\d{1,2})[-/.](\d{1,2})[-/.]\d{4}")
    parts = parts.dropna().astype("int64")
    if parts.empty:
        return None
    first_big = bool((parts[0] > 12).any())
    second_big = bool((parts[1] > 12).any())
    if first_big and not second_big:
        return True
    if second_big and not first_big:
        return False
    return None


def _to_datetime(text: pd.Series, fmt: str, *, day_first: bool = False) -> pd.Series:
    parsed = pd.to_datetime(text, format=fmt, errors="coerce", dayfirst=day_first)
    if getattr(parsed.dt, "tz", None) is not None:
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    return parsed.astype("datetime64[us]")


def parse_dates(
    column: pd.Series, *, day_first: bool = False, timezone: str = DEFAULT_SHOP_TIMEZONE
) -> tuple[pd.Series, pd.Series]:
    """Like `parse_datetimes`, then cut to the calendar date (a birthday, ...)."""
    stamps, bad = parse_datetimes(column, day_first=day_first, timezone=timezone)
    return stamps.dt.normalize(), bad


# -- numbers and money ------------------------------------------------------------------

_CURRENCY = r"(?i)(?:¥|￥|\$|€|£|元|rmb|cny|usd|eur|gbp|hk\$|us\$|人民币)"
_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"


def parse_numbers(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read amounts and quantities as float64.

    Accepts plain numbers, currency symbols and words before or after (¥1,234.50,
    1,234.50元, $12, RMB 80), thousands separators in groups of three, full-width
    digits, and negatives written -12, 12-, (12) or −12. A comma that is not a thousands
    separator (12,5) is not guessed at: the cell is bad.
    """
    plain = _arrow_cast(column, pa.float64())
    if plain is not None:
        finite = np.isfinite(plain.to_numpy())
        if finite.all():  # nothing missing or infinite: no copy
            return plain, pd.Series(False, index=column.index)
        return plain.where(finite), plain.notna() & ~finite
    text = clean_text(column)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    todo = text.notna() & values.isna()
    if todo.any():
        rest = text[todo].str.normalize("NFKC").str.replace("−", "-", regex=False)
        rest = rest.str.replace(_CURRENCY, "", regex=True).str.replace(r"\s+", "", regex=True)
        parenthesised = rest.str.match(r"^\(.*\)$").fillna(False).astype(bool)
        trailing_minus = rest.str.match(r"^[^-]+-$").fillna(False).astype(bool)
        rest = rest.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.replace(
            r"^([^-]+)-$", r"\1", regex=True
        )
        grouped = rest.str.match(_GROUPED).fillna(False).astype(bool)
        rest = rest.where(~grouped, rest.str.replace(",", "", regex=False))
        parsed = pd.to_numeric(rest.where(~rest.str.contains(",", regex=False)), errors="coerce")
        parsed = parsed.astype("float64")
        negate = parenthesised | trailing_minus
        parsed = parsed.where(~negate, -parsed.abs())
        values.loc[todo] = parsed
    finite = np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan))
    values = values.where(finite)
    return values, text.notna() & values.isna()


def parse_money(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`parse_numbers` rounded to cents (the store keeps NUMERIC(14,2))."""
    values, bad = parse_numbers(column)
    return values.round(2), bad


def integer_out_of_range(values: pd.Series, low: int, high: int) -> pd.Series:
    """True where a read number is not a whole number in [low, high]."""
    present = values.notna()
    whole = values.round(0) == values
    inside = values.between(low, high)
    return present & ~(whole & inside)


# -- booleans, phones, e-mail -----------------------------------------------------------

TRUE_WORDS = (
    "1", "1.0", "true", "t", "yes", "y", "on", "x", "是", "对", "有", "已退订", "退订",
    "已打开", "已点击", "已发送", "已响应", "接受", "已接受",
)  # fmt: skip
FALSE_WORDS = (
    "0", "0.0", "false", "f", "no", "n", "off", "否", "不", "无", "未退订", "未打开",
    "未点击", "未发送", "未响应", "拒绝", "未接受",
)  # fmt: skip
BOOLEAN_WORDS: dict[str, str] = {
    **dict.fromkeys(TRUE_WORDS, "1"),
    **dict.fromkeys(FALSE_WORDS, "0"),
}


def parse_booleans(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/no cells (1/0, true/false, yes/no, 是/否, ...) as nullable boolean."""
    mapped, bad = parse_words(column, BOOLEAN_WORDS)
    values = pd.Series(pd.NA, index=column.index, dtype="boolean")
    values[mapped == "1"] = True
    values[mapped == "0"] = False
    return values, bad


def normalise_phones(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Phone numbers without spaces, dashes, dots or brackets; a mainland mobile number
    loses its country code (+86 138 0013 8000, 0086-13800138000, 86 13800138000 ->
    13800138000); other international numbers keep a leading '+'. Masked numbers from
    marketplace exports (138****8000) are kept as they are. A number a spreadsheet wrote
    as a float (13800138000.0) loses its zero decimals first, as an id does
    (`normalise_ids`), else the dot would go as punctuation and the zeros stay. A cell
    with no digits, or letters, is bad."""
    text = normalise_ids(column)
    compact = text.str.normalize("NFKC").str.replace(r"[ \t\-().·/]", "", regex=True)
    compact = compact.str.replace(r"^00", "+", regex=True)
    mainland = compact.str.match(r"^\+?86(1\d{10})$").fillna(False).astype(bool)
    compact = compact.where(~mainland, compact.str.replace(r"^\+?86", "", regex=True))
    bad = text.notna() & ~compact.str.match(r"^\+?[\d*]{3,20}$").fillna(False).astype(bool)
    return compact.where(~bad), bad


def normalise_emails(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """E-mail addresses trimmed and lower-cased; a cell without 'x@y.z' shape is bad."""
    text = clean_text(column).str.lower()
    shape = r"^[^@ \t]+@[^@ \t]+\.[^@ \t]+$"
    bad = text.notna() & ~text.str.match(shape).fillna(False).astype(bool)
    return text.where(~bad), bad
