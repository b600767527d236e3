"""Migration: how customers move between segments, counted in customers and in revenue.

Two views use it: "what moves" (the same customers on the same day, the saved scheme on
the left and the draft on the right) and migration over time (one scheme, an earlier
as-of date on the left and the current one on the right, customers aligned by id).
Both are "buying flows": customers who bought on neither side are left out. Revenue is
the customers' `monetary` (net purchases in the window) on each side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from crm_core.customers.rfm import RfmFacts
from crm_core.customers.segments.evaluate import SchemeResult, evaluate_scheme
from crm_core.customers.segments.schemes import NOT_KNOWN, NOT_SCORED, Scheme

FLOW_COLUMNS: dict[str, str] = {
    "from_segment": "segment on the left (before / saved scheme)",
    "to_segment": "segment on the right (after / draft)",
    "customers": "customers who made this move",
    "revenue_before": "their monetary on the left, shop currency",
    "revenue_after": "their monetary on the right, shop currency",
}


def customer_codes(facts: RfmFacts, result: SchemeResult) -> np.ndarray:
    """The segment code of every customer of `facts.features` (int16); customers
    without a purchase in the window get len(segment_names), i.e. NOT_SCORED in
    `migration_labels(scheme)`."""
    codes = np.full(len(facts.features), len(result.scheme.rules), dtype=np.int16)
    codes[facts.features["frequency"].to_numpy() > 0] = result.codes
    return codes


def migration_labels(scheme: Scheme) -> list[str]:
    """Segment names followed by NOT_SCORED and NOT_KNOWN (the codes of customer_codes
    and of customers absent on one side)."""
    return [*scheme.segment_names, NOT_SCORED, NOT_KNOWN]


def scheme_codes(facts: RfmFacts, scheme: Scheme) -> np.ndarray:
    """`customer_codes` of every customer of `facts` under `scheme` (scored afresh):
    the baseline a draft is compared with."""
    return customer_codes(facts, evaluate_scheme(facts, scheme))


def align_customers(before_ids: pd.Series, after_ids: pd.Series) -> np.ndarray:
    """For each customer of `after_ids`, its row in `before_ids` or -1 (computed once
    per pair of facts loads, so re-assigning segments needs no string matching)."""
    return pd.Index(before_ids).get_indexer(pd.Index(after_ids))


def aligned_codes(before_codes: np.ndarray, positions: np.ndarray, not_known: int) -> np.ndarray:
    """`before_codes` re-ordered to the after-side customers (`align_customers`);
    customers unknown before get `not_known`."""
    found = positions >= 0
    return np.where(found, before_codes[np.where(found, positions, 0)], not_known)


def aligned_values(before_values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """`before_values` (one per before-side customer) re-ordered to the after-side
    customers (`align_customers`), float64; customers unknown before get 0."""
    values = np.asarray(before_values, dtype=np.float64)
    if len(values) == 0:
        return np.zeros(len(positions))
    return np.where(positions >= 0, values[np.maximum(positions, 0)], 0.0)


def migration(
    before: pd.Series,
    after: pd.Series,
    revenue_before: pd.Series | None = None,
    revenue_after: pd.Series | None = None,
) -> pd.DataFrame:
    """How customers moved from segment `before` to segment `after`.

    `before` and `after` are segment labels indexed by customer_id (e.g. from
    `customer_segments`). A customer missing from one side is NOT_KNOWN there.
    Returns one row per non-empty flow: from_segment, to_segment, customers,
    revenue_before and revenue_after (sums of the given monetary series over the
    flow's customers, 0 where not given), ordered by the segments' category order.
    """
    ids = before.index.union(after.index, sort=False)
    labels_before = _labels(before)
    labels_after = _labels(after)
    codes_before = _codes_on(before, ids, labels_before)
    codes_after = _codes_on(after, ids, labels_after)
    return migration_flows(
        codes_before,
        labels_before,
        codes_after,
        labels_after,
        _values_on(revenue_before, ids),
        _values_on(revenue_after, ids),
    )


def _labels(series: pd.Series) -> list[str]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        labels = [str(c) for c in series.cat.categories]
    else:
        labels = sorted(str(v) for v in pd.unique(series.dropna()))
    return [*labels, *(extra for extra in (NOT_SCORED, NOT_KNOWN) if extra not in labels)]


def _codes_on(series: pd.Series, ids: pd.Index, labels: list[str]) -> np.ndarray:
    aligned = series.reindex(ids)
    text = aligned.astype(object).where(aligned.notna(), NOT_KNOWN)
    text = text.where(ids.isin(series.index), NOT_KNOWN)
    return pd.Categorical(text, categories=labels).codes.astype(np.intp)


def _values_on(values: pd.Series | None, ids: pd.Index) -> np.ndarray:
    if values is None:
        return np.zeros(len(ids))
    return values.reindex(ids).to_numpy(dtype=np.float64, na_value=0.0)


def migration_flows(
    codes_before: np.ndarray,
    labels_before: Sequence[str],
    codes_after: np.ndarray,
    labels_after: Sequence[str],
    revenue_before: np.ndarray | None = None,
    revenue_after: np.ndarray | None = None,
) -> pd.DataFrame:
    """Flows between two aligned code arrays (same customers, same order)."""
    width = len(labels_after)
    cells = len(labels_before) * width
    flow = np.asarray(codes_before, dtype=np.intp) * width + np.asarray(codes_after, np.intp)
    customers = np.bincount(flow, minlength=cells)
    before_sum = (
        np.bincount(flow, weights=revenue_before, minlength=cells)
        if revenue_before is not None
        else np.zeros(cells)
    )
    after_sum = (
        np.bincount(flow, weights=revenue_after, minlength=cells)
        if revenue_after is not None
        else np.zeros(cells)
    )
    present = np.flatnonzero(customers)
    return pd.DataFrame(
        {
            "from_segment": pd.array(
                np.asarray(labels_before, dtype=object)[present // width], dtype="str"
            ),
            "to_segment": pd.array(
                np.asarray(labels_after, dtype=object)[present % width], dtype="str"
            ),
            "customers": customers[present].astype(np.int64),
            "revenue_before": np.round(before_sum[present], 2),
            "revenue_after": np.round(after_sum[present], 2),
        }
    )


def migration_matrix(
    flows: pd.DataFrame, value: str = "customers", order: Sequence[str] | None = None
) -> pd.DataFrame:
    """The flows as a from x to matrix of `value` (customers or a revenue column); rows
    and columns follow `order` (e.g. migration_labels) when given, else first
    appearance in `flows`."""
    matrix = flows.pivot_table(
        index="from_segment", columns="to_segment", values=value, aggfunc="sum", fill_value=0
    )
    sequence = (
        list(order)
        if order is not None
        else list(dict.fromkeys([*flows["from_segment"], *flows["to_segment"]]))
    )
    rows = [name for name in sequence if name in matrix.index]
    columns = [name for name in sequence if name in matrix.columns]
    return matrix.loc[rows, columns]


def buying_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """`flows` without the customers who bought on neither side (not scored on the
    right, and not scored or not known on the left)."""
    idle = flows["to_segment"].eq(NOT_SCORED) & flows["from_segment"].isin([NOT_SCORED, NOT_KNOWN])
    return flows.loc[~idle].reset_index(drop=True)


def moved_customers(flows: pd.DataFrame) -> int:
    """Customers whose segment on the right differs from the one on the left."""
    return int(flows.loc[flows["from_segment"] != flows["to_segment"], "customers"].sum())


def scheme_change_flows(
    facts: RfmFacts,
    saved: Scheme,
    result: SchemeResult,
    saved_codes: np.ndarray | None = None,
) -> pd.DataFrame:
    """What moves when the draft `result.scheme` replaces `saved` on the same facts:
    buying flows from the saved scheme's segments to the draft's, revenue = each
    customer's monetary on both sides. `saved_codes` (`scheme_codes(facts, saved)`)
    may be passed when already computed."""
    before = scheme_codes(facts, saved) if saved_codes is None else saved_codes
    after = customer_codes(facts, result)
    monetary = facts.features["monetary"].to_numpy(dtype=np.float64)
    return buying_flows(
        migration_flows(
            before,
            migration_labels(saved),
            after,
            migration_labels(result.scheme),
            monetary,
            monetary,
        )
    )


def period_flows(
    before_facts: RfmFacts,
    after_facts: RfmFacts,
    result: SchemeResult,
    positions: np.ndarray | None = None,
) -> pd.DataFrame:
    """How the customers of `after_facts` moved since `before_facts` under the scheme of
    `result` (already evaluated on `after_facts`): buying flows, customers absent
    before count as NOT_KNOWN there with revenue_before 0. `positions` is
    `align_customers(before ids, after ids)`, computed here when not given."""
    if positions is None:
        positions = align_customers(
            before_facts.features["customer_id"], after_facts.features["customer_id"]
        )
    names = migration_labels(result.scheme)
    earlier = customer_codes(before_facts, evaluate_scheme(before_facts, result.scheme))
    before = aligned_codes(earlier, positions, len(names) - 1)
    after = customer_codes(after_facts, result)
    revenue_before = aligned_values(
        before_facts.features["monetary"].to_numpy(dtype=np.float64), positions
    )
    revenue_after = after_facts.features["monetary"].to_numpy(dtype=np.float64)
    return buying_flows(migration_flows(before, names, after, names, revenue_before, revenue_after))


def labelled_flows(flows: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """`flows` with segment names replaced by their display `labels`, biggest flow first
    (the table beside the Sankey)."""
    return flows.assign(
        from_segment=flows["from_segment"].map(labels), to_segment=flows["to_segment"].map(labels)
    ).sort_values("customers", ascending=False)
