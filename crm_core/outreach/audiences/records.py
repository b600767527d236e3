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

from crm_core.auth import DOWNLOAD, Actor, require
from crm_core.customers.segments import Scheme, preset, scheme_label
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE, translate
from crm_core.outreach.audiences.downloads import export_list
from crm_core.outreach.audiences.facts import AudienceFacts, load_audience_facts, scheme_by_id
from crm_core.outreach.audiences.files import EXPORT_COLUMNS, ExportedFile, check_format
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
