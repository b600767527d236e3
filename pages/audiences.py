"""Audiences: build a target list from segments, tags and filters with a live count and
revenue, preview the contact policy's exclusions, download the list (analysts and
admins; masked unless the role may see personal data), see the tags and their rules,
the ready-made trigger lists, and the contact policy (admins edit it).

The facts are cached per (store, data version, as-of date, window); everything below
the selectors evaluates cached arrays (see ui/audiences.py). Downloads are generated
when clicked (a deferred download): the file is written and the export recorded at
that moment, with the contacts as they are then.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable

import pandas as pd
import streamlit as st

from crm_core import asof, auth
from crm_core.asof import WINDOW_DAYS
from crm_core.customers.segments import (
    resolve_scheme_ref,
    scheme_choices,
    segment_label,
)
from crm_core.customers.tags import (
    BUILTIN_TAGS,
    TAG_FIELDS,
    delete_tag,
    field_label,
    save_tag,
    tag_label,
    tag_table,
)
from crm_core.errors import CrmError
from crm_core.i18n import translate
from crm_core.outreach.audiences import (
    DEFAULT_EXPORT_COLUMNS,
    EXPORT_COLUMNS,
    FILE_FORMATS,
    RANGE_FIELDS,
    Audience,
    AudienceFacts,
    apply_policy,
    audience_size,
    channel_label,
    column_header,
    exclusion_summary,
    export_audience,
    export_frame,
    export_trigger,
    select_members,
)
from crm_core.outreach.policy import EXCLUSION_REASONS, ContactPolicy, load_policy, save_policy
from crm_core.outreach.privacy import mask_personal_columns
from crm_core.outreach.triggers import (
    MARKETING_TRIGGERS,
    TRIGGER_LISTS,
    TriggerSettings,
    load_trigger_settings,
    save_trigger_settings,
    trigger_list,
)
from crm_core.store.models import CONTACT_CHANNELS
from ui.audiences import (
    KEY_CHANNELS,
    KEY_COLUMNS,
    KEY_CONTACT_CHANNEL,
    KEY_DOWNLOAD,
    KEY_EXCLUDE_SEGMENTS,
    KEY_EXCLUDE_TAGS,
    KEY_FORMAT,
    KEY_INCLUDE_SEGMENTS,
    KEY_INCLUDE_TAGS,
    KEY_POLICY_FORM,
    KEY_POLICY_NOTICE,
    KEY_PROVINCES,
    KEY_RANGE,
    KEY_SCHEME,
    KEY_TAG_DELETE,
    KEY_TAG_NAME,
    KEY_TAG_NOTICE,
    KEY_TAG_PICK,
    KEY_TAG_RULE,
    KEY_TAG_SAVE,
    KEY_TAGS_MODE,
    KEY_TRIGGER_CHANNEL,
    KEY_TRIGGER_DOWNLOAD,
    KEY_TRIGGER_FORM,
    KEY_TRIGGER_NOTICE,
    KEY_VERSION,
    audience_facts,
    contacts,
    current_tags,
)
from ui.context import (
    KEY_WINDOW,
    current_as_of,
    current_language,
    current_user,
    run_context,
    show_error,
    t,
)
from ui.data import get_engine
from ui.schemes import scheme_picker

NO_CHANNEL = "none"
PREVIEW_ROWS = 200
TRIGGER_ROWS_SHOWN = 500
NEW_TAG = "__new__"
TABLE_ROW_PX = 35
TAG_TABLE_MAX_PX = 720
TRIGGER_COLUMNS = ("customer_id", "name", "address", "segment", "tags")


def _labels(keys: dict[str, str]) -> Callable[[object], str]:
    """A format_func from a dict built in this run (AppTest calls it outside the run)."""
    return lambda option: keys.get(option, str(option))


# ------------------------------------------------------------------------ scheme


def _scheme_choice() -> tuple:
    """The scheme picked in the shared picker and its stored id (None for a preset)."""
    choice, version = scheme_picker(
        scheme_choices(get_engine()),
        scheme_key=KEY_SCHEME,
        version_key=KEY_VERSION,
        label_key="audiences.scheme",
        help_key="audiences.scheme_help",
    )
    return resolve_scheme_ref(get_engine(), choice.name, version)


# ------------------------------------------------------------------------ builder


def _range_inputs(name: str) -> tuple[float | None, float | None]:
    left, right = st.columns(2)
    label = field_label(name, current_language())
    with left:
        low = st.number_input(
            t("audiences.range.min", field=label), value=None, key=f"{KEY_RANGE}{name}.min"
        )
    with right:
        high = st.number_input(
            t("audiences.range.max", field=label), value=None, key=f"{KEY_RANGE}{name}.max"
        )
    return low, high


def _audience_widgets(
    facts: AudienceFacts, scheme_name: str, version: int | None, window: int | None
) -> Audience:
    """The builder's widgets; returns the audience they define."""
    language = current_language()
    segment_names = facts.assignment.names
    segment_labels = {name: segment_label(name, language) for name in segment_names}
    tag_names = facts.tags.names
    tag_labels = {name: tag_label(name, language) for name in tag_names}
    for key, options in (
        (KEY_INCLUDE_SEGMENTS, segment_names),
        (KEY_EXCLUDE_SEGMENTS, segment_names),
        (KEY_INCLUDE_TAGS, tag_names),
        (KEY_EXCLUDE_TAGS, tag_names),
    ):
        if key in st.session_state:
            st.session_state[key] = [v for v in st.session_state[key] if v in options]
    left, right = st.columns(2)
    with left:
        include_segments = st.multiselect(
            t("audiences.include_segments"),
            segment_names,
            format_func=_labels(segment_labels),
            key=KEY_INCLUDE_SEGMENTS,
            placeholder=t("audiences.everyone"),
        )
        include_tags = st.multiselect(
            t("audiences.include_tags"),
            tag_names,
            format_func=_labels(tag_labels),
            key=KEY_INCLUDE_TAGS,
            placeholder=t("audiences.no_tag_filter"),
        )
        mode = st.radio(
            t("audiences.tags_mode"),
            options=["any", "all"],
            format_func=_labels(
                {m: translate(f"audiences.tags_mode.{m}", language) for m in ("any", "all")}
            ),
            key=KEY_TAGS_MODE,
            horizontal=True,
        )
    with right:
        exclude_segments = st.multiselect(
            t("audiences.exclude_segments"),
            segment_names,
            format_func=_labels(segment_labels),
            key=KEY_EXCLUDE_SEGMENTS,
            placeholder=t("audiences.nobody"),
        )
        exclude_tags = st.multiselect(
            t("audiences.exclude_tags"),
            tag_names,
            format_func=_labels(tag_labels),
            key=KEY_EXCLUDE_TAGS,
            placeholder=t("audiences.nobody"),
        )
    with st.expander(t("audiences.filters"), icon=":material/filter_alt:"):
        _, provinces = facts.category_codes("province")
        _, channels = facts.category_codes("channel")
        channel_labels = {c: translate(f"audiences.acquisition.{c}", language) for c in channels}
        chosen_provinces = st.multiselect(
            t("audiences.provinces"),
            sorted(provinces),
            key=KEY_PROVINCES,
            placeholder=t("audiences.everywhere"),
        )
        chosen_channels = st.multiselect(
            t("audiences.channels"),
            sorted(channels),
            format_func=_labels(channel_labels),
            key=KEY_CHANNELS,
            placeholder=t("audiences.every_channel"),
        )
        ranges = {name: _range_inputs(name) for name in RANGE_FIELDS}
    return Audience(
        scheme=scheme_name,
        scheme_version=version,
        window_days=window,
        include_segments=tuple(include_segments),
        exclude_segments=tuple(exclude_segments),
        include_tags=tuple(include_tags),
        exclude_tags=tuple(exclude_tags),
        tags_mode=mode,
        provinces=tuple(chosen_provinces),
        channels=tuple(chosen_channels),
        **ranges,
    )


