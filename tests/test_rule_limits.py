"""Rules a user types are limited in size, depth and number of conditions (issue 20,
point 7): more is refused with a message, and a stored rule over the limits is left out
instead of slowing every page."""

from __future__ import annotations

import json

import pytest

from crm_core.customers.segments import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_RULE_TEXT,
    Scheme,
    parse_rule_text,
    validate_condition,
)
from crm_core.customers.tags import TAGS_SETTING, load_tags, parse_condition, save_tag
from crm_core.errors import InputError
from crm_core.store.settings import read_setting, write_setting
from tests.support.actors import ADMIN

LEAF = {"field": "frequency", "op": ">=", "value": 1}


def _nested(depth: int) -> dict:
    condition: dict = LEAF
    for _ in range(depth):
        condition = {"not": condition}
    return condition


def test_size():
    text = json.dumps({"any": [LEAF] * 3000})
    assert len(text) > MAX_RULE_TEXT
    with pytest.raises(InputError) as refused:
        parse_condition(text)
    assert refused.value.key == "rfm.rule.error.too_long"
    with pytest.raises(InputError):
        Scheme.from_json(text)


def test_depth():
    validate_condition(_nested(MAX_DEPTH))
    with pytest.raises(InputError) as too_deep:
        validate_condition(_nested(MAX_DEPTH + 1))
    assert too_deep.value.key == "rfm.rule.error.depth"
    # nesting far past what the JSON parser recurses into, within the size limit
    text = "[" * 20_000 + "]" * 20_000
    with pytest.raises(InputError) as parser_depth:
        parse_rule_text(text, "tags.error.json")
    assert parser_depth.value.key == "rfm.rule.error.depth"


def test_count():
    validate_condition({"any": [LEAF] * MAX_CONDITIONS})
    with pytest.raises(InputError) as too_many:
        validate_condition({"any": [LEAF] * (MAX_CONDITIONS + 1)})
    assert too_many.value.key == "rfm.rule.error.too_many"
    assert str(MAX_CONDITIONS + 1) in too_many.value.message("en")
    scheme = {
        "name": "big",
        "scoring": {},
        "rules": [{"segment": "a", "when": {"all": [LEAF] * 300}}, {"segment": "rest"}],
    }
    with pytest.raises(InputError):
        Scheme.from_json(json.dumps(scheme))


def test_a_stored_tag_over_the_limits_is_left_out(sqlite_store):
    save_tag(sqlite_store, "ok", LEAF, ADMIN)
    stored = read_setting(sqlite_store, TAGS_SETTING)
    stored["custom"].append({"name": "huge", "condition": {"any": [LEAF] * 100_000}})
    with sqlite_store.begin() as conn:
        write_setting(conn, TAGS_SETTING, stored)
    names = [tag.name for tag in load_tags(sqlite_store)]
    assert "ok" in names and "huge" not in names
