"""Words the app does not know, and the user's mapping of them.

A field of kind 'words' (an order's status, a sales channel, a ticket type ...) accepts
the words of its table in entities.py. A shop's export often says more (Olist's
'invoiced', 'processing'; a POS system's own words): `unknown_words` lists the cells no
table knows, per field, with their row counts, and a value map ({field: {word: value}},
chosen by the user, saved with the mapping template, or given on the command line as
`--map status:WORD=paid`) adds them to the field's table for one import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from crm_core.errors import InputError
from crm_core.ingest import values as v
from crm_core.ingest.entities import Field, entity_spec

ValueMap = dict[str, dict[str, str]]
"""{field name: {word as in the file: the field's value}}."""

UNKNOWN_WORD_COLUMNS = ("field", "column", "word", "rows")


def word_fields(entity: str) -> list[Field]:
    """The fields of `entity` whose cells are words from a table."""
    return [f for f in entity_spec(entity).fields if f.kind == "words" and f.words]


def field_values(spec_field: Field) -> list[str]:
    """The values a words field stores (paid, unpaid, ...), in table order."""
    return list(dict.fromkeys((spec_field.words or {}).values()))


def words_table(spec_field: Field, value_map: Mapping[str, Mapping[str, str]] | None) -> dict:
    """The field's word table with the user's words for it added."""
    return {**(spec_field.words or {}), **dict((value_map or {}).get(spec_field.name, {}))}


def check_value_map(entity: str, value_map: Mapping[str, Mapping[str, str]] | None) -> ValueMap:
    """`value_map` as plain dicts, or InputError naming a field that takes no words or a
    value the field does not store."""
    fields = {f.name: f for f in word_fields(entity)}
    checked: ValueMap = {}
    for name, words in (value_map or {}).items():
        if name not in fields:
            raise InputError(
                "data.error.value_map_field", field=name, fields=", ".join(sorted(fields))
            )
        allowed = field_values(fields[name])
        for word, value in dict(words).items():
            if value not in allowed:
                raise InputError(
                    "data.error.value_map_value",
                    field=name,
                    word=word,
                    value=value,
                    values=", ".join(allowed),
                )
        checked[name] = {str(word): str(value) for word, value in dict(words).items()}
    return checked


def unknown_words(
    frame: pd.DataFrame,
    entity: str,
    mapping: Mapping[str, str | None],
    value_map: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """The non-empty cells of mapped words columns that neither the field's table nor
    `value_map` knows: one row per field and word (as written in the file) with the
    number of rows holding it, most frequent first (UNKNOWN_WORD_COLUMNS)."""
    fields = {f.name: f for f in word_fields(entity)}
    parts = []
    for column, name in mapping.items():
        if name not in fields or column not in frame.columns:
            continue
        _, unknown = v.parse_words(frame[column], words_table(fields[name], value_map))
        counts = frame.loc[unknown.to_numpy(dtype=bool), column].astype("str").value_counts()
        if len(counts):
            parts.append(
                pd.DataFrame(
                    {
                        "field": name,
                        "column": column,
                        "word": counts.index.astype(str),
                        "rows": counts.to_numpy(dtype="int64"),
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "rows" else "str")
                             for c in UNKNOWN_WORD_COLUMNS})  # fmt: skip
    return pd.concat(parts, ignore_index=True).sort_values(
        ["field", "rows", "word"], ascending=[True, False, True], ignore_index=True
    )


def parse_value_map(items: Iterable[str]) -> ValueMap:
    """Command-line `FIELD:WORD=VALUE` items (e.g. status:invoiced=paid) as a value map;
    InputError for an item of another shape."""
    value_map: ValueMap = {}
    for item in items:
        field, sep, rest = item.partition(":")
        word, eq, value = rest.rpartition("=")
        if not sep or not eq or not field.strip() or not word.strip() or not value.strip():
            raise InputError("data.error.value_map_item", item=item)
        value_map.setdefault(field.strip(), {})[word.strip()] = value.strip()
    return value_map
