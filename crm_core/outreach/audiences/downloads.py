"""Downloads: `export_audience` / `export_trigger` write the list's file (see `files`)
and record the export (who, when, scheme version, filters, policy, channel, row count
and member ids) in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, insert

from crm_core import asof
from crm_core.auth import DOWNLOAD, Actor, require
from crm_core.errors import InputError
from crm_core.i18n import DEFAULT_LANGUAGE
from crm_core.outreach.audiences.contacts import (
    contact_counts,
    list_signature,
    preview_audience,
    same_list_exports,
)
from crm_core.outreach.audiences.facts import AudienceFacts
from crm_core.outreach.audiences.files import (
    DEFAULT_EXPORT_COLUMNS,
    FILE_FORMATS,
    ExportedFile,
    check_columns,
    check_format,
    export_frame,
    render_file,
)
from crm_core.outreach.audiences.selection import Audience
from crm_core.outreach.policy import ContactPolicy, PolicyResult, check_channel
from crm_core.outreach.triggers import (
    MARKETING_TRIGGERS,
    TriggerSettings,
    list_positions,
    marketing_result,
    trigger_extra,
    trigger_list,
)
from crm_core.store import bulk_insert, models


def record_export(
    conn: Connection,
    *,
    created_by: str,
    created_at: dt.datetime,
    as_of: dt.date,
    scheme_id: int | None,
    channel: str | None,
    filters: Mapping[str, Any],
    policy: Mapping[str, Any],
    columns: Sequence[str],
    file_format: str,
    row_count: int,
    member_ids: Sequence[str],
    is_marketing: bool,
) -> int:
    """Insert the export and its distinct members inside the caller's transaction;
    returns the export id."""
    export_id = conn.execute(
        insert(models.exports)
        .values(
            created_by=created_by,
            created_at=created_at,
            as_of=as_of,
            scheme_id=scheme_id,
            channel=channel,
            filters=json.loads(json.dumps(filters, default=str)),
            policy=dict(policy),
            columns=list(columns),
            file_format=file_format,
            row_count=row_count,
            is_marketing=is_marketing,
        )
        .returning(models.exports.c.id)
    ).scalar_one()
    ids = pd.unique(pd.Series(list(member_ids), dtype="str").dropna())
    members = pd.DataFrame(
        {"export_id": np.full(len(ids), int(export_id), dtype=np.int64), "customer_id": ids}
    )
    bulk_insert(conn, models.export_members, members)
    return int(export_id)


def _now(created_at: dt.datetime | None) -> dt.datetime:
    """`created_at`, else the clock's time to the second (the moment a download is made)."""
    return created_at or dt.datetime.now().replace(microsecond=0)


def export_list(
    engine: Engine,
    facts: AudienceFacts,
    positions: np.ndarray,
    *,
    actor: Actor,
    channel: str | None,
    columns: Sequence[str],
    file_format: str,
    filters: Mapping[str, Any],
    policy: ContactPolicy | Mapping[str, Any] | None,
    is_marketing: bool,
    language: str = DEFAULT_LANGUAGE,
    extra: pd.DataFrame | None = None,
    customer_ids: Sequence[str] | None = None,
    file_prefix: str = "audience",
    created_at: dt.datetime | None = None,
) -> ExportedFile:
    """Write the rows `positions` of the facts as a file and record the export in one
    transaction. `extra` (one row per position) adds columns after the chosen ones.
    PermissionDenied unless `actor` may download."""
    require(actor, DOWNLOAD)
    channel = check_channel(channel)
    columns = check_columns(columns)
    check_format(file_format)
    frame = export_frame(facts, positions, columns, channel, language, customer_ids)
    if extra is not None:
        for name in extra.columns:
            if name not in frame.columns:
                frame[name] = extra[name].to_numpy()
    content = render_file(frame, file_format, actor, language)
    member_ids = (
        list(customer_ids)
        if customer_ids is not None
        else facts.customer_ids.to_numpy()[np.asarray(positions, dtype=np.intp)]
    )
    policy_payload = policy.to_dict() if isinstance(policy, ContactPolicy) else dict(policy or {})
    with engine.begin() as conn:
        export_id = record_export(
            conn,
            created_by=actor.username,
            created_at=_now(created_at),
            as_of=facts.as_of,
            scheme_id=facts.scheme_id,
            channel=channel,
            filters=filters,
            policy=policy_payload,
            columns=list(frame.columns),
            file_format=file_format,
            row_count=len(frame),
            member_ids=member_ids,
            is_marketing=is_marketing,
        )
    file_name = f"{file_prefix}-{facts.as_of.isoformat()}-{export_id}.{file_format}"
    return ExportedFile(
        export_id,
        content,
        file_name,
        FILE_FORMATS[file_format],
        len(frame),
        len(pd.unique(pd.Series(member_ids, dtype="str"))),
    )


FOR_SENDING = "send"
FOR_REVIEW = "review"
PURPOSES: tuple[str, ...] = (FOR_SENDING, FOR_REVIEW)
"""Why a list is downloaded: to send it (its members count as contacted) or to look at it."""


