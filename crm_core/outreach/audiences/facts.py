"""What an audience is evaluated on: `AudienceFacts`, one row per customer of
`customer_features` (prospects included, ordered by customer_id), with the prepared RFM
facts, the segment code and R/F/M scores of every customer under one scheme
(NOT_SCORED for customers without a purchase in the window), the tag fields and the tag
matrix.

`audience_facts` assembles them from their parts and is the one way they are built:
`load_audience_facts` reads the parts from the store (two SQL aggregations) and calls
it; the UI calls it on its cached parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from crm_core.customers.baskets import PurchaseHistory
from crm_core.customers.features import customer_features
from crm_core.customers.rfm import RfmFacts, prepare_facts
from crm_core.customers.segments import (
    NOT_SCORED,
    Scheme,
    customer_codes,
    evaluate_scheme,
    load_scheme,
)
from crm_core.customers.tags import Tag, TagFields, TagMatrix, evaluate_tags, load_tags, tag_facts
from crm_core.errors import InputError
from crm_core.predict.runs import RunScores, load_run_scores, prediction_fields
from crm_core.store import models
from crm_core.voice.recovery import (
    ServiceInputs,
    customer_tiers,
    load_service_inputs,
    service_facts,
)

NEWEST_RUN = "newest"
"""`load_audience_facts`: the newest prediction run made as of the facts' day or earlier."""
PHONE_SEPARATORS = r"[\s\-().]"
VALID_MOBILE = r"(?:\+86|0086|86)?1[3-9]\d{9}"
VALID_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s.]+"


def valid_mobiles(values: pd.Series) -> np.ndarray:
    """True where the value is a mainland mobile number (11 digits starting 13-19,
    optionally with +86/0086/86; spaces, dashes, dots and brackets ignored)."""
    text = values.astype("str").str.replace(PHONE_SEPARATORS, "", regex=True)
    return text.str.fullmatch(VALID_MOBILE).fillna(False).to_numpy(dtype=bool)


def valid_emails(values: pd.Series) -> np.ndarray:
    """True where the value looks like local@domain.tld (surrounding spaces ignored)."""
    text = values.astype("str").str.strip()
    return text.str.fullmatch(VALID_EMAIL).fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class SegmentAssignment:
    """Every customer's segment code (index into `names`, NOT_SCORED last) and R/F/M
    scores 1-5 (0 when not scored) under one scheme."""

    scheme: Scheme
    codes: np.ndarray
    r_score: np.ndarray
    f_score: np.ndarray
    m_score: np.ndarray

    @property
    def names(self) -> list[str]:
        return [*self.scheme.segment_names, NOT_SCORED]


def assign_all_customers(rfm: RfmFacts, scheme: Scheme) -> SegmentAssignment:
    """The scheme applied to every customer of `rfm.features`."""
    result = evaluate_scheme(rfm, scheme)
    scores = {}
    for axis, values in (("r", result.scores.r), ("f", result.scores.f), ("m", result.scores.m)):
        full = np.zeros(len(rfm.features), dtype=np.int8)
        full[rfm.scored_rows] = values
        scores[axis] = full
    return SegmentAssignment(
        scheme, customer_codes(rfm, result), scores["r"], scores["f"], scores["m"]
    )


@dataclass
class AudienceFacts:
    """What audiences are evaluated on (see the module docstring); every array has one
    value per row of `features`."""

    as_of: dt.date
    window_days: int | None
    rfm: RfmFacts
    fields: TagFields
    tags: TagMatrix
    assignment: SegmentAssignment
    scheme_id: int | None = None
    tiers: np.ndarray | None = None
    """Each customer's SLA tier name ('' for none), when service inputs were given."""
    prediction_run: int | None = None
    """The prediction run whose scores the prediction fields hold (None: no run yet)."""
    purchases: PurchaseHistory | None = None
    """What customers bought, for the cross-sell filters (None: not available)."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def features(self) -> pd.DataFrame:
        return self.rfm.features

    @property
    def scheme(self) -> Scheme:
        return self.assignment.scheme

    @property
    def customer_ids(self) -> pd.Series:
        return self.features["customer_id"]

    def __len__(self) -> int:
        return len(self.features)

    def positions(self, customer_ids: pd.Series) -> np.ndarray:
        """Each id's row in these facts, -1 for a customer they do not know (the index of
        a million ids is built once per facts)."""
        if "index" not in self._cache:
            self._cache["index"] = pd.Index(self.customer_ids.astype(str))
        return self._cache["index"].get_indexer(pd.Series(customer_ids).astype(str))

    def array(self, name: str) -> np.ndarray:
        """A features column as NumPy (numbers as float64 with NaN), converted once."""
        if name not in self._cache:
            values = self.features[name]
            if pd.api.types.is_bool_dtype(values.dtype):
                self._cache[name] = values.to_numpy(dtype=bool)
            elif pd.api.types.is_numeric_dtype(values.dtype):
                self._cache[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                self._cache[name] = values.to_numpy()
        return self._cache[name]

    def category_codes(self, name: str) -> tuple[np.ndarray, pd.Index]:
        """(code per customer, categories) of a text column, computed once."""
        key = f"codes:{name}"
        if key not in self._cache:
            codes, categories = pd.factorize(self.features[name], use_na_sentinel=True)
            self._cache[key] = (codes, pd.Index(categories))
        return self._cache[key]

    def next_best_categories(self) -> np.ndarray:
        """Each customer's next best category (rank 1; None without one), computed once."""
        if "next_best" not in self._cache:
            if self.purchases is None:
                raise InputError("audiences.error.no_purchases")
            self._cache["next_best"] = self.purchases.next_best_for(self.customer_ids)
        return self._cache["next_best"]

    def address_valid(self, channel: str) -> np.ndarray:
        """True where the customer has a valid address for `channel` (computed once)."""
        key = f"valid:{channel}"
        if key not in self._cache:
            if channel == "email":
                self._cache[key] = valid_emails(self.features["email"])
            else:
                self._cache[key] = valid_mobiles(self.features["phone"])
        return self._cache[key]


