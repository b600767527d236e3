"""Rows become typed records or rejects with a reason; nothing is dropped silently."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from crm_core.errors import InputError
from crm_core.ingest import ImportOptions, derive_ids, suggest_mapping, validate
from crm_core.ingest.validate import REASONS, _DistinctCheck


def _frame(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype="str")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _csv(text: str) -> pd.DataFrame:
    """A frame of text cells as read_file gives it (empty cell = NA, rows from 1)."""
    frame = pd.read_csv(io.StringIO(text), dtype="str", keep_default_na=False, na_values=[""])
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _check_accounting(result) -> None:
    """Every row read is accepted or rejected, never both, never neither."""
    assert result.accepted + result.rejected == result.rows_read
    assert not set(result.good.index) & set(result.rejects["row_number"])


def _reasons(result) -> dict[int, tuple[str, str | None]]:
    return {
        int(r.row_number): (r.reason, r.column_name) for r in result.rejects.itertuples(index=False)
    }


CHINESE = _csv(
    """\
订单号,客户ID,下单时间,实付金额,订单状态,手机号
A1,C1,2024/3/5 10:00,"￥1,234.50",已付款,138 0013 8000
A2,C2,2024年3月6日,88元,交易关闭,
A3,,2024-03-07,10,已付款,
A4,C4,昨天,10,已付款,
A5,C5,2024-03-08,十块,已付款,
A6,C6,2024-03-08,10,发货中?,
A7,C7,2025-01-01,10,已付款,
A8,C8,2024-03-09,-25,已付款,
"""
)


def test_a_chinese_order_export_is_mapped_read_and_rejected_row_by_row():
    mapping = suggest_mapping(CHINESE, "orders")
    assert mapping == {
        "订单号": "order_id",
        "客户ID": "customer_id",
        "下单时间": "ordered_at",
        "实付金额": "amount",
        "订单状态": "status",
        "手机号": None,
    }
    result = validate(CHINESE, "orders", mapping, ImportOptions(as_of=dt.date(2024, 12, 31)))
    _check_accounting(result)
    good = result.good
    assert good.loc[1, "amount"] == 1234.5 and good.loc[1, "status"] == "paid"
    assert good.loc[1, "ordered_at"] == pd.Timestamp("2024-03-05 10:00")
    assert good.loc[2, "status"] == "cancelled" and good.loc[2, "amount"] == 88.0
    assert good.loc[8, "status"] == "refunded" and good.loc[8, "amount"] == 25.0
    assert _reasons(result) == {
        3: ("missing_value", "客户ID"),
        4: ("unreadable_date", "下单时间"),
        5: ("not_a_number", "实付金额"),
        6: ("unknown_value", "订单状态"),
        7: ("future_date", "下单时间"),
    }
    detail = result.rejects.set_index("row_number")["detail"]
    assert detail[4] == "昨天" and detail[5] == "十块"
    raw = result.rejects.set_index("row_number")["raw"][5]
    assert raw["实付金额"] == "十块" and raw["订单号"] == "A5"
    assert result.ignored_columns == ["手机号"]


@pytest.mark.parametrize(
    ("mapping", "key", "english", "chinese"),
    [
        (
            {"a": "customer_id", "b": "customer_id", "c": "ordered_at", "d": "amount"},
            "data.error.field_mapped_twice",
            "several columns are mapped to: Customer id (customer_id)",
            "以下字段对应了多列：客户编号 (customer_id)",
        ),
        (
            {"a": "customer_id"},
            "data.error.missing_columns",
            "missing for Orders: Order time (ordered_at), Amount (amount).",
            "导入订单缺少必需的列：下单时间 (ordered_at)、金额 (amount)。",
        ),
    ],
)
def test_a_mapping_that_cannot_work_names_fields_by_label_and_code(mapping, key, english, chinese):
    with pytest.raises(InputError) as raised:
        validate(pd.DataFrame(columns=list(mapping)), "orders", mapping)
    assert raised.value.key == key
    assert english in raised.value.message("en") and english in str(raised.value)
    assert chinese in raised.value.message("zh-CN")


def test_without_as_of_a_future_date_is_accepted():
    result = validate(CHINESE, "orders", suggest_mapping(CHINESE, "orders"))
    assert 7 in result.good.index


def test_duplicate_ids_conflicting_rows_are_all_rejected_and_repeats_once():
    frame = _csv(
        """\
