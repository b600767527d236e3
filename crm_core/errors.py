"""Typed errors a user can cause (bad file, bad threshold, wrong password).

Each carries an i18n key and its parameters, so the UI shows a translated message and the
command line prints the English one; neither shows a traceback.
"""

from __future__ import annotations

from crm_core.i18n import DEFAULT_LANGUAGE, translate


class CrmError(Exception):
    """Base of the errors a user can cause; `key` names the message in the catalogs."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(translate(key, DEFAULT_LANGUAGE, **params))

    def message(self, language: str = DEFAULT_LANGUAGE) -> str:
        return translate(self.key, language, **self.params)


class InputError(CrmError):
    """An uploaded file or typed value that cannot be used."""


class PermissionDenied(CrmError):
    """The signed-in user's role may not do this."""
