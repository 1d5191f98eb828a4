"""The audit log of staff actions: who did what to which record, when, with the details."""
from __future__ import annotations

from portal.auth import Principal
from storage.portal_users import audit


def record(conn, who: Principal, action: str, target: str | None, details: dict | None = None) -> None:
    audit(conn, who.user_id, who.username, action, target, details or {})
