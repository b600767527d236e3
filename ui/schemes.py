"""The one scheme picker of the RFM and Audiences pages.

Both pages offer the same list (`crm_core.customers.segments.scheme_choices`: saved
schemes first, then the presets no saved scheme shadows) and share the choice through
the URL (`?scheme=NAME&version=N`), so a link opens the same scheme on either page.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from sqlalchemy import Engine

from crm_core.customers.segments import (
    Scheme,
    SchemeChoice,
    resolve_scheme_ref,
    scheme_choices,
    scheme_label,
    team_scheme,
)
from crm_core.i18n import has_key, translate
from ui.context import PARAM_SCHEME, PARAM_VERSION, current_language, set_url_value, t, url_value

PRESET_PREFIX = "preset:"
SAVED_PREFIX = "saved:"
DEFAULT_SCHEME = "rfm11"
KEY_CHOSEN = "crm.scheme.chosen"
"""(name, version) last picked on either page: the other page opens on it."""


def scheme_option(choice: SchemeChoice) -> str:
    """The widget option of a choice: 'saved:NAME' or 'preset:NAME'."""
    return f"{SAVED_PREFIX if choice.saved else PRESET_PREFIX}{choice.name}"


def option_label(option: str, language: str) -> str:
    """'RFM 11 segments (R x FM) (preset)' and the like, in `language`."""
    kind = "preset" if option.startswith(PRESET_PREFIX) else "saved"
    name = option.split(":", 1)[1]
    return translate(f"rfm.scheme_option.{kind}", language, name=scheme_label(name, language))


def _initial_option(engine: Engine, by_option: dict[str, SchemeChoice]) -> str:
    """The URL's scheme, else the one last picked on the other page, else the scheme the
    team saved last, when on offer; else the default preset or the first."""
    wanted = (
        url_value(PARAM_SCHEME)
        or st.session_state.get(KEY_CHOSEN, (None, None))[0]
        or team_scheme(engine)
        or DEFAULT_SCHEME
    )
    for option, choice in by_option.items():
        if choice.name == wanted:
            return option
    for option, choice in by_option.items():
        if choice.name == DEFAULT_SCHEME:
            return option
    return next(iter(by_option))


@dataclass(frozen=True)
class PickedScheme:
    """What the picker chose: the offered choice, its version (None for a preset), the
    scheme itself and its stored id (None for a preset)."""

    choice: SchemeChoice
    version: int | None
    scheme: Scheme
    scheme_id: int | None

    @property
    def option(self) -> str:
        return scheme_option(self.choice)


def scheme_keys(page: str) -> tuple[str, str]:
    """The session keys of a page's scheme and version select boxes."""
    return f"crm.{page}.scheme", f"crm.{page}.version"


def scheme_picker(engine: Engine, page: str) -> PickedScheme:
    """A scheme select box and, for a saved scheme, a version select box beside it, on
    `page` (rfm or audiences: its keys and its label, help and version help texts)."""
    language = current_language()
    scheme_key, version_key = scheme_keys(page)
    by_option = {scheme_option(choice): choice for choice in scheme_choices(engine)}
    if st.session_state.get(scheme_key) not in by_option:
        st.session_state[scheme_key] = _initial_option(engine, by_option)
        st.session_state.pop(version_key, None)
    left, right = st.columns([3, 1])
    option = left.selectbox(
        t(f"{page}.scheme"),
        options=list(by_option),
        format_func=lambda value: option_label(value, language),
        key=scheme_key,
        help=t(f"{page}.scheme_help"),
    )
    choice = by_option[option]
    version = None
    if choice.saved:
        if st.session_state.get(version_key) not in choice.versions:
            chosen_name, chosen_version = st.session_state.get(KEY_CHOSEN, (None, None))
            wanted = url_value(PARAM_VERSION)
            if wanted and wanted.isdigit():
                chosen_name, chosen_version = choice.name, int(wanted)
            st.session_state[version_key] = (
                chosen_version
                if chosen_name == choice.name and chosen_version in choice.versions
                else choice.versions[0]
            )
        help_key = f"{page}.version_help"
        version = right.selectbox(
            t("rfm.version"),
            options=list(choice.versions),
            format_func=lambda v: translate("rfm.version_option", language, version=v),
            key=version_key,
            help=t(help_key) if has_key(help_key, language) else None,
        )
    st.session_state[KEY_CHOSEN] = (choice.name, version)
    set_url_value(PARAM_SCHEME, choice.name)
    set_url_value(PARAM_VERSION, version)
    scheme, scheme_id = resolve_scheme_ref(engine, choice.name, version)
    return PickedScheme(choice, version, scheme, scheme_id)
