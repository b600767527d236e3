"""The draft's rules as a table, and the JSON editor that replaces the draft."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crm_core.customers.segments import Scheme, condition_text, condition_words
from crm_core.errors import CrmError
from ui.context import current_language, show_error, t
from ui.rfm import KEY_EDITOR, KEY_EDITOR_ERROR, field_label
from ui.rfm.draft import replace_draft


def _apply_editor() -> None:
    """Callback of the editor's button: the typed JSON becomes the draft, or its error
    is kept to be shown (runs before the widgets, so it may reset them)."""
    try:
        edited = Scheme.from_json(st.session_state[KEY_EDITOR])
    except CrmError as error:
        st.session_state[KEY_EDITOR_ERROR] = error
    else:
        replace_draft(edited)


def rules(draft: Scheme, labels: dict[str, str]) -> None:
    """Rule order, segment and condition of each rule, in words and as written, then
    the JSON editor."""
    st.subheader(t("rfm.rules.title"), help=t("rfm.rules.help"))
    language = current_language()
    everyone_else = t("rfm.rules.everyone_else")
    st.table(  # a static table: long conditions wrap instead of being cut off
        pd.DataFrame(
            {
                t("rfm.rules.order"): [str(order) for order in range(1, len(draft.rules) + 1)],
                t("rfm.col.segment"): [labels.get(r.segment, r.segment) for r in draft.rules],
                t("rfm.rules.condition"): [
                    everyone_else
                    if rule.when is None
                    else condition_words(rule.when, language, field_label)
                    for rule in draft.rules
                ],
                t("rfm.rules.formula"): [
                    "" if rule.when is None else condition_text(rule.when, field_label)
                    for rule in draft.rules
                ],
            }
        ),
        hide_index=True,
    )
    with st.expander(t("rfm.editor.title"), icon=":material/edit:"):
        st.caption(t("rfm.editor.help"))
        st.text_area(t("rfm.editor.json"), key=KEY_EDITOR, height=320)
        st.button(t("rfm.editor.apply"), icon=":material/check:", on_click=_apply_editor)
        error = st.session_state.get(KEY_EDITOR_ERROR)
        if error is not None:
            show_error(error)
