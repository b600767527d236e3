"""Downloads: `export_audience` / `export_trigger` write the list's file (see `files`)
and record the export (who, when, scheme version, filters, policy, channel, row count
and member ids) in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from crm_core.outreach.experiments import SampleRatioCheck, sample_ratio_check
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
    control_ids: Sequence[str] = (),
) -> int:
    """Insert the export and its distinct members inside the caller's transaction (the
    held-out `control_ids` with is_control set); returns the export id."""
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
    held_out = pd.unique(pd.Series(list(control_ids), dtype="str").dropna())
    held_out = held_out[~np.isin(held_out, ids)]
    members = pd.DataFrame(
        {
            "export_id": np.full(len(ids) + len(held_out), int(export_id), dtype=np.int64),
            "customer_id": np.concatenate([np.asarray(ids), np.asarray(held_out)]),
            "is_control": np.r_[np.zeros(len(ids), bool), np.ones(len(held_out), bool)],
        }
    )
    bulk_insert(conn, models.export_members, members)
    return int(export_id)


MAX_HOLDOUT_SHARE = 0.5


@dataclass(frozen=True)
class Holdout:
    """A random control group drawn from a list after the contact policy: each member is
    held out with probability `share` (0-1), by a generator seeded with `seed`, over the
    members sorted by customer id (so the seed reproduces the draw). `control` marks the
    held-out positions; `srm` checks the drawn sizes against the planned split."""

    share: float
    seed: int
    control: np.ndarray
    srm: SampleRatioCheck

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": self.share,
            "seed": self.seed,
            "treated": int((~self.control).sum()),
            "control": int(self.control.sum()),
            "srm_chi_square": self.srm.chi_square,
            "srm_p_value": self.srm.p_value,
            "srm_mismatch": self.srm.mismatch,
        }


def check_holdout_share(share: Any) -> float:
    """`share` as a share in [0, MAX_HOLDOUT_SHARE]; InputError otherwise."""
    try:
        value = float(share)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= MAX_HOLDOUT_SHARE:
        raise InputError(
            "audiences.error.holdout", value=share, most=round(MAX_HOLDOUT_SHARE * 100)
        )
    return value


def draw_holdout(customer_ids: Sequence[str], share: float, seed: int | None = None) -> Holdout:
    """Hold out about `share` of `customer_ids` at random (see Holdout); a new seed from
    the operating system when `seed` is None."""
    share = check_holdout_share(share)
    seed = secrets.randbits(63) if seed is None else int(seed)
    ids = np.asarray(list(customer_ids), dtype=object)
    order = np.argsort(ids.astype(str), kind="stable")
    draws = np.random.default_rng(seed).random(len(ids))
    control = np.zeros(len(ids), dtype=bool)
    control[order] = draws < share
    counts = [int((~control).sum()), int(control.sum())]
    srm = sample_ratio_check(counts, [1.0 - share, share]) if share > 0 and len(ids) else None
    return Holdout(share, seed, control, srm or SampleRatioCheck((), (), 0.0, 1.0, False))


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
    holdout_share: float = 0.0,
    holdout_seed: int | None = None,
) -> ExportedFile:
    """Write the rows `positions` of the facts as a file and record the export in one
    transaction. `extra` (one row per position) adds columns after the chosen ones.
    With `holdout_share` > 0 a random control group (see `draw_holdout`) is recorded
    with the export and left out of the file. PermissionDenied unless `actor` may
    download."""
    require(actor, DOWNLOAD)
    channel = check_channel(channel)
    columns = check_columns(columns)
    check_format(file_format)
    positions = np.asarray(positions, dtype=np.intp)
    control_ids: list[str] = []
    filters = dict(filters)
    if facts.prediction_run is not None:
        filters["prediction_run"] = facts.prediction_run
    if check_holdout_share(holdout_share) > 0:
        ids = (
            np.asarray(list(customer_ids), dtype=object)
            if customer_ids is not None
            else facts.customer_ids.to_numpy()[positions]
        )
        holdout = draw_holdout(ids, holdout_share, holdout_seed)
        control_ids = [str(i) for i in ids[holdout.control]]
        positions = positions[~holdout.control]
        if customer_ids is not None:
            customer_ids = list(ids[~holdout.control])
        if extra is not None:
            extra = extra.loc[~holdout.control].reset_index(drop=True)
        filters["holdout"] = holdout.to_dict()
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
            control_ids=control_ids,
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
    identity = {
        "source": "audience",
        "audience": audience.to_dict(),
        "scheme": _scheme_filters(facts),
    }
    if facts.prediction_run is not None:  # other scores select other members
        identity["prediction_run"] = facts.prediction_run
    return identity


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


def earlier_trigger_exports(
    engine: Engine,
    facts: AudienceFacts,
    name: str,
    settings: TriggerSettings,
    channel: str | None,
    at: dt.datetime | None = None,
) -> tuple[int, ...]:
    """The earlier downloads of the same trigger list (same day, settings and channel),
    whose contacts its next download leaves out: a preview that leaves them out too
    counts what the file will hold."""
    signature = list_signature(trigger_filters(facts, name, settings, at), channel)
    return tuple(same_list_exports(engine, facts.as_of, signature))


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
    holdout_share: float = 0.0,
    holdout_seed: int | None = None,
) -> tuple[ExportedFile, PolicyResult]:
    """Select the audience, apply the policy (contacts read now, so earlier exports
    count), write the kept customers and record the export. `purpose` FOR_SENDING
    records it as marketing (its members count as contacted for the frequency cap);
    FOR_REVIEW does not. `holdout_share`: a random control group drawn from the kept
    customers, recorded but not in the file (see `export_list`)."""
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
        holdout_share=holdout_share,
        holdout_seed=holdout_seed,
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
    holdout_share: float = 0.0,
    holdout_seed: int | None = None,
) -> tuple[ExportedFile, PolicyResult | None]:
    """Write one trigger list (with its own columns after the chosen ones) and record
    it. Marketing lists (win-back, lost, birthday, thank-you) go through the contact
    policy and, downloaded FOR_SENDING, count as contacts; payment reminders are service
    messages: no policy, not marketing (and no holdout). `facts` should have all history
    (window None)."""
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
        holdout_share=holdout_share if marketing else 0.0,
        holdout_seed=holdout_seed,
    )
    return exported, result
