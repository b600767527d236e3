"""The Audiences page's tags tab: every tag with its rule and how many customers have it,
and, for who may edit tags, an editor that adds a tag, replaces a rule or removes one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crm_core import auth
from crm_core.customers.tags import (
    BUILTIN_TAGS,
    EXAMPLE_CONDITION,
    TAG_FIELDS,
    condition_json,
    delete_tag,
    field_label,
    parse_condition,
    save_tag,
    tag_label,
    tag_table,
)
from crm_core.errors import CrmError
from crm_core.i18n import translate
from crm_core.outreach.audiences import AudienceFacts
from ui.audiences import (
    KEY_TAG_DELETE,
    KEY_TAG_NAME,
    KEY_TAG_NOTICE,
    KEY_TAG_PICK,
    KEY_TAG_RULE,
    KEY_TAG_SAVE,
    current_tags,
    labels,
    show_notice,
)
from ui.audiences.rule_builder import json_typed, load_rows, rule_builder
from ui.context import RunContext, show_error, t
from ui.tables import number_column

NEW_TAG = "__new__"
TABLE_ROW_PX = 35
TAG_TABLE_MAX_PX = 720


def tags_tab(ctx: RunContext, facts: AudienceFacts) -> None:
    """The tag table, then the editor for who may edit tags."""
    language = ctx.language
    show_notice(KEY_TAG_NOTICE)
    table = tag_table(facts.tags, language)
    table = table.assign(kind=table["kind"].map(lambda k: translate(f"tags.kind.{k}", language)))
    st.dataframe(
        table.drop(columns=["tag"]),
        hide_index=True,
        height=min(TABLE_ROW_PX * (len(table) + 1) + 3, TAG_TABLE_MAX_PX),
        column_config={
            "label": st.column_config.TextColumn(t("tags.column.label")),
            "kind": st.column_config.TextColumn(t("tags.column.kind")),
            "customised": st.column_config.CheckboxColumn(t("tags.column.customised")),
            "rule": st.column_config.TextColumn(t("tags.column.rule"), width="large"),
            "customers": number_column(t("tags.column.customers"), "count"),
            "share": st.column_config.ProgressColumn(
                t("tags.column.share"), min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )
    if not ctx.actor.may(auth.EDIT_TAGS):
        st.caption(t("tags.edit.not_allowed"))
        return
    _tag_editor(ctx)


def _tag_editor(ctx: RunContext) -> None:
    language = ctx.language
    st.subheader(t("tags.edit.title"))
    editable = current_tags(ctx)
    options = [NEW_TAG, *(tag.name for tag in editable)]
    names = {
        NEW_TAG: t("tags.edit.new"),
        **{tag.name: tag_label(tag.name, language) for tag in editable},
    }
    previous = st.session_state.get(f"{KEY_TAG_PICK}.previous")
    pick = st.selectbox(t("tags.edit.pick"), options, format_func=labels(names), key=KEY_TAG_PICK)
    if pick != previous or KEY_TAG_RULE not in st.session_state:
        st.session_state[f"{KEY_TAG_PICK}.previous"] = pick
        chosen = next((tag for tag in editable if tag.name == pick), None)
        st.session_state[KEY_TAG_NAME] = "" if chosen is None else chosen.name
        condition = EXAMPLE_CONDITION if chosen is None else chosen.condition
        st.session_state[KEY_TAG_RULE] = condition_json(condition)
        load_rows(condition)
    st.text_input(
        t("tags.edit.name"),
        key=KEY_TAG_NAME,
        disabled=pick != NEW_TAG,
        help=t("tags.edit.name_help"),
    )
    builder, expert = st.columns(2, gap="large")
    with builder:
        st.markdown(f"**{t('tags.builder.title')}**")
        rule_builder(KEY_TAG_RULE)
    with expert:
        st.text_area(
            t("tags.edit.rule"),
            key=KEY_TAG_RULE,
            height=240,
            help=t("tags.edit.rule_help"),
            on_change=json_typed,
            args=(KEY_TAG_RULE,),
        )
    with st.expander(t("tags.edit.fields")):
        st.dataframe(
            pd.DataFrame(
                {"field": list(TAG_FIELDS), "label": [field_label(f, language) for f in TAG_FIELDS]}
            ),
            hide_index=True,
            column_config={
                "field": st.column_config.TextColumn(t("tags.edit.field")),
                "label": st.column_config.TextColumn(t("tags.column.label")),
            },
        )
    left, right = st.columns(2)
    save = left.button(
        t("tags.edit.save"), key=KEY_TAG_SAVE, type="primary", icon=":material/save:"
    )
    remove_label = t("tags.edit.reset") if pick in BUILTIN_TAGS else t("tags.edit.delete")
    remove = right.button(remove_label, key=KEY_TAG_DELETE, disabled=pick == NEW_TAG)
    name = pick if pick != NEW_TAG else st.session_state[KEY_TAG_NAME]
    try:
        if save:
            condition = parse_condition(st.session_state[KEY_TAG_RULE])
            tag = save_tag(ctx.engine, name, condition, ctx.actor)
            st.session_state[KEY_TAG_NOTICE] = t(
                "tags.edit.saved", name=tag_label(tag.name, language)
            )
            st.session_state.pop(KEY_TAG_RULE, None)
            st.rerun()
        if remove:
            delete_tag(ctx.engine, pick, ctx.actor)
            st.session_state[KEY_TAG_NOTICE] = t(
                "tags.edit.removed", name=tag_label(pick, language)
            )
            st.session_state.pop(KEY_TAG_RULE, None)
            st.session_state.pop(KEY_TAG_PICK, None)
            st.rerun()
    except CrmError as error:
        show_error(error)
