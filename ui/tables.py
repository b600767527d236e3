"""Tables every page shows the same way: groups too small to rank greyed, and a table's
download (file format choice, safe writer, deferred until clicked)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from crm_core.numbers import MISSING, column_format
from crm_core.outreach.audiences import FILE_FORMATS, render_file
from ui.audiences import FORMAT_LABELS, labels
from ui.auth import actor_check
from ui.context import RunContext, t

GREY = "color: #9e9e9e"


def grey_unranked(table: pd.DataFrame, ranked: np.ndarray) -> Styler:
    """`table` styled with the rows whose `ranked` is False in grey (positions, not
    labels: the table's index may be anything)."""
    flags = np.asarray(ranked, dtype=bool)
    positions = {label: position for position, label in enumerate(table.index)}
    return table.style.apply(
        lambda row: [None if flags[positions[row.name]] else GREY] * len(row), axis=1
    )


def table_download(
    ctx: RunContext,
    table: pd.DataFrame,
    headers: Mapping[str, str],
    *,
    label: str,
    file_stem: str,
    format_key: str,
    download_key: str,
) -> None:
    """A file-format choice and a download of `table` (columns renamed by `headers`)
    through the safe writer, deferred until clicked."""
    left, right = st.columns([1, 2])
    file_format = left.radio(
        t("audiences.format"),
        list(FILE_FORMATS),
        format_func=labels(FORMAT_LABELS),
        key=format_key,
        horizontal=True,
    )

    still_signed_in = actor_check(ctx.engine)

    def build() -> bytes:  # masked for the user still signed in when it is clicked
        return render_file(
            table.rename(columns=headers), file_format, still_signed_in(), ctx.language
        )

    right.download_button(
        label,
        data=build,
        file_name=f"{file_stem}.{file_format}",
        mime=FILE_FORMATS[file_format],
        key=download_key,
        icon=":material/download:",
    )


def number_column(label: str, kind: str, **options: object) -> st.column_config.NumberColumn:
    """A table column of numbers of `kind` (crm_core.numbers.KINDS), formatted as the
    pages write such numbers everywhere."""
    return st.column_config.NumberColumn(label, format=column_format(kind), **options)


def dashed(values: pd.Series | np.ndarray, template: str) -> np.ndarray:
    """Numbers as text by `template` (e.g. "{:+.1f}", "{:.1f}%"), a dash where missing:
    for columns that may hold gaps, which a number column would show as 'None'."""
    numbers = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    return np.array(
        [MISSING if pd.isna(value) else template.format(value) for value in numbers], dtype=object
    )


def interval_text(
    low: pd.Series | np.ndarray, high: pd.Series | np.ndarray, template: str
) -> np.ndarray:
    """Intervals as '[low, high]' text by `template` for each end, a dash where missing."""
    lows, highs = dashed(low, template), dashed(high, template)
    return np.array(
        [MISSING if MISSING in (a, b) else f"[{a}, {b}]" for a, b in zip(lows, highs, strict=True)],
        dtype=object,
    )
