"""Service levels (crm_core.voice.hours, sla, service) on hand-written tickets: business
hours across a weekend, a public holiday and a make-up working day, targets per tier and
priority, open tickets at the as-of moment; the policy as stored; the ticket fields the
importer now takes from Chinese headers, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.errors import InputError, PermissionDenied
from crm_core.ingest import import_file
from crm_core.voice.hours import BusinessClock, WorkCalendar
from crm_core.voice.service import (
    breached_tickets,
    csat_by,
    open_backlog,
    reason_counts,
    response_times,
    service_experience,
    sla_achievement,
    tickets_at_risk,
    tickets_per_thousand_orders,
)
from crm_core.voice.sla import (
    DEFAULT_POLICY,
    load_sla_policy,
    policy_from_dict,
    policy_to_dict,
    save_sla_policy,
    service_tickets,
    ticket_levels,
)
from tests.support.actors import ADMIN, ANALYST

NATIONAL_DAY = [dt.date(2026, 10, day) for day in range(1, 8)]  # Thu 1 - Wed 7 October
MAKE_UP_DAY = dt.date(2026, 10, 10)  # a Saturday worked instead


def _at(text: str) -> np.ndarray:
    return np.array([text], dtype="datetime64[s]")


def _business_policy(**changes) -> dict:
    policy = {
        "clock": "business",
        "calendar": {
            "weekdays": [0, 1, 2, 3, 4],
            "day_start": "09:00",
            "day_end": "18:00",
            "holidays": [day.isoformat() for day in NATIONAL_DAY],
            "workdays": [MAKE_UP_DAY.isoformat()],
        },
        "tiers": [{"name": "VIP", "tag": "high_end"}],
        "targets": [
            {"tier": "", "priority": "", "first_response_hours": 4, "resolution_hours": 18},
            {"tier": "VIP", "priority": "", "first_response_hours": 2, "resolution_hours": 9},
            {"tier": "", "priority": "urgent", "first_response_hours": 1, "resolution_hours": 9},
        ],
    }
    policy.update(changes)
    return policy


def test_business_hours_skip_nights_weekends_and_holidays_but_count_a_make_up_day():
    clock = BusinessClock(
        WorkCalendar(holidays=frozenset(NATIONAL_DAY), workdays=frozenset([MAKE_UP_DAY]))
    )
    # Friday 17:00 -> Monday 10:00: one hour on Friday, one on Monday
    assert clock.elapsed(_at("2026-09-25T17:00"), _at("2026-09-28T10:00"))[0] == 2 * 3600
    # Wednesday 30 September 17:00 -> Thursday 8 October 10:00, over the National Day week
    assert clock.elapsed(_at("2026-09-30T17:00"), _at("2026-10-08T10:00"))[0] == 2 * 3600
    # Friday 9 October 17:00 -> Saturday 10 October 12:00, a make-up working day
    assert clock.elapsed(_at("2026-10-09T17:00"), _at("2026-10-10T12:00"))[0] == 4 * 3600
    # a Sunday night to Monday 9:00 is no time at all
    assert clock.elapsed(_at("2026-09-27T22:00"), _at("2026-09-28T09:00"))[0] == 0
    # deadlines: 4 working hours from Friday 17:00 end Monday 12:00; 9 hours from a
    # working day's start end at its close, not at the next morning
    assert clock.deadline(_at("2026-09-25T17:00"), 4 * 3600.0)[0] == np.datetime64(
        "2026-09-28T12:00"
    )
    assert clock.deadline(_at("2026-09-28T09:00"), 9 * 3600.0)[0] == np.datetime64(
        "2026-09-28T18:00"
    )
    assert clock.deadline(_at("2026-09-30T17:00"), 2 * 3600.0)[0] == np.datetime64(
        "2026-10-08T10:00"
    )


def test_a_calendar_that_contradicts_itself_is_refused():
    with pytest.raises(InputError):
        WorkCalendar(holidays=frozenset([MAKE_UP_DAY]), workdays=frozenset([MAKE_UP_DAY]))
    with pytest.raises(InputError):
        WorkCalendar(day_start=dt.time(18), day_end=dt.time(9))


def _tickets(rows: list[tuple]) -> pd.DataFrame:
    """(ticket_id, customer_id, priority, created, first_response, resolved, csat)."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "ticket_id",
            "customer_id",
            "priority",
            "created_at",
            "first_response_at",
            "resolved_at",
            "csat",
        ],
    )
    for name in ("created_at", "first_response_at", "resolved_at"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
    frame["csat"] = pd.array(frame["csat"], dtype="Int16")
    frame["ticket_type"] = "logistics"
    frame["channel"] = "online"
    frame["agent"] = "王芳"
    frame["reason"] = None
    frame["is_complaint"] = False
    return frame


MOMENT = dt.datetime(2026, 10, 12, 15, 0)  # Monday 15:00


@pytest.fixture
def levels() -> pd.DataFrame:
    tickets = _tickets(
        [
            # weekend: 2 business hours to answer (target 4) -> met
            ("T1", "C1", "normal", "2026-09-25 17:00", "2026-09-28 10:00", "2026-09-29 10:00", 5),
            # holiday week: 2 business hours -> met
            ("T2", "C1", "normal", "2026-09-30 17:00", "2026-10-08 10:00", None, None),
            # make-up day: exactly 4 business hours -> met (on the target is met)
            ("T3", "C2", "normal", "2026-10-09 17:00", "2026-10-10 12:00", None, None),
            # VIP customer, 3 business hours: breaches the VIP target of 2
            ("T4", "V1", "normal", "2026-09-28 09:00", "2026-09-28 12:00", "2026-09-28 15:00", 2),
            # the same 3 hours for a customer outside the tier: met
            ("T5", "C3", "normal", "2026-09-28 09:00", "2026-09-28 12:00", "2026-09-28 15:00", 4),
            # urgent priority: target 1 hour
            ("T6", "C3", "urgent", "2026-09-28 09:00", "2026-09-28 10:30", None, None),
            # open, unanswered for 6 business hours at the moment: breached
            ("T7", "C4", "normal", "2026-10-12 09:00", None, None, None),
            # open for 2 business hours: pending, due at 17:00
            ("T8", "C4", "normal", "2026-10-12 13:00", None, None, None),
            # resolved without a recorded first response: answered when resolved
            ("T9", "C5", "normal", "2026-09-28 09:00", None, "2026-09-28 11:00", 3),
            # answered after the moment: not yet answered at the moment
            ("T10", "C5", "normal", "2026-10-12 14:00", "2026-10-12 16:00", None, None),
            # created after the moment: not there yet
            ("T11", "C5", "normal", "2026-10-12 16:00", None, None, None),
        ]
    )
    policy = policy_from_dict(_business_policy())
    return ticket_levels(tickets, policy, {"V1": "VIP"}, MOMENT).set_index("ticket_id")


def test_first_response_status_per_ticket(levels):
    status = levels["first_response_status"]
    assert "T11" not in levels.index
    assert levels.loc["T1", "first_response_hours"] == 2.0
    assert levels.loc["T2", "first_response_hours"] == 2.0
    assert levels.loc["T3", "first_response_hours"] == 4.0
    assert status[["T1", "T2", "T3", "T5", "T9"]].tolist() == ["met"] * 5
    assert levels.loc["T4", "tier"] == "VIP" and levels.loc["T5", "tier"] == ""
    assert levels.loc["T4", "first_response_target_hours"] == 2.0
    assert status["T4"] == "breached"
    assert levels.loc["T6", "first_response_target_hours"] == 1.0
    assert status["T6"] == "breached"
    assert status["T7"] == "breached" and levels.loc["T7", "first_response_hours"] == 6.0
    assert status["T8"] == "pending"
    assert levels.loc["T8", "first_response_due_at"] == pd.Timestamp("2026-10-12 17:00")
    assert levels.loc["T9", "first_response_hours"] == 2.0
    assert status["T10"] == "pending" and not levels.loc["T10", "first_response_reached"]


def test_resolution_status_and_open_tickets(levels):
    assert levels.loc["T1", "resolution_status"] == "met"  # 9 business hours of 18
    # the VIP target of 9 business hours: 09:00 -> 15:00 is 6
    assert levels.loc["T4", "resolution_hours"] == 6.0
    assert levels.loc["T4", "resolution_status"] == "met"
    # open since 30 September 17:00: 1 + 9 + 8 business hours ran out on 9 October 17:00
    assert levels.loc["T2", "resolution_status"] == "breached"
    assert levels.loc["T2", "resolution_due_at"] == pd.Timestamp("2026-10-09 17:00")
    # open since Friday 17:00, 16 of 18 business hours used (with the make-up Saturday)
    assert levels.loc["T3", "resolution_status"] == "pending"
    assert levels.loc["T3", "resolution_hours"] == 16.0
    assert levels.loc[["T2", "T3", "T7", "T8", "T10"], "is_open"].all()
    assert not levels.loc[["T1", "T4", "T5", "T9"], "is_open"].any()
    assert levels.loc["T7", "age_hours"] == 6.0


def test_achievement_backlog_and_at_risk(levels):
    table = sla_achievement(levels.reset_index())
    first = table[table["stage"] == "first_response"].iloc[0]
    # met: T1 T2 T3 T5 T9; breached: T4 T6 T7; pending: T8 T10
    assert (first["met"], first["breached"], first["pending"]) == (5, 3, 2)
    assert first["achievement"] == pytest.approx(100 * 5 / 8)
    by_tier = sla_achievement(levels.reset_index(), "tier").set_index(["group", "stage"])
    assert by_tier.loc[("VIP", "first_response"), "breached"] == 1
    backlog = open_backlog(levels.reset_index())
    normal = backlog[backlog["priority"] == "normal"].set_index("band")["tickets"]
    # open at 15:00: T8 (2 h), T10 (1 h), T7 (6 h), T3 (70 h), T2 (12 days)
    assert normal.to_dict() == {"under_4h": 2, "4h_to_24h": 1, "1d_to_3d": 1, "over_3d": 1}
    assert backlog["tickets"].sum() == 6  # and T6, urgent, answered but not resolved
    # due by 18:00: T3's resolution and T8's first response at 17:00, T10's at 18:00
    at_risk = tickets_at_risk(levels.reset_index(), MOMENT, within_hours=3)
    assert at_risk["ticket_id"].tolist() == ["T3", "T8", "T10"]
    assert at_risk["stage"].tolist() == ["resolution", "first_response", "first_response"]
    assert at_risk["hours_left"].tolist() == [2.0, 2.0, 3.0]
    assert tickets_at_risk(levels.reset_index(), MOMENT, within_hours=1).empty
    breached = breached_tickets(levels.reset_index())
    assert {"T4", "T6", "T7"} <= set(breached["ticket_id"])


def test_calendar_clock_counts_every_hour():
    tickets = _tickets([("T1", "C1", "normal", "2026-09-25 17:00", "2026-09-28 10:00", None, None)])
    calendar_policy = policy_from_dict(_business_policy(clock="calendar"))
    row = ticket_levels(tickets, calendar_policy, {}, MOMENT).iloc[0]
    assert row["first_response_hours"] == 65.0
    assert row["first_response_status"] == "breached"


def test_times_by_week_csat_and_reasons(levels):
    frame = levels.reset_index()
    times = response_times(frame, "week")
    week = times[(times["period"] == "2026-09-28") & (times["stage"] == "first_response")].iloc[0]
    # created that week and answered: T4 (3 h), T5 (3 h), T6 (1.5 h), T9 (2 h), T2 (2 h)
    assert week["tickets"] == 5
    assert week["median_hours"] == 2.0
    csat = csat_by(frame, "agent", min_rated=1)
    assert csat.loc[0, "rated"] == 4 and csat.loc[0, "csat_share"] == 50.0
    frame.loc[frame["ticket_id"] == "T4", ["ticket_type", "reason"]] = ["return", "尺码不合适"]
    reasons = reason_counts(frame)
    assert reasons[["ticket_type", "reason", "tickets"]].values.tolist() == [
        ["return", "尺码不合适", 1]
    ]
    monthly = pd.DataFrame(
        {"month": pd.to_datetime(["2026-09-01", "2026-10-01"]), "paid_orders": [1000, 0]}
    )
    per_thousand = tickets_per_thousand_orders(frame, monthly).set_index(["period", "ticket_type"])
    # created in September: T1, T2, T5, T6, T9 and T4 (now a return ticket)
    assert per_thousand.loc[("2026-09", "logistics"), "tickets"] == 5
    assert per_thousand.loc[("2026-09", "logistics"), "per_thousand"] == 5.0
    assert per_thousand.loc[("2026-09", "return"), "per_thousand"] == 1.0
    assert np.isnan(per_thousand.loc[("2026-10", "logistics"), "per_thousand"])


@pytest.mark.parametrize(
    "change",
    [
        {"clock": "weekly"},
        {
            "targets": [
                {"tier": "", "priority": "", "first_response_hours": 0, "resolution_hours": 1}
            ]
        },
        {
            "targets": [
                {"tier": "VIP", "priority": "", "first_response_hours": 1, "resolution_hours": 1}
            ]
        },
        {
            "targets": [
                {"tier": "Gold", "priority": "", "first_response_hours": 1, "resolution_hours": 1}
            ]
        },
        {"tiers": [{"name": "VIP"}]},
        {"calendar": {"day_start": "25:00"}},
        {"calendar": {"holidays": ["2026-02-30"]}},
    ],
)
def test_a_wrong_policy_is_refused_with_a_message(change):
    with pytest.raises(InputError) as error:
        policy_from_dict(_business_policy(**change))
    assert error.value.message()


def test_the_policy_is_stored_by_admins_only(store):
    assert load_sla_policy(store) == DEFAULT_POLICY
    assert DEFAULT_POLICY.target_table()["first_response_hours"].tolist() == [24.0, 4.0]
    with pytest.raises(PermissionDenied):
        save_sla_policy(store, _business_policy(), actor=ANALYST)
    assert load_sla_policy(store) == DEFAULT_POLICY
    saved = save_sla_policy(store, _business_policy(), actor=ADMIN)
    assert load_sla_policy(store) == saved
    assert policy_to_dict(saved)["calendar"]["workdays"] == ["2026-10-10"]
    with pytest.raises(InputError):
        save_sla_policy(store, _business_policy(clock="weekly"), actor=ADMIN)
    assert load_sla_policy(store) == saved


def test_ticket_status_agent_and_reason_come_from_chinese_headers(store):
    text = (
        "工单号,客户ID,工单类型,创建时间,首次响应时间,解决时间,状态,客服,原因,满意度\n"
        "K1,C1,退货,2026-10-09 17:00,2026-10-10 12:00,2026-10-11 09:00,已关闭,王芳,尺码不合适,4\n"
        "K2,C2,物流,2026-10-12 09:00,,,待处理,,,\n"
    )
    result = import_file(store, text.encode("utf-8"), "tickets", actor=ADMIN)
    assert (result.accepted, result.rejected) == (2, 0)
    tickets = service_tickets(store, dt.date(2026, 10, 12)).set_index("ticket_id")
    assert tickets.loc["K1", ["status", "agent", "reason"]].tolist() == [
        "closed",
        "王芳",
        "尺码不合适",
    ]
    assert tickets.loc["K2", "status"] == "open" and pd.isna(tickets.loc["K2", "agent"])
    policy = policy_from_dict(_business_policy())
    levels = ticket_levels(tickets.reset_index(), policy, {}, MOMENT).set_index("ticket_id")
    assert levels.loc["K1", "first_response_status"] == "met"  # make-up day, 4 hours
    assert levels.loc["K2", "first_response_status"] == "breached"
    assert service_tickets(store, dt.date(2026, 10, 11))["ticket_id"].tolist() == ["K1"]


def test_service_experience_of_an_answer_is_the_worst_of_its_90_days(levels):
    frame = levels.reset_index()
    frame.loc[frame["ticket_id"] == "T1", "is_complaint"] = True
    answers = pd.DataFrame(
        {
            "customer_id": ["C1", "V1", "C2", "C9", "C1"],
            "responded_at": pd.to_datetime(
                ["2026-10-01", "2026-10-01", "2026-10-11", "2026-10-11", "2027-03-01"]
            ),
        }
    )
    # C1: complaint T1 (25 Sep); V1: T4 breached (28 Sep); C2: T3 within its SLA;
    # C9: no ticket; C1 in March: T1 and T2 lie more than 90 days back
    assert service_experience(answers, frame).tolist() == [
        "complaint",
        "breached",
        "within_sla",
        "no_ticket",
        "no_ticket",
    ]
