"""A real app server for browser tests, and Chromium through Playwright.

The server is `streamlit run app.py` on a free localhost port over a given store; the
browser is Debian's /usr/bin/chromium (no browser download), headless.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class AppServer:
    """`streamlit run app.py` in a subprocess; `url` once `start()` returned."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.log_path = ARTIFACTS / "app-server.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 90) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.port", str(self.port), "--server.address", "127.0.0.1",
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the app did not answer in {timeout_s} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def sign_in(page, username: str, password: str) -> None:
    """Fill the sign-in form (English labels) and submit it."""
    from crm_core.i18n import translate

    page.get_by_role("textbox", name=translate("auth.sign_in.username", "en")).fill(username)
    page.get_by_role("textbox", name=translate("auth.sign_in.password", "en")).fill(password)
    page.get_by_role("button", name=translate("auth.sign_in.submit", "en")).click()


def choose_language(page, current: str, target_name: str) -> None:
    """Pick `target_name` ("中文", "English") in the sidebar's language box, whose label
    is in the `current` language."""
    from playwright.sync_api import expect

    from crm_core.i18n import translate

    box = page.locator("[data-testid=stSidebar]").get_by_role(
        "combobox", name=translate("app.language", current)
    )
    expect(box).to_have_count(1)  # a rerun's stale copy is gone once the run has finished
    box.click()
    page.get_by_role("option", name=target_name).click()


def latest_order_date(engine) -> dt.date:
    """The day of the store's newest order: the as-of date the app opens on."""
    from sqlalchemy import func, select

    from crm_core.store import models

    with engine.connect() as conn:
        latest = conn.execute(select(func.max(models.orders.c.ordered_at))).scalar()
    latest = dt.datetime.fromisoformat(latest) if isinstance(latest, str) else latest
    return latest.date()
