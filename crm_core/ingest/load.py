"""Loading validated rows into the store: one transaction, upsert by the natural key.

`load(engine, validated)` writes an import batch, the rows, their rejects and a new data
version in ONE transaction: on any failure nothing of the import remains. Each table is
upserted set-based: the rows go, in key order, into a temporary staging table
(executemany on SQLite, COPY on PostgreSQL); one outer join over it copies the delta
(keys not stored yet, and stored rows whose values differ) into a second temporary
table; one UPDATE and one INSERT then read only that delta. Re-loading the same rows
therefore changes nothing (all 'unchanged'). Money is compared rounded to its cents,
times as stored, so equal values compare equal on SQLite and PostgreSQL alike. A table
with no rows yet takes the rows directly (nothing to compare with). An import of at
least LARGE_LOAD_ROWS rows runs in db.bulk_transaction (more memory; foreign keys
checked once, set-based, before the commit; after it, a background thread copies
SQLite's write-ahead log into the database file, or builds PostgreSQL's secondary
indexes).

Only the fields the file maps are written: an upload without a phone column leaves the
stored phones alone. A value that a rule fills in for a column the file lacks (an
orders file without a status column: 'paid'; order lines: no discount; touches with
is_control but no variant: 'A' for a treated row) is written for new rows only
(Validated.filled); a stored control touch the file says was treated gets 'A'.
Customers named by other entities but not in the store get a minimal record
(is_placeholder = True), counted as customers_created. A customer merged into another
(merged_into) is replaced by the survivor in the rows of other entities, so
re-uploading a file after a merge changes nothing; a customers file updates the merged
record itself (it is kept, marked merged_into), never the survivor.
A touch that the replacement makes a second touch of the survivor in one campaign is
rejected (merged_customer), as the merge kept only one. An order-lines upload replaces
each uploaded order's lines: lines beyond the file's last line of that order are
removed (`removed`).

`import_file(engine, source, entity, ...)` runs the whole chain read -> map -> validate
-> load for the CLI and the Data page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    Numeric,
    Table,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    tuple_,
    update,
)

from crm_core.auth import IMPORT, Actor, require
from crm_core.ingest.entities import entity_spec
from crm_core.ingest.mapping import Mapping, complete_mapping, find_template, suggest_mapping
from crm_core.ingest.read import Source, TableRead, read_file
from crm_core.ingest.validate import (
    ImportOptions,
    Validated,
    add_rejects,
    raw_records,
    validate,
)
from crm_core.store import (
    analyze_table,
    bulk_insert,
    bulk_load,
    bulk_transaction,
    bump_data_version,
    create_temp_table,
    create_temp_table_as,
    drop_temp_table,
    has_rows,
    is_sqlite,
    models,
)

Progress = Callable[[float], None]
LARGE_LOAD_ROWS = 100_000


@dataclass
class TableCounts:
    """What an upsert did to one table: rows inserted, updated (key present, values
    differed), unchanged (key present, same values), removed (order lines only)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass
class ImportResult:
    """The outcome of one import (also stored as an import_batches row).

    rows_read = accepted + rejected. accepted = inserted + updated + unchanged (rows of
    the entity's table). related: counts of the tables the entity brought along (orders
    of order lines; campaigns and campaign_touches of a customers file).
    reject_counts: {reason: rows}; rejects: row_number, column_name, reason, detail, raw.
    """

    batch_id: int
    entity: str
    file_name: str
    rows_read: int
    accepted: int
    rejected: int
    inserted: int
    updated: int
    unchanged: int
    customers_created: int
    removed: int = 0
    related: dict[str, TableCounts] = field(default_factory=dict)
    reject_counts: dict[str, int] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    ignored_columns: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def changed_nothing(self) -> bool:
        """Rows were accepted and every one was stored already as it is (a re-upload)."""
        counts = [TableCounts(self.inserted, self.updated, 0, self.removed), *self.related.values()]
        written = sum(c.inserted + c.updated + c.removed for c in counts)
        return self.accepted > 0 and written + self.customers_created == 0

    def summary_line(self) -> str:
        """The one line the command prints: the entity's rows, then what the tables it
        brought along got (order lines: '; orders: inserted I, unchanged K, updated U')."""
        related = "".join(
            f"; {table}: inserted {counts.inserted}, unchanged {counts.unchanged}, "
            f"updated {counts.updated}"
            for table, counts in self.related.items()
        )
        return (
            f"accepted {self.accepted}, rejected {self.rejected}, "
            f"unchanged {self.unchanged}, updated {self.updated}{related}"
        )


