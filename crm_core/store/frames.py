"""Frames computed from the store and kept in it, so a restart, a second app process or
another user reads them instead of aggregating millions of orders again.

`stored_frame(engine, name, params, compute)` keys a frame on its name, its parameters
and the store's data version: every write path (imports, duplicate merges, demo loads,
campaign setups) bumps the version, so a kept frame is never read after the data it came
from changed. The frame travels as Parquet (zstd) in `stored_frames.content`, on SQLite
and PostgreSQL alike; the newest STORED_FRAMES_KEPT of each name stay.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, delete, insert, select

from crm_core.store import models
from crm_core.store.version import data_version

STORED_FRAMES_KEPT = 4
"""Kept frames of one name (e.g. the facts of the four newest as-of dates and windows)."""
FRAME_FORMAT = 1
"""The layout of a kept frame; a new layout leaves the older ones unread."""


def frame_key(version: int, params: Mapping[str, object]) -> str:
    """The key of a kept frame: the data version and the parameters, as sorted JSON."""
    return json.dumps(
        {"format": FRAME_FORMAT, "version": version, **params}, sort_keys=True, default=str
    )


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as Parquet (zstd), its index left out."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def frame_from_bytes(content: bytes) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(content)).to_pandas()


def stored_frame(
    engine: Engine,
    name: str,
    params: Mapping[str, object],
    compute: Callable[[], pd.DataFrame],
) -> pd.DataFrame:
    """The frame `compute()` gives for `params` at the store's current data version:
    read from the store when kept, else computed and kept (unless the data changed
    while it was computed, when it is returned but not kept)."""
    version = data_version(engine)
    key = frame_key(version, params)
    table = models.stored_frames
    with engine.connect() as conn:
        content = conn.execute(
            select(table.c.content).where(table.c.name == name, table.c.key == key)
        ).scalar()
    if content is not None:
        return frame_from_bytes(content)
    frame = compute()
    content = frame_bytes(frame)
    with engine.begin() as conn:
        if data_version(conn) != version:
            return frame
        conn.execute(delete(table).where(table.c.name == name, table.c.key == key))
        conn.execute(
            insert(table).values(
                name=name,
                key=key,
                data_version=version,
                created_at=dt.datetime.now().replace(microsecond=0),
                row_count=len(frame),
                content=content,
            )
        )
        kept = (
            select(table.c.id)
            .where(table.c.name == name)
            .order_by(table.c.id.desc())
            .limit(STORED_FRAMES_KEPT)
            .scalar_subquery()
        )
        conn.execute(delete(table).where(table.c.name == name, table.c.id.not_in(kept)))
    return frame
