"""Segment tables and member lists over one evaluated scheme: per-segment totals, the
R x F grid, who is scored, each customer's segment and the members of a segment or cell."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crm_core.customers.rfm import SCORE_LEVELS, RfmFacts, RfmScores
from crm_core.customers.segments.evaluate import SchemeResult
from crm_core.customers.segments.schemes import NOT_SCORED
from crm_core.errors import InputError

SEGMENT_TABLE_COLUMNS: dict[str, str] = {
    "segment": "segment name (rule order)",
    "customers": "scored customers in the segment",
    "customer_share": "customers / all scored customers (0-1)",
    "revenue": "sum of monetary (net of refunds), shop currency",
    "revenue_share": "revenue / revenue of all scored customers (NaN when that is <= 0)",
    "avg_r_score": "mean R score 1-5",
    "avg_f_score": "mean F score 1-5",
    "avg_m_score": "mean M score 1-5",
    "avg_recency_days": "mean days since the last purchase",
    "avg_frequency": "mean purchases per customer",
    "avg_monetary": "mean monetary per customer, shop currency",
    "avg_order_value": "purchase amounts / purchases in the segment, shop currency",
}


def _per_code(codes: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=size)[:size]


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray | float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(denominator) != 0, numerator / denominator, np.nan)


def segment_table(facts: RfmFacts, result: SchemeResult) -> pd.DataFrame:
    """One row per segment of the scheme (rule order, empty segments kept) with the
    columns of SEGMENT_TABLE_COLUMNS."""
    names = result.scheme.segment_names
    size = len(names)
    codes = result.codes.astype(np.intp, copy=False)
    customers = _per_code(codes, size)
    monetary = facts.column("monetary")
    revenue = _per_code(codes, size, monetary)
    total_revenue = float(revenue.sum())
    frequency_sum = _per_code(codes, size, facts.column("frequency"))
    table = pd.DataFrame(
        {
            "segment": pd.array(names, dtype="str"),
            "customers": customers.astype(np.int64),
            "customer_share": _safe_divide(customers, max(int(customers.sum()), 1)),
            "revenue": np.round(revenue, 2),
            "revenue_share": revenue / total_revenue
            if total_revenue > 0
            else np.full(size, np.nan),
            "avg_r_score": _safe_divide(_per_code(codes, size, result.scores.r), customers),
            "avg_f_score": _safe_divide(_per_code(codes, size, result.scores.f), customers),
            "avg_m_score": _safe_divide(_per_code(codes, size, result.scores.m), customers),
            "avg_recency_days": _safe_divide(
                _per_code(codes, size, facts.column("recency_days")), customers
            ),
            "avg_frequency": _safe_divide(frequency_sum, customers),
            "avg_monetary": _safe_divide(revenue, customers),
            "avg_order_value": _safe_divide(
                _per_code(codes, size, facts.column("purchase_amount")), frequency_sum
            ),
        }
    )
    return table


def rf_grid(facts: RfmFacts, scores: RfmScores, result: SchemeResult | None = None) -> pd.DataFrame:
    """The 5 x 5 R x F grid as 25 rows (r_score, f_score from 1 to 5): customers,
    customer_share (0-1), revenue (sum of monetary), revenue_share (0-1, NaN when total
    revenue <= 0) and avg_monetary per cell (NaN for an empty cell). With `result`,
    also segment (the segment most of the cell's customers are in, "" for an empty
    cell; ties go to the earlier rule) and segment_share (0-1: how many of them)."""
    cell = (scores.r.astype(np.intp) - 1) * SCORE_LEVELS + (scores.f.astype(np.intp) - 1)
    cells = SCORE_LEVELS * SCORE_LEVELS
    customers = _per_code(cell, cells)
    revenue = _per_code(cell, cells, facts.column("monetary"))
    total_revenue = float(revenue.sum())
    levels = np.arange(1, SCORE_LEVELS + 1)
    grid = pd.DataFrame(
        {
            "r_score": np.repeat(levels, SCORE_LEVELS),
            "f_score": np.tile(levels, SCORE_LEVELS),
            "customers": customers.astype(np.int64),
            "customer_share": _safe_divide(customers, max(int(customers.sum()), 1)),
            "revenue": np.round(revenue, 2),
            "revenue_share": revenue / total_revenue
            if total_revenue > 0
            else np.full(cells, np.nan),
            "avg_monetary": _safe_divide(revenue, customers),
        }
    )
    if result is not None:
        names = result.scheme.segment_names
        per_segment = np.bincount(
            cell * len(names) + result.codes.astype(np.intp), minlength=cells * len(names)
        ).reshape(cells, len(names))
        top = per_segment.argmax(axis=1)
        grid["segment"] = np.where(customers > 0, np.asarray(names, dtype=object)[top], "")
        grid["segment_share"] = _safe_divide(per_segment.max(axis=1), customers)
    return grid


def population_summary(facts: RfmFacts) -> dict[str, int]:
    """Who is and is not scored: customers, scored, prospects (never bought up to
    as_of), no_purchase_in_window, non_positive_monetary (scored, monetary <= 0)."""
    return {
        "customers": len(facts.features),
        "scored": facts.scored_count,
        "prospects": facts.prospect_count,
        "no_purchase_in_window": facts.no_purchase_in_window_count,
        "non_positive_monetary": facts.non_positive_monetary_count,
    }


def customer_segments(facts: RfmFacts, result: SchemeResult) -> pd.Series:
    """The segment of every customer in `facts.features` (NOT_SCORED for those without
    a purchase in the window), indexed by customer_id."""
    names = [*result.scheme.segment_names, NOT_SCORED]
    codes = np.full(len(facts.features), len(names) - 1, dtype=np.int16)
    codes[facts.features["frequency"].to_numpy() > 0] = result.codes
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=names),
        index=pd.Index(facts.features["customer_id"], name="customer_id"),
        name="segment",
    )


SCORED_TABLE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "segment",
)


def scored_table(
    facts: RfmFacts,
    result: SchemeResult,
    extra_columns: Sequence[str] = (),
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per scored customer (or per position of `rows` among the scored
    customers, in that order): SCORED_TABLE_COLUMNS (segment = the rule's segment name)
    followed by `extra_columns` of the facts."""
    picked = np.arange(facts.scored_count) if rows is None else np.asarray(rows, dtype=np.intp)
    frame = facts.features.iloc[facts.scored_rows[picked]].reset_index(drop=True)
    names = result.scheme.segment_names
    table = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "recency_days": frame["recency_days"].astype("int64"),
            "frequency": frame["frequency"],
            "monetary": frame["monetary"],
            "r_score": result.scores.r[picked],
            "f_score": result.scores.f[picked],
            "m_score": result.scores.m[picked],
            "segment": pd.Categorical.from_codes(result.codes[picked], categories=names),
        }
    )
    for name in extra_columns:
        if name not in table.columns:
            table[name] = frame[name] if name in frame.columns else facts.column(name)[picked]
    return table


