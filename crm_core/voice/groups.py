"""What survey answers are grouped by: each answer's customer's segment (of the facts'
scheme), tags, acquisition channel, province and service experience, from audience
facts as of the view's date; and the display names of those groups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_core.customers.segments import segment_label
from crm_core.customers.tags import tag_label
from crm_core.i18n import translate
from crm_core.outreach.audiences import AudienceFacts
from crm_core.voice.service import EXPERIENCES, service_experience

DIMENSIONS: tuple[str, ...] = ("segment", "tag", "channel", "province", "experience")
"""What answers are grouped by: a segment of a scheme, a tag, the acquisition channel,
the province, the service experience (voice.service.EXPERIENCES)."""


@dataclass(frozen=True)
class AnswerGroups:
    """Per answer (aligned with the answers frame): its customer's segment, channel,
    province and service experience, and the tags matrix (one boolean column per tag)."""

    segment: pd.Series
    channel: pd.Series
    province: pd.Series
    experience: pd.Series
    tags: pd.DataFrame

    def labelled(self, dimension: str, language: str) -> pd.Series:
        """The answers' group names of a one-group-per-answer dimension, in `language`."""
        values = getattr(self, dimension)
        return values.map(lambda name: group_label(dimension, name, language)).astype("string")


def answer_groups(
    answers: pd.DataFrame, facts: AudienceFacts, levels: pd.DataFrame
) -> AnswerGroups:
    """The groups of each answer (see AnswerGroups); customers the facts do not know
    (merged away, or added after the as-of date) have none."""
    positions = facts.positions(answers["customer_id"])
    known = positions >= 0
    take = np.where(known, positions, 0)

    def column(picked: pd.Series | np.ndarray) -> pd.Series:
        """The answers' values from `picked` (one per answer, at `take`), None where the
        customer is unknown or the value missing."""
        out = np.where(known, np.asarray(picked, dtype=object), None)
        return pd.Series(out, index=answers.index, dtype="object").where(pd.notna(out), None)

    names = np.asarray(facts.assignment.names, dtype=object)
    tags = np.zeros((len(answers), len(facts.tags.names)), dtype=bool)
    tags[known] = facts.tags.values[positions[known]]
    return AnswerGroups(
        segment=column(names[facts.assignment.codes[take]]),
        channel=column(facts.features["channel"].take(take)),
        province=column(facts.features["province"].take(take)),
        experience=service_experience(answers, levels),
        tags=pd.DataFrame(tags, columns=facts.tags.names, index=answers.index),
    )


def group_label(dimension: str, name: object, language: str) -> str:
    """A group's display name: segments, tags, channels and experiences translated;
    provinces as they are."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return translate("voice.group.unknown", language)
    text = str(name)
    if dimension == "segment":
        return segment_label(text, language)
    if dimension == "tag":
        return tag_label(text, language)
    if dimension == "channel":
        return translate(f"data.value.{text}", language)
    if dimension == "experience" and text in EXPERIENCES:
        return translate(f"voice.experience.{text}", language)
    return text


def tiers_of(facts: AudienceFacts) -> pd.Series:
    """Each tiered customer's SLA tier (index customer_id) from audience facts built with
    service inputs; empty when they were built without."""
    if facts.tiers is None:
        return pd.Series(dtype=object)
    tiers = pd.Series(facts.tiers, index=pd.Index(facts.customer_ids.astype(str)))
    return tiers[tiers != ""]
