"""Skip outside CI, fail inside it: tests that need PostgreSQL, Chromium or the shared
data sets must run when CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get(
        "CRM_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"
    )
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(available: bool, what: str) -> None:
    """Skip with `what` as the reason, or fail when running in CI."""
    if available:
        return
    if in_ci():
        pytest.fail(f"CI=true but {what}", pytrace=False)
    pytest.skip(what)


def shared_file(relative: str) -> Path:
    """A file of ../shared/data (or $CRM_SHARED_DATA); skips/fails when absent."""
    path = SHARED_DATA / relative
    require(path.exists(), f"data set missing: {path} (set CRM_SHARED_DATA)")
    return path
