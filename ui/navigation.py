"""The app's pages, in menu order, and which role may open which."""

from __future__ import annotations

from crm_core import auth

# (file, title key, material icon, permission needed or None for every signed-in role)
PAGES: tuple[tuple[str, str, str, str | None], ...] = (
    ("pages/overview.py", "nav.overview", ":material/dashboard:", None),
    ("pages/rfm.py", "nav.rfm", ":material/grid_view:", None),
    ("pages/audiences.py", "nav.audiences", ":material/groups:", None),
    ("pages/exports.py", "nav.exports", ":material/download:", "download"),
    ("pages/data.py", "nav.data", ":material/upload_file:", "import"),
    ("pages/settings.py", "nav.settings", ":material/settings:", "manage_users"),
)


def pages_for(role: str) -> list[tuple[str, str, str]]:
    """(file, title key, icon) of the pages `role` may open, in menu order."""
    return [
        (path, title_key, icon)
        for path, title_key, icon, permission in PAGES
        if permission is None or auth.has_permission(role, permission)
    ]