def _step(progress: Progress | None, start: float, end: float) -> Progress | None:
    """A progress callback for the share [start, end] of the whole job."""
    if progress is None:
        return None
    return lambda fraction: progress(start + (end - start) * min(max(fraction, 0.0), 1.0))


def import_file(
    engine: Engine,
    source: Source,
    entity: str,
    *,
    mapping: Mapping | None = None,
    options: ImportOptions | None = None,
    sheet: str | None = None,
    file_name: str | None = None,
    actor: Actor,
    progress: Progress | None = None,
) -> ImportResult:
    """Read, map, validate and load one file; PermissionDenied unless `actor` may import.

    mapping: {source column: field}; when None, the newest saved template for this
    file's headers and entity is used (with the words it maps, under those of
    `options.value_map`), else the suggested mapping. Raises InputError
    (store unchanged) for an unreadable file or a mapping without a required column.
    """
    require(actor, IMPORT)
    entity_spec(entity)
    table_read = read_file(
        source, file_name=file_name, sheet=sheet, progress=_step(progress, 0, 0.4)
    )
    if mapping is None:
        template = find_template(engine, entity, table_read.frame.columns)
        mapping = (
            complete_mapping(table_read.frame.columns, template["mapping"])
            if template
            else suggest_mapping(table_read.frame, entity)
        )
        saved_words = (template or {}).get("options", {}).get("value_map")
        if saved_words:
            options = options or ImportOptions()
            merged = {name: {**saved_words.get(name, {}), **options.value_map.get(name, {})}
                      for name in {*saved_words, *options.value_map}}  # fmt: skip
            options = dataclasses.replace(options, value_map=merged)
    validated = validate(table_read.frame, entity, mapping, options, bad_lines=table_read.bad_lines)
    if progress:
        progress(0.5)
    return load(
        engine,
        validated,
        table_read=table_read,
        actor=actor,
        progress=_step(progress, 0.5, 1.0),
        source_frame=table_read.frame,
    )


def load(
    engine: Engine,
    validated: Validated,
    *,
    table_read: TableRead | None = None,
    file_name: str | None = None,
    actor: Actor,
    progress: Progress | None = None,
    source_frame: pd.DataFrame | None = None,
) -> ImportResult:
    """Write `validated` in one transaction (see the module docstring); PermissionDenied
    unless `actor` may import.

    table_read gives the file's name and checksum for the import history; source_frame
    (the frame that was validated) lets rows rejected here (unknown campaign) keep their
    original values.
    """
    require(actor, IMPORT)
    with load_transaction(engine, [validated]) as conn:
        result = load_in(
            conn,
            validated,
            table_read=table_read,
            file_name=file_name,
            actor=actor,
            progress=progress,
            source_frame=source_frame,
        )
    _report(progress, 1.0)
    return result


def load_transaction(engine: Engine, validated: Sequence[Validated]):
    """The transaction one or more validated files are loaded in: a bulk transaction
    (see the module docstring) when they hold at least LARGE_LOAD_ROWS rows, else a
    plain one."""
    tables = [models.import_rejects]
    for item in validated:
        spec = entity_spec(item.entity)
        tables += [spec.table, *(models.metadata.tables[name] for name in item.related)]
    if sum(item.accepted for item in validated) >= LARGE_LOAD_ROWS:
        return bulk_transaction(engine, list(dict.fromkeys(tables)))
    return engine.begin()


