"""Exports: every downloaded list (who, when, as-of date, scheme version, channel, rows,
members) and the same list downloaded again from its record (same members, masked for
the role of who downloads it now; recorded as a copy that the frequency cap does not
count twice)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from crm_core import auth
from crm_core.errors import CrmError
from crm_core.outreach.audiences import (
    FILE_FORMATS,
    export_details,
    export_record,
    exports_table,
    list_exports,
    redownload_export,
)
from ui.audiences import (
    FORMAT_LABELS,
    KEY_EXPORT_DOWNLOAD,
    KEY_EXPORT_FORMAT,
    KEY_EXPORT_PICK,
    labels,
)
from ui.auth import actor_check
from ui.context import RunContext, run_context, show_error, t
from ui.tables import number_column


def redownload(ctx: RunContext, export_id: int, file_format: str) -> Callable[[], bytes]:
    """The deferred download of an export again (written and recorded when called, as
    the user still signed in at that moment)."""
    still_signed_in = actor_check(ctx.engine)

    def build() -> bytes:
        return redownload_export(
            ctx.engine,
            export_id,
            actor=still_signed_in(),
            language=ctx.language,
            file_format=file_format,
        ).content

    return build


def _exports_table(ctx: RunContext, exports: pd.DataFrame) -> None:
    column = st.column_config
    st.dataframe(
        exports_table(exports, ctx.language),
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
            "row_count": number_column(t("exports.column.row_count"), "count"),
            "members": number_column(t("exports.column.members"), "count"),
            "is_marketing": column.CheckboxColumn(t("exports.column.is_marketing")),
        },
    )


def main() -> None:
    ctx = run_context()
    st.title(t("exports.title"))
    st.caption(t("exports.caption"))
    if not ctx.actor.may(auth.DOWNLOAD):
        st.warning(t("audiences.download.not_allowed"), icon=":material/lock:")
        return
    exports = list_exports(ctx.engine, actor=ctx.actor)
    if exports.empty:
        st.info(t("exports.none"), icon=":material/inbox:")
        return
    _exports_table(ctx, exports)
    st.subheader(t("exports.again.title"))
    ids = exports["id"].tolist()
    export_id = st.selectbox(
        t("exports.again.pick"),
        ids,
        format_func=labels({i: t("exports.again.option", id=i) for i in ids}),
        key=KEY_EXPORT_PICK,
    )
    try:
        record = export_record(ctx.engine, int(export_id))
    except CrmError as error:
        show_error(error)
        return
    with st.expander(t("exports.again.details"), expanded=True):
        st.table(
            export_details(record, ctx.language).rename(
                columns={"item": t("exports.detail.item"), "value": t("exports.detail.value")}
            ),
            hide_index=True,
        )
    file_format = st.radio(
        t("audiences.format"),
        list(FILE_FORMATS),
        index=list(FILE_FORMATS).index(record.file_format),
        format_func=labels(FORMAT_LABELS),
        key=KEY_EXPORT_FORMAT,
        horizontal=True,
    )
    st.download_button(
        t("exports.again.button", id=record.id),
        data=redownload(ctx, record.id, file_format),
        file_name=f"export-{record.id}.{file_format}",
        mime=FILE_FORMATS[file_format],
        key=KEY_EXPORT_DOWNLOAD,
        icon=":material/download:",
        help=t("exports.again.help"),
    )
    if not ctx.actor.may(auth.SEE_PERSONAL_DATA):
        st.caption(t("audiences.download.masked"))


main()
