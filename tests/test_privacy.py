"""Masking of phone numbers and e-mails by role, and formula neutralisation on hostile
spreadsheet values (OWASP CSV injection)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from crm_core.auth import Actor
from crm_core.outreach.privacy import (
    mask_contacts,
    mask_email,
    mask_emails,
    mask_personal_columns,
    mask_phone,
    mask_phones,
    neutralise_formula,
    neutralise_text,
)
from tests.support.actors import ADMIN, ANALYST

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    "＝1+1",  # full-width equals sign, as a Chinese input method types it
]
HARMLESS = ["王芳", "ok", "a=b", "1+1", " =1", "", "'=already quoted"]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("  13812345678\t", "138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("+8613812345678", "+86 138****5678"),
        ("0086-13812345678", "+86 138****5678"),
        ("8613812345678", "+86 138****5678"),
        ("+1 415 555 2671", "+141****2671"),
        ("(021) 6234-5678", "021****5678"),
        ("62345678", "****5678"),
        ("1234567", "*****67"),
        ("1234", "****"),
        ("unknown", "*******"),
        ("", ""),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_missing_values_stay_missing(missing):
    assert mask_phone(missing) is None
    assert mask_email(missing) is None


def test_masked_mobiles_keep_only_the_first_three_and_last_four_digits():
    rng = np.random.default_rng(7)
    numbers = pd.Series((13_000_000_000 + rng.integers(0, 6_999_999_999, 500)).astype(str))
    masked = mask_phones(numbers)
    assert (masked.str[:3] == numbers.str[:3]).all()
    assert (masked.str[-4:] == numbers.str[-4:]).all()
    assert (masked.str[3:7] == "****").all()
    assert (masked.str.count(r"\d") == 7).all()


def test_phone_column_read_as_numbers_is_masked_without_decimals():
    as_floats = pd.Series([13812345678.0, np.nan, 62345678.0])
    assert mask_phones(as_floats).tolist()[0] == "138****5678"
    assert pd.isna(mask_phones(as_floats).iloc[1])
    as_integers = pd.Series([13812345678, 62345678])
    assert mask_phones(as_integers).tolist() == ["138****5678", "****5678"]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("wangfang@example.com", "w*******@example.com"),
        (" Li.Na@qq.com ", "L****@qq.com"),
        ("ab@x.cn", "a*@x.cn"),
        ("a@x.cn", "*@x.cn"),
        ('"odd@local"@example.com', '"**********@example.com'),
        ("no-at-sign", "n*********"),
        ("", ""),
    ],
)
def test_mask_email(raw, masked):
    assert mask_email(raw) == masked


def test_mask_contacts_picks_the_rule_per_value():
    addresses = pd.Series(["13812345678", "wangfang@example.com", None, "wxid_abc123456"])
    masked = mask_contacts(addresses)
    assert masked.iloc[0] == "138****5678"
    assert masked.iloc[1] == "w*******@example.com"
    assert pd.isna(masked.iloc[2])
    assert "abc" not in masked.iloc[3]


def test_vectorised_and_scalar_masking_agree():
    values = ["13812345678", "+86 13912345678", "021-62345678", "x", None]
    assert mask_phones(pd.Series(values)).tolist()[:4] == [mask_phone(v) for v in values[:4]]
    emails = ["wangfang@example.com", "a@b.c", "zz"]
    assert mask_emails(pd.Series(emails)).tolist() == [mask_email(v) for v in emails]


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C001", "C002", "C003"],
            "name": ["王芳", "李娜", "张伟"],
            "phone": ["13812345678", None, "+86 139 0000 1111"],
            "email": ["wangfang@example.com", "lina@example.cn", None],
            "monetary": [1200.5, -30.0, 0.0],
        },
        index=[10, 11, 12],
    )


@pytest.mark.parametrize("role", ["analyst", "viewer", None])
def test_personal_columns_are_masked_for_roles_without_the_permission(role):
    customers = _customers()
    before = customers.copy()
    masked = mask_personal_columns(customers, Actor("someone", role))
    assert_frame_equal(customers, before)  # the input is not changed
    assert masked["phone"].tolist()[0] == "138****5678"
    assert pd.isna(masked["phone"].iloc[1])
    assert masked["phone"].iloc[2] == "+86 139****1111"
    assert masked["email"].tolist()[:2] == ["w*******@example.com", "l***@example.cn"]
    untouched = ["customer_id", "name", "monetary"]
    assert_frame_equal(masked[untouched], customers[untouched])


def test_admins_see_personal_data_unmasked():
    customers = _customers()
    shown = mask_personal_columns(customers, ADMIN)
    assert_frame_equal(shown, customers)
    assert shown is not customers


def test_masking_ignores_absent_columns_and_masks_chosen_ones():
    frame = pd.DataFrame({"customer_id": ["C1"], "channel_address": ["wangfang@example.com"]})
    masked = mask_personal_columns(frame, ANALYST, columns=("phone", "channel_address"))
    assert masked["channel_address"].iloc[0] == "w*******@example.com"
    assert list(masked.columns) == ["customer_id", "channel_address"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_gets_a_leading_apostrophe(value):
    frame = pd.DataFrame({"name": ["ok", value]})
    safe = neutralise_formula(frame)
    assert safe["name"].tolist() == ["ok", "'" + value]
    assert frame["name"].iloc[1] == value  # the input is not changed
    assert neutralise_text(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_harmless_text_is_left_alone(value):
    frame = pd.DataFrame({"name": [value]})
    assert neutralise_formula(frame)["name"].iloc[0] == value


def test_numbers_dates_and_booleans_are_untouched():
    frame = pd.DataFrame(
        {
            "monetary": [-1.5, -200.0, 3.25],
            "frequency": [-1, 0, 7],
            "last_order": pd.to_datetime(["2024-01-01", None, "2024-03-05"]),
            "opted_out": [True, False, True],
            "note": ["-1+1", None, "fine"],
        }
    )
    safe = neutralise_formula(frame)
    for column in ("monetary", "frequency", "last_order", "opted_out"):
        assert_series_equal(safe[column], frame[column])
    assert safe["note"].iloc[0] == "'-1+1"
    assert pd.isna(safe["note"].iloc[1])


def test_mixed_object_column_keeps_its_numbers():
    frame = pd.DataFrame({"value": pd.Series([-3, "=1+1", 2.5, None, "@x"], dtype=object)})
    safe = neutralise_formula(frame)["value"].tolist()
    assert safe[0] == -3 and isinstance(safe[0], int)
    assert safe[2] == 2.5
    assert safe[3] is None
    assert safe[1] == "'=1+1" and safe[4] == "'@x"


def test_categorical_labels_and_headers_are_neutralised():
    frame = pd.DataFrame({"segment": pd.Categorical(["=bad", "good", "=bad"]), "=total": [1, 2, 3]})
    safe = neutralise_formula(frame)
    assert list(safe.columns) == ["segment", "'=total"]
    assert isinstance(safe["segment"].dtype, pd.CategoricalDtype)
    assert safe["segment"].astype(str).tolist() == ["'=bad", "good", "'=bad"]
    assert safe["'=total"].tolist() == [1, 2, 3]


def test_a_masked_hostile_email_is_still_neutralised():
    frame = pd.DataFrame({"email": ["=cmd@evil.example"]})
    safe = neutralise_formula(mask_personal_columns(frame, ANALYST))
    assert safe["email"].iloc[0] == "'=***@evil.example"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_whole_days_and_counts_are_written_without_decimals(file_format):
    import io

    import openpyxl

    from crm_core.outreach.audiences import render_file

    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "recency_days": [794.0, np.nan],  # float only because one is missing
            "frequency": [3.0, 1.0],
            "monetary": [12.5, 3.0],
        }
    )
    content = render_file(frame, file_format, ADMIN)  # translated headers, as users get it
    if file_format == "csv":
        rows = content.decode("utf-8-sig").splitlines()
        assert rows[1:] == ["a,794,3,12.5", "b,,1,3.0"]  # an amount keeps its decimals
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        values = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
        assert values == [["a", 794, 3, 12.5], ["b", None, 1, 3]]
        assert isinstance(values[0][1], int)
