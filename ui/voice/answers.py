"""The Customer voice page's tabs: NPS over time, NPS and CSAT by group, and what
customers wrote (frequent words with their NPS impact, the comments)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from crm_core import numbers
from crm_core.figures.voice import (
    DistributionLabels,
    ImpactLabels,
    IntervalLabels,
    ShareLabels,
    TrendLabels,
    band_shares_figure,
    interval_figure,
    nps_trend_figure,
    score_distribution_figure,
    word_impact_figure,
)
from crm_core.i18n import translate
from crm_core.voice.groups import DIMENSIONS, AnswerGroups, group_label
from crm_core.voice.nps import (
    MIN_ANSWERS,
    PERIOD_COLUMNS,
    PERIODS,
    nps_by_group,
    nps_by_membership,
    nps_by_period,
    nps_estimate,
    score_distribution,
)
from crm_core.voice.verbatims import verbatims, word_impacts, word_matrix, words_by_group
from ui.audiences import labels
from ui.context import RunContext, current_language, t
from ui.tables import dashed, grey_unranked, interval_text, number_column, table_download
from ui.voice import (
    BANDS,
    KEY_DIMENSION,
    KEY_GROUP_DOWNLOAD,
    KEY_GROUP_FORMAT,
    KEY_PERIOD,
    KEY_PERIOD_DOWNLOAD,
    KEY_PERIOD_FORMAT,
    KEY_TEXT_BANDS,
    KEY_TEXT_DIMENSION,
    KEY_TEXT_DOWNLOAD,
    KEY_TEXT_FORMAT,
    KEY_TEXT_GROUPS,
    KEY_TEXT_WORD,
)

PERIOD_TABLE_COLUMNS: tuple[str, ...] = tuple(
    name for name in PERIOD_COLUMNS if name not in ("period_start", "significant_change")
)
GROUP_TABLE_COLUMNS: tuple[str, ...] = (
    "label",
    "answers",
    "nps",
    "ci_low",
    "ci_high",
    "csat_answers",
    "csat_share",
    "csat_low",
    "csat_high",
    "csat_mean",
)
WORD_TABLE_COLUMNS: tuple[str, ...] = ("word", "answers", "share", "nps_with", "impact")
TEXT_COLUMNS: tuple[str, ...] = (
    "responded_at",
    "nps",
    "band",
    "comment",
    "csat",
    "segment",
    "tags",
)
TOP_WORDS = 30
LABEL_WIDTH = 240
"""Pixels of the group column: long names such as service experiences stay readable."""


def _band_names(language: str) -> dict[str, str]:
    return {band: translate(f"voice.band.{band}", language) for band in BANDS}


def headline(answers: pd.DataFrame) -> None:
    """Tiles: NPS of the answers with its interval, answers, CSAT share and mean, comments."""
    scores = answers["nps"].dropna().astype(int)
    promoters, detractors = int((scores >= 9).sum()), int((scores <= 6).sum())
    estimate = nps_estimate(promoters, detractors, len(scores))
    csat = answers["csat"].dropna().astype(float)
    comments = int(answers["comment"].notna().sum())
    language = current_language()
    tiles = st.columns(4)
    nps = float(estimate.nps)
    tiles[0].metric(
        t("voice.tile.nps"),
        "—" if math.isnan(nps) else f"{nps:+.1f}",
        border=True,
        help=t(
            "voice.tile.nps_help",
            low=f"{float(estimate.low):+.1f}" if len(scores) else "—",
            high=f"{float(estimate.high):+.1f}" if len(scores) else "—",
        ),
    )
    tiles[1].metric(
        t("voice.tile.answers"), numbers.number_text(len(scores), "count", language), border=True
    )
    share = 100.0 * float((csat >= 4).mean()) if len(csat) else math.nan
    tiles[2].metric(
        t("voice.tile.csat"),
        numbers.number_text(share, "percent", language),
        border=True,
        help=t(
            "voice.tile.csat_help",
            mean=f"{csat.mean():.2f}" if len(csat) else "—",
            n=numbers.number_text(len(csat), "count", language),
        ),
    )
    tiles[3].metric(
        t("voice.tile.comments"), numbers.number_text(comments, "count", language), border=True
    )


def trend_tab(ctx: RunContext, answers: pd.DataFrame) -> None:
    """NPS by period with its interval and significant changes, band shares, the 0-10
    distribution, the period table and its download."""
    period = st.radio(
        t("voice.period"),
        list(PERIODS),
        index=list(PERIODS).index("month"),
        format_func=labels({p: t(f"voice.period.{p}") for p in PERIODS}),
        key=KEY_PERIOD,
        horizontal=True,
    )
    periods = nps_by_period(answers, period)
    if periods.empty:
        st.info(t("voice.no_answers"), icon=":material/inbox:")
        return
    bands = _band_names(ctx.language)
    st.plotly_chart(
        nps_trend_figure(
            periods,
            TrendLabels(
                nps=t("voice.chart.nps"),
                answers=t("voice.chart.answers"),
                interval=t("voice.chart.interval"),
                significant=t("voice.chart.significant"),
            ),
        ),
        width="stretch",
    )
    st.caption(t("voice.chart.trend_caption"))
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('voice.chart.shares_title')}**")
        st.plotly_chart(
            band_shares_figure(periods, ShareLabels(share=t("voice.chart.share"), bands=bands)),
            width="stretch",
        )
    with right:
        st.markdown(f"**{t('voice.chart.distribution_title')}**")
        st.plotly_chart(
            score_distribution_figure(
                score_distribution(answers),
                DistributionLabels(
                    score=t("voice.chart.score"), answers=t("voice.chart.answers"), bands=bands
                ),
            ),
            width="stretch",
        )
    table = periods[list(PERIOD_TABLE_COLUMNS)]
    shown = pd.DataFrame(
        {
            "period": table["period"],
            "answers": table["answers"],
            "promoters": table["promoters"],
            "passives": table["passives"],
            "detractors": table["detractors"],
            "nps": dashed(table["nps"], "{:+.1f}"),
            "interval": interval_text(table["ci_low"], table["ci_high"], "{:+.1f}"),
            "change": dashed(table["change"], "{:+.1f}"),
            "change_p": dashed(table["change_p"], "{:.4f}"),
        }
    )
    text = st.column_config.TextColumn
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "period": text(t("voice.column.period")),
            "answers": number_column(t("voice.column.answers"), "count"),
            "promoters": number_column(t("voice.column.promoters"), "count"),
            "passives": number_column(t("voice.column.passives"), "count"),
            "detractors": number_column(t("voice.column.detractors"), "count"),
            "nps": text(t("voice.column.nps")),
            "interval": text(t("voice.column.interval"), help=t("voice.column.interval_help")),
            "change": text(t("voice.column.change")),
            "change_p": text(t("voice.column.change_p")),
        },
    )
    table_download(
        ctx,
        table,
        {name: t(f"voice.column.{name}") for name in PERIOD_TABLE_COLUMNS},
        label=t("voice.download.periods"),
        file_stem=f"nps-by-{period}-{ctx.as_of.isoformat()}",
        format_key=KEY_PERIOD_FORMAT,
        download_key=KEY_PERIOD_DOWNLOAD,
    )


def dimension_radio(key: str) -> str:
    return st.radio(
        t("voice.group.by"),
        list(DIMENSIONS),
        format_func=labels({d: t(f"voice.dimension.{d}") for d in DIMENSIONS}),
        key=key,
        horizontal=True,
    )


def group_table(
    answers: pd.DataFrame, groups: AnswerGroups, dimension: str, language: str
) -> pd.DataFrame:
    """NPS and CSAT per group of `dimension` (nps_by_group's columns plus 'label')."""
    if dimension == "tag":
        table = nps_by_membership(answers, groups.tags)
    else:
        table = nps_by_group(answers, getattr(groups, dimension))
    table["label"] = [group_label(dimension, name, language) for name in table["group"]]
    return table


def groups_tab(ctx: RunContext, answers: pd.DataFrame, groups: AnswerGroups) -> None:
    """NPS and CSAT by segment, tag, channel, region or service experience: a table with
    intervals (small groups greyed, never ranked), a chart and the download."""
    dimension = dimension_radio(KEY_DIMENSION)
    table = group_table(answers, groups, dimension, ctx.language)
    if table.empty:
        st.info(t("voice.no_answers"), icon=":material/inbox:")
        return
    shown = table[list(GROUP_TABLE_COLUMNS)]
    display = pd.DataFrame(
        {
            "label": table["label"],
            "answers": table["answers"],
            "nps": dashed(table["nps"], "{:+.1f}"),
            "nps_interval": interval_text(table["ci_low"], table["ci_high"], "{:+.1f}"),
            "csat_answers": table["csat_answers"],
            "csat_share": dashed(table["csat_share"], "{:.1f}%"),
            "csat_interval": interval_text(table["csat_low"], table["csat_high"], "{:.1f}%"),
            "csat_mean": dashed(table["csat_mean"], "{:.2f}"),
        }
    )
    text = st.column_config.TextColumn
    st.dataframe(
        grey_unranked(display, table["ranked"].to_numpy()),
        hide_index=True,
        column_config={
            "label": text(t(f"voice.dimension.{dimension}"), width=LABEL_WIDTH),
            "answers": number_column(t("voice.column.answers"), "count"),
            "nps": text(t("voice.column.nps")),
            "nps_interval": text(t("voice.column.interval"), help=t("voice.column.interval_help")),
            "csat_answers": number_column(t("voice.column.csat_answers"), "count"),
            "csat_share": text(t("voice.column.csat_share")),
            "csat_interval": text(t("voice.column.csat_interval")),
            "csat_mean": text(t("voice.column.csat_mean")),
        },
    )
    st.caption(t("voice.group.caption", least=MIN_ANSWERS))
    st.plotly_chart(
        interval_figure(
            table,
            IntervalLabels(value=t("voice.chart.nps"), too_small=t("voice.group.too_small")),
            "nps",
            "ci_low",
            "ci_high",
        ),
        width="stretch",
    )
    table_download(
        ctx,
        shown,
        {name: t(f"voice.column.{name}") if name != "label" else t(f"voice.dimension.{dimension}")
         for name in GROUP_TABLE_COLUMNS},
        label=t("voice.download.groups"),
        file_stem=f"nps-by-{dimension}-{ctx.as_of.isoformat()}",
        format_key=KEY_GROUP_FORMAT,
        download_key=KEY_GROUP_DOWNLOAD,
    )  # fmt: skip


def _chosen_rows(groups: AnswerGroups, dimension: str, chosen: list[str]) -> np.ndarray:
    if not chosen:
        return np.ones(len(groups.segment), dtype=bool)
    if dimension == "tag":
        return groups.tags[chosen].to_numpy(dtype=bool).any(axis=1)
    return getattr(groups, dimension).isin(chosen).to_numpy()


def _group_options(groups: AnswerGroups, dimension: str) -> list[str]:
    if dimension == "tag":
        return [name for name in groups.tags.columns if groups.tags[name].any()]
    values = getattr(groups, dimension).dropna().astype(str)
    return sorted(values.unique().tolist())


def text_tab(ctx: RunContext, answers: pd.DataFrame, groups: AnswerGroups) -> None:
    """Frequent words with their NPS impact (in the chosen groups), the words of each
    group, and the comments filtered by group, band and word, masked for roles that may
    not see personal data."""
    language = ctx.language
    dimension = dimension_radio(KEY_TEXT_DIMENSION)
    options = _group_options(groups, dimension)
    chosen = st.multiselect(
        t("voice.text.groups"),
        options,
        format_func=lambda name: group_label(dimension, name, language),
        key=KEY_TEXT_GROUPS,
        placeholder=t("voice.text.all_groups"),
    )
    rows = _chosen_rows(groups, dimension, [c for c in chosen if c in options])
    picked = answers[rows]
    matrix, words = word_matrix(picked["comment"])
    impacts = word_impacts(picked, matrix, words)
    st.subheader(t("voice.text.words_title"))
    if impacts.empty:
        st.info(t("voice.text.no_words"), icon=":material/chat_bubble_outline:")
    else:
        number = st.column_config.NumberColumn
        st.dataframe(
            impacts[list(WORD_TABLE_COLUMNS)].head(TOP_WORDS),
            hide_index=True,
            column_config={
                "word": st.column_config.TextColumn(t("voice.column.word")),
                "answers": number_column(t("voice.column.mentions"), "count"),
                "share": number_column(t("voice.column.share"), "percent"),
                "nps_with": number(t("voice.column.nps_with"), format="%+.1f"),
                "impact": number(
                    t("voice.column.impact"), format="%+.2f", help=t("voice.column.impact_help")
                ),
            },
        )
        st.plotly_chart(
            word_impact_figure(impacts, ImpactLabels(impact=t("voice.column.impact"))),
            width="stretch",
        )
        st.caption(t("voice.text.words_caption"))
    if dimension != "tag":
        with st.expander(t("voice.text.by_group_title"), icon=":material/view_list:"):
            by_group = words_by_group(picked, getattr(groups, dimension)[rows], top=5)
            if by_group.empty:
                st.info(t("voice.text.no_words"))
            else:
                by_group["group"] = [group_label(dimension, g, language) for g in by_group["group"]]
                st.dataframe(
                    by_group[["group", "word", "answers", "nps_with", "impact"]],
                    hide_index=True,
                    column_config={
                        "group": st.column_config.TextColumn(t(f"voice.dimension.{dimension}")),
                        "word": st.column_config.TextColumn(t("voice.column.word")),
                        "answers": number_column(t("voice.column.mentions"), "count"),
                        "nps_with": st.column_config.NumberColumn(
                            t("voice.column.nps_with"), format="%+.1f"
                        ),
                        "impact": st.column_config.NumberColumn(
                            t("voice.column.impact"), format="%+.2f"
                        ),
                    },
                )
    st.subheader(t("voice.text.comments_title"))
    band_names = _band_names(language)
    filter_left, filter_right = st.columns(2)
    bands = filter_left.multiselect(
        t("voice.text.bands"),
        list(BANDS),
        format_func=labels(band_names),
        key=KEY_TEXT_BANDS,
        placeholder=t("voice.text.all_bands"),
    )
    word = filter_right.text_input(t("voice.text.word"), key=KEY_TEXT_WORD, max_chars=50)
    commented = picked["comment"].notna().to_numpy()
    shown = picked[commented].assign(
        segment=groups.labelled("segment", language)[rows].to_numpy()[commented],
        tags=_tag_text(groups.tags[rows][commented], language),
    )
    comments = verbatims(shown, ctx.actor, bands=bands or None, word=word or None)
    comments["band"] = comments["band"].map(band_names)
    st.caption(t("voice.text.count", shown=len(comments)))
    table = comments[list(TEXT_COLUMNS)]
    st.dataframe(
        table.assign(csat=dashed(table["csat"], "{:.0f}")),
        hide_index=True,
        column_config={
            "responded_at": st.column_config.DatetimeColumn(
                t("voice.column.responded_at"), format="YYYY-MM-DD HH:mm"
            ),
            "nps": st.column_config.NumberColumn(t("voice.column.score"), format="%d"),
            "band": st.column_config.TextColumn(t("voice.column.band")),
            "csat": st.column_config.TextColumn(t("voice.column.csat")),
            "segment": st.column_config.TextColumn(t("voice.dimension.segment")),
            "tags": st.column_config.TextColumn(t("voice.dimension.tag")),
            "comment": st.column_config.TextColumn(t("voice.column.comment"), width="large"),
        },
    )
    table_download(
        ctx,
        table,
        {name: t(f"voice.column.{name}") for name in TEXT_COLUMNS},
        label=t("voice.download.comments"),
        file_stem=f"comments-{ctx.as_of.isoformat()}",
        format_key=KEY_TEXT_FORMAT,
        download_key=KEY_TEXT_DOWNLOAD,
    )


def _tag_text(tags: pd.DataFrame, language: str) -> np.ndarray:
    """Each row's tags as one text ('Promoter, Repeat buyer')."""
    separator = translate("app.list_separator", language)
    names = np.array([group_label("tag", name, language) for name in tags.columns], dtype=object)
    values = tags.to_numpy(dtype=bool)
    return np.array([separator.join(names[row]) for row in values], dtype=object)
