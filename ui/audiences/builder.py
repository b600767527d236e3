"""The Audiences page's builder tab: segments, tags and filters define an audience with a
live count and revenue, the contact policy's exclusions are previewed, and the kept
customers are downloaded (a deferred download: the file is written and the export
recorded when clicked, with the contacts as they are then)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from crm_core import auth, numbers
from crm_core.customers.segments import segment_label
from crm_core.customers.tags import field_label, tag_label
from crm_core.errors import CrmError
from crm_core.i18n import translate
from crm_core.outreach.audiences import (
    DEFAULT_EXPORT_COLUMNS,
    EXPORT_COLUMNS,
    FILE_FORMATS,
    FOR_SENDING,
    MAX_HOLDOUT_SHARE,
    PREDICTION_EXPORT_COLUMNS,
    RANGE_FIELDS,
    TAG_MODES,
    Audience,
    AudienceFacts,
    audience_file_stem,
    audience_filters,
    audience_size,
    column_header,
    export_audience,
    export_frame,
    list_signature,
    same_list_exports,
    select_members,
)
from crm_core.outreach.policy import (
    ContactPolicy,
    apply_policy,
    exclusion_summary,
    exclusion_table,
    load_policy,
)
from crm_core.outreach.privacy import mask_personal_columns
from crm_core.predict.runs import RISK_LEVELS
from ui.audiences import (
    FORMAT_LABELS,
    KEY_BOUGHT,
    KEY_CHANNELS,
    KEY_COLUMNS,
    KEY_CONTACT_CHANNEL,
    KEY_CROSS_SELL,
    KEY_DOWNLOAD,
    KEY_EXCLUDE_SEGMENTS,
    KEY_EXCLUDE_TAGS,
    KEY_FORMAT,
    KEY_HOLDOUT,
    KEY_INCLUDE_SEGMENTS,
    KEY_INCLUDE_TAGS,
    KEY_ITEM_LEVEL,
    KEY_NEXT_BEST,
    KEY_NOT_BOUGHT,
    KEY_PROVINCES,
    KEY_PURPOSE,
    KEY_RANGE,
    KEY_RISK_LEVELS,
    KEY_TAGS_MODE,
    KEY_WITHIN,
    channel_radio,
    contacts,
    labels,
    purpose_radio,
)
from ui.auth import actor_check
from ui.baskets import item_labels
from ui.context import RunContext, current_language, show_error, t
from ui.tables import number_column

PREVIEW_ROWS = 200


def _range_inputs(
    name: str, language: str, *, percent: bool = False, help_text: str | None = None
) -> tuple[float | None, float | None]:
    """A from/to pair of number inputs (empty = open); `percent`: a 0-1 field typed
    as 0-100 %."""
    left, right = st.columns(2)
    label = field_label(name, language)
    bounds: dict[str, float] = {}
    if percent:
        label = t("audiences.range.percent", field=label)
        bounds = {"min_value": 0.0, "max_value": 100.0, "step": 1.0}
    with left:
        low = st.number_input(
            t("audiences.range.min", field=label),
            value=None,
            key=f"{KEY_RANGE}{name}.min",
            help=help_text,
            **bounds,
        )
    with right:
        high = st.number_input(
            t("audiences.range.max", field=label),
            value=None,
            key=f"{KEY_RANGE}{name}.max",
            help=help_text,
            **bounds,
        )
    if percent:
        return tuple(None if v is None else v / 100 for v in (low, high))
    return low, high


def prediction_widgets(facts: AudienceFacts, language: str) -> dict[str, object]:
    """The filters on the newest prediction run's scores (churn risk levels,
    probability still active, 12-month CLV) as `Audience` fields; none (and a caption
    saying where to run them) before the first run."""
    if facts.prediction_run is None:
        st.caption(t("audiences.predictions.none"))
        return {}
    with st.expander(t("audiences.predictions"), icon=":material/online_prediction:"):
        st.caption(t("audiences.predictions.run", run=facts.prediction_run))
        levels = st.multiselect(
            field_label("churn_risk_level", language),
            list(RISK_LEVELS),
            format_func=labels({v: translate(f"predict.level.{v}", language) for v in RISK_LEVELS}),
            key=KEY_RISK_LEVELS,
            placeholder=t("audiences.every_risk_level"),
            help=t("audiences.predictions.levels_help"),
        )
        return {
            "churn_risk_levels": tuple(levels),
            "probability_alive": _range_inputs(
                "probability_alive",
                language,
                percent=True,
                help_text=t("audiences.predictions.alive_help"),
            ),
            "clv_12m": _range_inputs(
                "clv_12m", language, help_text=t("audiences.predictions.clv_help")
            ),
        }


def cross_sell_widgets(ctx: RunContext, facts: AudienceFacts) -> dict[str, object]:
    """The cross-sell filters as `Audience` fields: bought any of some items (SKUs or
    categories) in the last N days, never bought others, next best category; what
    customers bought is read only once the filters are switched on."""
    with st.expander(t("audiences.cross_sell"), icon=":material/shopping_basket:"):
        if facts.purchases is None or not st.toggle(
            t("audiences.cross_sell.use"), key=KEY_CROSS_SELL, help=t("audiences.cross_sell.help")
        ):
            return {}
        level = st.radio(
            t("baskets.level"),
            ("category", "sku"),
            format_func=labels({v: t(f"baskets.level.{v}") for v in ("category", "sku")}),
            key=KEY_ITEM_LEVEL,
            horizontal=True,
        )
        with st.spinner(t("audiences.cross_sell.loading")):
            items = list(facts.purchases.items(level).items)
            categories = list(facts.purchases.items("category").items)
        shown = item_labels(ctx, level, items)
        bought_key, not_bought_key = KEY_BOUGHT + level, KEY_NOT_BOUGHT + level
        _keep_known({bought_key: items, not_bought_key: items, KEY_NEXT_BEST: categories})
        left, middle, right = st.columns([2, 1, 2])
        bought = left.multiselect(
            t("audiences.cross_sell.bought"),
            items,
            format_func=labels(shown),
            key=bought_key,
            placeholder=t("audiences.cross_sell.any_item"),
        )
        within = middle.number_input(
            t("audiences.cross_sell.within"),
            min_value=1,
            value=None,
            step=1,
            key=KEY_WITHIN,
            placeholder=t("audiences.cross_sell.ever"),
            help=t("audiences.cross_sell.within_help", as_of=facts.as_of.isoformat()),
        )
        not_bought = right.multiselect(
            t("audiences.cross_sell.not_bought"),
            items,
            format_func=labels(shown),
            key=not_bought_key,
            placeholder=t("audiences.cross_sell.no_item"),
            help=t("audiences.cross_sell.not_bought_help"),
        )
        next_best = st.multiselect(
            t("audiences.cross_sell.next_best"),
            categories,
            key=KEY_NEXT_BEST,
            placeholder=t("audiences.cross_sell.any_category"),
            help=t("audiences.cross_sell.next_best_help"),
        )
    return {
        "item_level": level,
        "bought_items": tuple(bought),
        "bought_within_days": None if within is None or not bought else int(within),
        "not_bought_items": tuple(not_bought),
        "next_best_categories": tuple(next_best),
    }


def _keep_known(options_by_key: dict[str, list[str]]) -> None:
    """Drop chosen values that are no longer options (another scheme, a removed tag)."""
    for key, options in options_by_key.items():
        if key in st.session_state:
            st.session_state[key] = [v for v in st.session_state[key] if v in options]


def audience_widgets(
    ctx: RunContext, facts: AudienceFacts, scheme_name: str, version: int | None
) -> Audience:
    """The builder's widgets; returns the audience they define."""
    language = ctx.language
    segment_names = facts.assignment.names
    segment_labels = {name: segment_label(name, language) for name in segment_names}
    tag_names = facts.tags.names
    tag_labels = {name: tag_label(name, language) for name in tag_names}
    _keep_known(
        {
            KEY_INCLUDE_SEGMENTS: segment_names,
            KEY_EXCLUDE_SEGMENTS: segment_names,
            KEY_INCLUDE_TAGS: tag_names,
            KEY_EXCLUDE_TAGS: tag_names,
        }
    )
    left, right = st.columns(2)
    with left:
        include_segments = st.multiselect(
            t("audiences.include_segments"),
            segment_names,
            format_func=labels(segment_labels),
            key=KEY_INCLUDE_SEGMENTS,
            placeholder=t("audiences.everyone"),
        )
        include_tags = st.multiselect(
            t("audiences.include_tags"),
            tag_names,
            format_func=labels(tag_labels),
            key=KEY_INCLUDE_TAGS,
            placeholder=t("audiences.no_tag_filter"),
        )
        mode = st.radio(
            t("audiences.tags_mode"),
            options=list(TAG_MODES),
            format_func=labels(
                {m: translate(f"audiences.tags_mode.{m}", language) for m in TAG_MODES}
            ),
            key=KEY_TAGS_MODE,
            horizontal=True,
        )
    with right:
        exclude_segments = st.multiselect(
            t("audiences.exclude_segments"),
            segment_names,
            format_func=labels(segment_labels),
            key=KEY_EXCLUDE_SEGMENTS,
            placeholder=t("audiences.nobody"),
        )
        exclude_tags = st.multiselect(
            t("audiences.exclude_tags"),
            tag_names,
            format_func=labels(tag_labels),
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
            format_func=labels(channel_labels),
            key=KEY_CHANNELS,
            placeholder=t("audiences.every_channel"),
        )
        ranges = {name: _range_inputs(name, language) for name in RANGE_FIELDS}
    predicted = prediction_widgets(facts, language)
    cross_sell = cross_sell_widgets(ctx, facts)
    return Audience(
        scheme=scheme_name,
        scheme_version=version,
        window_days=facts.window_days,
        include_segments=tuple(include_segments),
        exclude_segments=tuple(exclude_segments),
        include_tags=tuple(include_tags),
        exclude_tags=tuple(exclude_tags),
        tags_mode=mode,
        provinces=tuple(chosen_provinces),
        channels=tuple(chosen_channels),
        **ranges,
        **predicted,
        **cross_sell,
    )


