"""Storage: schemes saved as numbered versions in `segment_schemes` (saving creates
version n+1; earlier versions stay loadable), and the one list of schemes every page
offers (a saved scheme shadows the preset of its name)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from crm_core.auth import EDIT_SCHEMES, Actor, require
from crm_core.customers.segments.presets import PRESET_NAMES, preset
from crm_core.customers.segments.schemes import Scheme
from crm_core.errors import InputError
from crm_core.store import models


@dataclass(frozen=True)
class SavedScheme:
    id: int
    name: str
    version: int


def save_scheme(
    engine: Engine,
    scheme: Scheme,
    actor: Actor,
    note: str | None = None,
    saved_at: dt.datetime | None = None,
) -> SavedScheme:
    """Store `scheme` as the next version of its name (1 for a new name); `saved_at`
    (default: now, shop local time) is recorded as created_at and the actor's username
    as created_by. PermissionDenied unless `actor` may edit schemes."""
    require(actor, EDIT_SCHEMES)
    table = models.segment_schemes
    for _attempt in range(3):
        try:
            with engine.begin() as conn:
                latest = conn.execute(
                    select(func.max(table.c.version)).where(table.c.name == scheme.name)
                ).scalar()
                version = int(latest or 0) + 1
                new_id = conn.execute(
                    insert(table)
                    .values(
                        name=scheme.name,
                        version=version,
                        definition=scheme.to_dict(),
                        created_by=actor.username,
                        created_at=saved_at or dt.datetime.now().replace(microsecond=0),
                        note=note,
                    )
                    .returning(table.c.id)
                ).scalar_one()
            return SavedScheme(int(new_id), scheme.name, version)
        except IntegrityError:
            continue
    raise InputError("rfm.scheme.error.concurrent", name=scheme.name)


def load_scheme(engine: Engine, name: str, version: int | None = None) -> Scheme:
    """The saved scheme `name` at `version` (newest when None)."""
    table = models.segment_schemes
    stmt = select(table.c.definition, table.c.version).where(table.c.name == name)
    stmt = (
        stmt.where(table.c.version == version)
        if version is not None
        else stmt.order_by(table.c.version.desc()).limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        if version is None:
            raise InputError("rfm.scheme.error.not_found", name=name)
        raise InputError("rfm.scheme.error.version_not_found", name=name, version=version)
    definition = row.definition if isinstance(row.definition, dict) else json.loads(row.definition)
    return Scheme.from_dict(definition, version=int(row.version))


def list_saved_schemes(engine: Engine) -> pd.DataFrame:
    """Every saved version: id, name, version, created_by, created_at, note (newest
    version of each name first)."""
    table = models.segment_schemes
    stmt = select(
        table.c.id,
        table.c.name,
        table.c.version,
        table.c.created_by,
        table.c.created_at,
        table.c.note,
    ).order_by(table.c.name, table.c.version.desc())
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(
        rows, columns=["id", "name", "version", "created_by", "created_at", "note"]
    ).astype({"id": "int64", "version": "int64"})


@dataclass(frozen=True)
class SchemeChoice:
    """A scheme a user can pick: a saved one with its versions (newest first), or a
    preset (no versions)."""

    name: str
    versions: tuple[int, ...] = ()

    @property
    def saved(self) -> bool:
        return bool(self.versions)


def scheme_choices(engine: Engine) -> list[SchemeChoice]:
    """The schemes every page offers: saved schemes first (by name), then the presets no
    saved scheme shadows. A name means one scheme everywhere: once a team saves its own
    'rfm11', pages, exports and the command line all use it, not the shipped preset."""
    saved = list_saved_schemes(engine)
    choices = [
        SchemeChoice(str(name), tuple(int(v) for v in group["version"]))
        for name, group in saved.groupby("name", sort=True)
    ]
    taken = {choice.name for choice in choices}
    return choices + [SchemeChoice(name) for name in PRESET_NAMES if name not in taken]


def team_scheme(engine: Engine) -> str | None:
    """The name of the scheme the team saved last (the newest saved version of any
    name), which a new session opens on; None when nothing was saved."""
    table = models.segment_schemes
    stmt = select(table.c.name).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(1)
    with engine.connect() as conn:
        return conn.execute(stmt).scalar()


def resolve_scheme_ref(engine: Engine, name: str, version: int | None = None) -> tuple:
    """(scheme, segment_schemes.id) of a saved scheme (newest version when None), or
    (preset, None) when no scheme of that name was saved."""
    table = models.segment_schemes
    stmt = select(table.c.id, table.c.version).where(table.c.name == name)
    stmt = (
        stmt.where(table.c.version == version)
        if version is not None
        else stmt.order_by(table.c.version.desc()).limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        if version is not None:
            raise InputError("rfm.scheme.error.version_not_found", name=name, version=version)
        return preset(name), None
    return load_scheme(engine, name, int(row.version)), int(row.id)


def resolve_scheme(engine: Engine, name: str) -> Scheme:
    """The newest saved version of `name`, else the preset of that name."""
    return resolve_scheme_ref(engine, name)[0]
