"""The Data page's "Linked files" tab: several exports of one shop uploaded together,
each file's kind, its mapping and which file supplies what it lacks, the words to map,
and one import of them all (crm_core.ingest.batch)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core.errors import CrmError
from crm_core.ingest import ImportOptions
from crm_core.ingest.batch import (
    KINDS,
    ONE_PER_ROW,
    PAYMENTS,
    STORE,
    BatchFile,
    BatchPlan,
    guess_kind,
    import_batch,
    person_key_candidates,
    plan_batch,
)
from crm_core.ingest.read import read_file
from crm_core.ingest.validate import plausible_until
from ui.context import RunContext, show_error, t
from ui.data import quality_notes
from ui.data_import import field_label, words_editor
from ui.uploads import file_uploader

KEY_FILES = "crm.data.batch.files"
KEY_KIND = "crm.data.batch.kind."
KEY_WORDS = "crm.data.batch.words."
KEY_IMPORT = "crm.data.batch.import"
KEY_RESULT = "crm.data.batch.result"
KEY_PERSON = "crm.data.batch.person."


def _options(value_map: dict) -> ImportOptions:
    return ImportOptions(value_map=value_map, latest_date=plausible_until(dt.date.today()))


def _kind_label(kind: str) -> str:
    return t("data.batch.payments") if kind == PAYMENTS else t(f"data.entity.{kind}")


@st.cache_data(show_spinner=False, max_entries=32)
def _guessed_kind(name: str, data: bytes) -> str:
    return guess_kind(read_file(data, file_name=name, limit_rows=200).frame)


def _source_label(source: str) -> str:
    if source == STORE:
        return t("data.batch.from_store")
    if source == ONE_PER_ROW:
        return t("data.batch.one_per_row")
    return t("data.batch.from_file", file=source)


def _file_table(planned) -> pd.DataFrame:
    """One row per field the file gives: its column, or the file it is linked from."""
    rows = [
        {"field": field_label(field), "source": column}
        for column, field in planned.mapping.items()
        if field
    ]
    rows += [
        {"field": field_label(field), "source": _source_label(source)}
        for field, source in planned.links.items()
    ]
    return pd.DataFrame(rows, columns=["field", "source"])


def batch_tab(ctx: RunContext) -> None:
    """Upload several linked files, see the plan, map unknown words, import them all."""
    st.caption(t("data.batch.intro"))
    uploads = file_uploader(
        t("data.batch.files"),
        ["csv", "txt", "tsv", "xlsx", "gz"],
        KEY_FILES,
        accept_multiple_files=True,
    )
    done = st.session_state.pop(KEY_RESULT, None)
    if done:
        for line in done:
            st.success(line, icon=":material/check:")
        quality_notes(ctx)
    if not uploads:
        return
    files = []
    for upload in uploads:
        data = upload.getvalue()
        try:
            guessed = _guessed_kind(upload.name, data)
        except CrmError as error:
            show_error(error)
            return
        kind = st.selectbox(
            t("data.batch.kind", file=upload.name),
            KINDS,
            index=KINDS.index(guessed),
            format_func={kind: _kind_label(kind) for kind in KINDS}.get,
            key=f"{KEY_KIND}{upload.name}",
        )
        files.append(BatchFile(kind, data, file_name=upload.name))
    person_key = _person_key(ctx, files)
    value_map = {}
    for round_ in range(2):  # the words chosen below are part of the plan
        try:
            plan = plan_batch(ctx.engine, files, _options(value_map), person_key=person_key)
        except CrmError as error:
            show_error(error)
            return
        if round_ == 1:
            break
        value_map = _plan_view(plan)
    if st.button(
        t("data.batch.import", count=len(files)),
        type="primary",
        disabled=not plan.unknown_words.empty,
        key=KEY_IMPORT,
    ):
        try:
            result = import_batch(
                ctx.engine,
                files,
                actor=ctx.actor,
                options=_options(value_map),
                person_key=person_key,
            )
        except CrmError as error:
            show_error(error)
            return
        st.session_state[KEY_RESULT] = result.summary_lines()
        st.rerun()
    if not plan.unknown_words.empty:
        st.caption(t("data.batch.map_first"))


def _person_key(ctx: RunContext, files: list[BatchFile]) -> str | None:
    """When the customers file has a column grouping its ids into people, say so and
    offer it as the person key (on by default); the chosen column or None."""
    customers = next((f for f in files if f.kind == "customers"), None)
    if customers is None:
        return None
    plan = plan_batch(ctx.engine, [customers])
    frame = plan.prepared[0].frame
    candidates = person_key_candidates(frame, plan.files[0].mapping)
    if candidates.empty:
        return None
    best = candidates.iloc[0]
    st.subheader(t("data.batch.person_title"))
    st.warning(
        t(
            "data.batch.person_found",
            file=customers.file_name,
            column=best["column"],
            ids=f"{best['ids']:,}",
            people=f"{best['people']:,}",
        ),
        icon=":material/group:",
    )
    use = st.checkbox(
        t("data.batch.person_use", column=best["column"]),
        value=True,
        key=f"{KEY_PERSON}{customers.file_name}",
    )
    return str(best["column"]) if use else None


def _plan_view(plan: BatchPlan) -> dict:
    """Each file's fields and where they come from, and its unknown words to map;
    returns the words mapped, merged over the files ({field: {word: value}})."""
    value_map: dict[str, dict[str, str]] = {}
    for planned in plan.files:
        st.subheader(f"{planned.file_name} · {_kind_label(planned.kind)}")
        st.caption(t("data.batch.rows", rows=f"{planned.rows:,}"))
        st.dataframe(
            _file_table(planned),
            hide_index=True,
            column_config={
                "field": st.column_config.TextColumn(t("data.batch.field")),
                "source": st.column_config.TextColumn(t("data.batch.source")),
            },
        )
        if planned.kind != PAYMENTS and len(planned.unknown):
            chosen = words_editor(
                planned.unknown,
                planned.kind,
                f"{KEY_WORDS}{planned.file_name}",
                help_key="data.batch.words_help",
            )
            for name, words in chosen.items():
                value_map.setdefault(name, {}).update(words)
    return value_map