def audience_download(
    ctx: RunContext,
    facts: AudienceFacts,
    audience: Audience,
    channel: str | None,
    policy: ContactPolicy,
    columns: list[str],
    file_format: str,
    purpose: str,
    holdout_share: float = 0.0,
) -> Callable[[], bytes]:
    """The deferred download: writes the file and records the export when called (with a
    random control group of `holdout_share` held out of the file and recorded), as the
    user still signed in at that moment."""
    still_signed_in = actor_check(ctx.engine)

    def build() -> bytes:
        exported, _ = export_audience(
            ctx.engine,
            facts,
            audience,
            channel=channel,
            policy=policy,
            actor=still_signed_in(),
            columns=columns,
            file_format=file_format,
            language=ctx.language,
            purpose=purpose,
            holdout_share=holdout_share,
        )
        return exported.content

    return build


def download_options(language: str, predicted: bool = True) -> tuple[list[str], str]:
    """The columns and the file format of a download (the prediction columns only when
    `predicted`: the facts hold a prediction run's scores)."""
    offered = [c for c in EXPORT_COLUMNS if predicted or c not in PREDICTION_EXPORT_COLUMNS]
    if KEY_COLUMNS not in st.session_state:
        st.session_state[KEY_COLUMNS] = list(DEFAULT_EXPORT_COLUMNS)
    _keep_known({KEY_COLUMNS: offered})
    columns = st.multiselect(
        t("audiences.columns"),
        offered,
        format_func=labels({c: column_header(c, language) for c in offered}),
        key=KEY_COLUMNS,
    )
    file_format = st.radio(
        t("audiences.format"),
        options=list(FILE_FORMATS),
        format_func=labels(FORMAT_LABELS),
        key=KEY_FORMAT,
        horizontal=True,
    )
    return columns, file_format


