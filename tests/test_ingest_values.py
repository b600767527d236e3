"""Cell values of real exports are read vectorised: dates, money, statuses, phones, flags."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from crm_core.ingest import values as v
from crm_core.ingest.entities import ORDER_STATUS_WORDS


def _col(*cells: str | None) -> pd.Series:
    return pd.Series(list(cells), dtype="str")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-03-05", "2024-03-05 00:00"),
        ("2024/3/5", "2024-03-05 00:00"),
        ("2024.03.05", "2024-03-05 00:00"),
        ("2024年3月5日", "2024-03-05 00:00"),
        ("2024年3月5日 14:30", "2024-03-05 14:30"),
        ("2024-3-5 9:05", "2024-03-05 09:05"),
        ("20240305", "2024-03-05 00:00"),
        ("45356", "2024-03-05 00:00"),
        ("45356.75", "2024-03-05 18:00"),
        ("2024-03-05T10:00:00+08:00", "2024-03-05 10:00"),
        ("2024-03-05T02:00:00Z", "2024-03-05 10:00"),
        ("2024-03-05 10:00:00 UTC", "2024-03-05 18:00"),
        ("2024-03-04 21:00:00-05:00", "2024-03-05 10:00"),
        ("5 Mar 2024", "2024-03-05 00:00"),
    ],
)
def test_dates_in_common_forms_are_read_as_shop_local_time(cell, expected):
    parsed, bad = v.parse_datetimes(_col(cell), timezone="Asia/Shanghai")
    assert not bad.iloc[0]
    assert parsed.iloc[0] == pd.Timestamp(expected)


def test_day_first_choice_decides_ambiguous_dates_and_never_swaps_silently():
    cells = _col("05/03/2024", "13/03/2024 08:15", "03/13/2024")
    day_first, bad_day_first = v.parse_datetimes(cells, day_first=True)
    month_first, bad_month_first = v.parse_datetimes(cells, day_first=False)
    assert day_first.iloc[0] == pd.Timestamp("2024-03-05")
    assert day_first.iloc[1] == pd.Timestamp("2024-03-13 08:15")
    assert bad_day_first.tolist() == [False, False, True]
    assert month_first.iloc[0] == pd.Timestamp("2024-05-03")
    assert month_first.iloc[2] == pd.Timestamp("2024-03-13")
    assert bad_month_first.tolist() == [False, True, False]


def test_day_first_is_guessed_from_the_column():
    assert v.guess_day_first(_col("13/03/2024", "01/02/2024")) is True
    assert v.guess_day_first(_col("03/13/2024", "01/02/2024")) is False
    assert v.guess_day_first(_col("2024-03-13", None)) is None


def test_unreadable_and_empty_dates_are_told_apart():
    parsed, bad = v.parse_datetimes(_col("not a date", None, "  ", "2024-02-30"))
    assert bad.tolist() == [True, False, False, True]
    assert parsed.isna().all()


def test_a_timestamp_zone_is_converted_to_the_chosen_shop_zone():
    parsed, _ = v.parse_datetimes(_col("2024-03-05T10:00:00Z"), timezone="Europe/London")
    assert parsed.iloc[0] == pd.Timestamp("2024-03-05 10:00")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("¥1,234.50", 1234.50),
        ("￥1,234.50", 1234.50),
        ("1,234.50元", 1234.50),
        ("$12", 12.0),
        ("RMB 80", 80.0),
        ("1 234", 1234.0),
        ("(12.50)", -12.50),
        ("12.50-", -12.50),
        ("-¥3.10", -3.10),
        ("−5", -5.0),
        ("１２３．５", 123.5),
        ("11.775", 11.78),
        ("1e3", 1000.0),
    ],
)
def test_amounts_with_symbols_and_separators(cell, expected):
    amounts, bad = v.parse_money(_col(cell))
    assert not bad.iloc[0]
    assert amounts.iloc[0] == pytest.approx(expected)


def test_ambiguous_or_text_amounts_are_bad_not_guessed():
    amounts, bad = v.parse_money(_col("12,5", "abc", "1,23,4", None))
    assert bad.tolist() == [True, True, True, False]
    assert amounts.isna().all()


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("已付款", "paid"),
        ("已完成", "paid"),
        ("交易成功", "paid"),
        ("Paid", "paid"),
        (" COMPLETED ", "paid"),
        ("待付款", "unpaid"),
        ("unpaid", "unpaid"),
        ("已取消", "cancelled"),
        ("交易关闭", "cancelled"),
        ("Canceled", "cancelled"),
        ("已退款", "refunded"),
        ("退款成功", "refunded"),
        ("refunded", "refunded"),
    ],
)
def test_status_words_in_both_languages(word, status):
    mapped, bad = v.parse_words(_col(word), ORDER_STATUS_WORDS)
    assert mapped.iloc[0] == status and not bad.iloc[0]


def test_unknown_status_is_bad():
    mapped, bad = v.parse_words(_col("发货中?", None), ORDER_STATUS_WORDS)
    assert bad.tolist() == [True, False]
    assert mapped.isna().all()


def test_phone_numbers_are_normalised():
    phones, bad = v.normalise_phones(
        _col(
            "+86 138 0013 8000",
            "0086-138-0013-8000",
            "86 13800138000",
            "138 0013 8000",
            "138****8000",
            "(021) 6123-4567",
            "+44 20 7946 0958",
            "call me",
        )
    )
    assert phones.tolist()[:7] == [
        "13800138000",
        "13800138000",
        "13800138000",
        "13800138000",
        "138****8000",
        "02161234567",
        "+442079460958",
    ]
    assert bad.tolist() == [False] * 7 + [True]


def test_phones_written_as_floats_lose_only_a_zero_decimal_part():
    phones, bad = v.normalise_phones(
        _col(
            "13800138000.0",
            " 13800138000.00 ",
            "8613800138000.0",
            "02161234567.0",
            "138.0013.8000",
            "021.6123.4560",
        )
    )
    assert phones.tolist() == [
        "13800138000",
        "13800138000",
        "13800138000",
        "02161234567",
        "13800138000",
        "02161234560",
    ]
    assert not bad.any()


def test_emails_are_lower_cased_and_checked():
    emails, bad = v.normalise_emails(_col(" Wang.Fang@Example.COM ", "no-at-sign", None))
    assert emails.iloc[0] == "wang.fang@example.com"
    assert bad.tolist() == [False, True, False]


def test_yes_no_words():
    flags, bad = v.parse_booleans(_col("1", "是", "TRUE", "0", "否", "no", "maybe", None))
    assert flags.tolist()[:6] == [True, True, True, False, False, False]
    assert bad.tolist() == [False] * 6 + [True, False]


def test_ids_keep_leading_zeros_and_lose_spreadsheet_decimals():
    ids = v.normalise_ids(_col("00001", "17850.0", " A-7 ", "12.5", ""))
    assert ids.tolist()[:4] == ["00001", "17850", "A-7", "12.5"]
    assert pd.isna(ids.iloc[4])


def test_scores_outside_their_range_or_fractional_are_flagged():
    scores, _ = v.parse_numbers(_col("0", "10", "11", "-1", "7.5", None))
    assert v.integer_out_of_range(scores, 0, 10).tolist() == [
        False,
        False,
        True,
        True,
        True,
        False,
    ]


def test_parsers_work_on_a_large_column():
    cells = pd.Series(["2024-03-05 10:00:00"] * 200_000 + ["2024/3/5"], dtype="str")
    parsed, bad = v.parse_datetimes(cells)
    assert not bad.any()
    assert parsed.iloc[-1] == pd.Timestamp("2024-03-05")


PLAIN_TIMESTAMPS = [
    "2024-03-05 14:30:00", "2024-03-05T09:05", "2024-03-05", None, "2023-12-31 23:59:59.5",
]  # fmt: skip
PLAIN_NUMBERS = ["12.5", "-3", "1e3", None, ".5", "+7", "inf"]


def test_a_plain_iso_column_reads_the_same_on_the_fast_and_the_general_path():
    fast, fast_bad = v.parse_datetimes(_col(*PLAIN_TIMESTAMPS))
    # One cell Arrow cannot read sends the whole column down the general path.
    general, general_bad = v.parse_datetimes(_col(*PLAIN_TIMESTAMPS, "2024年3月5日"))
    assert v._arrow_cast(_col(*PLAIN_TIMESTAMPS), pa.timestamp("us")) is not None
    assert v._arrow_cast(_col(*PLAIN_TIMESTAMPS, "2024年3月5日"), pa.timestamp("us")) is None
    pd.testing.assert_series_equal(fast, general.iloc[:-1])
    pd.testing.assert_series_equal(fast_bad, general_bad.iloc[:-1])
    assert str(fast.iloc[0]) == "2024-03-05 14:30:00" and pd.isna(fast.iloc[3])
    assert general.iloc[-1] == pd.Timestamp("2024-03-05")


@pytest.mark.parametrize("numbers", [PLAIN_NUMBERS, PLAIN_NUMBERS[:3]], ids=["gaps", "all-finite"])
def test_a_plain_number_column_reads_the_same_on_the_fast_and_the_general_path(numbers):
    fast, fast_bad = v.parse_money(_col(*numbers))
    assert v._arrow_cast(_col(*numbers), pa.float64()) is not None
    general, general_bad = v.parse_money(_col(*numbers, "¥1,234.50"))
    pd.testing.assert_series_equal(fast, general.iloc[:-1])
    pd.testing.assert_series_equal(fast_bad, general_bad.iloc[:-1])
    assert fast.tolist()[:3] == [12.5, -3.0, 1000.0]
    assert fast_bad.tolist() == [cell == "inf" for cell in numbers]
    assert general.iloc[-1] == 1234.5


def test_zoned_or_untidy_cells_never_take_the_fast_path():
    for cells in (["2024-03-05T02:00:00Z"], [" 2024-03-05"], ["2024-3-5"], [""], ["20240305"]):
        assert v._arrow_cast(_col(*cells), pa.timestamp("us")) is None
    zoned, _ = v.parse_datetimes(_col("2024-03-05T02:00:00Z", "2024-03-05 02:00:00"))
    assert zoned.tolist() == [pd.Timestamp("2024-03-05 10:00"), pd.Timestamp("2024-03-05 02:00")]
