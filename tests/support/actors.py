"""The acting users tests pass to crm_core functions that write or reveal."""

from crm_core.auth import Actor

ADMIN = Actor("test-admin", "admin")
ANALYST = Actor("test-analyst", "analyst")
VIEWER = Actor("test-viewer", "viewer")
LI = Actor("li", "analyst")
