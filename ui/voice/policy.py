"""The Service page's SLA policy tab: everyone sees the policy; admins edit it in one form
(clock, working days and hours, holidays and make-up working days, tiers, targets). A
rejected form keeps what was typed and says which entry is wrong."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core.auth import EDIT_SHOP_SETTINGS
from crm_core.customers.segments import scheme_choices, scheme_label
from crm_core.customers.tags import load_tags, tag_label
from crm_core.errors import CrmError
from crm_core.i18n import translate
from crm_core.store import models
from crm_core.voice.hours import parse_day_list
from crm_core.voice.sla import ALL, CLOCKS, SlaPolicy, save_sla_policy
from ui.audiences import labels
from ui.context import RunContext, current_language, show_error, t
from ui.tables import MISSING
from ui.voice import KEY_NOTICE, KEY_POLICY_FORM, SERVICE_PREFIX, value_label

WEEKDAYS = tuple(range(7))
EVERY = "*"
"""The editor's value for a target row that applies to every priority."""
NONE = "-"
"""The editor's value for a tier without a scheme or without a tag."""
TIER_COLUMNS = ("name", "scheme", "segments", "tag")
TARGET_COLUMNS = ("tier", "priority", "first_response_hours", "resolution_hours")


def _weekday_names() -> dict[int, str]:
    return {day: t(f"service.weekday.{day}") for day in WEEKDAYS}


def _tiers_frame(policy: SlaPolicy) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "name": tier.name,
                "scheme": tier.scheme or "",
                "segments": ", ".join(tier.segments),
                "tag": tier.tag or "",
            }
            for tier in policy.tiers
        ],
        columns=list(TIER_COLUMNS),
    )


def _targets_frame(policy: SlaPolicy) -> pd.DataFrame:
    return policy.target_table()[list(TARGET_COLUMNS)]


def show_policy(ctx: RunContext, policy: SlaPolicy) -> None:
    """The policy in words and tables (read-only)."""
    cal = policy.calendar
    separator = translate("app.list_separator", ctx.language)
    days = separator.join(_weekday_names()[day] for day in cal.weekdays)
    st.markdown(
        t(
            f"service.policy.clock_{policy.clock}",
            days=days,
            start=f"{cal.day_start:%H:%M}",
            end=f"{cal.day_end:%H:%M}",
            holidays=len(cal.holidays),
            workdays=len(cal.workdays),
        )
    )
    targets = _targets_frame(policy).copy()
    targets["tier"] = targets["tier"].replace(ALL, t("service.policy.everyone"))
    targets["priority"] = targets["priority"].map(
        lambda value: (
            t("service.policy.every_priority") if value == ALL else value_label(value, ctx.language)
        )
    )
    st.dataframe(targets, hide_index=True, column_config=_target_config(editable=False))
    if policy.tiers:
        tiers = _tiers_frame(policy)
        tiers["tag"] = tiers["tag"].map(
            lambda name: tag_label(name, ctx.language) if name else MISSING
        )
        tiers["scheme"] = tiers["scheme"].map(
            lambda name: scheme_label(name, ctx.language) if name else MISSING
        )
        st.dataframe(tiers, hide_index=True, column_config=_tier_config(None, None))
    if cal.holidays or cal.workdays:
        st.caption(
            t(
                "service.policy.days",
                holidays=", ".join(d.isoformat() for d in sorted(cal.holidays)) or "—",
                workdays=", ".join(d.isoformat() for d in sorted(cal.workdays)) or "—",
            )
        )


def _target_config(editable: bool) -> dict:
    column = st.column_config
    tier = column.TextColumn(t("service.column.tier"), help=t("service.policy.tier_help"))
    if editable:
        language = current_language()
        names = {EVERY: t("service.policy.every_priority")}
        names.update({p: value_label(p, language) for p in models.TICKET_PRIORITIES})
        priority = column.SelectboxColumn(
            t("service.column.priority"),
            options=list(names),
            format_func=lambda value: names.get(value, str(value)),
            help=t("service.policy.priority_help"),
        )
    else:
        priority = column.TextColumn(t("service.column.priority"))
    return {
        "tier": tier,
        "priority": priority,
        "first_response_hours": column.NumberColumn(
            t("service.column.first_response_target_hours"), min_value=0.1, format="%.1f"
        ),
        "resolution_hours": column.NumberColumn(
            t("service.column.resolution_target_hours"), min_value=0.1, format="%.1f"
        ),
    }


