"""Demo NPS survey answers and the survey_responses frame.

Answers (0-10, some with CSAT and a comment) follow some paid orders and some resolved
tickets; customers who complained answer lower.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_core.demo.blocks import Blocks, chronological, customers_of, numbered
from crm_core.demo.helpers import choice_rows, strings
from crm_core.demo.reference import (
    COMMENTS,
    NPS_PROBABILITIES,
    NPS_PROBABILITIES_AFTER_COMPLAINT,
)
from crm_core.demo.timeline import Calendar


def block_surveys(
    rng: np.random.Generator,
    cal: Calendar,
    customer: np.ndarray,
    tau: np.ndarray,
    paid: np.ndarray,
    tickets: dict[str, np.ndarray],
    nb: int,
) -> dict[str, np.ndarray]:
    """NPS answers after some paid orders and after some resolved tickets."""
    paid_index = np.flatnonzero(paid)
    asked = paid_index[rng.random(len(paid_index)) < 0.012]
    o_customer = customer[asked]
    o_tau = tau[asked] + 3.0 + rng.exponential(3.0, len(asked))
    resolved = np.flatnonzero(~np.isnan(tickets["resolution_hours"]))
    answered = resolved[rng.random(len(resolved)) < 0.12]
    t_customer = tickets["customer"][answered]
    t_tau = (
        tickets["created"][answered]
        + tickets["resolution_hours"][answered] / 24.0
        + rng.exponential(1.0, len(answered))
    )
    complained = np.zeros(nb, dtype=bool)
    complained[tickets["customer"][tickets["complaint"]]] = True
    survey_customer = np.concatenate([o_customer, t_customer])
    survey_tau = np.concatenate([o_tau, t_tau])
    from_ticket = np.concatenate([np.zeros(len(asked), bool), np.ones(len(answered), bool)])
    ticket_csat = np.concatenate([np.full(len(asked), np.nan), tickets["csat"][answered]])
    about_complaint = np.concatenate([np.zeros(len(asked), bool), tickets["complaint"][answered]])
    keep = survey_tau < cal.days
    survey_customer, survey_tau = survey_customer[keep], survey_tau[keep]
    from_ticket, ticket_csat = from_ticket[keep], ticket_csat[keep]
    n = len(survey_tau)
    # Right after a complaint the answer is poor; later a complaint still drags some down.
    unhappy = about_complaint[keep] | (complained[survey_customer] & (rng.random(n) < 0.4))
    table = np.vstack([NPS_PROBABILITIES, NPS_PROBABILITIES_AFTER_COMPLAINT])
    nps = choice_rows(rng, table, unhappy.astype(np.int64))
    drawn_csat = np.clip(np.round((nps + 1) / 2.2 + rng.normal(0.0, 0.6, n)), 1, 5)
    csat = np.where(~np.isnan(ticket_csat), ticket_csat, drawn_csat)
    csat = np.where(from_ticket | (rng.random(n) < 0.35), csat, np.nan)
    band = np.where(nps >= 9, 0, np.where(nps >= 7, 1, 2))
    pick = rng.random(n)
    commented = rng.random(n) < 0.2
    return {"customer": survey_customer, "tau": survey_tau, "nps": nps, "csat": csat,
            "band": np.where(commented, band, -1), "pick": pick}  # fmt: skip


def surveys_frame(cal: Calendar, blocks: Blocks, customer_ids: pd.Series) -> pd.DataFrame:
    """The survey answers in time order (ids R00000001... in that order)."""
    seconds = cal.seconds(blocks.take("surveys", "tau"))
    order, _ = chronological(seconds)
    band = blocks.take("surveys", "band", order)
    pick = blocks.take("surveys", "pick", order)
    labels: list[str] = []
    codes = np.full(len(band), -1)
    for number, key in enumerate(("promoter", "passive", "detractor")):
        choices = COMMENTS[key]
        in_band = band == number
        codes[in_band] = len(labels) + np.minimum(
            (pick[in_band] * len(choices)).astype(np.int64), len(choices) - 1
        )
        labels.extend(choices)
    return pd.DataFrame(
        {
            "response_id": numbered("R", len(order), 8),
            "customer_id": customers_of(
                customer_ids, blocks.take("surveys", "customer", order, "customer")
            ),
            "responded_at": cal.timestamps(seconds[order]),
            "nps": pd.array(blocks.take("surveys", "nps", order), dtype="Int16"),
            "csat": pd.array(blocks.take("surveys", "csat", order), dtype="Int16"),
            "comment": strings(codes, labels),
        }
    )