def audience_download(
    facts: AudienceFacts,
    audience: Audience,
    channel: str | None,
    policy: ContactPolicy,
    columns: list[str],
    file_format: str,
    actor: auth.Actor,
    language: str,
) -> Callable[[], bytes]:
    """The deferred download: writes the file and records the export when called."""
    engine = get_engine()

    def build() -> bytes:
        exported, _ = export_audience(
            engine,
            facts,
            audience,
            channel=channel,
            policy=policy,
            actor=actor,
            columns=columns,
            file_format=file_format,
            language=language,
        )
        return exported.content

    return build


def _download_options(prefix: str = "") -> tuple[list[str], str]:
    language = current_language()
    if KEY_COLUMNS + prefix not in st.session_state:
        st.session_state[KEY_COLUMNS + prefix] = list(DEFAULT_EXPORT_COLUMNS)
    columns = st.multiselect(
        t("audiences.columns"),
        list(EXPORT_COLUMNS),
        format_func=_labels({c: column_header(c, language) for c in EXPORT_COLUMNS}),
        key=KEY_COLUMNS + prefix,
    )
    file_format = st.radio(
        t("audiences.format"),
        options=list(FILE_FORMATS),
        format_func=_labels({"csv": "CSV", "xlsx": "Excel (XLSX)"}),
        key=KEY_FORMAT + prefix,
        horizontal=True,
    )
    return columns, file_format