def check_purpose(purpose: str) -> str:
    """`purpose` when it is one of PURPOSES, else InputError."""
    if purpose not in PURPOSES:
        raise InputError("audiences.error.purpose", purpose=purpose, purposes=", ".join(PURPOSES))
    return purpose


def _scheme_filters(facts: AudienceFacts) -> dict[str, Any]:
    return {"name": facts.scheme.name, "version": facts.scheme.version}


def audience_filters(facts: AudienceFacts, audience: Audience) -> dict[str, Any]:
    """What an audience download records as its list (see contacts.list_signature)."""
    return {"source": "audience", "audience": audience.to_dict(), "scheme": _scheme_filters(facts)}


def trigger_filters(
    facts: AudienceFacts, name: str, settings: TriggerSettings, at: dt.datetime | None
) -> dict[str, Any]:
    """What a trigger-list download records as its list (the moment is not part of it)."""
    return {
        "source": "trigger",
        "trigger": name,
        "settings": settings.to_dict(),
        "moment": (at or asof.last_second(facts.as_of)).isoformat(),
        "scheme": _scheme_filters(facts),
        "window_days": facts.window_days,
    }


def export_audience(
    engine: Engine,
    facts: AudienceFacts,
    audience: Audience,
    *,
    channel: str | None,
    policy: ContactPolicy,
    actor: Actor,
    columns: Sequence[str] = DEFAULT_EXPORT_COLUMNS,
    file_format: str = "csv",
    language: str = DEFAULT_LANGUAGE,
    purpose: str = FOR_SENDING,
    created_at: dt.datetime | None = None,
) -> tuple[ExportedFile, PolicyResult]:
    """Select the audience, apply the policy (contacts read now, so earlier exports
    count), write the kept customers and record the export. `purpose` FOR_SENDING
    records it as marketing (its members count as contacted for the frequency cap);
    FOR_REVIEW does not."""
    require(actor, DOWNLOAD)
    check_purpose(purpose)
    identity = audience_filters(facts, audience)
    earlier = same_list_exports(engine, facts.as_of, list_signature(identity, channel))
    result = preview_audience(engine, facts, audience, channel, policy, earlier)
    filters = {
        **identity,
        "selected": len(result.positions),
        "kept": result.kept,
        "excluded": result.excluded_counts,
    }
    exported = export_list(
        engine,
        facts,
        result.kept_positions,
        actor=actor,
        channel=channel,
        columns=columns,
        file_format=file_format,
        filters=filters,
        policy=policy,
        is_marketing=purpose == FOR_SENDING,
        language=language,
        created_at=created_at,
    )
    return exported, result


def export_trigger(
    engine: Engine,
    facts: AudienceFacts,
    name: str,
    settings: TriggerSettings,
    *,
    channel: str | None,
    policy: ContactPolicy,
    actor: Actor,
    columns: Sequence[str] = ("customer_id", "name", "address", "segment", "tags"),
    file_format: str = "csv",
    language: str = DEFAULT_LANGUAGE,
    at: dt.datetime | None = None,
    purpose: str = FOR_SENDING,
    created_at: dt.datetime | None = None,
) -> tuple[ExportedFile, PolicyResult | None]:
    """Write one trigger list (with its own columns after the chosen ones) and record
    it. Marketing lists (win-back, lost, birthday, thank-you) go through the contact
    policy and, downloaded FOR_SENDING, count as contacts; payment reminders are service
    messages: no policy, not marketing. `facts` should have all history (window None)."""
    require(actor, DOWNLOAD)
    check_purpose(purpose)
    rows = trigger_list(name, engine, facts.features, facts.as_of, settings, at)
    positions = list_positions(facts, rows)
    rows = rows.loc[positions >= 0].reset_index(drop=True)
    positions = positions[positions >= 0]
    result = None
    marketing = name in MARKETING_TRIGGERS
    filters = trigger_filters(facts, name, settings, at)
    if marketing:
        earlier = same_list_exports(engine, facts.as_of, list_signature(filters, channel))
        contacts = contact_counts(
            engine, facts.customer_ids, facts.as_of, policy.cap_window_days, earlier
        )
        result = marketing_result(facts, positions, channel, policy, contacts)
        keep = np.isin(positions, result.kept_positions)
        rows = rows.loc[keep].reset_index(drop=True)
        positions = positions[keep]
    if result is not None:
        filters.update(
            selected=len(result.positions), kept=result.kept, excluded=result.excluded_counts
        )
    extra = trigger_extra(rows, name, language)
    exported = export_list(
        engine,
        facts,
        positions,
        actor=actor,
        channel=channel,
        columns=columns,
        file_format=file_format,
        filters=filters,
        policy=policy if marketing else None,
        is_marketing=marketing and purpose == FOR_SENDING,
        language=language,
        extra=extra,
        file_prefix=name,
        created_at=created_at,
    )
    return exported, result
