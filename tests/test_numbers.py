"""Numbers are written one way (crm_core.numbers) in both languages, and every number
the Overview and the RFM explorer show comes from that one helper: with the helper
swapped for one that marks its output, no digit on those pages is left unmarked, and
every number column of their tables uses the helper's column formats."""

from __future__ import annotations

import json
import math
import re

import pytest

from crm_core import numbers
from crm_core.numbers import KINDS, MISSING, column_format, number_text
from tests.support.apptest import exception_text, open_app
from ui.rfm import KEY_TAB, TABS


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_each_kind_of_number_is_written_one_way(language):
    assert number_text(1234567, "count", language) == "1,234,567"
    assert number_text(1234.5, "money", language) == "1,234.50"
    assert number_text(-0.004, "money", language) == "-0.00"
    assert number_text(794.0, "days", language) == "794"
    assert number_text(0.1234, "share", language) == "12.3%"
    assert number_text(12.34, "percent", language) == "12.3%"
    assert number_text(2.345, "decimal", language) == "2.35"
    assert number_text(29.64, "score", language) == "29.6"
    assert number_text(0.0523, "p_value", language) == "0.052"
    assert number_text(0.001, "value", language) == "0.001"
    assert number_text(12345.5, "value", language) == "12,345.5"
    assert number_text(12, "count", language, signed=True) == "+12"
    assert number_text(-1200.5, "money", language, signed=True) == "-1,200.50"
    points = {"en": "+1.2 pp", "zh-CN": "+1.2 个百分点"}[language]
    assert number_text(0.012, "points", language, signed=True) == points
    for missing in (None, math.nan, math.inf, "n/a"):
        assert number_text(missing, "money", language) == MISSING


def test_an_unknown_kind_is_refused_and_columns_match_the_texts():
    with pytest.raises(ValueError, match="unknown kind"):
        number_text(1, "currency")
    assert {kind: column_format(kind) for kind in KINDS if kind not in ("points", "value")} == {
        "count": "%,d",
        "money": "%,.2f",
        "share": "percent",
        "percent": "%.1f%%",
        "days": "%,d",
        "decimal": "%,.2f",
        "score": "%.1f",
        "p_value": "%.3f",
    }


OPEN, CLOSE = "\u27e6", "\u27e7"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _unmarked_digits(text: str) -> str:
    """What of `text` holds digits outside the helper's marks (dates aside)."""
    outside = re.sub(f"{OPEN}[^{CLOSE}]*{CLOSE}", "", str(text))
    return "".join(re.findall(r"\d", DATE.sub("", outside)))


@pytest.fixture
def marked_numbers(monkeypatch):
    """crm_core.numbers.number_text with its output between marks."""
    original = numbers.number_text

    def marked(*args, **kwargs):
        return f"{OPEN}{original(*args, **kwargs)}{CLOSE}"

    monkeypatch.setattr(numbers, "number_text", marked)


def _number_columns_use_the_helper(at) -> None:
    allowed = {column_format(kind) for kind in KINDS if kind not in ("points", "value")}
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        for name, dtype in frame.value.dtypes.items():
            if dtype.kind in "iuf" and name not in ("r_score", "f_score", "m_score"):
                found = next((c for key, c in config.items() if key in (name, f"col:{name}")), None)
                assert found is not None, f"column {name!r} has no column config"
                shown = found.get("type_config", {}).get("format")
                assert shown in allowed, f"column {name!r} is formatted {shown!r}"


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_number_on_the_overview_comes_from_the_helper(
    monkeypatch, demo_store_url, marked_numbers, language
):
    at = open_app(
        monkeypatch, demo_store_url, "analyst", page="views/overview.py", language=language
    )
    assert not at.exception, exception_text(at)
    assert len(at.metric) >= 7
    for tile in at.metric:
        assert _unmarked_digits(tile.value) == "", (tile.label, tile.value)
        assert _unmarked_digits(tile.proto.delta) == "", (tile.label, tile.proto.delta)
    _number_columns_use_the_helper(at)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_number_on_the_rfm_explorer_comes_from_the_helper(
    monkeypatch, demo_store_url, marked_numbers, language
):
    at = open_app(monkeypatch, demo_store_url, "analyst", page="views/rfm.py", language=language)
    assert not at.exception, exception_text(at)
    tiles = list(at.metric)
    for tab in TABS:  # every tab, each with its own tables and tiles
        at.session_state[KEY_TAB] = at.tabs[TABS.index(tab)].label
        at.run()
        assert not at.exception, exception_text(at)
        tiles += list(at.metric)
        _number_columns_use_the_helper(at)
    assert len(tiles) >= 6
    for tile in tiles:
        assert _unmarked_digits(tile.value) == "", (tile.label, tile.value)
    cut_points = next(frame.value for frame in at.dataframe if "c1" in frame.value.index)
    for cell in cut_points.to_numpy().ravel():
        assert _unmarked_digits(cell) == "", cell
    grid = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    for row in grid["text"]:
        for cell in row:
            assert _unmarked_digits(re.sub(r"<[^>]+>", " ", cell)) == "", cell
