"""The tag editor's rule builder: rows of field, operator and value joined by AND or
OR, in the user's language, kept in step with the JSON beside it for experts (the
builder writes the JSON as it changes; JSON typed by hand is read back into the rows
when the builder can show it, i.e. when it is not nested)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import streamlit as st

from crm_core.customers.segments import (
    COMBINES,
    NULL_OPS,
    OPERATORS,
    RuleRow,
    condition_from_rows,
    condition_words,
    rows_of_condition,
    validate_condition,
)
from crm_core.customers.tags import (
    TAG_FIELDS,
    TEXT_FIELDS,
    condition_json,
    field_label,
    parse_condition,
)
from crm_core.errors import CrmError
from ui.audiences import KEY_TAG_ADD_ROW, KEY_TAG_COMBINE, KEY_TAG_ROW, KEY_TAG_ROWS, labels
from ui.context import current_language, t

NEW_ROW = RuleRow("purchases", ">=", "2")
"""The row "Add a condition" starts with."""
_row_ids = itertools.count(1)


def _row_key(row_id: int, part: str) -> str:
    return f"{KEY_TAG_ROW}.{row_id}.{part}"


def load_rows(condition: Mapping | None) -> bool:
    """Show `condition` in the builder; False (the builder left empty) when it is
    nested and can only be edited as JSON."""
    shown = rows_of_condition(condition)
    for row_id in st.session_state.get(KEY_TAG_ROWS, []):
        for part in ("field", "op", "value"):
            st.session_state.pop(_row_key(row_id, part), None)
    if shown is None:
        st.session_state[KEY_TAG_ROWS] = []
        return False
    combine, rows = shown
    st.session_state[KEY_TAG_COMBINE] = combine
    ids = []
    for row in rows:
        row_id = next(_row_ids)
        st.session_state[_row_key(row_id, "field")] = row.field
        st.session_state[_row_key(row_id, "op")] = row.op
        st.session_state[_row_key(row_id, "value")] = row.value
        ids.append(row_id)
    st.session_state[KEY_TAG_ROWS] = ids
    return True


def _rows() -> list[RuleRow]:
    return [
        RuleRow(
            st.session_state[_row_key(row_id, "field")],
            st.session_state[_row_key(row_id, "op")],
            st.session_state.get(_row_key(row_id, "value"), ""),
        )
        for row_id in st.session_state.get(KEY_TAG_ROWS, [])
    ]


def _write_json(rule_key: str) -> None:
    """The builder's rows become the rule's JSON (checked when the tag is saved)."""
    rows = _rows()
    if rows:
        combine = st.session_state.get(KEY_TAG_COMBINE, COMBINES[0])
        condition = condition_from_rows(rows, combine, TEXT_FIELDS)
        st.session_state[rule_key] = condition_json(condition)


def _add_row(rule_key: str) -> None:
    row_id = next(_row_ids)
    st.session_state[_row_key(row_id, "field")] = NEW_ROW.field
    st.session_state[_row_key(row_id, "op")] = NEW_ROW.op
    st.session_state[_row_key(row_id, "value")] = NEW_ROW.value
    st.session_state[KEY_TAG_ROWS] = [*st.session_state.get(KEY_TAG_ROWS, []), row_id]
    _write_json(rule_key)


def _remove_row(row_id: int, rule_key: str) -> None:
    st.session_state[KEY_TAG_ROWS] = [
        other for other in st.session_state.get(KEY_TAG_ROWS, []) if other != row_id
    ]
    _write_json(rule_key)


def start_over(rule_key: str) -> None:
    """Replace a rule the builder cannot show by one new row (asked for, never implied)."""
    load_rows(condition_from_rows([NEW_ROW]))
    _write_json(rule_key)


def json_typed(rule_key: str) -> None:
    """Callback of the JSON box: rows follow the JSON when it is a valid rule the
    builder can show; otherwise the builder steps aside (the save says what is wrong)."""
    try:
        condition = parse_condition(st.session_state[rule_key])
        validate_condition(condition, TAG_FIELDS)
    except CrmError:
        load_rows(None)
        return
    load_rows(condition)


def rule_builder(rule_key: str) -> None:
    """The rows, AND/OR, add and remove buttons, and the rule read back in words."""
    language = current_language()
    field_names = {name: field_label(name, language) for name in TAG_FIELDS}
    op_names = {op: t(f"rule.op.{op}") for op in OPERATORS}
    combine_names = {combine: t(f"tags.builder.combine.{combine}") for combine in COMBINES}
    ids = st.session_state.get(KEY_TAG_ROWS, [])
    if not ids:  # nested or not (yet) a valid rule: only the JSON can hold it
        st.caption(t("tags.builder.nested"))
        st.button(
            t("tags.builder.start_over"),
            key=KEY_TAG_ADD_ROW,
            icon=":material/restart_alt:",
            on_click=start_over,
            args=(rule_key,),
        )
        return
    st.radio(
        t("tags.builder.combine"),
        options=list(COMBINES),
        format_func=labels(combine_names),
        key=KEY_TAG_COMBINE,
        horizontal=True,
        on_change=_write_json,
        args=(rule_key,),
    )
    for row_id in ids:
        field, op, value, remove = st.columns([4, 3, 3, 1], vertical_alignment="bottom")
        field.selectbox(
            t("tags.builder.field"),
            options=list(field_names),
            format_func=labels(field_names),
            key=_row_key(row_id, "field"),
            on_change=_write_json,
            args=(rule_key,),
        )
        op.selectbox(
            t("tags.builder.op"),
            options=list(OPERATORS),
            format_func=labels(op_names),
            key=_row_key(row_id, "op"),
            on_change=_write_json,
            args=(rule_key,),
        )
        chosen_op = st.session_state[_row_key(row_id, "op")]
        value.text_input(
            t("tags.builder.value"),
            key=_row_key(row_id, "value"),
            disabled=chosen_op in NULL_OPS,
            placeholder=t(f"tags.builder.placeholder.{_value_kind(chosen_op)}"),
            on_change=_write_json,
            args=(rule_key,),
        )
        remove.button(
            "",
            key=_row_key(row_id, "remove"),
            icon=":material/delete:",
            help=t("tags.builder.remove"),
            on_click=_remove_row,
            args=(row_id, rule_key),
            disabled=len(ids) == 1,  # a rule needs one condition at least
        )
    st.button(
        t("tags.builder.add"),
        key=KEY_TAG_ADD_ROW,
        icon=":material/add:",
        on_click=_add_row,
        args=(rule_key,),
    )
    try:
        condition = parse_condition(st.session_state.get(rule_key, ""))
        validate_condition(condition, TAG_FIELDS)
    except CrmError:
        return  # the save says what is wrong, with the row and field
    words = condition_words(condition, language, field_names.get)
    st.caption(t("tags.builder.reads", rule=words))


def _value_kind(op: str) -> str:
    if op == "between":
        return "between"
    if op in ("in", "not_in"):
        return "list"
    return "none" if op in NULL_OPS else "one"