def _channel_radio(key: str) -> str | None:
    language = current_language()
    options = [*CONTACT_CHANNELS, NO_CHANNEL]
    chosen = st.radio(
        t("audiences.contact_channel"),
        options=options,
        format_func=_labels(
            {c: channel_label(None if c == NO_CHANNEL else c, language) for c in options}
        ),
        key=key,
        horizontal=True,
        help=t("audiences.contact_channel_help"),
    )
    return None if chosen == NO_CHANNEL else chosen


@st.fragment
def _builder(
    facts: AudienceFacts, scheme_name: str, version: int | None, window: int | None
) -> None:
    """The audience builder: a widget here reruns this fragment alone."""
    language = current_language()
    actor = current_user()
    audience = _audience_widgets(facts, scheme_name, version, window)
    try:
        members = select_members(facts, audience)
    except CrmError as error:
        show_error(error)
        return
    size = audience_size(facts, members)
    tiles = st.columns(4)
    tiles[0].metric(t("audiences.size.customers"), f"{size.customers:,}", border=True)
    tiles[1].metric(
        t("audiences.size.revenue"),
        f"{size.revenue:,.0f}",
        border=True,
        help=t("audiences.size.revenue_help"),
    )
    st.subheader(t("audiences.policy.preview"))
    channel = _channel_radio(KEY_CONTACT_CHANNEL)
    policy = load_policy(get_engine())
    counts = contacts(facts.as_of, facts.window_days, policy.cap_window_days)
    result = apply_policy(facts, members, channel, policy, counts)
    tiles[2].metric(t("audiences.policy.kept"), f"{result.kept:,}", border=True)
    tiles[3].metric(t("audiences.policy.excluded"), f"{result.excluded:,}", border=True)
    st.markdown(exclusion_summary(result, language))
    reasons = pd.DataFrame(
        {
            "reason": [
                translate(
                    f"audiences.reason_name.{r}", language, channel=channel_label(channel, language)
                )
                for r in EXCLUSION_REASONS
            ],
            "customers": list(result.excluded_counts.values()),
        }
    )
    st.dataframe(
        reasons,
        hide_index=True,
        column_config={
            "reason": st.column_config.TextColumn(t("audiences.policy.reason")),
            "customers": st.column_config.NumberColumn(
                t("audiences.policy.customers"), format="%d"
            ),
        },
    )
    st.subheader(t("audiences.download.title"))
    if not actor.may(auth.DOWNLOAD):
        st.info(t("audiences.download.not_allowed"), icon=":material/lock:")
        return
    columns, file_format = _download_options()
    if not columns:
        st.warning(t("audiences.download.no_columns"))
        return
    preview = export_frame(facts, result.kept_positions[:PREVIEW_ROWS], columns, channel, language)
    preview = mask_personal_columns(preview, actor)
    preview.columns = [column_header(c, language) for c in preview.columns]
    st.caption(t("audiences.download.preview", shown=len(preview), total=result.kept))
    st.dataframe(preview, hide_index=True)
    st.download_button(
        t("audiences.download.button", count=result.kept),
        data=audience_download(
            facts, audience, channel, policy, columns, file_format, actor, language
        ),
        file_name=f"audience-{facts.as_of.isoformat()}.{file_format}",
        mime=FILE_FORMATS[file_format],
        key=KEY_DOWNLOAD,
        icon=":material/download:",
        type="primary",
        disabled=result.kept == 0,
        help=t("audiences.download.help"),
    )
    if not actor.may(auth.SEE_PERSONAL_DATA):
        st.caption(t("audiences.download.masked"))


