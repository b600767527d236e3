"""Run the real app (app.py, with its router and sidebar) in Streamlit's AppTest.

`demo_store_url` (a session fixture in tests/conftest.py) is a SQLite store with a small
demo shop; `open_app(...)` signs a user of the given role in by session state and opens a
page. Sign-in itself is tested through the form in tests/test_app.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crm_core.auth import Actor
from ui.context import KEY_AS_OF, KEY_LANGUAGE, KEY_USER

APP_PATH = Path(__file__).resolve().parents[2] / "app.py"
APP_TIMEOUT_S = 120

PAGE_FILES = (
    "pages/overview.py",
    "pages/rfm.py",
    "pages/audiences.py",
    "pages/exports.py",
    "pages/data.py",
    "pages/settings.py",
)


def open_app(
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
    role: str | None,
    page: str | None = None,
    language: str = "en",
    as_of: dt.date | None = None,
) -> AppTest:
    """The app run once against `store_url`, signed in as `role` (None: signed out),
    switched to `page` when given. Check `at.exception` after every run."""
    monkeypatch.setenv("DATABASE_URL", store_url)
    at = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_S)
    at.session_state[KEY_LANGUAGE] = language
    if role is not None:
        at.session_state[KEY_USER] = Actor(username=f"test-{role}", role=role)
    if as_of is not None:
        at.session_state[KEY_AS_OF] = as_of
    at.run()
    if page is not None and not at.exception:
        at.switch_page(page)
        at.run()
    return at


def exception_text(at: AppTest) -> str:
    """The app's exceptions as one readable string, for assertion messages."""
    return "\n".join(f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception)
