"""Run the real app (app.py, with its router and sidebar) in Streamlit's AppTest.

`demo_store_url` (a session fixture in tests/conftest.py) is a SQLite store with a small
demo shop; `open_app(...)` signs a user of the given role in by session state and opens a
page. Sign-in itself is tested through the form in tests/test_app.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from crm_core.auth import COMMAND_LINE, Actor, create_user, get_active_user
from crm_core.bootstrap import DEMO_IF_EMPTY_ENV
from crm_core.demo import generate_shop, load_shop
from crm_core.store import make_engine, upgrade_to_head
from ui.context import KEY_AS_OF, KEY_AS_OF_CHOSEN, KEY_LANGUAGE, KEY_USER
from ui.schemes import KEY_CHOSEN

APP_PATH = Path(__file__).resolve().parents[2] / "app.py"
APP_TIMEOUT_S = 120
TEST_PASSWORD = "test-user-password-123"

PAGE_FILES = (
    "views/overview.py",
    "views/rfm.py",
    "views/voice.py",
    "views/service.py",
    "views/predictions.py",
    "views/cross_sell.py",
    "views/audiences.py",
    "views/exports.py",
    "views/campaigns.py",
    "views/data.py",
    "views/settings.py",
)


def open_app(
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
    role: str | None,
    page: str | None = None,
    language: str = "en",
    as_of: dt.date | None = None,
    username: str | None = None,
) -> AppTest:
    """The app run once against `store_url`, signed in as `role` (None: signed out),
    switched to `page` when given. Check `at.exception` after every run."""
    monkeypatch.setenv("DATABASE_URL", store_url)
    monkeypatch.setenv(DEMO_IF_EMPTY_ENV, "0")
    at = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_S)
    at.session_state[KEY_LANGUAGE] = language
    if role is not None:
        at.session_state[KEY_USER] = store_user(store_url, role, username)
    if as_of is not None:
        at.session_state[KEY_AS_OF] = as_of
        at.session_state[KEY_AS_OF_CHOSEN] = True
    at.run()
    if page is not None and not at.exception:
        at.switch_page(page)
        at.run()
    return at


def open_page(
    page: str,
    role: str,
    *,
    language: str = "en",
    as_of: dt.date | None = None,
    username: str | None = None,
    timeout: float = APP_TIMEOUT_S,
    scheme: str | None = None,
) -> AppTest:
    """The app signed in as `role` and switched to `page`, on the store DATABASE_URL
    names (a fixture sets it, and CRM_DEMO_IF_EMPTY=0 for a store that stays empty),
    opening on segment scheme `scheme` when given (else on the team's last saved one).
    Asserts that no run raised."""
    store_url = os.environ["DATABASE_URL"]
    at = AppTest.from_file(str(APP_PATH), default_timeout=timeout)
    at.session_state[KEY_LANGUAGE] = language
    if scheme is not None:
        at.session_state[KEY_CHOSEN] = (scheme, None)
    at.session_state[KEY_USER] = store_user(store_url, role, username)
    if as_of is not None:
        at.session_state[KEY_AS_OF] = as_of
        at.session_state[KEY_AS_OF_CHOSEN] = True
    at.run()
    assert not at.exception, exception_text(at)
    at.switch_page(page)
    at.run()
    assert not at.exception, exception_text(at)
    return at


def demo_store_url(folder: Path, customers: int, seed: int, end_date: dt.date) -> str:
    """A SQLite store in `folder` at the newest schema holding a demo shop of `customers`
    customers whose history ends on `end_date` (the pages' module-wide store)."""
    url = f"sqlite:///{folder / 'crm.db'}"
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        load_shop(engine, generate_shop(customers, seed=seed, end_date=end_date))
    finally:
        engine.dispose()
    return url


@contextmanager
def store_engine(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An engine on `store_url`, which DATABASE_URL names meanwhile (the app reads it)."""
    monkeypatch.setenv("DATABASE_URL", store_url)
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


def store_user(store_url: str, role: str, username: str | None = None) -> Actor:
    """The account `username` (default test-<role>) of `role` in the store, created when
    missing: the router re-reads the signed-in user from the store on every run."""
    name = username or f"test-{role}"
    engine = make_engine(store_url)
    try:
        user = get_active_user(engine, name)
        if user is None:
            upgrade_to_head(engine)
            user = create_user(engine, name, TEST_PASSWORD, role, actor=COMMAND_LINE)
    finally:
        engine.dispose()
    return user


def exception_text(at: AppTest) -> str:
    """The app's exceptions as one readable string, for assertion messages."""
    return "\n".join(f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception)


@pytest.fixture
def downloads(monkeypatch) -> dict[str, object]:
    """Every deferred download registered during a run: widget key -> callable."""
    captured: dict[str, object] = {}
    original = MediaFileManager.add_deferred

    def capture(self, data_callable, mimetype, coordinates, file_name=None, *, element_id=""):
        key = element_id.rsplit("-", 1)[-1] if element_id else coordinates
        captured[key] = data_callable
        return original(
            self, data_callable, mimetype, coordinates, file_name, element_id=element_id
        )

    monkeypatch.setattr(MediaFileManager, "add_deferred", capture)
    return captured
