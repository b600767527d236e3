"""The service recovery tag on a generated shop (SQLite and PostgreSQL): the customers
whose ticket of the last 90 days breached its SLA or who rated 1-2, checked against the
same rule written in pandas; usable in audiences; tiers from a scheme or a tag."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_core import asof
from crm_core.customers.segments import customer_segments, evaluate_scheme, preset
from crm_core.demo import generate_shop, load_shop
from crm_core.outreach.audiences import Audience, load_audience_facts, select_members
from crm_core.voice.nps import survey_answers
from crm_core.voice.sla import save_sla_policy, service_tickets
from tests.support.actors import ADMIN

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture
def demo_shop(store):
    load_shop(store, generate_shop(2000, seed=11, end_date=AS_OF))
    return store


def _expected(store, tier_of: pd.Series, first_hours: dict, resolution_hours: dict) -> set[str]:
    """The rule in plain pandas, calendar hours: targets by tier ('' = everyone else)."""
    start = pd.Timestamp(asof.window_start(AS_OF, 90))
    moment = pd.Timestamp(asof.end_of(AS_OF))
    tickets = service_tickets(store, AS_OF)
    tier = tickets["customer_id"].map(tier_of).fillna("")
    responded = tickets["first_response_at"].fillna(tickets["resolved_at"])
    responded = responded.where(responded <= moment)
    resolved = tickets["resolved_at"].where(tickets["resolved_at"] <= moment)
    first_limit = pd.to_timedelta(tier.map(first_hours), unit="h")
    resolution_limit = pd.to_timedelta(tier.map(resolution_hours), unit="h")
    late_first = (responded.fillna(moment) - tickets["created_at"]) > first_limit
    late_resolution = (resolved.fillna(moment) - tickets["created_at"]) > resolution_limit
    breached = (tickets["created_at"] >= start) & (late_first | late_resolution)
    low_ticket = (tickets["csat"] <= 2).fillna(False) & (resolved >= start).fillna(False)
    answers = survey_answers(store, AS_OF, since=start.date())
    low_answer = (answers["csat"] <= 2).fillna(False)
    return (
        set(tickets.loc[breached, "customer_id"])
        | set(tickets.loc[low_ticket, "customer_id"])
        | set(answers.loc[low_answer, "customer_id"])
    )


def test_service_recovery_tag_equals_the_rule_in_pandas(demo_shop):
    facts = load_audience_facts(demo_shop, AS_OF, None, preset("rfm11"))
    membership = customer_segments(facts.rfm, evaluate_scheme(facts.rfm, preset("membership")))
    vip = np.isin(membership.astype(str).to_numpy(), ["supreme_vip", "vip"])
    tier_of = pd.Series(np.where(vip, "VIP", ""), index=facts.customer_ids.astype(str))
    assert (facts.tiers == tier_of.to_numpy()).all()
    expected = _expected(demo_shop, tier_of, {"": 24, "VIP": 4}, {"": 72, "VIP": 24})
    tagged = facts.tags.column("service_recovery")
    assert 10 < len(expected) < len(facts) / 2, "the demo should hold some service failures"
    assert set(facts.customer_ids[tagged]) == expected
    chosen = select_members(facts, Audience(include_tags=("service_recovery",)))
    assert set(facts.customer_ids[chosen]) == expected
    breaches = facts.fields["sla_breaches_90d"]
    assert breaches.max() >= 1 and (breaches[~tagged] == 0).all()


def test_a_tier_can_be_a_tag(demo_shop):
    save_sla_policy(
        demo_shop,
        {
            "clock": "calendar",
            "tiers": [{"name": "Regulars", "tag": "repeat_buyer"}],
            "targets": [
                {"tier": "", "priority": "", "first_response_hours": 24, "resolution_hours": 72},
                {
                    "tier": "Regulars",
                    "priority": "",
                    "first_response_hours": 0.01,
                    "resolution_hours": 0.01,
                },
            ],
        },
        actor=ADMIN,
    )
    facts = load_audience_facts(demo_shop, AS_OF, None, preset("rfm11"))
    repeat = facts.tags.column("repeat_buyer")
    assert ((facts.tiers == "Regulars") == repeat).all()
    tier_of = pd.Series(np.where(repeat, "Regulars", ""), index=facts.customer_ids.astype(str))
    expected = _expected(demo_shop, tier_of, {"": 24, "Regulars": 0.01}, {"": 72, "Regulars": 0.01})
    assert set(facts.customer_ids[facts.tags.column("service_recovery")]) == expected
