"""The audit log of staff actions: who did what to which record, when, with the details."""
from __future__ import annotations

from psycopg.types.json import Jsonb

from portal.auth import Principal


def record(conn, who: Principal, action: str, target: str | None, details: dict | None = None) -> None:
    conn.execute("insert into portal_audit (user_id, username, action, target, details) values (%s, %s, %s, %s, %s)",
                 (who.user_id, who.username, action, target, Jsonb(details or {})))
