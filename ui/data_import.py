"""Helpers of the Data page: session keys, cached previews and lists, the mapping editor,
and the rendering of an import's outcome."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core import numbers
from crm_core.ingest import (
    ENTITIES,
    ImportResult,
    TableRead,
    duplicates_shown_to,
    import_history,
    likely_duplicate_customers,
    read_file,
    sheet_names,
)
from crm_core.ingest.history import (
    REASON_CODE_COLUMN,
    columns_hidden_from,
    rejects_csv,
    rejects_table,
)
from crm_core.ingest.quality import id_like_columns
from crm_core.ingest.words import ValueMap, field_values, word_fields
from crm_core.store import background_builds_running
from ui.context import DataKey, current_language, current_user, listed, run_context, t
from ui.data import quality_notes
from ui.tables import number_column

KEY_ENTITY = "crm.data.entity"
KEY_FILE = "crm.data.file"
KEY_SHEET = "crm.data.sheet"
KEY_DAY_FIRST = "crm.data.day_first"
KEY_REJECT_FUTURE = "crm.data.reject_future"
KEY_TEMPLATE = "crm.data.template"
KEY_MAPPING = "crm.data.mapping"
KEY_TEMPLATE_NAME = "crm.data.template_name"
KEY_SAVE_TEMPLATE = "crm.data.save_template"
KEY_IMPORT = "crm.data.import"
KEY_RESULT = "crm.data.result"
KEY_HISTORY_BATCH = "crm.data.history_batch"
KEY_GROUP = "crm.data.duplicates.group"
KEY_SURVIVOR = "crm.data.duplicates.survivor"
KEY_MERGED = "crm.data.duplicates.merged"
KEY_PREVIEW = "crm.data.duplicates.preview"
KEY_MERGE = "crm.data.duplicates.merge"
KEY_PLAN = "crm.data.duplicates.plan"
KEY_NOTICE = "crm.data.notice"

PREVIEW_ROWS = 200
SHOWN_REJECTS = 20
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "whitespace": "spaces"}


def upload_id(name: str, data: bytes) -> str:
    """A short id of an uploaded file's content (keys widgets and caches per file)."""
    return hashlib.sha1(data[: 1 << 20] + str(len(data)).encode() + name.encode()).hexdigest()[:16]


@st.cache_data(show_spinner=False, max_entries=8)
def workbook_sheets(file_id: str, name: str, _data: bytes) -> list[str]:
    return sheet_names(_data, file_name=name)


@st.cache_data(show_spinner=False, max_entries=8)
def preview(file_id: str, name: str, sheet: str | None, _data: bytes) -> TableRead:
    """The first rows of an upload, read as the import will read them."""
    return read_file(_data, file_name=name, sheet=sheet, limit_rows=PREVIEW_ROWS)


def separator_name(separator: str | None) -> str:
    key = SEPARATOR_NAMES.get(separator or ",", "comma").replace("spaces", "whitespace")
    return t(f"data.separator.{key}")


def field_label(field: str | None) -> str:
    return t(f"data.field.{field}") if field else t("data.mapping.ignore")


PREVIEW_ROWS = 20
PREVIEW_CELL_CHARS = 200


def preview_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The first rows of a file as the preview shows them: a cell cut to
    PREVIEW_CELL_CHARS characters (a line of megabytes stays readable and light)."""
    head = frame.head(PREVIEW_ROWS)
    return head.apply(lambda column: column.str.slice(0, PREVIEW_CELL_CHARS))


def mapping_frame(table: pd.DataFrame, mapping: dict[str, str | None]) -> pd.DataFrame:
    """The editor's rows: file column, the field it fills ("" = ignore), example values."""
    samples = [
        ", ".join(table[column].dropna().astype("str").head(3).str.slice(0, 40))
        for column in table.columns
    ]
    return pd.DataFrame(
        {
            "column": list(table.columns),
            "field": [mapping.get(column) or "" for column in table.columns],
            "sample": samples,
        }
    )


def mapping_editor(frame: pd.DataFrame, entity: str, key: str) -> dict[str, str | None]:
    """Show the mapping as an editable table; returns the edited {column: field}."""
    fields = [field.name for field in ENTITIES[entity].fields]
    labels = {name: field_label(name) for name in ["", *fields]}
    column = st.column_config
    edited = st.data_editor(
        frame,
        key=key,
        hide_index=True,
        placeholder=labels[""],  # an ignored column's empty cell reads "— ignore —"
        disabled=["column", "sample"],
        column_config={
            "column": column.TextColumn(t("data.mapping.column")),
            "field": column.SelectboxColumn(
                t("data.mapping.field"), options=["", *fields], format_func=labels.get
            ),
            "sample": column.TextColumn(t("data.mapping.sample")),
        },
    )
    return {row.column: (row.field or None) for row in edited.itertuples(index=False)}


REJECT_WORD = ""