def load_in(
    conn: Connection,
    validated: Validated,
    *,
    table_read: TableRead | None = None,
    file_name: str | None = None,
    actor: Actor,
    progress: Progress | None = None,
    source_frame: pd.DataFrame | None = None,
) -> ImportResult:
    """`load` inside the caller's transaction (an import batch loads several files in
    one); PermissionDenied unless `actor` may import."""
    require(actor, IMPORT)
    spec = entity_spec(validated.entity)
    name = file_name or (table_read.file_name if table_read else "upload")
    # Shallow copies: pandas copies a column on write (copy-on-write), so `validated`
    # keeps its values without copying 10M rows up front.
    good = validated.good.copy(deep=False)
    related = {key: frame.copy(deep=False) for key, frame in validated.related.items()}
    rejects = validated.rejects
    counts: dict[str, TableCounts] = {}
    batch_id = _start_batch(conn, validated, name, table_read, actor.username)
    # a customers file names the records themselves: a merged one keeps its own row
    own_rows = [] if spec.table is models.customers else [good]
    touches = good if spec.name == "campaign_touches" else related.get("campaign_touches")
    # the ids as the file gave them: the replacement below assigns a new column
    named = None if touches is None else touches["customer_id"]
    if _replace_merged_customers(conn, [*own_rows, *related.values()]) and named is not None:
        repeats = _merged_touch_repeats(touches, named)
        if spec.name == "campaign_touches":
            rejects = add_rejects(
                rejects, _load_rejects(good[repeats], "merged_customer", "customer_id",
                                       named[repeats], validated, source_frame),
            )  # fmt: skip
            good = good[~repeats]
        else:  # as the merge did: the survivor's own touch is kept
            related["campaign_touches"] = touches[~repeats]
    if spec.name == "campaign_touches":
        good, extra = _reject_unknown_campaigns(conn, good, validated, source_frame)
        rejects = add_rejects(rejects, extra)
    _report(progress, 0.1)

    customers_created = 0
    if spec.has_customer:
        ids = pd.concat([f["customer_id"] for f in (good, *related.values()) if "customer_id" in f])
        customers_created = _create_placeholders(conn, ids, batch_id)
    _report(progress, 0.2)

    for table_name in ("orders", "campaigns"):
        if table_name in related:
            table = models.metadata.tables[table_name]
            key = entity_spec(table_name).key
            counts[table_name] = upsert(
                conn, table, related[table_name], key, batch_id,
                kept=validated.filled.get(table_name, {}),
            )  # fmt: skip
    _report(progress, 0.35)

    main = upsert(
        conn, spec.table, good, spec.key, batch_id,
        kept=validated.filled.get(spec.table.name, {}),
    )  # fmt: skip
    if spec.name == "order_lines" and main.updated + main.unchanged:
        main.removed = _remove_stale_lines(conn, good)
    treated_variant = validated.filled.get("campaign_touches", {}).get("variant")
    if main.updated and treated_variant:
        _relabel_treated_controls(conn, batch_id, treated_variant)
    _report(progress, 0.8)

    if "campaign_touches" in related:
        counts["campaign_touches"] = upsert(
            conn, models.campaign_touches, related["campaign_touches"],
            entity_spec("campaign_touches").key, batch_id,
            kept=validated.filled.get("campaign_touches", {}),
        )  # fmt: skip
    written = [main, *counts.values()]
    changed = customers_created + sum(c.inserted + c.updated + c.removed for c in written)
    repeated = None if changed else _repeated_batch(conn, batch_id, table_read, validated)
    if repeated is not None and repeated[1] == len(rejects):
        conn.execute(
            update(models.import_batches)
            .where(models.import_batches.c.id == batch_id)
            .values(rejects_of=repeated[0])
        )
    else:
        _write_rejects(conn, batch_id, rejects)
    bump_data_version(conn)  # the import history changed, whatever else did
    result = ImportResult(
        batch_id=batch_id,
        entity=spec.name,
        file_name=name,
        rows_read=validated.rows_read,
        accepted=len(good),
        rejected=len(rejects),
        inserted=main.inserted,
        updated=main.updated,
        unchanged=main.unchanged,
        customers_created=customers_created,
        removed=main.removed,
        related=counts,
        reject_counts=rejects["reason"].value_counts().to_dict() if len(rejects) else {},
        rejects=rejects,
        ignored_columns=validated.ignored_columns,
        mapping=validated.mapping,
    )
    _finish_batch(conn, result)
    return result


