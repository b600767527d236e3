"""Column mapping: which column of the file fills which field of the entity.

A mapping is a dict {source column: field name}; a column mapped to None (or absent) is
ignored. `suggest_mapping` proposes one from the headers (English and Chinese aliases,
see entities.py); the user edits it; `check_mapping` refuses one that cannot work
(a required field without a column, a field filled twice, an unknown field).

Saved mappings (mapping_templates) belong to one entity and one *source*: the set of
headers of the file. The next upload with the same headers for the same entity gets the
newest saved mapping back (`find_template`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, delete, insert, select

from crm_core.auth import IMPORT, Actor, require
from crm_core.errors import InputError, Named
from crm_core.ingest.entities import EntitySpec, entity_spec, header_key
from crm_core.ingest.history import REASON_CODE_COLUMN, rejects_layout_columns
from crm_core.store import models

Mapping = dict[str, str | None]


def suggest_mapping(columns: pd.DataFrame | Iterable[str], entity: str) -> Mapping:
    """A proposed mapping for every column of the file (None = ignore it).

    Each field takes the column whose header matches its earliest alias (so
    下单时间 beats 付款时间 for the order time, which then goes to paid_at); a column
    fills at most one field. Fields that take several columns (campaign acceptances)
    match by pattern. A rejects file downloaded from an import (it has a reason_code
    column) keeps its own columns out: its Value column is the rejected cell, not an
    amount.
    """
    spec = entity_spec(entity)
    names = list(columns.columns) if isinstance(columns, pd.DataFrame) else list(columns)
    keys = {name: header_key(name) for name in names}
    mapping: Mapping = dict.fromkeys(names)
    taken: set[str] = set()
    if REASON_CODE_COLUMN in names:
        taken |= rejects_layout_columns() & set(names)
    for field in spec.fields:
        if field.multi:
            continue
        for alias in field.aliases:
            alias_key = header_key(alias)
            match = next((n for n in names if n not in taken and keys[n] == alias_key), None)
            if match is not None:
                mapping[match] = field.name
                taken.add(match)
                break
    for field in spec.fields:
        if field.multi and field.pattern:
            for name in names:
                if name not in taken and re.match(field.pattern, keys[name]):
                    mapping[name] = field.name
                    taken.add(name)
    return mapping


def check_mapping(columns: Iterable[str], entity: str, mapping: Mapping) -> dict[str, str]:
    """The usable part of `mapping` ({source: field}, ignored columns left out).

    Raises InputError naming what is wrong: a mapped column the file does not have, an
    unknown field, a field filled by two columns, or required fields without a column.
    """
    spec = entity_spec(entity)
    names = set(columns)
    used = {source: target for source, target in mapping.items() if target}
    missing_sources = sorted(source for source in used if source not in names)
    if missing_sources:
        raise InputError("data.error.mapped_column_missing", columns=", ".join(missing_sources))
    unknown = sorted({t for t in used.values() if t not in spec.field_index})
    if unknown:
        raise InputError(
            "data.error.unknown_field", fields=", ".join(unknown), entity=_entity_named(entity)
        )
    counts = pd.Series(list(used.values()), dtype="str").value_counts()
    twice = sorted(
        name for name, count in counts.items() if count > 1 and not spec.field(name).multi
    )
    if twice:
        raise InputError("data.error.field_mapped_twice", fields=Named(FIELD_LABEL, tuple(twice)))
    missing = [name for name in spec.required if name not in set(used.values())]
    if missing:
        raise InputError(
            "data.error.missing_columns",
            fields=Named(FIELD_LABEL, tuple(missing)),
            entity=_entity_named(entity),
        )
    return used


FIELD_LABEL = "data.field."
"""Catalog prefix of a field's label (data.field.amount: Amount, 金额)."""


def _entity_named(entity: str) -> Named:
    return Named("data.entity.", (entity,), with_code=False)


