"""The one file uploader of the app, in the user's language.

Streamlit draws its uploader's own words ("Upload", "1GB per file • CSV, ...") in
English only. `file_uploader` draws the uploader and a style rule, scoped to this one
uploader, that shows those words in the session's language instead."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import streamlit as st

from ui.context import t

MAX_UPLOAD_MB = 1024
"""server.maxUploadSize in .streamlit/config.toml (MB): what the instructions say."""


def _key_class(key: str) -> str:
    """The CSS class Streamlit gives the container of the widget with `key`."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def _css_text(text: str) -> str:
    """`text` as a CSS string: quotes and backslashes escaped as JSON escapes them, which
    CSS reads the same; no "<", so the text cannot end the style element."""
    return json.dumps(text.replace("<", ""), ensure_ascii=False)


def file_uploader(label: str, types: Sequence[str], key: str, **options: object):
    """st.file_uploader(label, type=types, key=key, **options), with its button and its
    size and type line in the session's language."""
    upload = st.file_uploader(label, type=list(types), key=key, **options)
    size = f"{MAX_UPLOAD_MB // 1024} GB" if MAX_UPLOAD_MB >= 1024 else f"{MAX_UPLOAD_MB} MB"
    instructions = t("upload.instructions", size=size, types=", ".join(x.upper() for x in types))
    scope = f".{_key_class(key)} [data-testid=stFileUploaderDropzone]"
    st.html(
        f"<style>"
        f"{scope} button [data-testid=stMarkdownContainer] p {{font-size: 0}}"
        f"{scope} button [data-testid=stMarkdownContainer] p::after "
        f"{{content: {_css_text(t('upload.button'))}; font-size: 0.875rem}}"
        f"{scope} [data-testid=stFileUploaderDropzoneInstructions] span {{font-size: 0}}"
        f"{scope} [data-testid=stFileUploaderDropzoneInstructions] span::after "
        f"{{content: {_css_text(instructions)}; font-size: 0.875rem}}"
        f"</style>"
    )
    return upload
