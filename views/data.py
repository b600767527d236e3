"""Data (analysts and admins): upload exports of any entity with an editable column
mapping, see what was imported and refused, and merge duplicate customers."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui.data_import as di
from crm_core import auth
from crm_core.bootstrap import demo_shop_info
from crm_core.demo import remove_demo_shop
from crm_core.errors import CrmError
from crm_core.ingest import (
    ENTITY_NAMES,
    ImportOptions,
    check_mapping,
    entity_spec,
    find_template,
    import_file,
    list_templates,
    merge_customers,
    save_template,
    suggest_mapping,
)
from crm_core.ingest.history import batch_mapping, import_rejects
from crm_core.ingest.mapping import complete_mapping
from crm_core.ingest.validate import plausible_until
from crm_core.ingest.values import guess_day_first
from crm_core.ingest.words import unknown_words
from ui.context import current_language, current_user, listed, run_context, show_error, t
from ui.data import quality_table
from ui.data_batch import batch_tab
from ui.uploads import file_uploader
from ui.warm_up import warming_up

KEY_REMOVE_DEMO = "crm.data.remove_demo"
KEY_REMOVE_DEMO_SURE = "crm.data.remove_demo.sure"


def _day_first_guess(table) -> bool:
    return any(guess_day_first(table.frame[column]) for column in table.frame.columns)


def _choose_mapping(engine, entity: str, table, file_id: str) -> tuple[dict, str, int | None, dict]:
    """The mapping to start from (saved template or suggestion), the editor's key, the
    chosen template's id and the words it maps."""
    columns = list(table.frame.columns)
    templates = list_templates(engine, entity)
    automatic = find_template(engine, entity, columns)
    names = dict(zip(templates["id"], templates["name"], strict=True))
    options = [None, *names]
    index = options.index(automatic["id"]) if automatic else 0
    chosen = st.selectbox(
        t("data.template.load"),
        options,
        index=index,
        format_func={None: t("data.template.none"), **names}.get,
        key=f"{di.KEY_TEMPLATE}.{file_id}.{entity}",
    )
    if chosen is None:
        suggested = suggest_mapping(table.frame, entity)
        return suggested, f"{di.KEY_MAPPING}.{file_id}.{entity}", None, {}
    if automatic and chosen == automatic["id"]:
        st.info(t("data.template.applied", name=names[chosen]))
    saved = templates.set_index("id").loc[chosen]
    editor_key = f"{di.KEY_MAPPING}.{file_id}.{entity}.{chosen}"
    words = (saved["options"] or {}).get("value_map") or {}
    return complete_mapping(columns, saved["mapping"]), editor_key, chosen, words


