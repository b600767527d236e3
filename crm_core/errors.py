"""Typed errors a user can cause (bad file, bad threshold, wrong password).

Each carries an i18n key and its parameters, so the UI shows a translated message and the
command line prints the English one; neither shows a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_core.i18n import DEFAULT_LANGUAGE, translate


@dataclass(frozen=True)
class Named:
    """A message parameter naming things the catalogs have labels for (fields, entities):
    shown in the message's language, listed with its separator. With `with_code` each
    label is followed by its code, which mapping files and the command line use
    ("Amount (amount)", "金额 (amount)")."""

    prefix: str
    codes: tuple[str, ...]
    with_code: bool = True

    def text(self, language: str) -> str:
        labels = (translate(f"{self.prefix}{code}", language) for code in self.codes)
        if self.with_code:
            labels = (f"{label} ({code})" for label, code in zip(labels, self.codes, strict=True))
        return translate("app.list_separator", language).join(labels)


class CrmError(Exception):
    """Base of the errors a user can cause; `key` names the message in the catalogs."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message())

    def message(self, language: str = DEFAULT_LANGUAGE) -> str:
        shown = {
            name: value.text(language) if isinstance(value, Named) else value
            for name, value in self.params.items()
        }
        return translate(self.key, language, **shown)


class InputError(CrmError):
    """An uploaded file or typed value that cannot be used."""


class PermissionDenied(CrmError):
    """The signed-in user's role may not do this."""