def scheme_by_id(engine: Engine, scheme_id: int) -> Scheme:
    """The saved scheme version with this id."""
    table = models.segment_schemes
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.name, table.c.version).where(table.c.id == scheme_id)
        ).first()
    if row is None:
        raise InputError("audiences.error.scheme_id", scheme_id=scheme_id)
    return load_scheme(engine, row.name, int(row.version))


def audience_facts(
    rfm: RfmFacts,
    tag_fact_rows: pd.DataFrame,
    tags: Sequence[Tag],
    scheme: Scheme,
    *,
    as_of: dt.date,
    window_days: int | None,
    scheme_id: int | None = None,
    service: ServiceInputs | None = None,
    predictions: RunScores | None = None,
    purchases: PurchaseHistory | None = None,
) -> AudienceFacts:
    """The facts of an audience assembled from their parts (no store access):
    `rfm` the prepared facts of `customer_features(engine, as_of, window_days)`,
    `tag_fact_rows` the frame of `tag_facts(engine, as_of)`, `tags` the definitions to
    evaluate, `scheme` (with its saved version, if any) and its stored id, and `service`
    (`voice.recovery.load_service_inputs`) for the SLA tiers and the service fields
    (without it they are 0 and nobody has a tier), and `predictions`
    (`predict.runs.load_run_scores`) for the prediction fields (NaN without), and
    `purchases` for the cross-sell filters (read lazily; they fail without it)."""
    fields = TagFields(rfm.features, tag_fact_rows, as_of)
    if predictions is not None:  # before the tiers: a tier may be a tag on predictions
        fields.add_predictions(prediction_fields(predictions, rfm.features["customer_id"], as_of))
    tiers = None
    if service is not None:
        tiers = customer_tiers(service.policy, rfm, fields, tags, service.schemes)
        fields.add_service_facts(service_facts(service, rfm.features["customer_id"], tiers))
    return AudienceFacts(
        as_of,
        window_days,
        rfm,
        fields,
        evaluate_tags(fields, tags),
        assign_all_customers(rfm, scheme),
        scheme_id,
        tiers,
        None if predictions is None else predictions.run.id,
        purchases,
    )


def load_audience_facts(
    engine: Engine,
    as_of: dt.date,
    window_days: int | None,
    scheme: Scheme,
    scheme_id: int | None = None,
    tags: Sequence[Tag] | None = None,
    prediction_run: int | str | None = NEWEST_RUN,
) -> AudienceFacts:
    """The facts read from the store (two SQL aggregations, the window's tickets and the
    prediction run's scores) and assembled by `audience_facts`; `tags` default to the
    stored definitions. `prediction_run`: NEWEST_RUN for the newest run made as of
    `as_of` or earlier, a run's id for that run (while its scores are kept), None for
    none."""
    return audience_facts(
        prepare_facts(customer_features(engine, as_of, window_days)),
        tag_facts(engine, as_of),
        load_tags(engine) if tags is None else tags,
        scheme,
        as_of=as_of,
        window_days=window_days,
        scheme_id=scheme_id,
        service=load_service_inputs(engine, as_of),
        predictions=(
            load_run_scores(engine, on_or_before=as_of)
            if prediction_run == NEWEST_RUN
            else None
            if prediction_run is None
            else load_run_scores(engine, run_id=int(prediction_run))
        ),
        purchases=PurchaseHistory(engine, as_of),
    )
