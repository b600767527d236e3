"""Both catalogs are complete, consistent, and cover every key the code uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from crm_core.i18n import LANGUAGES, catalog, translate

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("app.py", "views", "ui", "crm_core")
# t("key"), translate("key", ...), CrmError/InputError("key", ...), *_key="key"
KEY_USE = re.compile(
    r"""(?:\bt|translate|Error|Denied)\(\s*["']([a-z_]+(?:\.[a-zA-Z0-9_]+)+)["']"""
)


def _code_files() -> list[Path]:
    files: list[Path] = []
    for name in CODE_DIRS:
        path = ROOT / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_languages_have_the_same_keys():
    english, chinese = catalog("en"), catalog("zh-CN")
    assert sorted(english.keys() - chinese.keys()) == []
    assert sorted(chinese.keys() - english.keys()) == []


def test_no_string_is_empty_or_left_untranslated():
    english, chinese = catalog("en"), catalog("zh-CN")
    assert [k for k, v in english.items() if not v.strip()] == []
    assert [k for k, v in chinese.items() if not v.strip()] == []
    # A Chinese string equal to a multi-word English one was not translated.
    untranslated = [
        k for k, v in chinese.items() if v == english[k] and len(english[k].split()) > 2
    ]
    assert untranslated == []


def test_placeholders_match_between_languages():
    english, chinese = catalog("en"), catalog("zh-CN")
    mismatched = {
        key: (_placeholders(english[key]), _placeholders(chinese[key]))
        for key in english
        if _placeholders(english[key]) != _placeholders(chinese[key])
    }
    assert mismatched == {}


def test_every_key_used_in_code_exists_in_both_catalogs():
    used: dict[str, str] = {}
    for path in _code_files():
        for key in KEY_USE.findall(path.read_text(encoding="utf-8")):
            used.setdefault(key, str(path.relative_to(ROOT)))
    assert used, "the scan found no key at all: the pattern is broken"
    for language in LANGUAGES:
        missing = {key: where for key, where in used.items() if key not in catalog(language)}
        assert missing == {}, f"keys missing from {language}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translate_formats_and_falls_back_to_the_key(language):
    assert translate("app.latest_order", language, date="2024-03-05").count("2024-03-05") == 1
    assert translate("no.such.key", language) == "no.such.key"
