"""Frames kept in the store (crm_core.store.frames), on SQLite and PostgreSQL: the kept
per-customer facts and tag facts equal the computed ones value for value; a second read
comes from the store; every write path (import, duplicate merge, demo load) makes the
next read compute again, so a kept frame never serves numbers of older data; a frame
computed while the data changed is not kept; only the newest few are kept."""

from __future__ import annotations

import datetime as dt

import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import func, select

from crm_core.customers import features as features_module
from crm_core.customers import tags as tags_module
from crm_core.customers.features import customer_features, stored_customer_features
from crm_core.customers.overview import FIRST_VIEW_SIZES, OVERVIEW_FRAMES
from crm_core.customers.tags import stored_tag_facts, tag_facts
from crm_core.customers.warm_up import warm_up_first_views
from crm_core.demo import generate_shop, load_shop
from crm_core.demo.load import remove_demo_shop
from crm_core.ingest import import_file
from crm_core.ingest import quality as quality_module
from crm_core.ingest.duplicates import merge_customers
from crm_core.store import bump_data_version, make_engine, models
from crm_core.store.frames import STORED_FRAMES_KEPT, stored_frame
from tests.support.actors import ADMIN
from tests.support.apptest import demo_store_url, exception_text, open_app

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture
def shop(store):
    load_shop(store, generate_shop(300, seed=3, end_date=AS_OF))
    return store


def _not_again(*_args, **_kwargs):
    raise AssertionError("computed again although kept")


def _kept(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(models.stored_frames)).scalar()


@pytest.mark.parametrize("window_days", [None, 365])
def test_kept_facts_equal_the_computed_ones_and_are_read_back(shop, monkeypatch, window_days):
    computed = customer_features(shop, AS_OF, window_days)
    assert_frame_equal(stored_customer_features(shop, AS_OF, window_days), computed)
    monkeypatch.setattr(features_module, "customer_features", _not_again)
    assert_frame_equal(stored_customer_features(shop, AS_OF, window_days), computed)
    tags = tag_facts(shop, AS_OF)
    assert_frame_equal(stored_tag_facts(shop, AS_OF), tags)
    monkeypatch.setattr(tags_module, "tag_facts", _not_again)
    assert_frame_equal(stored_tag_facts(shop, AS_OF), tags)
    assert _kept(shop) == 2


def test_every_write_path_makes_the_next_read_compute_again(shop):
    def check_fresh() -> None:
        assert_frame_equal(stored_customer_features(shop, AS_OF), customer_features(shop, AS_OF))

    before = stored_customer_features(shop, AS_OF)
    first = before["customer_id"].iloc[0]
    import_file(
        shop,
        f"order_id,customer_id,ordered_at,amount\nnew-1,{first},2026-10-30,777\n".encode(),
        "orders",
        actor=ADMIN,
    )
    after_import = stored_customer_features(shop, AS_OF)
    assert after_import.loc[after_import["customer_id"] == first, "frequency"].iloc[0] == (
        before.loc[before["customer_id"] == first, "frequency"].iloc[0] + 1
    )
    check_fresh()
    second = before["customer_id"].iloc[1]
    merge_customers(shop, first, [second], preview=False, actor=ADMIN)
    assert second not in set(stored_customer_features(shop, AS_OF)["customer_id"])
    check_fresh()
    remove_demo_shop(shop, ADMIN)  # the demo shop goes, and another comes
    assert stored_customer_features(shop, AS_OF).empty
    load_shop(shop, generate_shop(50, seed=9, end_date=AS_OF))
    assert len(stored_customer_features(shop, AS_OF)) == 50
    check_fresh()


def test_a_frame_computed_while_the_data_changed_is_not_kept(shop):
    def compute_during_an_import():
        with shop.begin() as conn:
            bump_data_version(conn)
        return customer_features(shop, AS_OF)

    stored_frame(shop, "customer_features", {"as_of": "x"}, compute_during_an_import)
    assert _kept(shop) == 0


def test_only_the_newest_frames_of_a_name_are_kept(shop):
    for day in range(STORED_FRAMES_KEPT + 2):
        stored_customer_features(shop, AS_OF - dt.timedelta(days=day))
    stored_tag_facts(shop, AS_OF)
    with shop.connect() as conn:
        names = conn.execute(select(models.stored_frames.c.name)).scalars().all()
    assert sorted(names) == ["customer_features"] * STORED_FRAMES_KEPT + ["tag_facts"]


def test_a_warm_up_keeps_what_the_first_views_read(tmp_path, monkeypatch):
    """After `warm_up_first_views` the Overview, the RFM explorer and Audiences open on
    the newest order's day without computing a frame: each computation would fail."""
    url = demo_store_url(tmp_path, 300, 4, AS_OF)
    engine = make_engine(url)
    try:
        assert warm_up_first_views(engine) == [
            "data_quality",
            "customer_features",
            "tag_facts",
            *(f"overview.{name}" for name in FIRST_VIEW_SIZES),
        ]
    finally:
        engine.dispose()
    monkeypatch.setattr(features_module, "customer_features", _not_again)
    monkeypatch.setattr(tags_module, "tag_facts", _not_again)
    monkeypatch.setattr(quality_module, "data_quality", _not_again)
    for name in OVERVIEW_FRAMES:
        monkeypatch.setitem(OVERVIEW_FRAMES, name, _not_again)
    for page in ("views/overview.py", "views/rfm.py", "views/audiences.py"):
        at = open_app(monkeypatch, url, "analyst", page=page)
        assert not at.exception, (page, exception_text(at))
        assert at.metric, page  # the page drew its figures


def test_the_app_warms_up_once_per_data_version_and_says_while_it_runs(monkeypatch):
    import threading
    import types

    from ui import warm_up

    release, calls = threading.Event(), []

    def slow_warm_up(engine, day):
        calls.append(day)
        release.wait(10)
        return []

    monkeypatch.setattr(warm_up, "warm_up_first_views", slow_warm_up)
    monkeypatch.setattr(warm_up, "warm_up_aggregates", lambda engine, as_of: False)
    ctx = types.SimpleNamespace(
        url="sqlite:///warm-up-test.db", data_version=7, as_of=AS_OF, engine=None,
        latest_order=AS_OF,
    )  # fmt: skip
    warm_up.warm_up_after_new_data(ctx)
    warm_up.warm_up_after_new_data(ctx)  # the same data: no second thread
    assert warm_up.warming_up(ctx)
    release.set()
    warm_up._warmed[(ctx.url, 7, AS_OF)].join(10)
    assert not warm_up.warming_up(ctx)
    assert calls == [AS_OF]