order_id,customer_id,date,amount
O1,C1,2024-01-01,10
O2,C1,2024-01-02,20
O1,C1,2024-01-01,99
O2,C1,2024-01-02,20.00
O3,C2,2024-01-03,30
"""
    )
    result = validate(frame, "orders", suggest_mapping(frame, "orders"))
    _check_accounting(result)
    assert result.good["order_id"].tolist() == ["O2", "O3"]
    assert _reasons(result) == {
        1: ("duplicate_id", "order_id"),
        3: ("duplicate_id", "order_id"),
        4: ("duplicate_row", "order_id"),
    }


def test_a_row_with_several_problems_is_rejected_for_the_first_in_field_order():
    # fields in the entity's order: customer id, time, amount, status (each parsed on
    # its own thread); the row's reason is its first problem in that order, whatever
    # the order of the file's columns
    frame = _csv(
        """\
status,amount,date,customer_id,order_id
paid,10,2024-01-01,C1,O1
maybe,ten,someday,,O2
maybe,ten,someday,C3,O3
maybe,ten,2024-01-03,C4,O4
maybe,10,2024-01-04,C5,O5
"""
    )
    result = validate(frame, "orders", suggest_mapping(frame, "orders"))
    _check_accounting(result)
    assert _reasons(result) == {
        2: ("missing_value", "customer_id"),
        3: ("unreadable_date", "date"),
        4: ("not_a_number", "amount"),
        5: ("unknown_value", "status"),
    }


def test_ids_longer_than_the_store_holds_are_rejected_counting_characters_not_bytes():
    at_limit = "会员" * 32  # 64 characters, 192 bytes in UTF-8
    customers = [at_limit, at_limit + "甲", "C" * 65, "C" * 64]
    frame = _frame(
        [
            {"order_id": f"O{n}", "customer_id": customer, "date": "2024-01-01", "amount": "10"}
            for n, customer in enumerate(customers, start=1)
        ]
    )
    result = validate(frame, "orders", suggest_mapping(frame, "orders"))
    _check_accounting(result)
    assert result.good["order_id"].tolist() == ["O1", "O4"]
    assert _reasons(result) == {2: ("too_long", "customer_id"), 3: ("too_long", "customer_id")}
    assert result.rejects.set_index("row_number").loc[2, "detail"] == at_limit + "甲"


def test_rows_without_an_order_id_all_arrive_with_stable_derived_ids():
    frame = _csv(
        """\
customer_id,date,dollar_value
00001,19970101,11.77
00001,19970101,11.77
00002,19970112,12.00
"""
    )
    first = validate(frame, "orders", suggest_mapping(frame, "orders"))
    again = validate(frame.copy(), "orders", suggest_mapping(frame, "orders"))
    ids = first.good["order_id"]
    assert first.accepted == 3 and ids.nunique() == 3
    assert ids.str.match(r"^D-[0-9a-f]{16}$").all()
    assert ids.tolist() == again.good["order_id"].tolist()
    reformatted = frame.assign(
        date=["1997-01-01", "1997/1/1", "1997-01-12"], dollar_value=["$11.77", "11.770", "12"]
    )
    assert (
        validate(reformatted, "orders", suggest_mapping(frame, "orders")).good["order_id"].tolist()
        == ids.tolist()
    )


def test_derived_ids_depend_on_values_and_occurrence():
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "b"], dtype="str"),
            "ordered_at": pd.to_datetime(["2024-01-01"] * 3),
            "amount": [1.0, 1.0, 1.0],
        }
    )
    ids = derive_ids(frame, ("customer_id", "ordered_at", "amount"))
    assert ids.nunique() == 3
    assert derive_ids(frame.iloc[[0, 2]], ("customer_id", "ordered_at", "amount")).tolist() == [
        ids.iloc[0],
        ids.iloc[2],
    ]


LINES = _csv(
    """\
InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID
536365,85123A,6,2010-12-01 08:26:00,2.55,17850.0
536365,71053,6,2010-12-01 08:27:00,3.39,17850.0
C536379,D,-1,2010-12-01 09:41:00,27.50,14527.0
536380,22961,24,2010-12-01 09:45:00,1.45,
536381,22139,1,2010-12-01 09:50:00,4.25,15311.0
536381,22140,x,2010-12-01 09:50:00,4.25,15311.0
536382,22141,1,2010-12-01 09:55:00,1.00,1
536382,22142,1,2010-12-01 09:55:00,1.00,2
536365,85123A,6,2010-12-01 08:26:00,2.55,17850.0
"""
)


def test_invoice_lines_are_aggregated_into_orders_and_cancellations_become_refunds():
    mapping = suggest_mapping(LINES, "order_lines")
    assert mapping == {
        "InvoiceNo": "order_id",
        "StockCode": "sku",
        "Quantity": "quantity",
        "InvoiceDate": "ordered_at",
        "UnitPrice": "unit_price",
        "CustomerID": "customer_id",
    }
    result = validate(LINES, "order_lines", mapping)
    _check_accounting(result)
    lines = result.good
    assert lines.loc[[1, 2, 9], "line_no"].tolist() == [1, 2, 3]
    assert lines.loc[1, "customer_id"] == "17850"
    assert lines.loc[3, "amount"] == -27.5
    orders = result.related["orders"].set_index("order_id")
    assert sorted(orders.index) == ["536365", "C536379"]
    assert orders.loc["536365", "amount"] == pytest.approx(2 * 6 * 2.55 + 6 * 3.39)
    assert orders.loc["536365", "ordered_at"] == pd.Timestamp("2010-12-01 08:26")
    assert orders.loc["536365", "status"] == "paid"
    assert orders.loc["C536379", "status"] == "refunded"
    assert orders.loc["C536379", "amount"] == 27.5
    assert _reasons(result) == {
        4: ("missing_value", "CustomerID"),
        5: ("incomplete_order", "InvoiceNo"),
        6: ("not_a_number", "Quantity"),
        7: ("conflicting_order", "CustomerID"),
        8: ("conflicting_order", "CustomerID"),
    }


IFOOD_LIKE = _csv(
    """\
ID,Dt_Customer,AcceptedCmp1,Response,Z_CostContact,Z_Revenue
5524,2012-09-04,0,1,3,11
2174,2014-03-08,1,0,3,11
4141,2013-08-21,maybe,0,3,11
"""
)


def test_customers_with_campaign_acceptances_bring_campaigns_and_touches():
    mapping = suggest_mapping(IFOOD_LIKE, "customers")
    assert mapping["AcceptedCmp1"] == "campaign_response"
    assert mapping["Response"] == "campaign_response"
    assert mapping["Z_CostContact"] == "campaign_cost_per_contact"
    result = validate(IFOOD_LIKE, "customers", mapping)
    _check_accounting(result)
    assert _reasons(result) == {3: ("unreadable_value", "AcceptedCmp1")}
    campaigns = result.related["campaigns"].set_index("campaign_id")
    assert list(campaigns.index) == ["AcceptedCmp1", "Response"]
    assert (campaigns["started_at"] == pd.Timestamp("2014-03-08")).all()
    assert (campaigns["cost"] == 6.0).all()
    assert (campaigns["revenue_per_response"] == 11.0).all()
    touches = result.related["campaign_touches"]
    assert len(touches) == 4
    responded = touches.set_index(["campaign_id", "customer_id"])["responded"]
    assert responded[("Response", "5524")] and responded[("AcceptedCmp1", "2174")]
    assert not responded[("Response", "2174")]
    assert "campaign_cost_per_contact" not in result.good.columns


def test_campaign_touches_control_group_and_open_flags():
    frame = _csv(
        """\
