"""Users, passwords and sessions.

Passwords are stored as scrypt hashes; a session is a random token given to the browser (cookie) or
an API client (bearer) of which only the SHA-256 is stored. Roles rank customer < clerk < supervisor
< admin; a customer sees only the accounts linked to their user.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg

from portal.session_cache import SESSIONS

ROLES = ("customer", "clerk", "supervisor", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
SESSION_HOURS = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_DUMMY = None  # a hash to compare against when the user does not exist (same work either way)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${digest}".format(
        salt=base64.b64encode(salt).decode(), digest=base64.b64encode(digest).decode(), **_SCRYPT)


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32, n=int(n), r=int(r),
                                  p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    accounts: tuple[tuple[str, int], ...]  # (account number, id) a customer may see

    @property
    def is_staff(self) -> bool:
        return self.role != "customer"

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    def account_id(self, account_no: str) -> int | None:
        return next((i for number, i in self.accounts if number == account_no), None)


class PasswordPolicy(ValueError):
    pass


def check_password(password: str) -> None:
    if len(password) < 12 or len(password) > 256:
        raise PasswordPolicy("a password is 12 to 256 characters")


def create_user(conn: psycopg.Connection, username: str, password: str, role: str,
                account_numbers: list[str] = ()) -> int:
    if role not in ROLES:
        raise ValueError(f"role {role!r} is one of {ROLES}")
    check_password(password)
    if role == "customer" and not account_numbers:
        raise ValueError("a customer user sees at least one account")
    with conn.transaction():
        user_id = conn.execute("insert into portal_users (username, password_hash, role) values (%s, %s, %s) "
                               "returning id", (username, hash_password(password), role)).fetchone()[0]
        for number in account_numbers:
            row = conn.execute("select id from accounts where account_no = %s", (number,)).fetchone()
            if row is None:
                raise ValueError(f"no account {number}")
            conn.execute("insert into portal_user_accounts (user_id, account_id) values (%s, %s)", (user_id, row[0]))
    return user_id


def set_disabled(conn: psycopg.Connection, username: str, disabled: bool) -> list[str]:
    """Disable (or enable) a user; disabling ends every session of theirs. Returns the ended sessions'
    token hashes, for the portal processes' caches (``SESSIONS.end`` / ``announce_ended``)."""
    with conn.transaction():
        row = conn.execute("update portal_users set disabled = %s where username = %s returning id",
                           (disabled, username)).fetchone()
        if row is None:
            raise ValueError(f"no user {username}")
        if not disabled:
            return []
        return [r[0] for r in conn.execute("delete from portal_sessions where user_id = %s returning token_hash",
                                           (row[0],)).fetchall()]


def login(conn: psycopg.Connection, username: str, password: str) -> str | None:
    """A new session token, or None (unknown user, wrong password or disabled: the same answer)."""
    global _DUMMY
    row = conn.execute("select id, password_hash, disabled from portal_users where username = %s",
                       (username,)).fetchone()
    if row is None:
        _DUMMY = _DUMMY or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY)
        return None
    if not verify_password(password, row[1]) or row[2]:
        return None
    token = secrets.token_urlsafe(32)
    conn.execute("insert into portal_sessions (token_hash, user_id, expires_at) values (%s, %s, %s)",
                 (token_hash(token), row[0], datetime.now(timezone.utc) + timedelta(hours=SESSION_HOURS)))
    return token


def logout(conn: psycopg.Connection, token: str) -> None:
    ended = token_hash(token)
    conn.execute("delete from portal_sessions where token_hash = %s", (ended,))
    SESSIONS.end(ended)


def principal_for(conn: psycopg.Connection, token: str) -> Principal | None:
    row = conn.execute(
        "select u.id, u.username, u.role from portal_sessions s join portal_users u on u.id = s.user_id "
        "where s.token_hash = %s and s.expires_at > now() and not u.disabled", (token_hash(token),)).fetchone()
    if row is None:
        return None
    accounts = conn.execute("select a.account_no, a.id from portal_user_accounts ua join accounts a "
                            "on a.id = ua.account_id where ua.user_id = %s order by a.account_no",
                            (row[0],)).fetchall()
    return Principal(row[0], row[1], row[2], tuple((r[0], r[1]) for r in accounts))