def _tier_config(schemes: list[str] | None, tags: list[str] | None) -> dict:
    column = st.column_config
    language = current_language()
    if schemes is None or tags is None:
        scheme = column.TextColumn(t("service.policy.tier_scheme"))
        tag = column.TextColumn(t("service.policy.tier_tag"))
    else:
        scheme = column.SelectboxColumn(
            t("service.policy.tier_scheme"),
            options=[NONE, *schemes],
            format_func=lambda name: MISSING if name == NONE else scheme_label(name, language),
        )
        tag = column.SelectboxColumn(
            t("service.policy.tier_tag"),
            options=[NONE, *tags],
            format_func=lambda name: MISSING if name == NONE else tag_label(name, language),
        )
    return {
        "name": column.TextColumn(t("service.policy.tier_name")),
        "scheme": scheme,
        "segments": column.TextColumn(
            t("service.policy.tier_segments"), help=t("service.policy.tier_segments_help")
        ),
        "tag": tag,
    }


def _rows(frame: pd.DataFrame) -> list[dict]:
    """Edited rows without the empty ones, with empty cells as None."""
    rows = []
    for record in frame.to_dict("records"):
        cleaned = {
            k: (None if pd.isna(v) or v in ("", EVERY, NONE) else v) for k, v in record.items()
        }
        if any(value is not None for value in cleaned.values()):
            rows.append(cleaned)
    return rows


def policy_tab(ctx: RunContext, policy: SlaPolicy) -> None:
    """The policy; for admins, the form that changes it."""
    show_policy(ctx, policy)
    if ctx.actor is None or not ctx.actor.may(EDIT_SHOP_SETTINGS):
        st.caption(t("service.policy.admins_only"))
        return
    cal = policy.calendar
    with st.expander(t("service.policy.edit"), icon=":material/edit:"), st.form(KEY_POLICY_FORM):
        clock = st.radio(
            t("service.policy.clock"),
            list(CLOCKS),
            index=list(CLOCKS).index(policy.clock),
            format_func=labels({c: t(f"service.policy.clock.{c}") for c in CLOCKS}),
            horizontal=True,
            key=SERVICE_PREFIX + "policy.clock",
        )
        weekdays = st.multiselect(
            t("service.policy.weekdays"),
            list(WEEKDAYS),
            default=list(cal.weekdays),
            format_func=labels(_weekday_names()),
            key=SERVICE_PREFIX + "policy.weekdays",
        )
        left, right = st.columns(2)
        start = left.time_input(
            t("service.policy.day_start"), value=cal.day_start, key=SERVICE_PREFIX + "policy.start"
        )
        end = right.time_input(
            t("service.policy.day_end"), value=cal.day_end, key=SERVICE_PREFIX + "policy.end"
        )
        holidays = left.text_area(
            t("service.policy.holidays"),
            value="\n".join(d.isoformat() for d in sorted(cal.holidays)),
            help=t("service.policy.days_help"),
            key=SERVICE_PREFIX + "policy.holidays",
        )
        workdays = right.text_area(
            t("service.policy.workdays"),
            value="\n".join(d.isoformat() for d in sorted(cal.workdays)),
            help=t("service.policy.days_help"),
            key=SERVICE_PREFIX + "policy.workdays",
        )
        st.markdown(f"**{t('service.policy.tiers')}**")
        schemes = [choice.name for choice in scheme_choices(ctx.engine)]
        tag_names = [tag.name for tag in load_tags(ctx.engine)]
        tiers = st.data_editor(
            _tiers_frame(policy).replace({"scheme": {"": NONE}, "tag": {"": NONE}}),
            num_rows="dynamic",
            hide_index=True,
            column_config=_tier_config(schemes, tag_names),
            key=SERVICE_PREFIX + "policy.tiers",
        )
        st.markdown(f"**{t('service.policy.targets')}**")
        targets = st.data_editor(
            _targets_frame(policy).replace({"priority": {ALL: EVERY}}),
            num_rows="dynamic",
            hide_index=True,
            column_config=_target_config(editable=True),
            key=SERVICE_PREFIX + "policy.targets",
        )
        saved = st.form_submit_button(t("service.policy.save"), icon=":material/save:")
    if not saved:
        return
    try:
        payload = {
            "clock": clock,
            "calendar": {
                "weekdays": weekdays,
                "day_start": start.strftime("%H:%M") if isinstance(start, dt.time) else start,
                "day_end": end.strftime("%H:%M") if isinstance(end, dt.time) else end,
                "holidays": [d.isoformat() for d in parse_day_list(holidays)],
                "workdays": [d.isoformat() for d in parse_day_list(workdays)],
            },
            "tiers": [
                {
                    **row,
                    "segments": [
                        s.strip() for s in str(row.get("segments") or "").split(",") if s.strip()
                    ],
                }
                for row in _rows(tiers)
            ],
            "targets": _rows(targets),
        }
        save_sla_policy(ctx.engine, payload, actor=ctx.actor)
    except CrmError as error:
        show_error(error)
        return
    st.session_state[KEY_NOTICE] = t("service.policy.saved")
    st.rerun()
