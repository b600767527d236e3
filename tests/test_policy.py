"""The contact policy: each rule on a hand-written shop (SQLite and PostgreSQL), the
quiet period's boundary days, the frequency cap counting campaign touches and earlier
marketing exports, the fixed precedence of reasons, and who may change the policy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core.customers.segments import preset
from crm_core.errors import InputError, PermissionDenied
from crm_core.outreach.audiences import (
    PolicyResult,
    apply_policy,
    contact_counts,
    exclusion_summary,
    load_audience_facts,
    recent_contacts,
    record_export,
    valid_emails,
    valid_mobiles,
)
from crm_core.outreach.policy import (
    DEFAULT_POLICY,
    EXCLUSION_REASONS,
    ContactPolicy,
    load_policy,
    save_policy,
)
from crm_core.store import bulk_insert, models
from tests.support.actors import ADMIN, ANALYST, VIEWER

AS_OF = dt.date(2024, 6, 30)
IN_WINDOW = "2024-06-01 09:00"  # the first day of the 30 days ending on AS_OF
BEFORE_WINDOW = "2024-05-31 23:00"

CUSTOMERS = [
    "ok", "opt_sms", "bad_phone", "plus86", "no_email", "bad_email", "opt_and_quiet",
    "quiet_0", "quiet_30", "quiet_31", "complaint_after", "not_a_complaint",
    "touch4", "touch3", "touch3_export1", "touch_old", "control4", "touch3_nonmarketing",
    "touch3_old_export", "rh2", "rh1",
]  # fmt: skip


def _customer_frame() -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": CUSTOMERS})
    frame["name"] = frame["customer_id"]
    frame["phone"] = [f"1391234{n:04d}" for n in range(len(CUSTOMERS))]
    frame["email"] = [f"{c}@example.com" for c in CUSTOMERS]
    frame.loc[frame["customer_id"] == "bad_phone", "phone"] = "12345"
    frame.loc[frame["customer_id"] == "plus86", "phone"] = "+86 138-0013-8000"
    frame.loc[frame["customer_id"] == "no_email", "email"] = None
    frame.loc[frame["customer_id"] == "bad_email", "email"] = "not-an-email"
    frame["signup_at"] = pd.to_datetime(["2023-01-01"] * len(CUSTOMERS))
    frame["opt_out_sms"] = frame["customer_id"].isin(["opt_sms", "opt_and_quiet"])
    frame["opt_out_email"] = False
    frame["opt_out_wecom"] = frame["customer_id"].eq("opt_sms")
    return frame


def _complaint(ticket_id: str, customer: str, created_at: str, complaint: bool = True) -> dict:
    return {
        "ticket_id": ticket_id,
        "customer_id": customer,
        "ticket_type": "quality",
        "created_at": pd.Timestamp(created_at),
        "is_complaint": complaint,
    }


@pytest.fixture
def policy_shop(store):
    tickets = pd.DataFrame(
        [
            _complaint("t0", "quiet_0", "2024-06-30 10:00"),
            _complaint("t30", "quiet_30", "2024-05-31 18:00"),
            _complaint("t31", "quiet_31", "2024-05-30 08:00"),
            _complaint("tafter", "complaint_after", "2024-07-01 09:00"),
            _complaint("tnot", "not_a_complaint", "2024-06-29 09:00", complaint=False),
            _complaint("tboth", "opt_and_quiet", "2024-06-29 09:00"),
        ]
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": [f"c{n}" for n in range(1, 5)],
            "name": [f"活动{n}" for n in range(1, 5)],
            "channel": ["sms"] * 4,
            "started_at": pd.to_datetime(["2024-05-01"] * 4),
        }
    )
    touches = []

    def touch(customer: str, count: int, sent_at: str = IN_WINDOW, control: bool = False):
        for n in range(1, count + 1):
            touches.append(
                {
                    "campaign_id": f"c{n}",
                    "customer_id": customer,
                    "is_control": control,
                    "sent_at": pd.NaT if control else pd.Timestamp(sent_at),
                }
            )

    touch("touch4", 4)
    touch("touch3", 3)
    touch("touch3_export1", 3)
    touch("touch_old", 4, BEFORE_WINDOW)
    touch("control4", 4, control=True)
    touch("touch3_nonmarketing", 3)
    touch("touch3_old_export", 3)
    touch("rh2", 2)
    touch("rh1", 1)
    orders = pd.DataFrame(
        {
            "order_id": ["p-rh2", "r-rh2", "p-rh1", "r-rh1", "p-ok"],
            "customer_id": ["rh2", "rh2", "rh1", "rh1", "ok"],
            "ordered_at": pd.to_datetime(
                ["2024-04-01", "2024-04-03", "2024-04-01", "2024-04-03", "2024-04-01"]
            ),
            "amount": [100.0, 50.0, 100.0, 50.0, 80.0],
            "status": ["paid", "refunded", "paid", "refunded", "paid"],
        }
    )
    with store.begin() as conn:
        bulk_insert(conn, models.customers, _customer_frame())
        bulk_insert(conn, models.campaigns, campaigns)
        bulk_insert(conn, models.orders, orders)
        bulk_insert(conn, models.tickets, tickets)
        bulk_insert(conn, models.campaign_touches, pd.DataFrame(touches))
        for as_of, marketing, members in (
            (AS_OF, True, ["touch3_export1"]),
            (AS_OF, False, ["touch3_nonmarketing"]),
            (AS_OF - dt.timedelta(days=30), True, ["touch3_old_export"]),
        ):
            record_export(
                conn,
                created_by="earlier",
                created_at=dt.datetime(2024, 6, 1, 12),
                as_of=as_of,
                scheme_id=None,
                channel="sms",
                filters={"source": "audience"},
                policy=DEFAULT_POLICY.to_dict(),
                columns=["customer_id"],
                file_format="csv",
                row_count=len(members),
                member_ids=members,
                is_marketing=marketing,
            )
    return store


def _reasons(store, channel: str | None, policy: ContactPolicy = DEFAULT_POLICY) -> dict:
    facts = load_audience_facts(store, AS_OF, None, preset("rfm11"))
    contacts = contact_counts(store, facts.customer_ids, AS_OF, policy.cap_window_days)
    members = np.ones(len(facts), dtype=bool)
    result = apply_policy(facts, members, channel, policy, contacts)
    ids = facts.customer_ids.to_numpy()[result.positions]
    names = np.array(["kept", *EXCLUSION_REASONS], dtype=object)[result.reasons]
    return dict(zip(ids, names, strict=True))


def _excluded(reasons: dict, reason: str) -> set[str]:
    return {customer for customer, why in reasons.items() if why == reason}


def test_quiet_period_covers_the_complaint_day_and_the_next_30_days(policy_shop):
    reasons = _reasons(policy_shop, None)
    assert reasons["quiet_0"] == "quiet_period"  # complaint on the as-of day
    assert reasons["quiet_30"] == "quiet_period"  # day 30 after the complaint
    assert reasons["quiet_31"] == "kept"  # day 31: contact allowed again
    assert reasons["complaint_after"] == "kept"  # after the as-of date
    assert reasons["not_a_complaint"] == "kept"


def test_a_longer_stored_quiet_period_reaches_day_31(policy_shop):
    save_policy(policy_shop, ContactPolicy(quiet_period_days=31), ADMIN)
    reasons = _reasons(policy_shop, None, load_policy(policy_shop))
    assert reasons["quiet_31"] == "quiet_period"


def test_the_cap_counts_campaign_touches_and_earlier_marketing_exports(policy_shop):
    reasons = _reasons(policy_shop, None)
    assert reasons["touch4"] == "over_cap"
    assert reasons["touch3"] == "kept"
    assert reasons["touch3_export1"] == "over_cap"  # 3 touches + 1 export
    assert reasons["touch_old"] == "kept"  # sent the day before the window
    assert reasons["control4"] == "kept"  # control rows were never sent
    assert reasons["touch3_nonmarketing"] == "kept"  # a service list does not count
    assert reasons["touch3_old_export"] == "kept"  # export as of the day before the window
    assert _excluded(reasons, "over_cap") == {"touch4", "touch3_export1", "rh2"}


def test_return_heavy_customers_have_the_lower_cap(policy_shop):
    reasons = _reasons(policy_shop, None)
    assert reasons["rh2"] == "over_cap"  # return-heavy (50 of 100 refunded), 2 touches
    assert reasons["rh1"] == "kept"
    raised = ContactPolicy(cap_contacts_return_heavy=3)
    assert _reasons(policy_shop, None, raised)["rh2"] == "kept"
    lowered = ContactPolicy(cap_contacts=3)
    assert _reasons(policy_shop, None, lowered)["touch3"] == "over_cap"


def test_recent_contacts_per_customer(policy_shop):
    contacts = recent_contacts(policy_shop, AS_OF, 30).set_index("customer_id")
    assert contacts.loc["touch3_export1"].tolist() == [3, 1]
    assert contacts.loc["touch4"].tolist() == [4, 0]
    assert "control4" not in contacts.index
    assert "touch_old" not in contacts.index
    assert contacts.loc["touch3_nonmarketing"].tolist() == [3, 0]
    longer = recent_contacts(policy_shop, AS_OF, 31).set_index("customer_id")
    assert longer.loc["touch_old"].tolist() == [4, 0]
    assert longer.loc["touch3_old_export"].tolist() == [3, 1]


@pytest.mark.parametrize(
    ("channel", "opted_out", "no_address"),
    [
        ("sms", {"opt_sms", "opt_and_quiet"}, {"bad_phone"}),
        ("wecom", {"opt_sms"}, {"bad_phone"}),
        ("email", set(), {"no_email", "bad_email"}),
    ],
)
def test_channel_opt_outs_and_addresses(policy_shop, channel, opted_out, no_address):
    reasons = _reasons(policy_shop, channel)
    assert _excluded(reasons, "opted_out") == opted_out
    assert _excluded(reasons, "no_address") == no_address
    assert reasons["plus86"] == "kept"


def test_without_a_channel_opt_outs_do_not_apply(policy_shop):
    reasons = _reasons(policy_shop, None)
    assert reasons["opt_sms"] == "kept"
    assert reasons["bad_phone"] == "kept"
    assert reasons["opt_and_quiet"] == "quiet_period"


def test_each_excluded_customer_is_counted_once_in_the_fixed_order(policy_shop):
    facts = load_audience_facts(policy_shop, AS_OF, None, preset("rfm11"))
    contacts = contact_counts(policy_shop, facts.customer_ids, AS_OF, 30)
    result = apply_policy(facts, np.ones(len(facts), bool), "sms", DEFAULT_POLICY, contacts)
    assert result.excluded_counts == {
        "opted_out": 2,  # opt_and_quiet is opted out AND quiet: counted as opted out
        "no_address": 1,
        "quiet_period": 2,
        "over_cap": 3,
    }
    assert result.kept + result.excluded == len(CUSTOMERS)
    assert set(facts.customer_ids.to_numpy()[result.excluded_positions("quiet_period")]) == {
        "quiet_0",
        "quiet_30",
    }
    assert exclusion_summary(result, "en") == (
        "8 excluded: 3 over the contact cap, 2 opted out of SMS, "
        "2 in a complaint quiet period, 1 without a valid SMS address."
    )
    assert exclusion_summary(result, "zh-CN").startswith("共排除 8 人：3 人超过触达频次上限")


def test_nobody_excluded_reads_so():
    empty = PolicyResult(np.arange(3), np.zeros(3, np.int8), "sms", DEFAULT_POLICY)
    assert exclusion_summary(empty, "en") == "Nobody is excluded by the contact policy."


def test_only_admins_change_the_stored_policy(store):
    assert load_policy(store) == DEFAULT_POLICY
    with pytest.raises(PermissionDenied):
        save_policy(store, ContactPolicy(quiet_period_days=14), ANALYST)
    with pytest.raises(PermissionDenied):
        save_policy(store, ContactPolicy(quiet_period_days=14), VIEWER)
    assert load_policy(store) == DEFAULT_POLICY
    changed = ContactPolicy(
        quiet_period_days=14, cap_contacts=6, cap_contacts_return_heavy=1, cap_window_days=7
    )
    save_policy(store, changed, ADMIN)
    assert load_policy(store) == changed
    save_policy(store, DEFAULT_POLICY, ADMIN)
    assert load_policy(store) == DEFAULT_POLICY


@pytest.mark.parametrize(
    "payload",
    [
        {"quiet_period_days": -1},
        {"cap_contacts": 2.5},
        {"cap_window_days": 0},
        {"cap_contacts": "4"},
        {"quiet_days": 30},
        [30, 4],
    ],
)
def test_bad_policy_values_are_refused(payload):
    with pytest.raises(InputError):
        ContactPolicy.from_dict(payload)


def test_default_policy_values():
    assert DEFAULT_POLICY.to_dict() == {
        "quiet_period_days": 30,
        "cap_contacts": 4,
        "cap_contacts_return_heavy": 2,
        "cap_window_days": 30,
    }
    assert ContactPolicy.from_dict({"cap_contacts": 5.0}).cap_contacts == 5


def test_address_checks():
    phones = pd.Series(["13812345678", "+86 138 1234 5678", "0086-13812345678", "12812345678",
                        "1381234567", "62345678", None, "138-1234-5678"])  # fmt: skip
    assert valid_mobiles(phones).tolist() == [True, True, True, False, False, False, False, True]
    emails = pd.Series(["wang@example.com", " li@qq.com ", "no-at.com", "a@b", None, "x@y.cn"])
    assert valid_emails(emails).tolist() == [True, True, False, False, False, True]
