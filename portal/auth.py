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

from cis import notices
from portal.session_cache import SESSIONS
from storage import portal_users as users
from storage.accounts import account_id_of
from portal.errors import BadRole, NoAccounts, NoSuchAccount, NoSuchUser, PasswordPolicy
from storage.throttle import ADDRESS, USER, PgThrottle

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


def check_password(password: str) -> None:
    if len(password) < 12 or len(password) > 256:
        raise PasswordPolicy("a password is 12 to 256 characters")


def create_user(conn: psycopg.Connection, username: str, password: str, role: str,
                account_numbers: list[str] = ()) -> int:
    if role not in ROLES:
        raise BadRole(f"role {role!r} is one of {ROLES}")
    check_password(password)
    if role == "customer" and not account_numbers:
        raise NoAccounts("a customer user sees at least one account")
    with conn.transaction():
        user_id = users.insert_user(conn, username, hash_password(password), role)
        for number in account_numbers:
            found = account_id_of(conn, number)
            if found is None:
                raise NoSuchAccount(f"no account {number}")
            users.link_account(conn, user_id, found)
    return user_id


def set_disabled(conn: psycopg.Connection, username: str, disabled: bool) -> list[str]:
    """Disable (or enable) a user; disabling ends every session of theirs. Returns the ended sessions'
    token hashes, for the portal processes' caches (``SESSIONS.end`` / ``announce_ended``)."""
    with conn.transaction():
        user_id = users.set_disabled(conn, username, disabled)
        if user_id is None:
            raise NoSuchUser(f"no user {username}")
        return users.end_sessions_of(conn, user_id) if disabled else []


@dataclass(frozen=True)
class SignIn:
    token: str | None = None  # a new session, or None: refused or throttled
    retry_after_s: float = 0.0  # > 0: throttled, nothing was checked; try again after this long
    locked_now: bool = False  # this failure locked the user name

    @property
    def throttled(self) -> bool:
        return self.retry_after_s > 0


THROTTLE = PgThrottle({"user": USER, "address": ADDRESS})


def login(conn: psycopg.Connection, username: str, password: str, address: str = "unknown",
          now: datetime | None = None) -> SignIn:
    """A new session, or a refusal (unknown user, wrong password or disabled: the same answer, in the
    same time), or - after repeated failures of this user name or from this address - a wait, with no
    password checked. A user name locked by failures gets an audit entry and a notice on its accounts."""
    global _DUMMY
    now = now or datetime.now(timezone.utc)
    keys = [("user", username.lower()), ("address", address)]
    verdict = THROTTLE.check(conn, keys, now)
    if not verdict.allowed:
        return SignIn(retry_after_s=verdict.retry_after_s)
    row = users.credentials(conn, username)
    if row is None:
        _DUMMY = _DUMMY or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY)
    if row is None or not verify_password(password, row[1]) or row[2]:
        locked = THROTTLE.fail(conn, keys, now)
        if "user" in locked and row is not None:
            _locked(conn, row[0], username, address)
        return SignIn(locked_now="user" in locked)
    THROTTLE.succeed(conn, keys[:1])
    token = secrets.token_urlsafe(32)
    users.start_session(conn, token_hash(token), row[0], now + timedelta(hours=SESSION_HOURS))
    return SignIn(token=token)


def _locked(conn: psycopg.Connection, user_id: int, username: str, address: str) -> None:
    minutes = int(USER.lock_s // 60)
    users.audit(conn, user_id, username, "sign_in_locked", address,
                {"failures": USER.lock_after, "locked_minutes": minutes})
    for account_id in users.user_account_ids(conn, user_id):
        notices.send(conn, account_id, "security",
                     {"failures": USER.lock_after, "username": username, "minutes": minutes})


def logout(conn: psycopg.Connection, token: str) -> None:
    ended = token_hash(token)
    users.end_session(conn, ended)
    SESSIONS.end(ended)


def principal_for(conn: psycopg.Connection, token: str) -> Principal | None:
    row = users.session_user(conn, token_hash(token))
    if row is None:
        return None
    return Principal(row[0], row[1], row[2], tuple(users.user_accounts(conn, row[0])))