def member_mask(
    facts: RfmFacts,
    result: SchemeResult,
    segment: str | None = None,
    r_score: int | None = None,
    f_score: int | None = None,
) -> np.ndarray:
    """Which scored customers belong to `segment` and/or the R x F cell (all when no
    filter is given)."""
    keep = np.ones(facts.scored_count, dtype=bool)
    if segment is not None:
        names = result.scheme.segment_names
        if segment not in names:
            raise InputError("rfm.error.unknown_segment", segment=segment)
        keep &= result.codes == names.index(segment)
    if r_score is not None:
        keep &= result.scores.r == r_score
    if f_score is not None:
        keep &= result.scores.f == f_score
    return keep


def members(
    facts: RfmFacts,
    result: SchemeResult,
    segment: str | None = None,
    r_score: int | None = None,
    f_score: int | None = None,
    extra_columns: Sequence[str] = (),
    limit: int | None = None,
) -> pd.DataFrame:
    """The scored customers of one segment and/or one R x F cell (all when no filter
    is given) as `scored_table` rows, highest monetary first, at most `limit` of them.
    Only the rows returned are built, so a list of a big segment stays cheap."""
    positions = np.flatnonzero(member_mask(facts, result, segment, r_score, f_score))
    order = np.argsort(-facts.column("monetary")[positions], kind="stable")
    if limit is not None:
        order = order[:limit]
    return scored_table(facts, result, extra_columns, rows=positions[order])
