"""zh-CN and English strings.

Catalogs live in crm_core/locales/<language>/<area>.json (one file per area of the app,
e.g. core.json, overview.json, data.json); the files of one language are merged and a key
defined twice is an error. Strings use str.format placeholders: "{count} customers".
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


@cache
def catalog(language: str) -> dict[str, str]:
    """Every string of `language`, merged from its area files."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language).glob("*.json")):
        with path.open(encoding="utf-8") as fh:
            entries = json.load(fh)
        clash = merged.keys() & entries.keys()
        if clash:
            raise ValueError(f"{path.name} defines keys again: {sorted(clash)}")
        merged.update(entries)
    return merged


def translate(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The string for `key` in `language`, formatted with `params`.

    A key missing from the catalog comes back as the key itself, so a screen never
    breaks; tests check that every key used in the code exists in both catalogs.
    """
    text = catalog(language).get(key)
    if text is None:
        return key
    return text.format(**params) if params else text


def has_key(key: str, language: str) -> bool:
    return key in catalog(language)
