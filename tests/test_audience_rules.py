"""The rules the Audiences and Exports pages used to hold, now in crm_core, on small
hand-written data: assembling audience facts from their parts, the exclusion table, the
policy's limits, a tag rule typed as JSON, and the exports list as shown."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.customers.features import customer_features
from crm_core.customers.rfm import prepare_facts
from crm_core.customers.segments import (
    NOT_SCORED,
    preset,
    resolve_scheme_ref,
    save_scheme,
    validate_condition,
)
from crm_core.customers.tags import (
    EXAMPLE_CONDITION,
    TAG_FIELDS,
    Tag,
    condition_json,
    parse_condition,
    tag_facts,
)
from crm_core.errors import InputError
from crm_core.i18n import translate
from crm_core.outreach.audiences import audience_facts, exports_table, load_audience_facts
from crm_core.outreach.policy import (
    DEFAULT_POLICY,
    POLICY_LIMITS,
    ContactPolicy,
    PolicyResult,
    exclusion_table,
    member_positions,
)
from crm_core.store import bulk_insert, models
from tests.support.actors import ANALYST

AS_OF = dt.date(2024, 6, 30)
BIG = Tag("big_spender", {"field": "monetary", "op": ">=", "value": 500}, "custom")


@pytest.fixture
def small_shop(sqlite_store):
    """Four customers: two buyers either side of 500, an old buyer, a prospect."""
    ids = ["spends_500", "spends_499", "old_buyer", "prospect"]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": ids,
            "phone": ["13800000001", "13800000002", "13800000003", "13800000004"],
            "signup_at": pd.to_datetime(["2023-01-01"] * 4),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4"],
            "customer_id": ["spends_500", "spends_499", "spends_499", "old_buyer"],
            "ordered_at": pd.to_datetime(
                ["2024-06-01 10:00", "2024-05-01 10:00", "2024-06-30 23:59", "2023-01-10 10:00"]
            ),
            "amount": [500.0, 300.0, 199.99, 80.0],
            "status": ["paid"] * 4,
        }
    )
    with sqlite_store.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.orders, orders)
    return sqlite_store


def test_audience_facts_from_parts_equal_the_facts_read_from_the_store(small_shop):
    save_scheme(small_shop, preset("rfm11"), ANALYST)
    save_scheme(small_shop, preset("rfm11"), ANALYST)
    scheme, scheme_id = resolve_scheme_ref(small_shop, "rfm11", 2)
    rfm = prepare_facts(customer_features(small_shop, AS_OF, 365))
    built = audience_facts(
        rfm,
        tag_facts(small_shop, AS_OF),
        [BIG],
        scheme,
        as_of=AS_OF,
        window_days=365,
        scheme_id=scheme_id,
    )
    loaded = load_audience_facts(small_shop, AS_OF, 365, scheme, scheme_id, tags=[BIG])
    assert built.scheme.version == loaded.scheme.version == 2
    assert built.scheme_id == loaded.scheme_id == scheme_id
    assert (built.as_of, built.window_days) == (AS_OF, 365)
    np.testing.assert_array_equal(built.assignment.codes, loaded.assignment.codes)
    np.testing.assert_array_equal(built.tags.values, loaded.tags.values)
    big = dict(zip(built.customer_ids, built.tags.column(BIG.name), strict=True))
    assert big == {
        "spends_500": True,
        "spends_499": False,  # 300 + 199.99: a cent short
        "old_buyer": False,
        "prospect": False,
    }
    names = built.assignment.names
    codes = dict(zip(built.customer_ids, built.assignment.codes, strict=True))
    assert names[codes["prospect"]] == NOT_SCORED
    assert names[codes["old_buyer"]] == NOT_SCORED  # bought before the 365-day window
    assert names[codes["spends_500"]] != NOT_SCORED


def test_member_positions_take_a_mask_or_positions():
    assert member_positions(np.array([False, True, False, True])).tolist() == [1, 3]
    assert member_positions(np.array([3, 0])).tolist() == [3, 0]
    assert member_positions(np.array([], dtype=bool)).tolist() == []


def test_exclusion_table_counts_each_reason_in_order():
    result = PolicyResult(
        positions=np.array([4, 7, 9, 12, 15]),
        reasons=np.array([0, 4, 4, 1, 0], dtype=np.int8),
        channel="sms",
        policy=DEFAULT_POLICY,
    )
    table = exclusion_table(result, "en")
    assert table["customers"].tolist() == [1, 0, 0, 2]
    assert table["reason"].tolist() == [
        "Opted out of SMS",
        "No valid SMS address",
        "Complaint quiet period",
        "Over the contact cap",
    ]
    chinese = exclusion_table(result, "zh-CN")
    assert chinese["reason"].iloc[0] == translate(
        "audiences.reason_name.opted_out",
        "zh-CN",
        channel=translate("audiences.channel.sms", "zh-CN"),
    )
    assert chinese["reason"].iloc[0] != table["reason"].iloc[0]


def test_exclusion_table_of_nobody_has_four_zero_rows():
    empty = PolicyResult(
        np.array([], dtype=np.intp), np.array([], dtype=np.int8), None, DEFAULT_POLICY
    )
    table = exclusion_table(empty, "en")
    assert table["customers"].tolist() == [0, 0, 0, 0]
    assert table["reason"].iloc[0] == translate(
        "audiences.reason_name.opted_out", "en", channel="No channel"
    )


@pytest.mark.parametrize("name", list(POLICY_LIMITS))
def test_policy_limits_are_inclusive(name):
    low, high = POLICY_LIMITS[name]
    assert getattr(ContactPolicy(**{name: low}), name) == low
    assert getattr(ContactPolicy(**{name: high}), name) == high
    for outside in (low - 1, high + 1):
        with pytest.raises(InputError):
            ContactPolicy(**{name: outside})


def test_the_cap_window_needs_at_least_one_day():
    assert POLICY_LIMITS["cap_window_days"][0] == 1
    with pytest.raises(InputError):
        ContactPolicy(cap_window_days=0)


def test_a_tag_rule_typed_as_json():
    assert parse_condition('{"field": "monetary", "op": ">=", "value": 2000}') == {
        "field": "monetary",
        "op": ">=",
        "value": 2000,
    }
    with pytest.raises(InputError) as raised:
        parse_condition('{"field": "monetary",\n "op": ">="')
    assert raised.value.key == "tags.error.json"
    assert raised.value.params["line"] == 2
    assert "JSON" in raised.value.message("en")


def test_the_example_rule_is_a_valid_rule_and_survives_the_editor():
    validate_condition(EXAMPLE_CONDITION, TAG_FIELDS, where="example")
    assert parse_condition(condition_json(EXAMPLE_CONDITION)) == EXAMPLE_CONDITION
    text = condition_json({"field": "favourite_category", "op": "==", "value": "茶叶"})
    assert "茶叶" in text and "\n" in text


def test_exports_table_labels_source_scheme_version_and_channel():
    exports = pd.DataFrame(
        {
            "id": [3, 2, 1],
            "source": ["copy", "trigger", "audience"],
            "scheme": pd.array(["mine", "rfm11", None], dtype="str"),
            "scheme_version": pd.array([2, None, None], dtype="Int64"),
            "channel": pd.array([None, "sms", "email"], dtype="str"),
            "row_count": [5, 0, 7],
        }
    )
    shown = exports_table(exports, "en")
    assert shown["source"].tolist() == ["downloaded again", "trigger list", "audience"]
    assert shown["scheme"].tolist() == ["mine", "RFM 11 segments (R x FM)", ""]
    assert shown["scheme_version"].tolist() == ["Version 2", "—", "—"]
    assert shown["channel"].tolist() == ["No channel", "SMS", "e-mail"]
    assert shown["row_count"].tolist() == [5, 0, 7]
    assert exports["source"].tolist() == ["copy", "trigger", "audience"]  # input unchanged