def _save_template_form(
    engine, entity: str, mapping: dict, columns: list[str], chosen: int | None, value_map: dict
) -> None:
    """Save the edited mapping and the words mapped; under the name of the template it
    started from (chosen), it updates that template for this file's columns."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    name = left.text_input(t("data.template.name"), key=di.KEY_TEMPLATE_NAME)
    if right.button(t("data.template.save"), key=di.KEY_SAVE_TEMPLATE):
        try:
            save_template(
                engine,
                name,
                entity,
                mapping,
                columns,
                options={"value_map": value_map},
                actor=current_user(),
                replaces=chosen,
            )
        except CrmError as error:
            show_error(error)
        else:
            st.success(t("data.template.saved", name=name.strip()))


def _run_import(
    engine, upload, data: bytes, shown_as: str, entity: str, mapping: dict, options, sheet
) -> None:
    """Import the upload; its result is kept for what the form shows (di.KEY_RESULT:
    the file, entity and sheet as `_upload_form` names them, and the result)."""
    st.session_state.pop(di.KEY_RESULT, None)
    bar = st.progress(0.0, text=t("data.import.running", file=upload.name))
    shown = [0.0]

    def progress(fraction: float) -> None:
        if fraction - shown[0] >= 0.01 or fraction >= 1.0:
            shown[0] = fraction
            bar.progress(
                min(max(fraction, 0.0), 1.0), text=t("data.import.running", file=upload.name)
            )

    try:
        result = import_file(
            engine,
            data,
            entity,
            mapping=mapping,
            options=options,
            sheet=sheet,
            file_name=upload.name,
            actor=current_user(),
            progress=progress,
        )
    except CrmError as error:
        bar.empty()
        show_error(error)
        return
    bar.empty()
    st.session_state[di.KEY_RESULT] = (shown_as, result)
    st.rerun()  # the next run reads the new data version; the result stays in the session


def demo_notice() -> None:
    """While the store holds the demo shop: say so, and let an admin remove it."""
    ctx = run_context()
    info = demo_shop_info(ctx.engine)
    if not info:
        return
    st.info(t("demo.data_notice", customers=info.get("customers", 0)), icon=":material/storefront:")
    if not ctx.actor.may(auth.MANAGE_STORE):
        return
    with st.expander(t("demo.remove.title"), icon=":material/delete:"):
        st.markdown(t("demo.remove.explained"))
        sure = st.checkbox(t("demo.remove.confirm"), key=KEY_REMOVE_DEMO_SURE)
        if st.button(
            t("demo.remove.button"), disabled=not sure, type="primary", key=KEY_REMOVE_DEMO
        ):
            try:
                remove_demo_shop(ctx.engine, ctx.actor)
            except CrmError as error:
                show_error(error)
                return
            st.cache_data.clear()
            st.session_state.pop(KEY_REMOVE_DEMO_SURE, None)
            st.rerun()


def upload_tab() -> None:
    engine = run_context().engine
    entity = st.selectbox(
        t("data.entity"),
        ENTITY_NAMES,
        format_func={name: t(f"data.entity.{name}") for name in ENTITY_NAMES}.get,
        key=di.KEY_ENTITY,
    )
    st.caption(t(f"data.entity_help.{entity}"))
    upload = file_uploader(
        t("data.upload.file"),
        ["csv", "txt", "tsv", "xlsx", "xls", "gz"],  # .xls: told to save it as .xlsx
        di.KEY_FILE,
        help=t("data.upload.file_help"),
    )
    shown_file = _upload_form(engine, entity, upload) if upload is not None else None
    imported_file, result = st.session_state.get(di.KEY_RESULT, (None, None))
    if result is not None and imported_file == shown_file:  # not under another form
        di.show_result(result)
        if warming_up(run_context()):
            st.caption(t("data.warm_up.running"))


def _upload_form(engine, entity: str, upload) -> str | None:
    """The upload's preview, options and mapping, and its Import button; returns what
    it shows (the file, entity and sheet), or None when the file cannot be read."""
    data = upload.getvalue()
    file_id = di.upload_id(upload.name, data)
    sheet = None
    try:
        if data[:4] == b"PK\x03\x04":
            sheet = st.selectbox(
                t("data.upload.sheet"),
                di.workbook_sheets(file_id, upload.name, data),
                key=f"{di.KEY_SHEET}.{file_id}",
            )
        table = di.preview(file_id, upload.name, sheet, data)
    except CrmError as error:
        show_error(error)
        return None
    if table.kind == "xlsx":
        st.caption(t("data.upload.detected_xlsx", sheet=table.sheet, rows=len(table.frame)))
    else:
        st.caption(
            t(
                "data.upload.detected",
                encoding=table.encoding,
                separator=di.separator_name(table.separator),
                rows=len(table.frame),
            )
        )
    guess = _day_first_guess(table)
    day_first = st.checkbox(
        t("data.upload.day_first"),
        value=guess,
        help=t("data.upload.day_first_help"),
        key=f"{di.KEY_DAY_FIRST}.{file_id}",
    )
    if guess:
        st.caption(t("data.upload.day_first_guess"))
    today = dt.date.today()
    reject_future = st.checkbox(
        t("data.upload.reject_future", date=today.isoformat()), value=True, key=di.KEY_REJECT_FUTURE
    )

    st.subheader(t("data.mapping.title"))
    st.caption(t("data.mapping.help"))
    start, editor_key, chosen, saved_words = _choose_mapping(engine, entity, table, file_id)
    required = listed(t(f"data.field.{name}") for name in entity_spec(entity).required)
    st.caption(t("data.mapping.required", fields=required))
    mapping = di.mapping_editor(di.mapping_frame(table.frame, start), entity, editor_key)
    columns = list(table.frame.columns)
    try:
        check_mapping(columns, entity, mapping)
        usable = True
    except CrmError as error:
        st.warning(error.message(current_language()))
        usable = False
    unknown = unknown_words(table.frame, entity, mapping) if usable else None
    value_map = di.words_editor(unknown, entity, f"{editor_key}.words", saved_words)
    _save_template_form(engine, entity, mapping, columns, chosen, value_map)

    st.subheader(t("data.preview.title"))
    st.dataframe(di.preview_rows(table.frame), placeholder="")
    shown_as = f"{file_id}.{entity}.{sheet}"
    if st.button(t("data.import.button"), type="primary", disabled=not usable, key=di.KEY_IMPORT):
        options = ImportOptions(
            day_first=day_first,
            as_of=today if reject_future else None,
            value_map=value_map,
            latest_date=plausible_until(today),
        )
        _run_import(engine, upload, data, shown_as, entity, mapping, options, sheet)
    return shown_as


def history_tab() -> None:
    history = di.import_history_frame()
    if history.empty:
        st.info(t("data.history.empty"))
        return
    shown = history.drop(columns=["file_sha256"]).assign(
        entity=history["entity"].map(lambda name: t(f"data.entity.{name}"))
    )
    st.dataframe(
        shown,
        hide_index=True,
        placeholder="",
        column_config={
            column: st.column_config.Column(t(f"data.history.col.{column}"))
            for column in shown.columns
        },
    )
    with_rejects = history[history["rejected"] > 0]
    if with_rejects.empty:
        return
    labels = {
        row.id: t("data.history.batch_label", id=row.id, file=row.file_name, when=row.created_at)
        for row in with_rejects.itertuples(index=False)
    }
    batch = st.selectbox(
        t("data.history.pick"),
        list(labels),
        format_func=labels.get,
        key=f"{di.KEY_HISTORY_BATCH}.{next(iter(labels))}",  # a new import starts at it
    )
    engine = run_context().engine
    file_name = with_rejects.set_index("id").loc[batch, "file_name"]
    di.show_rejects(
        import_rejects(engine, int(batch)),
        batch_mapping(engine, int(batch)),
        f"{file_name}.rejects.csv",
        f"history.{batch}",
    )


def duplicates_tab() -> None:
    notice = st.session_state.pop(di.KEY_NOTICE, None)
    if notice:
        st.success(notice)
    st.caption(t("data.duplicates.help"))
    found = di.duplicates_frame()
    if found.empty:
        st.info(t("data.duplicates.none"))
        return
    labels = {
        group: t(
            "data.duplicates.group_label",
            matches=listed(
                f"{t(f'data.duplicates.{matched_on}')} {value}"
                for matched_on, value in part.drop_duplicates("match")[
                    ["matched_on", "match_value"]
                ].itertuples(index=False)
            ),
            count=part["customer_id"].nunique(),
        )
        for group, part in found.groupby("group", sort=True)
    }
    group = st.selectbox(
        t("data.duplicates.group"), list(labels), format_func=labels.get, key=di.KEY_GROUP
    )
    part = found[found["group"] == group].drop_duplicates("customer_id")
    part = part.sort_values("customer_id", ignore_index=True)
    st.dataframe(
        part.drop(columns=["group", "match", "matched_on", "match_value"]),
        hide_index=True,
        placeholder="",
        column_config={
            column: st.column_config.Column(t(f"data.duplicates.col.{column}"))
            for column in part.columns
        },
    )
    ids = part.sort_values("orders", ascending=False, kind="stable")["customer_id"].tolist()
    survivor = st.selectbox(t("data.duplicates.survivor"), ids, key=f"{di.KEY_SURVIVOR}.{group}")
    others = [customer for customer in ids if customer != survivor]
    merged = st.multiselect(
        t("data.duplicates.merged"),
        others,
        default=others,
        key=f"{di.KEY_MERGED}.{group}.{survivor}",
    )
    engine = run_context().engine
    request = (survivor, tuple(merged))
    if st.button(t("data.duplicates.preview"), key=di.KEY_PREVIEW):
        try:
            plan = merge_customers(engine, survivor, merged, preview=True, actor=current_user())
        except CrmError as error:
            show_error(error)
            return
        st.session_state[di.KEY_PLAN] = (request, plan)
    stored = st.session_state.get(di.KEY_PLAN)
    if not stored or stored[0] != request:
        return
    plan = stored[1]
    st.info(
        t(
            "data.duplicates.plan",
            orders=plan.moves["orders"],
            tickets=plan.moves["tickets"],
            events=plan.moves["events"],
            touches=plan.moves["campaign_touches"],
            surveys=plan.moves["survey_responses"],
            dropped=plan.touches_dropped,
            survivor=survivor,
        )
    )
    if plan.fields_filled:
        filled = listed(t(f"data.field.{name}") for name in plan.fields_filled)
        st.caption(t("data.duplicates.filled", fields=filled))
    if st.button(t("data.duplicates.merge"), type="primary", key=di.KEY_MERGE):
        try:
            merge_customers(engine, survivor, merged, preview=False, actor=current_user())
        except CrmError as error:
            show_error(error)
            return
        st.session_state.pop(di.KEY_PLAN, None)
        st.session_state[di.KEY_NOTICE] = t(
            "data.duplicates.done", count=len(merged), survivor=survivor
        )
        st.rerun()


st.title(t("data.title"))
if not current_user().may(auth.IMPORT):
    st.warning(t("data.not_allowed"))
    st.stop()
st.caption(t("data.intro"))
demo_notice()
upload, linked, history, duplicates, quality = st.tabs(
    [
        t("data.tab.upload"),
        t("data.tab.batch"),
        t("data.tab.history"),
        t("data.tab.duplicates"),
        t("quality.title"),
    ]
)
with upload:
    upload_tab()
with linked:
    batch_tab(run_context())
with history:
    history_tab()
with duplicates:
    duplicates_tab()
with quality:
    st.caption(t("quality.intro"))
    st.table(quality_table(run_context()).set_index(t("quality.check")))
