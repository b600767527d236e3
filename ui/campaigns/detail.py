"""The Campaigns page's one-campaign tab: per-arm figures, the funnel, cumulative
conversion against the control with the window marked, the incremental figures with
their intervals, variant comparisons, CUPED and the sample-ratio check, who responded
(uplift by segment and by tag, one click to an audience of the segments that gained),
and, for who may edit campaigns, the campaign's window and cost."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core import auth, numbers
from crm_core.customers.segments import segment_label
from crm_core.customers.tags import tag_label
from crm_core.errors import CrmError
from crm_core.figures.campaigns import (
    CumulativeLabels,
    FunnelLabels,
    GroupLabels,
    cumulative_figure,
    funnel_figure,
    uplift_by_group_figure,
)
from crm_core.outreach.campaigns import (
    FUNNEL_STEPS,
    MIN_GROUP_PER_ARM,
    PRE_PERIOD_DAYS,
    REVENUE_FROM_RESPONSES,
    VERDICT_GAIN,
    VERDICT_LOSS,
    CampaignReport,
    campaign_report,
    funnel,
    recipient_groups,
    responding_segments,
    save_campaign_window,
    segment_facts_date,
    set_campaign_cost,
    uplift_by_group,
)
from crm_core.outreach.campaigns.cross_sell import (
    CrossSellReport,
    cross_sell_report,
    cross_sell_target,
)
from ui.audiences import (
    KEY_EXCLUDE_SEGMENTS,
    KEY_INCLUDE_SEGMENTS,
    KEY_INCLUDE_TAGS,
    labels,
)
from ui.baskets import item_labels
from ui.campaigns import (
    KEY_BUILD_AUDIENCE,
    KEY_COST_FORM,
    KEY_GROUPS_BY,
    KEY_NOTICE,
    KEY_PICK,
    KEY_PICK_NEXT,
    KEY_REPORT_DOWNLOAD,
    KEY_REPORT_FORMAT,
    KEY_WINDOW_FORM,
    arm_name,
    channel_names,
    facts_on,
    interval_text,
    load_recipients,
    money,
    percent,
    points,
    roi_text,
    verdict_names,
)
from ui.context import DataKey, RunContext, show_error, t
from ui.schemes import scheme_keys, scheme_picker
from ui.tables import grey_unranked, number_column, table_download

ARM_TABLE_COLUMNS: tuple[str, ...] = (
    "arm",
    "recipients",
    "sent",
    "opened",
    "clicked",
    "converters",
    "conversion_rate",
    "revenue",
    "revenue_per_recipient",
    "average_order_value",
)
GROUP_TABLE_COLUMNS: tuple[str, ...] = (
    "label",
    "treated",
    "control",
    "treated_rate",
    "control_rate",
    "uplift",
    "ci_low",
    "ci_high",
    "p_value",
)


def _pick_campaign(summary: pd.DataFrame, language: str) -> str:
    channels = channel_names(language, sorted(summary["channel"].unique().tolist()))
    names = {
        row.campaign_id: t(
            "campaigns.pick_option",
            name=row.name,
            campaign_id=row.campaign_id,
            date=pd.Timestamp(row.started_at).strftime("%Y-%m-%d"),
            channel=channels.get(row.channel, row.channel),
        )
        for row in summary.itertuples(index=False)
    }
    ids = summary["campaign_id"].tolist()
    wanted = st.session_state.pop(KEY_PICK_NEXT, None)
    if wanted in ids:
        st.session_state[KEY_PICK] = wanted
    if st.session_state.get(KEY_PICK) not in ids:
        st.session_state[KEY_PICK] = ids[0]
    return st.selectbox(t("campaigns.pick"), ids, format_func=labels(names), key=KEY_PICK)


def arms_table(report: CampaignReport, language: str) -> pd.DataFrame:
    """Per-arm figures as shown and downloaded (rates in %)."""
    table = report.arms[list(ARM_TABLE_COLUMNS)].copy()
    table["arm"] = [arm_name(a, language) for a in table["arm"]]
    table["conversion_rate"] = table["conversion_rate"] * 100
    return table


def _arm_config() -> dict:
    return {
        "arm": st.column_config.TextColumn(t("campaigns.column.arm")),
        "recipients": number_column(t("campaigns.column.recipients"), "count"),
        "sent": number_column(t("campaigns.column.sent"), "count"),
        "opened": number_column(t("campaigns.column.opened"), "count"),
        "clicked": number_column(t("campaigns.column.clicked"), "count"),
        "converters": number_column(t("campaigns.column.converters"), "count"),
        "conversion_rate": st.column_config.NumberColumn(
            t("campaigns.column.conversion_rate"), format="%.2f%%"
        ),
        "revenue": number_column(t("campaigns.column.arm_revenue"), "money"),
        "revenue_per_recipient": number_column(
            t("campaigns.column.revenue_per_recipient"), "money"
        ),
        "average_order_value": number_column(t("campaigns.column.average_order_value"), "money"),
    }


def _headline(report: CampaignReport, language: str) -> None:
    arms = report.arms
    treated = int(arms.loc[~arms["is_control"], "recipients"].sum())
    control = int(arms.loc[arms["is_control"], "recipients"].sum())
    revenue, basis = report.revenue_and_basis
    tiles = st.columns(4)
    tiles[0].metric(
        t("campaigns.tile.recipients"),
        f"{numbers.number_text(treated, 'count', language)}"
        f" / {numbers.number_text(control, 'count', language)}",
        border=True,
        help=t("campaigns.tile.recipients_help"),
    )
    revenue_help = (
        t("campaigns.revenue_responses_help")
        if basis == REVENUE_FROM_RESPONSES
        else t("campaigns.revenue_help")
    )
    tiles[1].metric(
        t("campaigns.tile.revenue"),
        numbers.number_text(revenue, "money", language),
        border=True,
        help=revenue_help,
    )
    tiles[2].metric(
        t("campaigns.tile.roi"),
        roi_text(report.roi),
        border=True,
        help=t(
            "campaigns.tile.roi_help",
            cost=numbers.number_text(float(report.campaign["cost"]), "money", language),
        ),
    )
    uplift = report.incremental.uplift if report.incremental else None
    arrows = {VERDICT_GAIN: "up", VERDICT_LOSS: "down"}
    tiles[3].metric(
        t("campaigns.tile.uplift"),
        points(uplift.difference) if uplift else "—",
        verdict_names(language)[report.verdict],
        delta_color="normal" if report.verdict in arrows else "off",
        delta_arrow=arrows.get(report.verdict, "off"),
        border=True,
        help=t("campaigns.tile.uplift_help"),
    )
    if basis == REVENUE_FROM_RESPONSES:
        st.caption(
            t(
                "campaigns.responses_note",
                responders=numbers.number_text(report.responders, "count", language),
                rate=percent(report.responders / treated if treated else np.nan),
                each=numbers.number_text(
                    float(report.campaign["revenue_per_response"]), "money", language
                ),
            )
        )
    if not report.window_complete:
        st.warning(t("campaigns.window_open", days=report.window_days), icon=":material/schedule:")
    if report.srm is not None and report.srm.mismatch:
        st.error(
            t(
                "campaigns.srm_mismatch",
                treated=numbers.number_text(report.srm.observed[0], "count", language),
                control=numbers.number_text(report.srm.observed[1], "count", language),
                p=f"{report.srm.p_value:.2g}",
            ),
            icon=":material/warning:",
        )


def _incremental(report: CampaignReport) -> None:
    st.subheader(t("campaigns.incremental.title"))
    if report.incremental is None:
        st.info(t("campaigns.incremental.no_control"), icon=":material/info:")
        return
    inc = report.incremental
    rows = [
        (t("campaigns.incremental.uplift"), points(inc.uplift.difference),
         interval_text(inc.uplift.ci_low, inc.uplift.ci_high)),
        (t("campaigns.incremental.conversions"), money(inc.conversions.value, 1),
         interval_text(inc.conversions.low, inc.conversions.high, False, 1)),
        (t("campaigns.incremental.revenue"), money(inc.revenue.value),
         interval_text(inc.revenue.low, inc.revenue.high, False, 0)),
        (t("campaigns.incremental.margin", rate=percent(inc.margin_rate, 0)),
         money(inc.margin.value), interval_text(inc.margin.low, inc.margin.high, False, 0)),
        (t("campaigns.incremental.roi"), percent(inc.roi.value, 0),
         f"[{percent(inc.roi.low, 0)}, {percent(inc.roi.high, 0)}]"),
        (t("campaigns.incremental.p_value"), f"{inc.uplift.p_value:.4f}", ""),
    ]  # fmt: skip
    st.dataframe(
        pd.DataFrame(rows, columns=["figure", "value", "interval"]),
        hide_index=True,
        column_config={
            "figure": st.column_config.TextColumn(t("campaigns.incremental.figure")),
            "value": st.column_config.TextColumn(t("campaigns.incremental.value")),
            "interval": st.column_config.TextColumn(t("campaigns.incremental.interval")),
        },
    )
    st.caption(t("campaigns.incremental.caption"))
    if report.cuped is not None and np.isfinite(report.cuped.width_reduction):
        cuped = report.cuped
        st.caption(
            t(
                "campaigns.cuped",
                days=PRE_PERIOD_DAYS,
                narrower=percent(cuped.width_reduction, 0),
                adjusted=interval_text(cuped.adjusted.ci_low, cuped.adjusted.ci_high, False),
                plain=interval_text(cuped.plain.ci_low, cuped.plain.ci_high, False),
            )
        )


@st.cache_resource(show_spinner=False, max_entries=4, ttl=3600)
def _cross_sell(
    _engine: Engine,
    data_key: DataKey,
    campaign_id: str,
    as_of: dt.date,
    window: int,
    export_id: int,
) -> CrossSellReport | None:
    target = cross_sell_target(_engine, {"export_id": export_id})
    return (
        None if target is None else cross_sell_report(_engine, campaign_id, as_of, target, window)
    )


def _cross_sell_section(ctx: RunContext, report: CampaignReport) -> None:
    """For a list made by a cross-sell audience: buying the target and basket size per
    arm, and treated against control."""
    export_id = report.campaign.get("export_id")
    if export_id is None or pd.isna(export_id):
        return
    found = _cross_sell(
        ctx.engine,
        ctx.data_key,
        str(report.campaign["campaign_id"]),
        ctx.as_of,
        report.window_days,
        int(export_id),
    )
    if found is None:
        return
    language = ctx.language
    st.subheader(t("campaigns.cross_sell.title"))
    st.caption(
        t(
            f"campaigns.cross_sell.target.{found.target.rule}",
            items=", ".join(item_labels(ctx, found.target.level, found.target.items).values()),
            level=t(f"baskets.level.{found.target.level}"),
        )
    )
    arms = found.arms.assign(arm=[arm_name(a, language) for a in found.arms["arm"]])
    st.dataframe(
        arms.drop(columns=["is_control"]).assign(target_rate=100 * arms["target_rate"]),
        hide_index=True,
        column_config={
            "arm": st.column_config.TextColumn(t("campaigns.column.arm")),
            "recipients": number_column(t("campaigns.column.recipients"), "count"),
            "bought_target": number_column(t("campaigns.cross_sell.bought"), "count"),
            "target_rate": st.column_config.NumberColumn(
                t("campaigns.cross_sell.rate"), format="%.2f%%"
            ),
            "orders": number_column(t("campaigns.cross_sell.orders"), "count"),
            "items_per_basket": number_column(t("campaigns.cross_sell.items"), "decimal"),
        },
    )
    if found.target_uplift is None:
        st.info(t("campaigns.incremental.no_control"), icon=":material/info:")
        return
    uplift, basket = found.target_uplift, found.basket_size
    rows = [
        (t("campaigns.cross_sell.uplift"), points(uplift.difference),
         interval_text(uplift.ci_low, uplift.ci_high), f"{uplift.p_value:.4f}"),
    ]  # fmt: skip
    if basket is not None:
        rows.append(
            (t("campaigns.cross_sell.basket"), f"{basket.difference:+.2f}",
             interval_text(basket.ci_low, basket.ci_high, False), f"{basket.p_value:.4f}")
        )  # fmt: skip
    st.dataframe(
        pd.DataFrame(rows, columns=["figure", "value", "interval", "p"]),
        hide_index=True,
        column_config={
            "figure": st.column_config.TextColumn(t("campaigns.incremental.figure")),
            "value": st.column_config.TextColumn(t("campaigns.incremental.value")),
            "interval": st.column_config.TextColumn(t("campaigns.incremental.interval")),
            "p": st.column_config.TextColumn(t("campaigns.incremental.p_value")),
        },
    )
    st.caption(t("campaigns.cross_sell.caption", days=report.window_days))


def _comparisons(report: CampaignReport, language: str) -> None:
    table = report.comparisons
    if table.empty:
        return
    st.subheader(t("campaigns.variants.title"))
    shown = pd.DataFrame(
        {
            "arm": [arm_name(a, language) for a in table["arm"]],
            "against": [arm_name(a, language) for a in table["against"]],
            "rate": table["rate"] * 100,
            "against_rate": table["against_rate"] * 100,
            "difference": table["difference"] * 100,
            "interval": [
                interval_text(lo, hi)
                for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
            ],
            "p_value": table["p_value"],
            "p_holm": table["p_holm"],
        }
    )
    number = st.column_config.NumberColumn
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "arm": st.column_config.TextColumn(t("campaigns.column.arm")),
            "against": st.column_config.TextColumn(t("campaigns.variants.against")),
            "rate": number(t("campaigns.column.conversion_rate"), format="%.2f%%"),
            "against_rate": number(t("campaigns.variants.against_rate"), format="%.2f%%"),
            "difference": number(t("campaigns.column.uplift"), format="%+.2f pp"),
            "interval": st.column_config.TextColumn(t("campaigns.incremental.interval")),
            "p_value": number(t("campaigns.column.p_value"), format="%.4f"),
            "p_holm": number(
                t("campaigns.variants.p_holm"),
                format="%.4f",
                help=t("campaigns.variants.holm_help"),
            ),
        },
    )
    if report.variant_srm is not None and report.variant_srm.mismatch:
        st.warning(
            t("campaigns.variants.srm", p=f"{report.variant_srm.p_value:.2g}"),
            icon=":material/warning:",
        )


def _charts(report: CampaignReport, language: str) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader(t("campaigns.funnel.title"))
        steps = {step: t(f"campaigns.funnel.{step}") for step in FUNNEL_STEPS}
        arms = {a: arm_name(a, language) for a in report.arms["arm"]}
        arms["all"] = t("campaigns.funnel.all")
        st.plotly_chart(
            funnel_figure(funnel(report.arms), FunnelLabels(steps, arms)), width="stretch"
        )
    with right:
        st.subheader(t("campaigns.cumulative.title"))
        chart_labels = CumulativeLabels(
            day=t("campaigns.cumulative.day"),
            conversion=t("campaigns.cumulative.conversion"),
            treated=t("campaigns.cumulative.treated"),
            control=t("campaigns.cumulative.control"),
            window_end=t("campaigns.cumulative.window_end", days=report.window_days),
        )
        st.plotly_chart(
            cumulative_figure(report.cumulative, report.window_days, chart_labels),
            width="stretch",
        )


def _group_table(table: pd.DataFrame) -> None:
    shown = table[list(GROUP_TABLE_COLUMNS)].copy()
    for name in ("treated_rate", "control_rate", "uplift", "ci_low", "ci_high"):
        shown[name] = shown[name] * 100
    styled = grey_unranked(shown, table["ranked"].to_numpy(dtype=bool))
    number = st.column_config.NumberColumn
    st.dataframe(
        styled,
        hide_index=True,
        column_config={
            "label": st.column_config.TextColumn(t("campaigns.groups.group")),
            "treated": number_column(t("campaigns.column.treated"), "count"),
            "control": number_column(t("campaigns.column.control"), "count"),
            "treated_rate": number(t("campaigns.column.treated_rate"), format="%.2f%%"),
            "control_rate": number(t("campaigns.column.control_rate"), format="%.2f%%"),
            "uplift": number(t("campaigns.column.uplift"), format="%+.2f pp"),
            "ci_low": number(t("campaigns.column.uplift_ci_low"), format="%+.2f pp"),
            "ci_high": number(t("campaigns.column.uplift_ci_high"), format="%+.2f pp"),
            "p_value": number(t("campaigns.column.p_value"), format="%.4f"),
        },
    )


def _who_responded(ctx: RunContext, report: CampaignReport, recipients: pd.DataFrame) -> None:
    st.subheader(t("campaigns.groups.title"))
    if report.incremental is None:
        st.info(t("campaigns.groups.no_control"), icon=":material/info:")
        return
    picked = scheme_picker(ctx.engine, "campaigns")
    day = segment_facts_date(report.campaign)
    st.caption(t("campaigns.groups.caption", date=day.isoformat(), least=MIN_GROUP_PER_ARM))
    with st.spinner(t("campaigns.loading")):
        facts = facts_on(ctx, day, picked.scheme, picked.scheme_id)
    segments, tags = recipient_groups(recipients, facts)
    by = st.radio(
        t("campaigns.groups.by"),
        ["segment", "tag"],
        format_func=labels({"segment": t("campaigns.groups.by_segment"),
                            "tag": t("campaigns.groups.by_tag")}),
        key=KEY_GROUPS_BY,
        horizontal=True,
    )  # fmt: skip
    language = ctx.language
    if by == "segment":
        table = uplift_by_group(recipients, segments)
        table["label"] = [segment_label(name, language) for name in table["group"]]
    else:
        table = uplift_by_group(recipients, tags)
        table["label"] = [tag_label(name, language) for name in table["group"]]
    if table.empty:
        st.info(t("campaigns.groups.none"))
        return
    _group_table(table)
    chart_labels = GroupLabels(
        uplift=t("campaigns.groups.uplift_axis"), too_small=t("campaigns.groups.too_small")
    )
    st.plotly_chart(uplift_by_group_figure(table, chart_labels), width="stretch")
    if by != "segment":
        return
    gained = responding_segments(table)
    build = t("campaigns.groups.build", count=len(gained))
    if st.button(
        build if gained else t("campaigns.groups.build_none"),
        key=KEY_BUILD_AUDIENCE,
        icon=":material/group_add:",
        disabled=not gained,
        help=t("campaigns.groups.build_help"),
    ):
        scheme_key, version_key = scheme_keys("audiences")
        st.session_state[scheme_key] = picked.option
        st.session_state[version_key] = picked.version
        st.session_state[KEY_INCLUDE_SEGMENTS] = gained
        st.session_state[KEY_EXCLUDE_SEGMENTS] = []
        st.session_state[KEY_INCLUDE_TAGS] = []
        st.switch_page("views/audiences.py")


def _edit(ctx: RunContext, report: CampaignReport) -> None:
    if not ctx.actor.may(auth.EDIT_CAMPAIGNS):
        return
    campaign_id = str(report.campaign["campaign_id"])
    with st.expander(t("campaigns.edit.title")):
        left, right = st.columns(2)
        with left.form(KEY_WINDOW_FORM):
            days = st.number_input(
                t("campaigns.edit.window"),
                min_value=1,
                max_value=365,
                value=int(report.window_days),
                step=1,
                help=t("campaigns.edit.window_help"),
                key=f"{KEY_WINDOW_FORM}.days",
            )
            if st.form_submit_button(
                t("campaigns.edit.save_window"), key=f"{KEY_WINDOW_FORM}.submit"
            ):
                try:
                    save_campaign_window(ctx.engine, campaign_id, int(days), actor=ctx.actor)
                except CrmError as error:
                    show_error(error)
                else:
                    st.session_state[KEY_NOTICE] = t("campaigns.edit.window_saved", days=days)
                    st.rerun()
        with right.form(KEY_COST_FORM):
            cost = st.number_input(
                t("campaigns.edit.cost"),
                min_value=0.0,
                value=float(report.campaign["cost"]),
                step=100.0,
                key=f"{KEY_COST_FORM}.cost",
            )
            if st.form_submit_button(t("campaigns.edit.save_cost"), key=f"{KEY_COST_FORM}.submit"):
                try:
                    set_campaign_cost(ctx.engine, campaign_id, cost, actor=ctx.actor)
                except CrmError as error:
                    show_error(error)
                else:
                    st.session_state[KEY_NOTICE] = t("campaigns.edit.cost_saved")
                    st.rerun()


def detail_tab(ctx: RunContext, summary: pd.DataFrame, view_window: int | None) -> None:
    """One campaign, picked from the list."""
    if summary.empty:
        st.info(t("campaigns.none"), icon=":material/inbox:")
        return
    campaign_id = _pick_campaign(summary, ctx.language)
    try:
        with st.spinner(t("campaigns.loading")):
            recipients, window = load_recipients(ctx, campaign_id, view_window)
            report = campaign_report(
                ctx.engine, campaign_id, ctx.as_of, window_days=window, recipients=recipients
            )
    except CrmError as error:
        show_error(error)
        return
    language = ctx.language
    _headline(report, language)
    st.subheader(t("campaigns.arms.title"))
    table = arms_table(report, language)
    st.dataframe(table, hide_index=True, column_config=_arm_config())
    st.caption(t("campaigns.arms.caption", days=report.window_days))
    headers = {
        name: t("campaigns.column.arm_revenue" if name == "revenue" else f"campaigns.column.{name}")
        for name in table.columns
    }
    table_download(
        ctx,
        table,
        headers,
        label=t("campaigns.arms.download"),
        file_stem=f"campaign-{campaign_id}-{ctx.as_of.isoformat()}",
        format_key=KEY_REPORT_FORMAT,
        download_key=KEY_REPORT_DOWNLOAD,
    )
    _charts(report, language)
    _incremental(report)
    _cross_sell_section(ctx, report)
    _comparisons(report, language)
    _who_responded(ctx, report, recipients)
    _edit(ctx, report)
