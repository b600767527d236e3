"""Closing the loop with service: each customer's SLA tier and the service facts tag rules
read (`tags.SERVICE_FIELDS`), so customers whose ticket breached its SLA or who gave a
low CSAT become the built-in tag 'service_recovery', usable in audiences.

- A customer's tier is the first of the policy's tiers whose segments (of that scheme,
  on the as-of date) or tag they have. A tier's tag is evaluated without the service
  fields (they read 0 then), so a tier never depends on the SLA it sets.
- sla_breaches_90d: the customer's tickets created in the 90 days ending on as_of that
  breached their first response or resolution target, measured at the end of as_of.
- low_csat_90d: CSAT ratings of 1 or 2 in those 90 days, on tickets (dated by their
  resolution) and in survey answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from crm_core import asof
from crm_core.customers.features import customer_features
from crm_core.customers.rfm import RfmFacts, prepare_facts
from crm_core.customers.segments import Scheme, migration_labels, resolve_scheme, scheme_codes
from crm_core.customers.segments.rules import evaluate_rule
from crm_core.customers.tags import SERVICE_WINDOW_DAYS, Tag, TagFields, load_tags, tag_facts
from crm_core.predict.runs import load_run_scores, prediction_fields
from crm_core.store import models, rows_frame
from crm_core.voice.sla import BREACHED, TICKET_COLUMNS, SlaPolicy, load_sla_policy, ticket_levels

LOW_CSAT_MAX = 2


@dataclass(frozen=True)
class ServiceInputs:
    """What the service facts of one as-of date are computed from: the policy, the
    schemes its tiers name, the tickets created or resolved in the window and the
    survey answers with a CSAT of LOW_CSAT_MAX or less in it."""

    as_of: dt.date
    policy: SlaPolicy
    schemes: Mapping[str, Scheme]
    tickets: pd.DataFrame
    low_csat_answers: pd.DataFrame

    @property
    def moment(self) -> dt.datetime:
        return asof.end_of(self.as_of)


def load_service_inputs(
    engine: Engine, as_of: dt.date, policy: SlaPolicy | None = None
) -> ServiceInputs:
    """The inputs of `service_facts` on `as_of` read from the store (the stored policy
    unless one is given): only the window's tickets and low ratings are read."""
    policy = load_sla_policy(engine) if policy is None else policy
    start, end = asof.window_start(as_of, SERVICE_WINDOW_DAYS), asof.end_of(as_of)
    tk, sv = models.tickets, models.survey_responses
    ticket_statement = select(*(tk.c[name] for name in TICKET_COLUMNS)).where(
        ((tk.c.created_at >= start) | (tk.c.resolved_at >= start)) & (tk.c.created_at < end)
    )
    answer_statement = select(sv.c.customer_id, sv.c.responded_at, sv.c.csat).where(
        sv.c.responded_at >= start, sv.c.responded_at < end, sv.c.csat <= LOW_CSAT_MAX
    )
    with engine.connect() as conn:
        tickets = rows_frame(conn.execute(ticket_statement).all(), TICKET_COLUMNS)
        answers = rows_frame(
            conn.execute(answer_statement).all(), ["customer_id", "responded_at", "csat"]
        )
    for name in ("created_at", "first_response_at", "resolved_at"):
        tickets[name] = pd.to_datetime(tickets[name]).astype("datetime64[s]")
    tickets["customer_id"] = tickets["customer_id"].astype(str)
    tickets["priority"] = tickets["priority"].astype(object)
    tickets["csat"] = pd.array(pd.to_numeric(tickets["csat"]), dtype="Int16")
    answers["customer_id"] = answers["customer_id"].astype(str)
    schemes = {
        tier.scheme: resolve_scheme(engine, tier.scheme) for tier in policy.tiers if tier.scheme
    }
    return ServiceInputs(as_of, policy, schemes, tickets, answers)