活动编号,客户ID,分组,发送时间,是否打开
K1,C1,A,2024-03-01 09:00,是
K1,C2,对照组,,否
K1,C3,B,,是
"""
    )
    result = validate(frame, "campaign_touches", suggest_mapping(frame, "campaign_touches"))
    _check_accounting(result)
    good = result.good
    assert good.loc[1, "opened_at"] == pd.Timestamp("2024-03-01 09:00")
    assert good.loc[2, "is_control"] and good.loc[2, "variant"] == "control"
    assert not good.loc[1, "is_control"] and good.loc[1, "variant"] == "A"
    assert _reasons(result) == {3: ("missing_value", "是否打开")}


def test_survey_scores_must_be_in_range_and_present():
    frame = _csv(
        """\
客户ID,提交时间,推荐意愿,满意度
C1,2024-03-01,9,5
C2,2024-03-01,11,
C3,2024-03-01,,0
C4,2024-03-01,,
C5,2024-03-01,7.5,4
"""
    )
    result = validate(frame, "survey_responses", suggest_mapping(frame, "survey_responses"))
    _check_accounting(result)
    assert result.good.loc[1, "nps"] == 9 and result.good.loc[1, "csat"] == 5
    assert _reasons(result) == {
        2: ("out_of_range", "推荐意愿"),
        3: ("out_of_range", "满意度"),
        4: ("no_score", "推荐意愿"),
        5: ("out_of_range", "推荐意愿"),
    }


def test_tickets_words_and_defaults():
    frame = _csv(
        """\
工单号,客户ID,工单类型,创建时间,优先级,是否投诉
T1,C1,物流,2024-03-01 10:00,紧急,是
T2,C1,质量问题,2024-03-02,,
T3,C2,闲聊,2024-03-02,,
"""
    )
    result = validate(frame, "tickets", suggest_mapping(frame, "tickets"))
    good = result.good
    assert good["ticket_type"].tolist() == ["logistics", "quality"]
    assert good["priority"].tolist() == ["urgent", "normal"]
    assert good["is_complaint"].tolist() == [True, False]
    assert _reasons(result) == {3: ("unknown_value", "工单类型")}


def test_bad_lines_from_reading_become_rejects():
    frame = _frame([{"customer_id": "C1", "date": "2024-01-01", "amount": "5"}])
    frame.index = pd.Index([1])
    bad = pd.DataFrame({"row_number": [2], "detail": ["4 of 3 fields"], "text": ["a,b,c,d"]})
    result = validate(frame, "orders", suggest_mapping(frame, "orders"), bad_lines=bad)
    _check_accounting(result)
    assert result.rows_read == 2
    reject = result.rejects.iloc[0]
    assert reject["reason"] == "bad_line" and reject["raw"] == {"line": "a,b,c,d"}


def test_every_reason_has_a_message_in_both_languages():
    from crm_core.i18n import LANGUAGES, has_key

    for language in LANGUAGES:
        assert [r for r in REASONS if not has_key(f"data.reason.{r}", language)] == []


def test_distinct_check_says_whether_the_same_column_repeats_a_value():
    frame = pd.DataFrame({"id": pd.Series(["a", "b", "c"], dtype="str")})
    assert _DistinctCheck(frame["id"]).holds_for(frame["id"])
    repeated = pd.Series(["a", "b", "a"], dtype="str")
    assert not _DistinctCheck(repeated).holds_for(repeated)
    missing_twice = pd.Series(["a", None, None], dtype="str")
    assert not _DistinctCheck(missing_twice).holds_for(missing_twice)
    check = _DistinctCheck(frame["id"])
    frame["id"] = pd.Series(["a", "a", "c"], dtype="str")  # replaced after the check began
    assert not check.holds_for(frame["id"])
    frame["id"] = pd.Series(["a", "b", "c"], dtype="str")
    check = _DistinctCheck(frame["id"])
    frame.loc[2, "id"] = "a"  # changed in place after the check began
    assert not check.holds_for(frame["id"])