def _report(progress: Progress | None, fraction: float) -> None:
    if progress:
        progress(fraction)


# -- batches and rejects ----------------------------------------------------------------


def _start_batch(
    conn: Connection,
    validated: Validated,
    name: str,
    table_read: TableRead | None,
    user: str | None,
) -> int:
    result = conn.execute(
        insert(models.import_batches).values(
            entity=validated.entity,
            file_name=name[:255],
            file_sha256=table_read.sha256 if table_read else None,
            rows_read=validated.rows_read,
            mapping=validated.mapping,
            created_by=user,
            created_at=dt.datetime.now().replace(microsecond=0),
        )
    )
    return int(result.inserted_primary_key[0])


def _repeated_batch(
    conn: Connection, batch_id: int, table_read: TableRead | None, validated: Validated
) -> tuple[int, int] | None:
    """(the batch holding its rejects, its reject count) of the newest earlier import of
    the same file, entity and mapping; None when there is none."""
    if table_read is None or not table_read.sha256:
        return None
    b = models.import_batches
    row = conn.execute(
        select(b.c.id, b.c.rejects_of, b.c.rejected, b.c.mapping)
        .where(
            b.c.file_sha256 == table_read.sha256,
            b.c.entity == validated.entity,
            b.c.id != batch_id,
        )
        .order_by(b.c.id.desc())
        .limit(1)
    ).first()
    if row is None or (row.mapping or {}) != dict(validated.mapping):
        return None
    return int(row.rejects_of or row.id), int(row.rejected or 0)


def _finish_batch(conn: Connection, result: ImportResult) -> None:
    conn.execute(
        update(models.import_batches)
        .where(models.import_batches.c.id == result.batch_id)
        .values(
            accepted=result.accepted,
            rejected=result.rejected,
            inserted=result.inserted,
            updated=result.updated,
            unchanged=result.unchanged,
            customers_created=result.customers_created,
        )
    )


def _write_rejects(conn: Connection, batch_id: int, rejects: pd.DataFrame) -> None:
    if rejects.empty:
        return
    frame = pd.DataFrame(
        {
            "batch_id": batch_id,
            "row_number": rejects["row_number"].astype("int64").to_numpy(),
            "column_name": rejects["column_name"].astype("str").str.slice(0, 128).to_numpy(),
            "reason": rejects["reason"].astype("str").to_numpy(),
            "detail": rejects["detail"].astype("str").to_numpy(),
            "raw": [json.dumps(raw, ensure_ascii=False) for raw in rejects["raw"]],
        }
    )
    bulk_insert(conn, models.import_rejects, frame)


# -- customers, campaigns ---------------------------------------------------------------


def _replace_merged_customers(conn: Connection, frames: list[pd.DataFrame]) -> bool:
    """Point rows at the surviving record of a merged customer (chains followed);
    False when the store has no merged customer."""
    customers = models.customers
    rows = conn.execute(
        select(customers.c.customer_id, customers.c.merged_into).where(
            customers.c.merged_into.is_not(None)
        )
    ).all()
    if not rows:
        return False
    survivor = dict(rows)
    for _ in range(len(survivor)):
        changed = {k: survivor.get(s, s) for k, s in survivor.items()}
        if changed == survivor:
            break
        survivor = changed
    for frame in frames:
        if "customer_id" in frame:
            ids = frame["customer_id"]
            frame["customer_id"] = ids.map(survivor).fillna(ids).astype("str")
    return True


def _merged_touch_repeats(touches: pd.DataFrame, named: pd.Series) -> np.ndarray:
    """Touches that repeat another's (campaign, customer) once merged customers are
    replaced by their survivor (`named`: the customer ids as the file gave them). As in a
    merge, a touch the file gives for the survivor itself wins, else the first."""
    replaced = (touches["customer_id"] != named).to_numpy()
    repeats = np.zeros(len(touches), dtype=bool)
    if not replaced.any():
        return repeats
    order = np.lexsort((np.arange(len(touches)), replaced))
    keys = touches[["campaign_id", "customer_id"]].iloc[order]
    repeats[order[keys.duplicated().to_numpy()]] = True
    return repeats