def customer_tiers(
    policy: SlaPolicy,
    rfm: RfmFacts,
    fields: Mapping,
    tags: Sequence[Tag],
    schemes: Mapping[str, Scheme],
) -> np.ndarray:
    """Each customer's tier name (a row per row of `rfm.features`; '' for none): the
    first tier of `policy` whose segments or tag the customer has. A tier whose scheme
    or tag is unknown holds nobody."""
    tiers = np.full(len(rfm.features), "", dtype=object)
    by_name = {tag.name: tag for tag in tags}
    for tier in policy.tiers:
        if tier.scheme:
            scheme = schemes.get(tier.scheme)
            if scheme is None:
                continue
            labels = np.asarray(migration_labels(scheme), dtype=object)
            member = np.isin(labels[scheme_codes(rfm, scheme)], list(tier.segments))
        elif tier.tag in by_name:
            member = np.asarray(evaluate_rule(by_name[tier.tag].condition, fields), dtype=bool)
        else:
            continue
        tiers[(tiers == "") & member] = tier.name
    return tiers


def load_customer_tiers(engine: Engine, as_of: dt.date, policy: SlaPolicy) -> pd.Series:
    """Each tiered customer's tier on `as_of` (index customer_id), read from the store:
    the customer facts of all history and the tag facts, only when the policy has tiers
    (the pages take the tiers from the audience facts they already hold)."""
    if not policy.tiers:
        return pd.Series(dtype=object)
    rfm = prepare_facts(customer_features(engine, as_of, None))
    fields = TagFields(rfm.features, tag_facts(engine, as_of), as_of)
    scored = load_run_scores(engine, on_or_before=as_of)  # a tier may be a tag on them
    if scored is not None:
        fields.add_predictions(prediction_fields(scored, rfm.features["customer_id"], as_of))
    schemes = {t.scheme: resolve_scheme(engine, t.scheme) for t in policy.tiers if t.scheme}
    tiers = customer_tiers(policy, rfm, fields, load_tags(engine), schemes)
    series = pd.Series(tiers, index=pd.Index(rfm.features["customer_id"].astype(str)))
    return series[series != ""]


def service_facts(
    inputs: ServiceInputs, customer_ids: pd.Series, tiers: np.ndarray
) -> pd.DataFrame:
    """Per customer with a service fact in the window: customer_id, sla_breaches_90d,
    low_csat_90d (see the module docstring). `tiers` aligns with `customer_ids`."""
    start = np.datetime64(asof.window_start(inputs.as_of, SERVICE_WINDOW_DAYS), "s")
    tier_of = pd.Series(tiers, index=pd.Index(customer_ids.astype(str)))
    tier_of = tier_of[tier_of != ""]
    tier_of = tier_of[~tier_of.index.duplicated()]
    levels = ticket_levels(inputs.tickets, inputs.policy, tier_of, inputs.moment)
    created = levels["created_at"].to_numpy(dtype="datetime64[s]")
    breached = (created >= start) & (
        (levels["first_response_status"] == BREACHED) | (levels["resolution_status"] == BREACHED)
    ).to_numpy()
    resolved = levels["resolved_at"].to_numpy(dtype="datetime64[s]")
    low_ticket = (
        (levels["csat"].astype("Float64") <= LOW_CSAT_MAX).fillna(False).to_numpy()
        & ~np.isnat(resolved)
        & (resolved >= start)
    )
    parts = pd.concat(
        [
            pd.DataFrame({"customer_id": levels["customer_id"][breached], "breach": 1, "low": 0}),
            pd.DataFrame({"customer_id": levels["customer_id"][low_ticket], "breach": 0, "low": 1}),
            pd.DataFrame(
                {"customer_id": inputs.low_csat_answers["customer_id"], "breach": 0, "low": 1}
            ),
        ],
        ignore_index=True,
    )
    counts = parts.groupby("customer_id", sort=True)[["breach", "low"]].sum().reset_index()
    return pd.DataFrame(
        {
            "customer_id": counts["customer_id"].astype(str),
            "sla_breaches_90d": counts["breach"].to_numpy(dtype=np.int64),
            "low_csat_90d": counts["low"].to_numpy(dtype=np.int64),
        }
    )
