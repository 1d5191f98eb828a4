"""Portal users, their accounts, sessions and the audit trail of staff and customer actions."""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb


def insert_user(conn: psycopg.Connection, username: str, password_hash: str, role: str) -> int:
    return conn.execute("insert into portal_users (username, password_hash, role) values (%s, %s, %s) returning id",
                        (username, password_hash, role)).fetchone()[0]


def link_account(conn: psycopg.Connection, user_id: int, account_id_: int) -> None:
    conn.execute("insert into portal_user_accounts (user_id, account_id) values (%s, %s)", (user_id, account_id_))


def set_disabled(conn: psycopg.Connection, username: str, disabled: bool) -> int | None:
    """The user's id, after setting its disabled flag; None when there is no such user."""
    row = conn.execute("update portal_users set disabled = %s where username = %s returning id",
                       (disabled, username)).fetchone()
    return None if row is None else row[0]


def end_sessions_of(conn: psycopg.Connection, user_id: int) -> list[str]:
    """Delete every session of the user; returns their token hashes."""
    return [r[0] for r in conn.execute("delete from portal_sessions where user_id = %s returning token_hash",
                                       (user_id,)).fetchall()]


def credentials(conn: psycopg.Connection, username: str) -> tuple[int, str, bool] | None:
    """(user id, password hash, disabled) of the user name."""
    return conn.execute("select id, password_hash, disabled from portal_users where username = %s",
                        (username,)).fetchone()


def start_session(conn: psycopg.Connection, token_hash: str, user_id: int, expires_at: datetime) -> None:
    conn.execute("insert into portal_sessions (token_hash, user_id, expires_at) values (%s, %s, %s)",
                 (token_hash, user_id, expires_at))


def end_session(conn: psycopg.Connection, token_hash: str) -> None:
    conn.execute("delete from portal_sessions where token_hash = %s", (token_hash,))


def session_user(conn: psycopg.Connection, token_hash: str) -> tuple[int, str, str] | None:
    """(user id, user name, role) of a live session of an enabled user."""
    return conn.execute(
        "select u.id, u.username, u.role from portal_sessions s join portal_users u on u.id = s.user_id "
        "where s.token_hash = %s and s.expires_at > now() and not u.disabled", (token_hash,)).fetchone()


def user_accounts(conn: psycopg.Connection, user_id: int) -> list[tuple[str, int]]:
    """(account number, account id) of the accounts the user sees, by number."""
    return [(r[0], r[1]) for r in conn.execute(
        "select a.account_no, a.id from portal_user_accounts ua join accounts a on a.id = ua.account_id "
        "where ua.user_id = %s order by a.account_no", (user_id,)).fetchall()]


def user_account_ids(conn: psycopg.Connection, user_id: int) -> list[int]:
    return [r[0] for r in conn.execute("select account_id from portal_user_accounts where user_id = %s", (user_id,))]


def audit(conn: psycopg.Connection, user_id: int | None, username: str, action: str, target: str | None,
          details: dict) -> None:
    """One audit entry: who did what to which target, and the details (why, values)."""
    conn.execute("insert into portal_audit (user_id, username, action, target, details) values (%s, %s, %s, %s, %s)",
                 (user_id, username, action, target, Jsonb(details)))


def ping(conn: psycopg.Connection) -> None:
    conn.execute("select 1")
