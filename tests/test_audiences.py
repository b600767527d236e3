"""Audience selection on a generated shop (SQLite and PostgreSQL), checked against the
same selection written independently in pandas; definitions and scheme references."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from crm_core.auth import Actor
from crm_core.customers.segments import (
    NOT_SCORED,
    customer_segments,
    evaluate_scheme,
    preset,
    resolve_scheme_ref,
    save_scheme,
)
from crm_core.demo import generate_shop, load_shop
from crm_core.errors import InputError
from crm_core.outreach.audiences import (
    Audience,
    audience_size,
    load_audience_facts,
    select_members,
)

AS_OF = dt.date(2026, 10, 31)
SHOP_CUSTOMERS = 600


@pytest.fixture
def demo_shop(store):
    load_shop(store, generate_shop(SHOP_CUSTOMERS, seed=7, end_date=AS_OF))
    return store


def _facts(store, scheme_name: str = "rfm11"):
    return load_audience_facts(store, AS_OF, None, preset(scheme_name))


def _ids(facts, mask) -> set[str]:
    return set(facts.customer_ids.to_numpy()[mask])


def test_selection_equals_the_same_filters_written_in_pandas(demo_shop):
    facts = _facts(demo_shop)
    features = facts.features
    provinces = list(features["province"].value_counts().index[:6])
    audience = Audience(
        include_segments=("at_risk", "cant_lose", "hibernating", "lost", "about_to_sleep"),
        exclude_segments=("lost",),
        exclude_tags=("detractor",),
        provinces=tuple(provinces),
        recency_days=(60, 900),
        frequency=(1, None),
    )
    chosen = select_members(facts, audience)

    segments = customer_segments(facts.rfm, evaluate_scheme(facts.rfm, preset("rfm11")))
    segment = segments.astype(str).to_numpy()
    expected = (
        np.isin(segment, ["at_risk", "cant_lose", "hibernating", "about_to_sleep"])
        & ~(features["last_nps"].to_numpy(dtype=float, na_value=np.nan) <= 6)
        & features["province"].isin(provinces).to_numpy()
        & (features["recency_days"] >= 60).to_numpy()
        & (features["recency_days"] <= 900).to_numpy()
        & (features["frequency"] >= 1).to_numpy()
    )
    assert expected.sum() > 10, "the shop should give this audience some members"
    assert _ids(facts, chosen) == _ids(facts, expected)
    size = audience_size(facts, chosen)
    assert size.customers == int(expected.sum())
    assert size.revenue == pytest.approx(features["monetary"].to_numpy()[expected].sum(), abs=0.01)


def test_tags_any_or_all_and_channels(demo_shop):
    facts = _facts(demo_shop)
    repeat = facts.tags.column("repeat_buyer")
    high_end = facts.tags.column("high_end")
    any_of = select_members(facts, Audience(include_tags=("repeat_buyer", "high_end")))
    all_of = select_members(
        facts, Audience(include_tags=("repeat_buyer", "high_end"), tags_mode="all")
    )
    assert _ids(facts, any_of) == _ids(facts, repeat | high_end)
    assert _ids(facts, all_of) == _ids(facts, repeat & high_end)
    assert 0 < all_of.sum() < any_of.sum()
    store_customers = select_members(facts, Audience(channels=("store",)))
    assert _ids(facts, store_customers) == _ids(
        facts, facts.features["channel"].eq("store").to_numpy()
    )


def test_everyone_and_the_not_scored_segment(demo_shop):
    facts = _facts(demo_shop)
    everyone = select_members(facts, Audience())
    assert everyone.all() and len(everyone) == len(facts.features)
    prospects = select_members(facts, Audience(include_segments=(NOT_SCORED,)))
    assert _ids(facts, prospects) == _ids(facts, facts.features["frequency"].to_numpy() == 0)
    with pytest.raises(InputError) as unknown:
        select_members(facts, Audience(include_segments=("vip",)))
    assert "vip" in str(unknown.value) and "rfm11" in str(unknown.value)
    with pytest.raises(InputError):
        select_members(facts, Audience(include_tags=("no_such_tag",)))


def test_a_window_changes_the_facts_segments_are_read_from(demo_shop):
    all_history = _facts(demo_shop)
    last_year = load_audience_facts(demo_shop, AS_OF, 365, preset("lifecycle"))
    audience = Audience(scheme="lifecycle", window_days=365, include_segments=("active",))
    active = select_members(last_year, audience)
    recency = last_year.features["recency_days"].to_numpy()
    assert _ids(last_year, active) == _ids(last_year, recency <= 90)
    assert (last_year.features["frequency"] <= all_history.features["frequency"]).all()


def test_audience_definition_round_trips_through_json():
    audience = Audience(
        scheme="my scheme",
        scheme_version=3,
        window_days=365,
        include_segments=("vip", "vip"),
        include_tags=("新标签",),
        tags_mode="all",
        provinces=("浙江省",),
        monetary=(100, None),
    )
    assert audience.include_segments == ("vip",)
    assert audience.monetary == (100.0, None)
    again = Audience.from_dict(json.loads(json.dumps(audience.to_dict(), ensure_ascii=False)))
    assert again == audience


@pytest.mark.parametrize(
    "payload",
    [
        {"recency_days": [90, 30]},
        {"frequency": [1]},
        {"monetary": ["a", None]},
        {"tags_mode": "most"},
        {"include_segments": "vip"},
        {"segments": ["vip"]},
        {"scheme": ""},
    ],
)
def test_bad_audience_definitions_are_refused(payload):
    with pytest.raises(InputError):
        Audience.from_dict(payload)


def test_scheme_references_saved_and_preset(sqlite_store):
    scheme, scheme_id = resolve_scheme_ref(sqlite_store, "membership")
    assert scheme_id is None and scheme.name == "membership"
    first = save_scheme(sqlite_store, preset("lifecycle"), Actor("analyst", "analyst"))
    second = save_scheme(sqlite_store, preset("lifecycle"), Actor("analyst", "analyst"))
    newest, newest_id = resolve_scheme_ref(sqlite_store, "lifecycle")
    assert (newest.version, newest_id) == (2, second.id)
    older, older_id = resolve_scheme_ref(sqlite_store, "lifecycle", 1)
    assert (older.version, older_id) == (1, first.id)
    with pytest.raises(InputError):
        resolve_scheme_ref(sqlite_store, "lifecycle", 9)
    with pytest.raises(InputError):
        resolve_scheme_ref(sqlite_store, "no-such-scheme")


def test_a_download_file_name_says_what_the_list_is():
    from crm_core.outreach.audiences import audience_file_stem

    day = dt.date(2026, 10, 31)
    assert audience_file_stem(Audience(), day) == "audience-all-2026-10-31"
    two = Audience(include_segments=("champions", "loyal"))
    assert audience_file_stem(two, day) == "audience-champions+loyal-2026-10-31"
    many = Audience(include_segments=("a", "b", "c", "d", "e"))
    assert audience_file_stem(many, day) == "audience-a+b+c+2-2026-10-31"
    tagged = Audience(include_tags=("大额 常客/VIP",))
    assert audience_file_stem(tagged, day) == "audience-tag+大额_常客_VIP-2026-10-31"