def fields_for(spec: EntitySpec, mapping: dict[str, str]) -> dict[str, list[str]]:
    """{field: [source columns]} of a checked mapping, in the spec's field order."""
    by_field: dict[str, list[str]] = {}
    for source, target in mapping.items():
        by_field.setdefault(target, []).append(source)
    return {f.name: by_field[f.name] for f in spec.fields if f.name in by_field}


def load_mapping_file(path: str | Path) -> Mapping:
    """A mapping saved as JSON: {"source column": "field", ...}; a template export
    {"mapping": {...}} is accepted too."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise InputError(
            "data.error.bad_mapping_file", file=str(path), detail=str(error)
        ) from error
    if isinstance(data, dict) and isinstance(data.get("mapping"), dict):
        data = data["mapping"]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in data.items()
    ):
        raise InputError(
            "data.error.bad_mapping_file", file=str(path), detail="expected {column: field}"
        )
    return dict(data)


def source_signature(columns: Iterable[str]) -> list[str]:
    """What identifies a source: its headers, sorted."""
    return sorted(str(c) for c in columns)


def save_template(
    engine: Engine,
    name: str,
    entity: str,
    mapping: Mapping,
    columns: Iterable[str],
    *,
    options: dict[str, Any] | None = None,
    actor: Actor,
    replaces: int | None = None,
) -> int:
    """Save `mapping` as the template `name` for `entity`; `columns` are the file's
    headers (the source it is reused for). Returns its id. It replaces the template of
    that name saved for the same headers, or the one whose id is `replaces` (a template
    the user started from, for a source whose columns changed); a name taken by another
    source's template is refused (InputError), since that source's mapping would be lost;
    PermissionDenied unless `actor` may import."""
    require(actor, IMPORT)
    name = name.strip()
    if not name:
        raise InputError("data.error.template_name_required")
    entity_spec(entity)
    headers = source_signature(columns)
    stored_options = {**(options or {}), "headers": headers}
    table = models.mapping_templates
    with engine.begin() as conn:
        same_name = and_(table.c.name == name, table.c.entity == entity)
        stored = conn.execute(select(table.c.id, table.c.options).where(same_name)).first()
        other_source = stored is not None and (stored.options or {}).get("headers") != headers
        if other_source and stored.id != replaces:
            raise InputError("data.error.template_name_taken", name=name)
        conn.execute(delete(table).where(same_name))
        result = conn.execute(
            insert(table).values(
                name=name,
                entity=entity,
                mapping={k: v for k, v in mapping.items() if v},
                options=stored_options,
                created_by=actor.username,
                created_at=dt.datetime.now().replace(microsecond=0),
            )
        )
        return int(result.inserted_primary_key[0])


def list_templates(engine: Engine, entity: str | None = None) -> pd.DataFrame:
    """Saved templates, newest first: id, name, entity, mapping, options, created_by,
    created_at."""
    table = models.mapping_templates
    stmt = select(table).order_by(table.c.created_at.desc(), table.c.id.desc())
    if entity:
        stmt = stmt.where(table.c.entity == entity)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    columns = ["id", "name", "entity", "mapping", "options", "created_by", "created_at"]
    return pd.DataFrame([dict(r) for r in rows], columns=columns)


def find_template(engine: Engine, entity: str, columns: Iterable[str]) -> dict[str, Any] | None:
    """The newest template of `entity` saved for exactly these headers, or None.
    Returned as {id, name, mapping, options}."""
    signature = source_signature(columns)
    templates = list_templates(engine, entity)
    for row in templates.itertuples(index=False):
        options = row.options or {}
        if options.get("headers") == signature:
            return {"id": row.id, "name": row.name, "mapping": row.mapping, "options": options}
    return None


def complete_mapping(columns: Iterable[str], saved: dict[str, str]) -> Mapping:
    """A saved {source: field} spread over the file's columns (others ignored)."""
    return {name: saved.get(name) for name in columns}
