"""The one scheme picker of the RFM and Audiences pages.

Both pages offer the same list (`crm_core.customers.segments.scheme_choices`: saved
schemes first, then the presets no saved scheme shadows) and share the choice through
the URL (`?scheme=NAME&version=N`), so a link opens the same scheme on either page.
"""

from __future__ import annotations

import streamlit as st

from crm_core.customers.segments import SchemeChoice, scheme_label
from crm_core.i18n import translate
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


def _initial_option(by_option: dict[str, SchemeChoice]) -> str:
    """The URL's scheme, else the one last picked on the other page, when on offer; else
    the default preset or the first."""
    wanted = url_value(PARAM_SCHEME) or st.session_state.get(KEY_CHOSEN, (None, None))[0]
    for option, choice in by_option.items():
        if choice.name == wanted:
            return option
    for option, choice in by_option.items():
        if choice.name == DEFAULT_SCHEME:
            return option
    return next(iter(by_option))


def scheme_picker(
    choices: list[SchemeChoice],
    *,
    scheme_key: str,
    version_key: str,
    label_key: str,
    help_key: str,
    version_help_key: str | None = None,
) -> tuple[SchemeChoice, int | None]:
    """A scheme select box and, for a saved scheme, a version select box beside it.
    Returns the choice and the version picked (None for a preset)."""
    language = current_language()
    by_option = {scheme_option(choice): choice for choice in choices}
    if st.session_state.get(scheme_key) not in by_option:
        st.session_state[scheme_key] = _initial_option(by_option)
        st.session_state.pop(version_key, None)
    left, right = st.columns([3, 1])
    option = left.selectbox(
        t(label_key),
        options=list(by_option),
        format_func=lambda value: option_label(value, language),
        key=scheme_key,
        help=t(help_key),
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
        version = right.selectbox(
            t("rfm.version"),
            options=list(choice.versions),
            format_func=lambda v: translate("rfm.version_option", language, version=v),
            key=version_key,
            help=t(version_help_key) if version_help_key else None,
        )
    st.session_state[KEY_CHOSEN] = (choice.name, version)
    set_url_value(PARAM_SCHEME, choice.name)
    set_url_value(PARAM_VERSION, version)
    return choice, version
