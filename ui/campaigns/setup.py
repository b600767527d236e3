"""The Campaigns page's set-up tab: name the campaign a downloaded list was for (its
touches and held-out control group come from the export record, so results need no
second upload), and, for admins, the gross margin rate."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core import auth, numbers
from crm_core.errors import CrmError
from crm_core.outreach.audiences import list_exports
from crm_core.outreach.campaigns import (
    CAMPAIGN_ID_MAX,
    CHANNELS,
    NAME_MAX,
    create_campaign_from_export,
    gross_margin_rate,
    list_campaigns,
    save_gross_margin_rate,
)
from ui.audiences import labels
from ui.campaigns import KEY_CREATE_FORM, KEY_MARGIN_FORM, KEY_NOTICE, KEY_PICK_NEXT, channel_names
from ui.context import RunContext, show_error, t


def open_exports(ctx: RunContext) -> pd.DataFrame:
    """Marketing downloads no campaign was created from yet, newest first, with
    `control`: the held-out customers recorded with each."""
    exports = list_exports(ctx.engine, actor=ctx.actor)
    used = set(list_campaigns(ctx.engine)["export_id"].dropna().astype(int))
    exports = exports.loc[exports["is_marketing"].astype(bool) & ~exports["id"].isin(used)]
    exports = exports.assign(control=(exports["members"] - exports["row_count"]).clip(lower=0))
    return exports.reset_index(drop=True)


def _create_form(ctx: RunContext) -> None:
    st.subheader(t("campaigns.create.title"))
    st.caption(t("campaigns.create.caption"))
    exports = open_exports(ctx)
    if exports.empty:
        st.info(t("campaigns.create.no_exports"), icon=":material/inbox:")
        return
    names = channel_names(ctx.language, list(CHANNELS))
    options = {
        int(row.id): t(
            "campaigns.create.export_option",
            id=int(row.id),
            created=pd.Timestamp(row.created_at).strftime("%Y-%m-%d %H:%M"),
            channel=names.get(row.channel, t("campaigns.create.no_channel")),
            rows=numbers.number_text(int(row.row_count), "count", ctx.language),
            control=numbers.number_text(int(row.control), "count", ctx.language),
        )
        for row in exports.itertuples(index=False)
    }
    with st.form(KEY_CREATE_FORM):
        export_id = st.selectbox(
            t("campaigns.create.export"),
            list(options),
            format_func=labels(options),
            key=f"{KEY_CREATE_FORM}.export",
        )
        left, right = st.columns(2)
        campaign_id = left.text_input(
            t("campaigns.create.campaign_id"),
            max_chars=CAMPAIGN_ID_MAX,
            help=t("campaigns.create.campaign_id_help"),
            key=f"{KEY_CREATE_FORM}.campaign_id",
        )
        name = right.text_input(
            t("campaigns.create.name"), max_chars=NAME_MAX, key=f"{KEY_CREATE_FORM}.name"
        )
        row = exports.loc[exports["id"] == export_id].iloc[0]
        default_channel = row.channel if row.channel in CHANNELS else CHANNELS[0]
        channel = left.selectbox(
            t("campaigns.create.channel"),
            list(CHANNELS),
            index=list(CHANNELS).index(default_channel),
            format_func=labels(names),
            key=f"{KEY_CREATE_FORM}.channel",
        )
        cost = right.number_input(
            t("campaigns.create.cost"),
            min_value=0.0,
            value=0.0,
            step=100.0,
            key=f"{KEY_CREATE_FORM}.cost",
        )
        created = pd.Timestamp(row.created_at).to_pydatetime()
        day = left.date_input(
            t("campaigns.create.start_date"), value=created.date(), key=f"{KEY_CREATE_FORM}.date"
        )
        time = right.time_input(
            t("campaigns.create.start_time"),
            value=created.time().replace(second=0, microsecond=0),
            key=f"{KEY_CREATE_FORM}.time",
        )
        submitted = st.form_submit_button(
            t("campaigns.create.button"), type="primary", key=f"{KEY_CREATE_FORM}.submit"
        )
    if not submitted:
        return
    try:
        created_id = create_campaign_from_export(
            ctx.engine,
            int(export_id),
            campaign_id=campaign_id,
            name=name,
            started_at=dt.datetime.combine(day, time),
            cost=cost,
            channel=channel,
            actor=ctx.actor,
        )
    except CrmError as error:
        show_error(error)
        return
    st.session_state[KEY_NOTICE] = (
        t("campaigns.create.done", campaign_id=created_id)
        if day <= ctx.as_of
        else t("campaigns.create.done_later", campaign_id=created_id, as_of=ctx.as_of.isoformat())
    )
    st.session_state[KEY_PICK_NEXT] = created_id
    st.rerun()


def _margin_form(ctx: RunContext) -> None:
    st.subheader(t("campaigns.margin.title"))
    current = gross_margin_rate(ctx.engine)
    if not ctx.actor.may(auth.EDIT_SHOP_SETTINGS):
        st.caption(t("campaigns.margin.read_only", rate=f"{current * 100:g}%"))
        return
    with st.form(KEY_MARGIN_FORM):
        rate = st.number_input(
            t("campaigns.margin.rate"),
            min_value=0.0,
            max_value=100.0,
            value=float(current * 100),
            step=1.0,
            help=t("campaigns.margin.help"),
            key=f"{KEY_MARGIN_FORM}.rate",
        )
        submitted = st.form_submit_button(
            t("campaigns.margin.button"), key=f"{KEY_MARGIN_FORM}.submit"
        )
    if not submitted:
        return
    try:
        save_gross_margin_rate(ctx.engine, rate / 100, actor=ctx.actor)
    except CrmError as error:
        show_error(error)
        return
    st.session_state[KEY_NOTICE] = t("campaigns.margin.saved", rate=f"{rate:g}%")
    st.rerun()


def setup_tab(ctx: RunContext) -> None:
    """Campaigns from downloads (who may edit campaigns) and the margin rate."""
    if ctx.actor.may(auth.EDIT_CAMPAIGNS) and ctx.actor.may(auth.DOWNLOAD):
        _create_form(ctx)
    else:
        st.info(t("campaigns.create.not_allowed"), icon=":material/lock:")
    _margin_form(ctx)
