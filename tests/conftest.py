"""Shared fixtures: a fresh store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine

from crm_core.sessions import SESSION_SECRET_ENV
from crm_core.store import make_engine, upgrade_to_head, wait_for_background_builds
from tests.support.postgres import PostgresServer, postgres_bin_dir
from tests.support.requirements import require

pytest_plugins = ["tests.support.apptest"]  # its fixtures (downloads) for every test

_database_names = itertools.count(1)

# The session secret of the app in AppTest and of the app servers the browser tests
# start; without it the app would write data/session_secret into the checkout.
os.environ.setdefault(SESSION_SECRET_ENV, secrets.token_urlsafe(32))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (skips outside CI when absent)."""
    bin_dir = postgres_bin_dir()
    require(
        bin_dir is not None, "PostgreSQL server binaries not found (apt-get install postgresql)"
    )
    server = PostgresServer(bin_dir)
    server.start()
    yield server
    server.stop()


def _fresh_sqlite(tmp_path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'crm.db'}")


def _fresh_postgres(request) -> Engine:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"crm_test_{os.getpid()}_{next(_database_names)}"
    return make_engine(server.create_database(name))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[Engine]:
    """An empty store at the newest schema, once on SQLite and once on PostgreSQL."""
    engine = _fresh_sqlite(tmp_path) if request.param == "sqlite" else _fresh_postgres(request)
    upgrade_to_head(engine)
    yield engine
    wait_for_background_builds()
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Engine]:
    """An empty SQLite store at the newest schema (for tests that need only one database)."""
    engine = _fresh_sqlite(tmp_path)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


DEMO_TEST_CUSTOMERS = 1_500
TEST_ADMIN_PASSWORD = "test-admin-password-123"


@pytest.fixture(scope="session")
def demo_store_url(tmp_path_factory) -> str:
    """A SQLite store with a small demo shop and an admin, shared by the app tests.

    Tests may read it and add users or schemes; tests that import data build their own.
    """
    from crm_core.auth import COMMAND_LINE, create_user
    from crm_core.bootstrap import prepare_store
    from crm_core.store.models import ROLES

    path = tmp_path_factory.mktemp("demo-store") / "crm.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD)
        patch.setenv("CRM_DEMO_CUSTOMERS", str(DEMO_TEST_CUSTOMERS))
        prepare_store(engine)
    for role in ROLES:
        create_user(
            engine,
            f"test-{role}",
            TEST_ADMIN_PASSWORD,
            role,
            display_name=f"Test {role}",
            actor=COMMAND_LINE,
        )
    engine.dispose()
    return url


BROWSER_STEP_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def app_server(demo_store_url):
    """The real app (`streamlit run app.py`) on a free localhost port over the demo store."""
    from tests.support.browser import AppServer

    server = AppServer({"DATABASE_URL": demo_store_url, "CRM_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, through Playwright (skips outside CI when absent)."""
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    require(CHROMIUM.exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@contextmanager
def browser_tab(browser, url: str):
    """A fresh browser tab (own cookies and session) on `url`, closed at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(BROWSER_STEP_TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(url)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh browser tab on the app's start page."""
    with browser_tab(browser, app_server.url) as tab:
        yield tab
