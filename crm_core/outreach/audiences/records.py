"""Export records: the list of every download (`list_exports`, and `exports_table` for
showing it), one record with its members, and `redownload_export`, which writes the
same members again from a record (recorded as a copy the frequency cap counts once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from crm_core import numbers
from crm_core.auth import DOWNLOAD, Actor, require
from crm_core.customers.segments import Scheme, preset, scheme_label, segment_label
from crm_core.customers.tags import tag_label
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, translate
from crm_core.outreach.audiences.downloads import export_list
from crm_core.outreach.audiences.facts import AudienceFacts, load_audience_facts, scheme_by_id
from crm_core.outreach.audiences.files import (
    EXPORT_COLUMNS,
    ExportedFile,
    check_format,
    column_header,
)
from crm_core.outreach.policy import channel_label
from crm_core.outreach.triggers import TriggerSettings, trigger_extra, trigger_list
from crm_core.store import models

EXPORT_LIST_COLUMNS = (
    "id",
    "created_at",
    "created_by",
    "as_of",
    "source",
    "scheme",
    "scheme_version",
    "channel",
    "file_format",
    "row_count",
    "members",
    "is_marketing",
)


def list_exports(engine: Engine, *, actor: Actor, limit: int = 500) -> pd.DataFrame:
    """The newest `limit` exports, newest first, with EXPORT_LIST_COLUMNS (source:
    audience, trigger or copy; scheme and scheme_version of the list's scheme);
    PermissionDenied unless `actor` may download."""
    require(actor, DOWNLOAD)
    ex = models.exports
    em = models.export_members
    counts = (
        select(em.c.export_id, func.count().label("members"))
        .group_by(em.c.export_id)
        .subquery("counts")
    )
    stmt = (
        select(
            ex.c.id,
            ex.c.created_at,
            ex.c.created_by,
            ex.c.as_of,
            ex.c.filters,
            ex.c.channel,
            ex.c.file_format,
            ex.c.row_count,
            counts.c.members,
            ex.c.is_marketing,
        )
        .select_from(ex.outerjoin(counts, counts.c.export_id == ex.c.id))
        .order_by(ex.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    filters = [row.filters if isinstance(row.filters, dict) else {} for row in rows]
    scheme = [f.get("scheme") or {} for f in filters]
    return pd.DataFrame(
        {
            "id": np.array([row.id for row in rows], dtype=np.int64),
            "created_at": pd.to_datetime(pd.Series([row.created_at for row in rows])),
            "created_by": pd.array([row.created_by for row in rows], dtype="str"),
            "as_of": pd.to_datetime(pd.Series([row.as_of for row in rows])),
            "source": pd.array([f.get("source") for f in filters], dtype="str"),
            "scheme": pd.array([s.get("name") for s in scheme], dtype="str"),
            "scheme_version": pd.array([s.get("version") for s in scheme], dtype="Int64"),
            "channel": pd.array([row.channel for row in rows], dtype="str"),
            "file_format": pd.array([row.file_format for row in rows], dtype="str"),
            "row_count": np.array([row.row_count for row in rows], dtype=np.int64),
            "members": np.array([row.members or 0 for row in rows], dtype=np.int64),
            "is_marketing": np.array([bool(row.is_marketing) for row in rows], dtype=bool),
        },
        columns=list(EXPORT_LIST_COLUMNS),
    )


@dataclass(frozen=True)
class ExportRecord:
    """One stored export."""

    id: int
    created_by: str
    created_at: dt.datetime
    as_of: dt.date
    scheme_id: int | None
    channel: str | None
    filters: dict
    policy: dict
    columns: list
    file_format: str
    row_count: int
    is_marketing: bool


def export_record(engine: Engine, export_id: int) -> ExportRecord:
    """The stored export `export_id`; InputError when there is none."""
    ex = models.exports
    with engine.connect() as conn:
        row = conn.execute(select(ex).where(ex.c.id == export_id)).first()
    if row is None:
        raise InputError("audiences.error.export_unknown", export_id=export_id)
    as_of = row.as_of if isinstance(row.as_of, dt.date) else dt.date.fromisoformat(str(row.as_of))
    return ExportRecord(
        id=int(row.id),
        created_by=row.created_by,
        created_at=row.created_at,
        as_of=as_of,
        scheme_id=row.scheme_id,
        channel=row.channel,
        filters=dict(row.filters or {}),
        policy=dict(row.policy or {}),
        columns=list(row.columns or []),
        file_format=row.file_format,
        row_count=int(row.row_count),
        is_marketing=bool(row.is_marketing),
    )


def export_member_ids(engine: Engine, export_id: int) -> list[str]:
    """The member ids of an export's file (its held-out control group left out), sorted."""
    em = models.export_members
    with engine.connect() as conn:
        rows = conn.execute(
            select(em.c.customer_id)
            .where(em.c.export_id == export_id, em.c.is_control == False)  # noqa: E712
            .order_by(em.c.customer_id)
        ).all()
    return [row.customer_id for row in rows]


def record_scheme(engine: Engine, record: ExportRecord) -> Scheme:
    """The scheme an export was made with: its saved version, else the preset named in
    the record's filters."""
    if record.scheme_id is not None:
        return scheme_by_id(engine, record.scheme_id)
    name = (record.filters.get("scheme") or {}).get("name") or "rfm11"
    return preset(name)


def record_window(record: ExportRecord) -> int | None:
    """The purchase window (days, None: all history) the export's facts were read with."""
    audience = record.filters.get("audience")
    if isinstance(audience, Mapping):
        return audience.get("window_days")
    return record.filters.get("window_days")


def redownload_export(
    engine: Engine,
    export_id: int,
    *,
    actor: Actor,
    language: str = DEFAULT_LANGUAGE,
    file_format: str | None = None,
    facts: AudienceFacts | None = None,
    created_at: dt.datetime | None = None,
) -> ExportedFile:
    """The same members as export `export_id`, written again with its columns (values
    as of its as-of date, masked for `actor`), recorded as a copy: source 'copy',
    not marketing, so the frequency cap counts the list once."""
    require(actor, DOWNLOAD)
    record = export_record(engine, export_id)
    source = record.filters
    if source.get("source") == "copy":
        return redownload_export(
            engine,
            int(source["copy_of"]),
            actor=actor,
            language=language,
            file_format=file_format,
            facts=facts,
            created_at=created_at,
        )
    if facts is None:
        facts = load_audience_facts(
            engine,
            record.as_of,
            record_window(record),
            record_scheme(engine, record),
            record.scheme_id,
            prediction_run=source.get("prediction_run"),  # the scores the list used
        )
    ids = export_member_ids(engine, export_id)
    chosen = [name for name in record.columns if name in EXPORT_COLUMNS]
    extra = None
    if source.get("source") == "trigger":
        name = source["trigger"]
        at = dt.datetime.fromisoformat(source["moment"]) if source.get("moment") else None
        rows = trigger_list(
            name,
            engine,
            facts.features,
            record.as_of,
            TriggerSettings.from_dict(source.get("settings")),
            at,
        )
        rows = rows.loc[rows["customer_id"].isin(ids)].reset_index(drop=True)
        ids = list(rows["customer_id"])
        extra = trigger_extra(rows, name, language)
        extra = extra[[c for c in extra.columns if c in record.columns]]
    positions = facts.positions(pd.Series(ids, dtype="str"))
    filters = {"source": "copy", "copy_of": record.id, "scheme": source.get("scheme")}
    return export_list(
        engine,
        facts,
        positions,
        actor=actor,
        channel=record.channel,
        columns=chosen or ["customer_id"],
        file_format=check_format(file_format or record.file_format),
        filters=filters,
        policy=record.policy,
        is_marketing=False,
        language=language,
        extra=extra,
        customer_ids=ids,
        file_prefix=f"export-{record.id}",
        created_at=created_at,
    )


DETAIL_COLUMNS: tuple[str, ...] = ("item", "value")
_RANGE_KINDS = {
    "recency_days": "days",
    "frequency": "count",
    "monetary": "money",
    "probability_alive": "share",
    "clv_12m": "money",
}
_NAME_LISTS = {
    "include_segments": "segment",
    "exclude_segments": "segment",
    "include_tags": "tag",
    "exclude_tags": "tag",
    "next_best_categories": "text",
    "bought_items": "text",
    "not_bought_items": "text",
    "provinces": "text",
    "channels": "text",
    "churn_risk_levels": "level",
}


def _detail_value(value: object, language: str) -> str:
    """A stored value as words: lists joined, numbers grouped, booleans yes/no."""
    if isinstance(value, bool):
        return translate("exports.detail.yes" if value else "exports.detail.no", language)
    if isinstance(value, int | float):
        return numbers.number_text(value, "value", language)
    if isinstance(value, list | tuple):
        return translate("app.list_separator", language).join(
            _detail_value(item, language) for item in value
        )
    return "" if value is None else str(value)


def _names(kind: str, names: list, language: str) -> str:
    shown = {
        "segment": lambda name: segment_label(name, language),
        "tag": lambda name: tag_label(name, language),
        "level": lambda name: translate(f"predict.level.{name}", language),
    }.get(kind, str)
    return translate("app.list_separator", language).join(shown(name) for name in names)


def export_details(record: ExportRecord, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """What an export holds and why, one row per fact in words of `language` (columns
    DETAIL_COLUMNS): its list (audience filters that were set, or the trigger and its
    settings), who the contact policy removed and why, the holdout, the policy in force
    and the file's columns. Filters left open are not listed."""
    rows: list[tuple[str, str]] = []

    def add(key: str, value: str, **params: object) -> None:
        rows.append((translate(f"exports.detail.{key}", language, **params), value))

    filters = dict(record.filters)
    source = str(filters.get("source", ""))
    add("source", translate(f"exports.source.{source}", language) if source else "—")
    scheme = filters.get("scheme") or {}
    if scheme.get("name"):
        version = scheme.get("version")
        suffix = (
            translate("exports.detail.preset", language)
            if version is None
            else translate("audiences.version_option", language, version=version)
        )
        name = scheme_label(scheme["name"], language)
        add(
            "scheme",
            translate("exports.detail.scheme_value", language, scheme=name, version=suffix),
        )
    audience = filters.get("audience") or {}
    window = audience.get("window_days", filters.get("window_days"))
    add(
        "window",
        translate("exports.detail.all_history", language)
        if window is None
        else translate("exports.detail.days", language, days=numbers.number_text(window, "days")),
    )
    for name, kind in _NAME_LISTS.items():
        if audience.get(name):
            add(f"filter.{name}", _names(kind, list(audience[name]), language))
    if audience.get("include_tags") and audience.get("tags_mode"):
        add(
            "filter.tags_mode",
            translate(f"exports.detail.tags_mode.{audience['tags_mode']}", language),
        )
    for name, kind in _RANGE_KINDS.items():
        low, high = [*(audience.get(name) or []), None, None][:2]
        if low is not None or high is not None:
            add(
                f"filter.{name}",
                translate(
                    "exports.detail.range",
                    language,
                    low=numbers.number_text(low, kind, language),
                    high=numbers.number_text(high, kind, language),
                ),
            )
    if source == "trigger":
        add("trigger", translate(f"triggers.{filters.get('trigger')}.name", language))
        for key, value in (filters.get("settings") or {}).items():
            label = translate(f"triggers.settings.{key}", language)
            rows.append((label, _detail_value(value, language)))
    if "selected" in filters:
        add("selected", numbers.number_text(filters["selected"], "count", language))
        add("kept", numbers.number_text(filters.get("kept"), "count", language))
        channel = channel_label(record.channel, language)
        for reason, count in (filters.get("excluded") or {}).items():
            reason_name = translate(f"audiences.reason_name.{reason}", language, channel=channel)
            add("excluded", numbers.number_text(count, "count", language), reason=reason_name)
    holdout = filters.get("holdout") or {}
    if holdout:
        add("holdout_share", numbers.number_text(holdout.get("share"), "share", language))
        add("treated", numbers.number_text(holdout.get("treated"), "count", language))
        add("control", numbers.number_text(holdout.get("control"), "count", language))
        verdict = "srm_mismatch" if holdout.get("srm_mismatch") else "srm_ok"
        p_value = numbers.number_text(holdout.get("srm_p_value"), "p_value", language)
        add("srm", translate(f"exports.detail.{verdict}", language, p=p_value))
    for key, value in (record.policy or {}).items():
        add(f"policy.{key}", numbers.number_text(value, "count", language))
    add("columns", _names("column", [column_header(c, language) for c in record.columns], language))
    return pd.DataFrame(rows, columns=list(DETAIL_COLUMNS))


def exports_table(exports: pd.DataFrame, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """`list_exports`' frame as shown: source, scheme and channel in `language`,
    scheme_version as "version N" ("—" for a preset); other columns unchanged."""
    return exports.assign(
        source=exports["source"].map(lambda s: translate(f"exports.source.{s}", language)),
        scheme=exports["scheme"].map(
            lambda s: scheme_label(s, language) if isinstance(s, str) else ""
        ),
        scheme_version=exports["scheme_version"].map(
            lambda v: (
                "—"
                if pd.isna(v)
                else translate("audiences.version_option", language, version=int(v))
            )
        ),
        channel=exports["channel"].map(
            lambda c: channel_label(c if isinstance(c, str) else None, language)
        ),
    )
