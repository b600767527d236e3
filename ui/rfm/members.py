"""The customers of one segment or one R x F cell (picked in the list, the table or the
grid), highest monetary first, personal data masked by role."""

from __future__ import annotations

import streamlit as st

from crm_core.customers.rfm import RfmFacts
from crm_core.customers.segments import SchemeResult, member_mask, members
from crm_core.outreach.privacy import mask_personal_columns
from ui.context import RunContext, t
from ui.rfm import KEY_MEMBERS, KEY_MEMBERS_PICK, field_label

MEMBERS_SHOWN = 1_000
MEMBER_COLUMNS = ("name", "phone", "email", "province", "city", "avg_order_value")


def _pick_from_list() -> None:
    choice = st.session_state.get(KEY_MEMBERS_PICK)
    st.session_state[KEY_MEMBERS] = {"segment": choice} if choice else None


def _column_title(name: str) -> str:
    key = f"rfm.col.{name}"
    text = t(key)
    return field_label(name) if text == key else text


def member_list(
    ctx: RunContext, facts: RfmFacts, result: SchemeResult, labels: dict[str, str]
) -> None:
    """A segment picker and the list of the chosen segment's or cell's customers."""
    st.subheader(t("rfm.members.title"), help=t("rfm.members.help"))
    names = result.scheme.segment_names
    chosen = st.session_state.get(KEY_MEMBERS) or {}
    st.session_state[KEY_MEMBERS_PICK] = (
        chosen.get("segment") if chosen.get("segment") in names else None
    )
    st.selectbox(
        t("rfm.members.pick"),
        options=names,
        format_func=lambda name: labels.get(name, name),
        index=None,
        placeholder=t("rfm.members.placeholder"),
        key=KEY_MEMBERS_PICK,
        on_change=_pick_from_list,
    )
    if not chosen or ("segment" in chosen and chosen["segment"] not in names):
        st.caption(t("rfm.members.none"))
        return
    filters = {
        "segment": chosen.get("segment"),
        "r_score": chosen.get("r"),
        "f_score": chosen.get("f"),
    }
    count = int(member_mask(facts, result, **filters).sum())
    frame = members(facts, result, **filters, extra_columns=MEMBER_COLUMNS, limit=MEMBERS_SHOWN)
    what = (
        labels.get(chosen["segment"], chosen["segment"])
        if "segment" in chosen
        else t("rfm.members.cell", r=chosen["r"], f=chosen["f"])
    )
    st.markdown(t("rfm.members.showing", what=what, count=f"{count:,}", shown=f"{len(frame):,}"))
    shown = mask_personal_columns(frame, ctx.actor)
    shown = shown.assign(segment=shown["segment"].astype(str).map(labels))
    st.dataframe(shown.rename(columns=_column_title), hide_index=True, width="stretch")