def holdout_input(purpose: str, kept: int) -> float:
    """The share (0-1) of a list for sending to hold out as a control group."""
    percent = st.number_input(
        t("audiences.holdout"),
        min_value=0,
        max_value=round(MAX_HOLDOUT_SHARE * 100),
        value=0,
        step=1,
        key=KEY_HOLDOUT,
        help=t("audiences.holdout_help"),
    )
    if percent:
        control = numbers.number_text(round(kept * percent / 100), "count", current_language())
        st.caption(t("audiences.holdout_note", control=control))
    return percent / 100


@st.fragment
def builder_tab(
    ctx: RunContext, facts: AudienceFacts, scheme_name: str, version: int | None
) -> None:
    """The audience builder: a widget here reruns this fragment alone."""
    language = ctx.language
    actor = ctx.actor
    try:  # a range typed upside down is the user's error
        audience = audience_widgets(ctx, facts, scheme_name, version)
        members = select_members(facts, audience)
    except CrmError as error:
        show_error(error)
        return
    size = audience_size(facts, members)
    tiles = st.columns(4)
    tiles[0].metric(
        t("audiences.size.customers"),
        numbers.number_text(size.customers, "count", language),
        border=True,
    )
    tiles[1].metric(
        t("audiences.size.revenue"),
        numbers.number_text(size.revenue, "money", language),
        border=True,
        help=t("audiences.size.revenue_help"),
    )
    st.subheader(t("audiences.policy.preview"))
    channel = channel_radio(KEY_CONTACT_CHANNEL, language)
    policy = load_policy(ctx.engine)
    signature = list_signature(audience_filters(facts, audience), channel)
    earlier = same_list_exports(ctx.engine, facts.as_of, signature)
    result = apply_policy(
        facts, members, channel, policy, contacts(ctx, facts, policy.cap_window_days, earlier)
    )
    tiles[2].metric(
        t("audiences.policy.kept"), numbers.number_text(result.kept, "count", language), border=True
    )
    tiles[3].metric(
        t("audiences.policy.excluded"),
        numbers.number_text(result.excluded, "count", language),
        border=True,
    )
    st.markdown(exclusion_summary(result, language))
    st.dataframe(
        exclusion_table(result, language),
        hide_index=True,
        column_config={
            "reason": st.column_config.TextColumn(t("audiences.policy.reason")),
            "customers": number_column(t("audiences.policy.customers"), "count"),
        },
    )
    st.subheader(t("audiences.download.title"))
    if not actor.may(auth.DOWNLOAD):
        st.info(t("audiences.download.not_allowed"), icon=":material/lock:")
        return
    columns, file_format = download_options(language, facts.prediction_run is not None)
    purpose = purpose_radio(KEY_PURPOSE, language)
    holdout_share = holdout_input(purpose, result.kept) if purpose == FOR_SENDING else 0.0
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
            ctx, facts, audience, channel, policy, columns, file_format, purpose, holdout_share
        ),
        file_name=f"{audience_file_stem(audience, facts.as_of)}.{file_format}",
        mime=FILE_FORMATS[file_format],
        key=KEY_DOWNLOAD,
        icon=":material/download:",
        type="primary",
        disabled=result.kept == 0,
        help=t("audiences.download.help"),
    )
    if not actor.may(auth.SEE_PERSONAL_DATA):
        st.caption(t("audiences.download.masked"))