def words_editor(
    unknown: pd.DataFrame | None,
    entity: str,
    key: str,
    saved: ValueMap | None = None,
    help_key: str = "data.words.help",
) -> ValueMap:
    """One editable table per field with words the app does not know (from
    words.unknown_words): each word's row count and what it means, "— reject —" by
    default or as the saved template says. Returns the user's value map."""
    if unknown is None or unknown.empty:
        return {}
    st.subheader(t("data.words.title"))
    st.caption(t(help_key))
    fields = {f.name: f for f in word_fields(entity)}
    value_map: ValueMap = {}
    for name, rows in unknown.groupby("field", sort=False):
        values = field_values(fields[name])
        known = (saved or {}).get(name, {})
        frame = pd.DataFrame(
            {
                "column": rows["column"].to_numpy(),
                "word": rows["word"].to_numpy(),
                "rows": rows["rows"].to_numpy(),
                "value": [known.get(word, REJECT_WORD) for word in rows["word"]],
            }
        )
        labels = {REJECT_WORD: t("data.words.reject")} | {
            value: t(f"data.value.{value}") for value in values
        }
        column = st.column_config
        edited = st.data_editor(
            frame,
            key=f"{key}.{name}",
            hide_index=True,
            placeholder=labels[REJECT_WORD],  # an unmapped word's empty cell reads "— reject —"
            disabled=["column", "word", "rows"],
            column_config={
                "column": column.TextColumn(t("data.words.column")),
                "word": column.TextColumn(t("data.words.word")),
                "rows": number_column(t("data.words.rows"), "count"),
                "value": column.SelectboxColumn(
                    f"{field_label(name)}: {t('data.words.value')}",
                    options=[REJECT_WORD, *values],
                    format_func=labels.get,
                    required=True,
                ),
            },
        )
        chosen = {row.word: row.value for row in edited.itertuples(index=False) if row.value}
        if chosen:
            value_map[name] = chosen
    return value_map


def show_result(result: ImportResult) -> None:
    """Counts, related tables, rejects by reason, the first rejected rows, download."""
    language = current_language()

    def count(value: int) -> str:
        return numbers.number_text(value, "count", language)

    st.success(
        t(
            "data.import.done",
            file=result.file_name,
            accepted=count(result.accepted),
            inserted=count(result.inserted),
            updated=count(result.updated),
            unchanged=count(result.unchanged),
            rejected=count(result.rejected),
        )
    )
    if result.changed_nothing:
        st.info(t("data.import.nothing_changed"))
    if background_builds_running():
        st.info(t("data.import.indexing"))
    if result.customers_created:
        st.info(t("data.import.customers_created", count=count(result.customers_created)))
    if result.removed:
        st.info(t("data.import.removed", count=count(result.removed)))
    for table, counts in result.related.items():
        st.caption(
            t(
                "data.import.related",
                table=t(f"data.entity.{table}"),
                inserted=count(counts.inserted),
                updated=count(counts.updated),
                unchanged=count(counts.unchanged),
            )
        )
    if result.ignored_columns:
        st.caption(t("data.import.ignored", columns=listed(result.ignored_columns)))
        id_like = id_like_columns(result.ignored_columns)
        if id_like:
            st.info(t("quality.ignored_ids", columns=listed(id_like)), icon=":material/key:")
    quality_notes(run_context())
    show_rejects(result.rejects, result.mapping, f"{result.file_name}.rejects.csv", "result")


def show_rejects(rejects: pd.DataFrame, mapping: dict[str, str], file_name: str, key: str) -> None:
    """Counts per reason, the first rejected rows and the CSV download of all of them."""
    if rejects.empty:
        st.caption(t("data.rejects.none"))
        return
    language = current_language()
    hide = columns_hidden_from(current_user(), mapping, rejects)
    st.subheader(t("data.rejects.title"))
    counts = rejects["reason"].value_counts()
    st.dataframe(
        pd.DataFrame(
            {
                t("data.rejects.reason"): [t(f"data.reason.{r}") for r in counts.index],
                t("data.rejects.count"): counts.to_numpy(),
            }
        ),
        hide_index=True,
    )
    st.caption(t("data.rejects.first", count=min(SHOWN_REJECTS, len(rejects))))
    first = rejects_table(rejects.head(SHOWN_REJECTS), language, hide)
    # the reason code is for a corrected file uploaded again; people read the reason
    st.dataframe(first.drop(columns=REASON_CODE_COLUMN), hide_index=True, placeholder="")
    st.download_button(
        t("data.rejects.download"),
        data=rejects_csv(rejects, language=language, hide=hide),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        key=f"crm.data.rejects_download.{key}",
    )


@st.cache_data(show_spinner=False, ttl=600)
def _history(_engine: Engine, key: DataKey) -> pd.DataFrame:
    return import_history(_engine)


def import_history_frame() -> pd.DataFrame:
    ctx = run_context()
    return _history(ctx.engine, ctx.data_key)


@st.cache_data(show_spinner=False, ttl=600)
def _duplicates(_engine: Engine, key: DataKey) -> pd.DataFrame:
    return likely_duplicate_customers(_engine)


def duplicates_frame() -> pd.DataFrame:
    """Likely duplicates with phone and e-mail masked for roles without that right."""
    ctx = run_context()
    return duplicates_shown_to(_duplicates(ctx.engine, ctx.data_key), ctx.actor)
