"""Warm up after new data: once per (store, data version, as-of date) in this process, a
thread of its own computes and keeps what the pages read first (crm_core's
`warm_up_first_views`: the facts, tag facts and Overview frames on the newest order's
day) and the campaign list's aggregates (`warm_up_aggregates`), so the page opened
after an import or a restart finds them ready instead of aggregating every order."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import Engine

from crm_core.customers.warm_up import warm_up_first_views
from crm_core.outreach.campaigns import warm_up_aggregates
from ui.context import RunContext

logger = logging.getLogger(__name__)
_warmed: dict[tuple[str, int, dt.date], threading.Thread] = {}
_warm_lock = threading.Lock()


def warm_up_after_new_data(ctx: RunContext) -> None:
    """Start the warm-up thread once per (store, data version, as-of date)."""
    key = (ctx.url, ctx.data_version, ctx.as_of)
    with _warm_lock:
        if key in _warmed:
            return
        thread = threading.Thread(
            target=_warm_up,
            args=(ctx.engine, ctx.as_of, ctx.latest_order),
            name="warm-up",
            daemon=True,
        )
        _warmed[key] = thread
    thread.start()


def warming_up(ctx: RunContext) -> bool:
    """Whether this run's data is still being warmed up (e.g. right after an import)."""
    with _warm_lock:
        thread = _warmed.get((ctx.url, ctx.data_version, ctx.as_of))
    return thread is not None and thread.is_alive()


def _warm_up(engine: Engine, as_of: dt.date, latest_order: dt.date | None) -> None:
    try:
        if latest_order is not None:
            warm_up_first_views(engine, latest_order)
        warm_up_aggregates(engine, as_of)
    except Exception:  # a warm-up that fails leaves the work to the page, which says why
        logger.exception("warming up the first views failed")