# ------------------------------------------------------------------------ tags


def _tags_tab(facts: AudienceFacts) -> None:
    language = current_language()
    notice = st.session_state.pop(KEY_TAG_NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check:")
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
            "customers": st.column_config.NumberColumn(t("tags.column.customers"), format="%d"),
            "share": st.column_config.ProgressColumn(
                t("tags.column.share"), min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )
    if not current_user().may(auth.EDIT_TAGS):
        st.caption(t("tags.edit.not_allowed"))
        return
    _tag_editor(facts)


def _tag_editor(facts: AudienceFacts) -> None:
    language = current_language()
    st.subheader(t("tags.edit.title"))
    editable = current_tags()
    options = [NEW_TAG, *(tag.name for tag in editable)]
    labels = {
        NEW_TAG: t("tags.edit.new"),
        **{tag.name: tag_label(tag.name, language) for tag in editable},
    }
    previous = st.session_state.get(f"{KEY_TAG_PICK}.previous")
    pick = st.selectbox(t("tags.edit.pick"), options, format_func=_labels(labels), key=KEY_TAG_PICK)
    if pick != previous or KEY_TAG_RULE not in st.session_state:
        st.session_state[f"{KEY_TAG_PICK}.previous"] = pick
        chosen = next((tag for tag in editable if tag.name == pick), None)
        st.session_state[KEY_TAG_NAME] = "" if chosen is None else chosen.name
        example = {
            "all": [
                {"field": "frequency", "op": ">=", "value": 3},
                {"field": "last_csat", "op": ">=", "value": 4},
            ]
        }
        st.session_state[KEY_TAG_RULE] = json.dumps(
            example if chosen is None else chosen.condition, ensure_ascii=False, indent=2
        )
    st.text_input(
        t("tags.edit.name"),
        key=KEY_TAG_NAME,
        disabled=pick != NEW_TAG,
        help=t("tags.edit.name_help"),
    )
    st.text_area(t("tags.edit.rule"), key=KEY_TAG_RULE, height=180, help=t("tags.edit.rule_help"))
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
            try:
                condition = json.loads(st.session_state[KEY_TAG_RULE])
            except json.JSONDecodeError as error:
                st.error(
                    t("tags.error.json", detail=error.msg, line=error.lineno, column=error.colno)
                )
                return
            tag = save_tag(get_engine(), name, condition, current_user())
            st.session_state[KEY_TAG_NOTICE] = t(
                "tags.edit.saved", name=tag_label(tag.name, language)
            )
            st.session_state.pop(KEY_TAG_RULE, None)
            st.rerun()
        if remove:
            delete_tag(get_engine(), pick, current_user())
            st.session_state[KEY_TAG_NOTICE] = t(
                "tags.edit.removed", name=tag_label(pick, language)
            )
            st.session_state.pop(KEY_TAG_RULE, None)
            st.session_state.pop(KEY_TAG_PICK, None)
            st.rerun()
    except CrmError as error:
        show_error(error)


# ------------------------------------------------------------------------ triggers


def _days_text(days: tuple[int, ...]) -> str:
    return ", ".join(str(d) for d in days)


def _parse_days(text: str) -> list[float]:
    parts = [p for p in text.replace("，", ",").replace(" ", ",").split(",") if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        return [math.nan]


def _trigger_settings_form(settings: TriggerSettings) -> None:
    actor = current_user()
    with st.expander(t("triggers.settings.title"), icon=":material/tune:", expanded=False):
        if not actor.may(auth.EDIT_TRIGGERS):
            st.caption(t("triggers.settings.read_only"))
        with st.form(KEY_TRIGGER_FORM):
            left, right = st.columns(2)
            winback = left.text_input(
                t("triggers.settings.winback_days"), _days_text(settings.winback_days)
            )
            lost = right.text_input(
                t("triggers.settings.lost_days"), _days_text(settings.lost_days)
            )
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
            submitted = st.form_submit_button(
                t("triggers.settings.save"), disabled=not actor.may(auth.EDIT_TRIGGERS)
            )
        if submitted:
            try:
                new_settings = TriggerSettings(
                    winback_days=tuple(_parse_days(winback)),
                    lost_days=tuple(_parse_days(lost)),
                    new_customer_delay_hours=float(delay),
                    unpaid_max_age_hours=float(max_age),
                    large_order_amount=float(large),
                    thank_you_min_csat=int(csat),
                    thank_you_within_hours=float(within),
                )
                save_trigger_settings(get_engine(), new_settings, actor)
                st.session_state[KEY_TRIGGER_NOTICE] = t("triggers.settings.saved")
                st.rerun()
            except CrmError as error:
                show_error(error)


def _reference_moment(as_of: dt.date) -> dt.datetime:
    """Now when the as-of date is today, else the last second of the as-of day."""
    return asof.reference_moment(as_of, dt.datetime.now())


def trigger_download(
    facts: AudienceFacts,
    name: str,
    settings: TriggerSettings,
    channel: str | None,
    policy: ContactPolicy,
    at: dt.datetime,
    actor: auth.Actor,
    language: str,
) -> Callable[[], bytes]:
    """The deferred download of one trigger list (written and recorded when called)."""
    engine = get_engine()

    def build() -> bytes:
        exported, _ = export_trigger(
            engine,
            facts,
            name,
            settings,
            channel=channel,
            policy=policy,
            actor=actor,
            columns=TRIGGER_COLUMNS,
            language=language,
            at=at,
        )
        return exported.content

    return build


def _triggers_tab(facts: AudienceFacts) -> None:
    language = current_language()
    actor = current_user()
    engine = get_engine()
    notice = st.session_state.pop(KEY_TRIGGER_NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check:")
    settings = load_trigger_settings(engine)
    _trigger_settings_form(settings)
    at = _reference_moment(facts.as_of)
    st.caption(t("triggers.moment", moment=at.isoformat(sep=" ")))
    channel = _channel_radio(KEY_TRIGGER_CHANNEL)
    policy = load_policy(engine)
    counts = contacts(facts.as_of, facts.window_days, policy.cap_window_days)
    for name in TRIGGER_LISTS:
        rows = trigger_list(name, engine, facts.features, facts.as_of, settings, at)
        header = t(f"triggers.{name}.title", count=len(rows))
        with st.expander(header, expanded=False):
            st.caption(t(f"triggers.{name}.help", **_trigger_params(settings)))
            if name in MARKETING_TRIGGERS and len(rows):
                positions = pd.Index(facts.customer_ids).get_indexer(rows["customer_id"])
                result = apply_policy(
                    facts, pd.unique(positions[positions >= 0]), channel, policy, counts
                )
                st.markdown(exclusion_summary(result, language))
            shown = mask_personal_columns(rows.head(TRIGGER_ROWS_SHOWN), actor)
            shown.columns = [column_header(c, language) for c in shown.columns]
            st.dataframe(shown, hide_index=True)
            if not actor.may(auth.DOWNLOAD):
                st.caption(t("audiences.download.not_allowed"))
                continue
            st.download_button(
                t("triggers.download"),
                data=trigger_download(
                    facts,
                    name,
                    settings,
                    channel,
                    policy,
                    at,
                    actor,
                    language,
                ),
                file_name=f"{name}-{facts.as_of.isoformat()}.csv",
                mime=FILE_FORMATS["csv"],
                key=f"{KEY_TRIGGER_DOWNLOAD}{name}",
                icon=":material/download:",
                disabled=len(rows) == 0,
            )


def _trigger_params(settings: TriggerSettings) -> dict[str, object]:
    return {
        "winback_days": _days_text(settings.winback_days),
        "lost_days": _days_text(settings.lost_days),
        "delay": f"{settings.new_customer_delay_hours:g}",
        "max_age": f"{settings.unpaid_max_age_hours:g}",
        "large": f"{settings.large_order_amount:,.0f}",
        "csat": settings.thank_you_min_csat,
        "within": f"{settings.thank_you_within_hours:g}",
    }


# ------------------------------------------------------------------------ policy


def _policy_tab() -> None:
    actor = current_user()
    notice = st.session_state.pop(KEY_POLICY_NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check:")
    policy = load_policy(get_engine())
    st.markdown(t("audiences.policy.explained", **policy.to_dict()))
    if not actor.may(auth.EDIT_POLICY):
        st.info(t("audiences.policy.admins_only"), icon=":material/lock:")
        return
    with st.form(KEY_POLICY_FORM):
        values = {
            name: st.number_input(
                t(f"audiences.policy.field.{name}"),
                value=int(value),
                min_value=1 if name == "cap_window_days" else 0,
                step=1,
                key=f"{KEY_POLICY_FORM}.{name}",
            )
            for name, value in policy.to_dict().items()
        }
        submitted = st.form_submit_button(t("audiences.policy.save"), type="primary")
    if submitted:
        try:
            save_policy(
                get_engine(), ContactPolicy(**{k: int(v) for k, v in values.items()}), actor
            )
            st.session_state[KEY_POLICY_NOTICE] = t("audiences.policy.saved")
            st.rerun()
        except CrmError as error:
            show_error(error)


# ------------------------------------------------------------------------ page


def main() -> None:
    st.title(t("audiences.title"))
    st.caption(t("audiences.caption"))
    if run_context().latest_order is None:
        st.info(t("app.empty_store"), icon=":material/inbox:")
        return
    as_of = current_as_of()
    top = st.columns([2, 2, 1])
    with top[0]:
        language = current_language()
        window = st.radio(
            t("audiences.window"),
            options=list(WINDOW_DAYS),
            format_func=_labels(
                {w: translate(f"audiences.window.{w}", language) for w in WINDOW_DAYS}
            ),
            key=KEY_WINDOW,
            horizontal=True,
            help=t("audiences.window_help"),
        )
    with top[1]:
        try:
            scheme, scheme_id = _scheme_choice()
        except CrmError as error:
            show_error(error)
            return
    window_days = WINDOW_DAYS[window]
    with st.spinner(t("audiences.loading")):
        try:
            facts = audience_facts(as_of, window_days, scheme, scheme_id)
        except CrmError as error:
            show_error(error)
            return
    builder, tags, triggers, policy = st.tabs(
        [
            t("audiences.tab.builder"),
            t("audiences.tab.tags"),
            t("audiences.tab.triggers"),
            t("audiences.tab.policy"),
        ]
    )
    with builder:
        _builder(facts, scheme.name, scheme.version, window_days)
    with tags:
        _tags_tab(facts)
    with triggers:
        with st.spinner(t("audiences.loading")):
            all_history = (
                facts if window_days is None else audience_facts(as_of, None, scheme, scheme_id)
            )
        _triggers_tab(all_history)
    with policy:
        _policy_tab()


main()
