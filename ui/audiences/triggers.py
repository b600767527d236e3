"""The Audiences page's trigger-lists tab: the lists' settings (editable by who may edit
triggers), the moment the lists are drawn at, and each list with its contact-policy
exclusions and a deferred download."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import streamlit as st

from crm_core import asof, auth
from crm_core.errors import CrmError
from crm_core.outreach.audiences import (
    FILE_FORMATS,
    AudienceFacts,
    column_header,
    earlier_trigger_exports,
    export_trigger,
)
from crm_core.outreach.policy import ContactPolicy, exclusion_summary, load_policy
from crm_core.outreach.privacy import mask_personal_columns
from crm_core.outreach.triggers import (
    TRIGGER_LISTS,
    TriggerSettings,
    days_text,
    load_trigger_settings,
    parse_days,
    save_trigger_settings,
    settings_text,
    trigger_preview,
)
from ui.audiences import (
    KEY_TRIGGER_CHANNEL,
    KEY_TRIGGER_DOWNLOAD,
    KEY_TRIGGER_FORM,
    KEY_TRIGGER_NOTICE,
    KEY_TRIGGER_PURPOSE,
    channel_radio,
    contacts,
    purpose_radio,
    show_notice,
)
from ui.auth import actor_check
from ui.context import RunContext, show_error, t

TRIGGER_ROWS_SHOWN = 500
TRIGGER_COLUMNS = ("customer_id", "name", "address", "segment", "tags")


def _settings_form(ctx: RunContext, settings: TriggerSettings) -> None:
    may_edit = ctx.actor.may(auth.EDIT_TRIGGERS)
    with st.expander(t("triggers.settings.title"), icon=":material/tune:", expanded=False):
        if not may_edit:
            st.caption(t("triggers.settings.read_only"))
        with st.form(KEY_TRIGGER_FORM):
            left, right = st.columns(2)
            winback = left.text_input(
                t("triggers.settings.winback_days"), days_text(settings.winback_days)
            )
            lost = right.text_input(t("triggers.settings.lost_days"), days_text(settings.lost_days))
            delay = left.number_input(
                t("triggers.settings.new_customer_delay_hours"),
                value=float(settings.new_customer_delay_hours),
                min_value=0.0,
                step=0.5,
            )
            max_age = right.number_input(
                t("triggers.settings.unpaid_max_age_hours"),
                value=float(settings.unpaid_max_age_hours),
                min_value=1.0,
                step=1.0,
            )
            large = left.number_input(
                t("triggers.settings.large_order_amount"),
                value=float(settings.large_order_amount),
                min_value=0.0,
                step=100.0,
            )
            csat = right.number_input(
                t("triggers.settings.thank_you_min_csat"),
                value=int(settings.thank_you_min_csat),
                min_value=1,
                max_value=5,
                step=1,
            )
            within = left.number_input(
                t("triggers.settings.thank_you_within_hours"),
                value=float(settings.thank_you_within_hours),
                min_value=1.0,
                step=1.0,
            )
            submitted = st.form_submit_button(t("triggers.settings.save"), disabled=not may_edit)
        if submitted:
            try:
                new_settings = TriggerSettings(
                    winback_days=parse_days(winback),
                    lost_days=parse_days(lost),
                    new_customer_delay_hours=float(delay),
                    unpaid_max_age_hours=float(max_age),
                    large_order_amount=float(large),
                    thank_you_min_csat=int(csat),
                    thank_you_within_hours=float(within),
                )
                save_trigger_settings(ctx.engine, new_settings, ctx.actor)
                st.session_state[KEY_TRIGGER_NOTICE] = t("triggers.settings.saved")
                st.rerun()
            except CrmError as error:
                show_error(error)


def trigger_download(
    ctx: RunContext,
    facts: AudienceFacts,
    name: str,
    settings: TriggerSettings,
    channel: str | None,
    policy: ContactPolicy,
    at: dt.datetime,
    purpose: str,
) -> Callable[[], bytes]:
    """The deferred download of one trigger list (written and recorded when called, as
    the user still signed in at that moment)."""
    still_signed_in = actor_check(ctx.engine)

    def build() -> bytes:
        exported, _ = export_trigger(
            ctx.engine,
            facts,
            name,
            settings,
            channel=channel,
            policy=policy,
            actor=still_signed_in(),
            columns=TRIGGER_COLUMNS,
            language=ctx.language,
            at=at,
            purpose=purpose,
        )
        return exported.content

    return build


def triggers_tab(ctx: RunContext, facts: AudienceFacts) -> None:
    """Every trigger list drawn on `facts` (all history) at the reference moment."""
    language = ctx.language
    actor = ctx.actor
    show_notice(KEY_TRIGGER_NOTICE)
    settings = load_trigger_settings(ctx.engine)
    _settings_form(ctx, settings)
    at = asof.reference_moment(facts.as_of, dt.datetime.now())
    st.caption(t("triggers.moment", moment=at.isoformat(sep=" ")))
    channel = channel_radio(KEY_TRIGGER_CHANNEL, language)
    purpose = purpose_radio(KEY_TRIGGER_PURPOSE, language) if actor.may(auth.DOWNLOAD) else None
    policy = load_policy(ctx.engine)
    previews = [  # each list leaves out its own earlier downloads, as its file will
        trigger_preview(
            ctx.engine,
            facts,
            name,
            settings,
            channel=channel,
            policy=policy,
            contacts=contacts(
                ctx,
                facts,
                policy.cap_window_days,
                earlier_trigger_exports(ctx.engine, facts, name, settings, channel, at),
            ),
            at=at,
        )
        for name in TRIGGER_LISTS
    ]
    params = settings_text(settings)
    for preview in previews:
        name, rows = preview.name, preview.rows
        # the title counts what the file will hold: the list after the contact policy
        result = preview.policy_result
        in_file = len(rows) if result is None else int(result.kept)
        title = t(f"triggers.{name}.title", count=in_file)
        if in_file != len(rows):
            title += " " + t("triggers.before_policy", count=len(rows))
        with st.expander(title, expanded=False):
            st.caption(t(f"triggers.{name}.help", **params))
            if preview.policy_result is not None:
                st.markdown(exclusion_summary(preview.policy_result, language))
            shown = mask_personal_columns(rows.head(TRIGGER_ROWS_SHOWN), actor)
            shown.columns = [column_header(c, language) for c in shown.columns]
            st.dataframe(shown, hide_index=True)
            if not actor.may(auth.DOWNLOAD):
                st.caption(t("audiences.download.not_allowed"))
                continue
            st.download_button(
                t("triggers.download"),
                data=trigger_download(ctx, facts, name, settings, channel, policy, at, purpose),
                file_name=f"trigger-{name}-{facts.as_of.isoformat()}.csv",
                mime=FILE_FORMATS["csv"],
                key=f"{KEY_TRIGGER_DOWNLOAD}{name}",
                icon=":material/download:",
                disabled=len(rows) == 0,
            )