def _load_rejects(
    rows: pd.DataFrame,
    reason: str,
    field_name: str,
    detail: pd.Series,
    validated: Validated,
    source_frame: pd.DataFrame | None,
) -> pd.DataFrame:
    """Reject records for `rows` of the file (index = row number) refused while loading."""
    column = next((s for s, t in validated.mapping.items() if t == field_name), None)
    if source_frame is not None:
        raw = raw_records(source_frame.loc[rows.index])
    else:
        raw = [{} for _ in range(len(rows))]
    return pd.DataFrame(
        {
            "row_number": np.asarray(rows.index, dtype="int64"),
            "column_name": column,
            "reason": reason,
            "detail": detail.astype(object).to_numpy(),
            "raw": raw,
        }
    )


def _create_placeholders(conn: Connection, ids: pd.Series, batch_id: int) -> int:
    """Insert a minimal record for each customer id not in the store; returns how many."""
    unique = pd.Series(ids.dropna().unique(), dtype="str")
    if unique.empty:
        return 0
    frame = pd.DataFrame({"customer_id": unique, "is_placeholder": True})
    counts = upsert(conn, models.customers, frame, ("customer_id",), batch_id, compare=False)
    return counts.inserted


def _reject_unknown_campaigns(
    conn: Connection,
    good: pd.DataFrame,
    validated: Validated,
    source_frame: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    known = set(conn.execute(select(models.campaigns.c.campaign_id)).scalars())
    unknown = ~good["campaign_id"].isin(known)
    if not unknown.any():
        return good, pd.DataFrame()
    rows = good[unknown]
    extra = _load_rejects(
        rows, "unknown_campaign", "campaign_id", rows["campaign_id"], validated, source_frame
    )
    return good[~unknown], extra


def _remove_stale_lines(conn: Connection, lines: pd.DataFrame) -> int:
    """Delete stored lines of the uploaded orders beyond the file's line count (driven
    from the uploaded orders through the (order_id, line_no) primary key)."""
    if lines.empty:
        return 0
    line_counts = lines.groupby("order_id", sort=False)["line_no"].max().reset_index()
    table = models.order_lines
    staging = create_temp_table(
        conn,
        "staging_line_counts",
        [
            Column("order_id", table.c.order_id.type, primary_key=True),
            Column("line_no", table.c.line_no.type),
        ],
    )
    bulk_insert(conn, staging, line_counts)
    analyze_table(conn, staging)
    stale = select(table.c.order_id, table.c.line_no).join(
        staging, and_(table.c.order_id == staging.c.order_id, table.c.line_no > staging.c.line_no)
    )
    result = conn.execute(delete(table).where(tuple_(table.c.order_id, table.c.line_no).in_(stale)))
    drop_temp_table(conn, staging)
    return int(result.rowcount or 0)


# -- the upsert -------------------------------------------------------------------------


def _relabel_treated_controls(conn: Connection, batch_id: int, variant: str) -> None:
    """A touches file with is_control but no variant keeps a stored row's variant; where
    that was CONTROL_VARIANT and the file says the customer was treated, it becomes `variant`,
    the one a new treated row gets."""
    touches = models.campaign_touches
    conn.execute(
        update(touches)
        .where(
            touches.c.import_batch_id == batch_id,
            touches.c.variant == models.CONTROL_VARIANT,
            not_(touches.c.is_control),
        )
        .values(variant=variant)
    )


def _insert_into_empty(
    conn: Connection, table: Table, rows: pd.DataFrame, key: tuple[str, ...]
) -> None:
    """Fill an empty table. A large load goes through db.bulk_load (indexes and
    constraints rebuilt once at the end instead of per row), inside the caller's
    transaction, so a rollback restores them; in primary-key order where the key's index
    stays (then appended to, not split at random places)."""
    if len(rows) < LARGE_LOAD_ROWS:
        bulk_insert(conn, table, rows)
        return
    with bulk_load(conn, [table]) as in_key_order:
        if in_key_order:
            rows = rows.sort_values(list(key), kind="stable", ignore_index=True)
        bulk_insert(conn, table, rows)


def _differs(stored: Column, new: Column) -> object:
    """stored IS DISTINCT FROM new; numbers compared rounded to their column's scale."""
    if isinstance(stored.type, Numeric) and stored.type.scale is not None:
        scale = stored.type.scale
        return func.round(stored, scale).is_distinct_from(func.round(new, scale))
    return stored.is_distinct_from(new)


def upsert(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    key: tuple[str, ...],
    batch_id: int | None,
    *,
    compare: bool = True,
    kept: dict[str, object] | None = None,
) -> TableCounts:
    """Insert the rows of `frame` whose key is new and update those whose values differ,
    inside the caller's transaction (a rollback takes the staging table too). Only
    `frame`'s columns that are table columns are written; rows written get
    import_batch_id = batch_id. `kept` ({column: value or None}, Validated.filled): a
    stored row keeps its own value where `frame` holds the value a rule filled in, or
    whatever `frame` holds when None. With compare=False existing keys are left alone
    (counted unchanged). `frame` must not repeat a key."""
    kept = kept or {}
    columns = [c for c in frame.columns if c in table.c and c != "import_batch_id"]
    rows = frame[columns]
    if rows.empty:
        return TableCounts()
    stamped = "import_batch_id" in table.c
    if not has_rows(conn, table):
        stamped_rows = rows.assign(import_batch_id=batch_id) if stamped else rows
        _insert_into_empty(conn, table, stamped_rows, key)
        return TableCounts(inserted=len(rows))
    staging = create_temp_table(
        conn,
        f"staging_{table.name}",
        [Column(c, table.c[c].type) for c in columns],
        parallel_scan=True,
    )
    if is_sqlite(conn):  # its join walks the stored key's index: rows in key order help
        rows = rows.sort_values(list(key), kind="stable", ignore_index=True)
    bulk_insert(conn, staging, rows)
    analyze_table(conn, staging)
    # One pass over the file's rows finds the delta: keys not stored yet (is_new) and
    # stored rows whose values differ. The update and the insert then read only the
    # delta, a small table for a re-upload or a file with a few changes. On PostgreSQL
    # the pass may hash-join with parallel workers (10M orders: 13.7 s alone).
    match_staging = and_(*(table.c[k] == staging.c[k] for k in key))
    absent = table.c[key[0]].is_(None)
    values = [c for c in columns if c not in key and (c not in kept or kept[c] is not None)]
    values = values if compare else []

    def new_value(name: str) -> object:  # a value a rule filled in changes nothing stored
        differs = _differs(table.c[name], staging.c[name])
        return and_(staging.c[name] != kept[name], differs) if name in kept else differs

    differs = or_(*(new_value(c) for c in values)) if values else false()
    delta = create_temp_table_as(
        conn,
        f"delta_{table.name}",
        select(
            *(staging.c[c] for c in columns),
            cast(case((absent, 1), else_=0), Integer).label("is_new"),
        )
        .select_from(staging.outerjoin(table, match_staging))
        .where(or_(absent, differs)),
    )
    inserted, changed = (
        int(n or 0)
        for n in conn.execute(
            select(func.sum(delta.c.is_new), func.count() - func.sum(delta.c.is_new))
        ).one()
    )
    if changed:
        assignments = {
            c: case((delta.c[c] == kept[c], table.c[c]), else_=delta.c[c])
            if c in kept
            else delta.c[c]
            for c in values
        }
        if stamped:
            assignments["import_batch_id"] = literal(batch_id, Integer)
        match = and_(*(table.c[k] == delta.c[k] for k in key))
        conn.execute(update(table).where(match, delta.c.is_new == 0).values(assignments))
    if inserted:
        selected = [delta.c[c] for c in columns]
        targets = list(columns)
        if stamped:
            selected.append(literal(batch_id, Integer))
            targets.append("import_batch_id")
        conn.execute(
            insert(table).from_select(targets, select(*selected).where(delta.c.is_new == 1))
        )
    drop_temp_table(conn, staging)
    drop_temp_table(conn, delta)
    unchanged = len(rows) - inserted - changed
    return TableCounts(inserted=inserted, updated=changed, unchanged=unchanged)
