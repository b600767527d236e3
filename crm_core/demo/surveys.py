"""Demo NPS survey answers and the survey_responses frame.

Answers (0-10, some with CSAT and a comment) follow some paid orders and some resolved
tickets; customers who complained answer lower. Comments are in Chinese or English, one
or two phrases of the answer's band, a few with a phone number or e-mail address.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_core.demo.blocks import Blocks, chronological, customers_of, numbered
from crm_core.demo.helpers import choice_rows, strings
from crm_core.demo.reference import (
    COMMENT_CONTACTS,
    COMMENTS,
    COMMENTS_EN,
    CONTACT_IN_COMMENT_SHARE,
    ENGLISH_COMMENT_SHARE,
    NPS_PROBABILITIES,
    NPS_PROBABILITIES_AFTER_COMPLAINT,
    SECOND_FRAGMENT_SHARE,
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
    extra = rng.spawn(1)[0]  # a child stream: the blocks after this one stay as they were
    second = np.where(extra.random(n) < SECOND_FRAGMENT_SHARE, extra.random(n), -1.0)
    contact = np.where(extra.random(n) < CONTACT_IN_COMMENT_SHARE, extra.random(n), -1.0)
    return {"customer": survey_customer, "tau": survey_tau, "nps": nps, "csat": csat,
            "band": np.where(commented, band, -1), "pick": pick,
            "english": extra.random(n) < ENGLISH_COMMENT_SHARE, "second": second,
            "contact": contact}  # fmt: skip


def surveys_frame(cal: Calendar, blocks: Blocks, customer_ids: pd.Series) -> pd.DataFrame:
    """The survey answers in time order (ids R00000001... in that order)."""
    seconds = cal.seconds(blocks.take("surveys", "tau"))
    order, _ = chronological(seconds)
    band = blocks.take("surveys", "band", order)
    pick = blocks.take("surveys", "pick", order)
    english = blocks.take("surveys", "english", order)
    second = blocks.take("surveys", "second", order)
    contact = blocks.take("surveys", "contact", order)
    labels, codes = comment_labels(band, pick, english, second, contact)
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


def _index(share: np.ndarray, count: int) -> np.ndarray:
    return np.minimum((share * count).astype(np.int64), count - 1)


def comment_labels(
    band: np.ndarray,
    pick: np.ndarray,
    english: np.ndarray,
    second: np.ndarray,
    contact: np.ndarray,
) -> tuple[list[str], np.ndarray]:
    """(every comment text, each answer's code into them; -1 for no comment): one phrase
    of the answer's band (band -1: no comment), a second one where second >= 0, and a
    contact detail where contact >= 0, in Chinese or English."""
    labels: list[str] = []
    codes = np.full(len(band), -1)
    for is_english, phrases, joiner in ((False, COMMENTS, "，"), (True, COMMENTS_EN, ". ")):
        contacts = COMMENT_CONTACTS["en" if is_english else "zh"]
        for number, key in enumerate(("promoter", "passive", "detractor")):
            choices = phrases[key]
            rows = np.flatnonzero((band == number) & (english == is_english))
            first = _index(pick[rows], len(choices))
            other = np.where(
                second[rows] >= 0,
                (first + 1 + _index(np.maximum(second[rows], 0.0), len(choices) - 1))
                % len(choices),
                -1,
            )
            said = np.where(
                contact[rows] >= 0, _index(np.maximum(contact[rows], 0.0), len(contacts)), -1
            )
            combos = np.stack([first, other, said], axis=1)
            unique, inverse = np.unique(combos, axis=0, return_inverse=True)
            for a, b, c in unique:
                parts = [choices[a]] + ([choices[b]] if b >= 0 else [])
                parts += [contacts[c]] if c >= 0 else []
                labels.append(joiner.join(parts))
            codes[rows] = len(labels) - len(unique) + inverse.reshape(-1)
    return labels, codes
