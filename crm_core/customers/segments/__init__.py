"""Segment schemes: ordered named rules over customer facts and RFM scores.

A scheme is a list of rules; each customer gets the segment of the first rule whose
condition holds, and the last rule has no condition (everyone else). Schemes are JSON,
versioned in the `segment_schemes` table. The package, one module per part:

- `rules`: the rule language (`evaluate_rule`, `validate_condition`, `condition_text`).
- `schemes`: `Rule`, `Scheme` (JSON round trip), labels, tunable thresholds.
- `presets`: `PRESETS`, `preset` (RFM 11 and 10, lifecycle, membership, spend, behaviour).
- `evaluate`: scores and segment codes (`evaluate_scheme`, `assign_segments`).
- `tables`: segment table, R x F grid, population, member lists.
- `migration`: flows between two schemes or two as-of dates, in customers and revenue.
- `storage`: saved versions and the list of schemes a user can pick.

Every name callers use is importable from here.
"""

from __future__ import annotations

from crm_core.customers.rfm import AXES
from crm_core.customers.segments.evaluate import (
    RuleFields,
    SchemeResult,
    assign_segments,
    evaluate_scheme,
    score_fields,
    segment_codes,
    segment_lookup,
)
from crm_core.customers.segments.migration import (
    FLOW_COLUMNS,
    align_customers,
    aligned_codes,
    aligned_values,
    buying_flows,
    customer_codes,
    labelled_flows,
    migration,
    migration_flows,
    migration_labels,
    migration_matrix,
    moved_customers,
    period_flows,
    scheme_change_flows,
    scheme_codes,
)
from crm_core.customers.segments.presets import PRESET_NAMES, PRESETS, preset
from crm_core.customers.segments.rules import (
    COMPARISON_OPS,
    LIST_OPS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_RULE_TEXT,
    NULL_OPS,
    OPERATORS,
    ORDER_OPS,
    condition_fields,
    condition_text,
    evaluate_rule,
    parse_rule_text,
    validate_condition,
)
from crm_core.customers.segments.schemes import (
    MONEY_FIELDS,
    NOT_KNOWN,
    NOT_SCORED,
    SCORE_FIELDS,
    SEGMENT_NAME_MAX,
    Rule,
    Scheme,
    Threshold,
    scheme_label,
    scheme_thresholds,
    segment_label,
    segment_labels,
    threshold_range,
    with_thresholds,
)
from crm_core.customers.segments.storage import (
    SavedScheme,
    SchemeChoice,
    list_saved_schemes,
    load_scheme,
    resolve_scheme,
    resolve_scheme_ref,
    save_scheme,
    scheme_choices,
)
from crm_core.customers.segments.tables import (
    SCORED_TABLE_COLUMNS,
    SEGMENT_TABLE_COLUMNS,
    customer_segments,
    member_mask,
    members,
    population_summary,
    rf_grid,
    scored_table,
    segment_table,
)

__all__ = [
    "AXES",
    "COMPARISON_OPS",
    "FLOW_COLUMNS",
    "LIST_OPS",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_RULE_TEXT",
    "MONEY_FIELDS",
    "NOT_KNOWN",
    "NOT_SCORED",
    "NULL_OPS",
    "OPERATORS",
    "ORDER_OPS",
    "PRESETS",
    "PRESET_NAMES",
    "SCORED_TABLE_COLUMNS",
    "SCORE_FIELDS",
    "SEGMENT_NAME_MAX",
    "SEGMENT_TABLE_COLUMNS",
    "Rule",
    "RuleFields",
    "SavedScheme",
    "Scheme",
    "SchemeChoice",
    "SchemeResult",
    "Threshold",
    "align_customers",
    "aligned_codes",
    "aligned_values",
    "assign_segments",
    "buying_flows",
    "condition_fields",
    "condition_text",
    "customer_codes",
    "customer_segments",
    "evaluate_rule",
    "evaluate_scheme",
    "labelled_flows",
    "list_saved_schemes",
    "load_scheme",
    "member_mask",
    "members",
    "migration",
    "migration_flows",
    "migration_labels",
    "migration_matrix",
    "moved_customers",
    "parse_rule_text",
    "period_flows",
    "population_summary",
    "preset",
    "resolve_scheme",
    "resolve_scheme_ref",
    "rf_grid",
    "save_scheme",
    "scheme_change_flows",
    "scheme_choices",
    "scheme_codes",
    "scheme_label",
    "scheme_thresholds",
    "score_fields",
    "scored_table",
    "segment_codes",
    "segment_label",
    "segment_labels",
    "segment_lookup",
    "segment_table",
    "threshold_range",
    "validate_condition",
    "with_thresholds",
]
