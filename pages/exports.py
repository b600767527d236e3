"""Exports: every downloaded list (who, when, as-of date, scheme version, channel, rows,
members) and the same list downloaded again from its record (same members, masked for
the role of who downloads it now; recorded as a copy that the frequency cap does not
count twice)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import streamlit as st

from crm_core import auth
from crm_core.customers.segments import scheme_label
from crm_core.errors import CrmError
from crm_core.i18n import translate
from crm_core.outreach.audiences import (
    FILE_FORMATS,
    channel_label,
    export_record,
    list_exports,
    redownload_export,
)
from ui.audiences import KEY_EXPORT_DOWNLOAD, KEY_EXPORT_FORMAT, KEY_EXPORT_PICK
from ui.context import current_language, current_user, t
from ui.data import get_engine


def _labels(keys: dict) -> Callable[[object], str]:
    return lambda option: keys.get(option, str(option))


def redownload(
    export_id: int, file_format: str, actor: auth.Actor, language: str
) -> Callable[[], bytes]:
    """The deferred download of an export again (written and recorded when called)."""
    engine = get_engine()

    def build() -> bytes:
        return redownload_export(
            engine, export_id, actor=actor, language=language, file_format=file_format
        ).content

    return build


def main() -> None:
    st.title(t("exports.title"))
    st.caption(t("exports.caption"))
    actor = current_user()
    if not actor.may(auth.DOWNLOAD):
        st.warning(t("audiences.download.not_allowed"), icon=":material/lock:")
        return
    language = current_language()
    engine = get_engine()
    exports = list_exports(engine, actor=actor)
    if exports.empty:
        st.info(t("exports.none"), icon=":material/inbox:")
        return
    shown = exports.assign(
        source=exports["source"].map(lambda s: translate(f"exports.source.{s}", language)),
        scheme=exports["scheme"].map(
            lambda s: scheme_label(s, language) if isinstance(s, str) else ""
        ),
        scheme_version=exports["scheme_version"].map(
            lambda v: "—" if pd.isna(v) else t("audiences.version_option", version=int(v))
        ),
        channel=exports["channel"].map(
            lambda c: channel_label(c if isinstance(c, str) else None, language)
        ),
    )
    column = st.column_config
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "id": column.NumberColumn(t("exports.column.id"), format="%d"),
            "created_at": column.DatetimeColumn(t("exports.column.created_at")),
            "created_by": column.TextColumn(t("exports.column.created_by")),
            "as_of": column.DateColumn(t("exports.column.as_of")),
            "source": column.TextColumn(t("exports.column.source")),
            "scheme": column.TextColumn(t("exports.column.scheme")),
            "scheme_version": column.TextColumn(t("exports.column.scheme_version")),
            "channel": column.TextColumn(t("exports.column.channel")),
            "file_format": column.TextColumn(t("exports.column.file_format")),
            "row_count": column.NumberColumn(t("exports.column.row_count"), format="%d"),
            "members": column.NumberColumn(t("exports.column.members"), format="%d"),
            "is_marketing": column.CheckboxColumn(t("exports.column.is_marketing")),
        },
    )
    st.subheader(t("exports.again.title"))
    ids = exports["id"].tolist()
    export_id = st.selectbox(
        t("exports.again.pick"),
        ids,
        format_func=_labels({i: t("exports.again.option", id=i) for i in ids}),
        key=KEY_EXPORT_PICK,
    )
    try:
        record = export_record(engine, int(export_id))
    except CrmError as error:
        st.error(error.message(language))
        return
    with st.expander(t("exports.again.details")):
        st.code(
            json.dumps(
                {"filters": record.filters, "policy": record.policy, "columns": record.columns},
                ensure_ascii=False,
                indent=2,
            ),
            language="json",
        )
    file_format = st.radio(
        t("audiences.format"),
        list(FILE_FORMATS),
        index=list(FILE_FORMATS).index(record.file_format),
        format_func=_labels({"csv": "CSV", "xlsx": "Excel (XLSX)"}),
        key=KEY_EXPORT_FORMAT,
        horizontal=True,
    )
    st.download_button(
        t("exports.again.button", id=record.id),
        data=redownload(record.id, file_format, actor, language),
        file_name=f"export-{record.id}.{file_format}",
        mime=FILE_FORMATS[file_format],
        key=KEY_EXPORT_DOWNLOAD,
        icon=":material/download:",
        help=t("exports.again.help"),
    )
    if not actor.may(auth.SEE_PERSONAL_DATA):
        st.caption(t("audiences.download.masked"))


main()
