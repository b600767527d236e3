"""The app's pages, in menu order and by section, and which role may open which."""

from __future__ import annotations

from crm_core import auth

SECTIONS: tuple[str, ...] = ("analyse", "act", "admin")
"""Menu sections in order; their titles are the locale keys nav.section.<name>."""

DATA_PAGE = "views/data.py"

# (file, title key, material icon, section, permission needed or None for every role)
PAGES: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("views/overview.py", "nav.overview", ":material/dashboard:", "analyse", None),
    ("views/rfm.py", "nav.rfm", ":material/grid_view:", "analyse", None),
    ("views/voice.py", "nav.voice", ":material/reviews:", "analyse", None),
    ("views/service.py", "nav.service", ":material/support_agent:", "analyse", None),
    ("views/predictions.py", "nav.predictions", ":material/insights:", "analyse", None),
    ("views/cross_sell.py", "nav.cross_sell", ":material/shopping_basket:", "analyse", None),
    ("views/audiences.py", "nav.audiences", ":material/groups:", "act", None),
    ("views/exports.py", "nav.exports", ":material/download:", "act", auth.DOWNLOAD),
    ("views/campaigns.py", "nav.campaigns", ":material/campaign:", "act", None),
    (DATA_PAGE, "nav.data", ":material/upload_file:", "admin", auth.IMPORT),
    ("views/settings.py", "nav.settings", ":material/settings:", "admin", auth.MANAGE_USERS),
)


def pages_for(role: str) -> list[tuple[str, str, str]]:
    """(file, title key, icon) of the pages `role` may open, in menu order."""
    return [(path, title, icon) for path, title, icon, _section in sections_for(role)]


def sections_for(role: str) -> list[tuple[str, str, str, str]]:
    """(file, title key, icon, section) of the pages `role` may open, in menu order."""
    return [
        (path, title_key, icon, section)
        for path, title_key, icon, section, permission in PAGES
        if permission is None or auth.has_permission(role, permission)
    ]
