"""The Audiences page's contact-policy tab: the policy in words, and its form for who may
edit the policy."""

from __future__ import annotations

import streamlit as st

from crm_core import auth
from crm_core.errors import CrmError
from crm_core.outreach.policy import POLICY_LIMITS, ContactPolicy, load_policy, save_policy
from ui.audiences import KEY_POLICY_FORM, KEY_POLICY_NOTICE, show_notice
from ui.context import RunContext, show_error, t


def policy_tab(ctx: RunContext) -> None:
    """The stored policy explained; the form to change it for who may edit it."""
    show_notice(KEY_POLICY_NOTICE)
    policy = load_policy(ctx.engine)
    st.markdown(t("audiences.policy.explained", **policy.to_dict()))
    if not ctx.actor.may(auth.EDIT_POLICY):
        st.info(t("audiences.policy.admins_only"), icon=":material/lock:")
        return
    with st.form(KEY_POLICY_FORM):
        values = {
            name: st.number_input(
                t(f"audiences.policy.field.{name}"),
                value=int(value),
                min_value=POLICY_LIMITS[name][0],
                step=1,
                key=f"{KEY_POLICY_FORM}.{name}",
            )
            for name, value in policy.to_dict().items()
        }
        submitted = st.form_submit_button(t("audiences.policy.save"), type="primary")
    if submitted:
        try:
            policy = ContactPolicy(**{name: int(value) for name, value in values.items()})
            save_policy(ctx.engine, policy, ctx.actor)
            st.session_state[KEY_POLICY_NOTICE] = t("audiences.policy.saved")
            st.rerun()
        except CrmError as error:
            show_error(error)
