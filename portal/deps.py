"""What every route needs: the database pool, the caller (from a bearer token or the session cookie),
and the checks that the caller may act on an account or holds a staff role."""
from __future__ import annotations

import re

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from portal.auth import Principal, principal_for, token_hash
from portal.problems import Problem
from portal.session_cache import SESSIONS

COOKIE = "m2c_session"
ACCOUNT_NO = r"^[A-Za-z0-9_.:\-]{1,32}$"
_ACCOUNT = re.compile(ACCOUNT_NO)


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE)


def _lookup(pool, token: str) -> Principal | None:
    with pool.connection() as conn:
        return principal_for(conn, token)


async def optional_principal(request: Request) -> Principal | None:
    token = token_of(request)
    if not token or len(token) > 200:
        return None
    key = token_hash(token)
    found = SESSIONS.get(key)
    if found is None:
        found = await run_in_threadpool(_lookup, request.app.state.pool, token)
        if found is not None:
            SESSIONS.put(key, found)
    return found


async def principal(who: Principal | None = Depends(optional_principal)) -> Principal:
    if who is None:
        raise Problem(401, "unauthorized", "sign in: a valid bearer token or session cookie is required",
                            headers={"WWW-Authenticate": "Bearer"})
    return who


def staff(role: str):
    async def check(who: Principal = Depends(principal)) -> Principal:
        if not who.is_staff or not who.at_least(role):
            raise Problem(403, "role_required", f"needs the {role} role or above")
        return who
    return check


async def account(request: Request, account_no: str = Path(pattern=ACCOUNT_NO, max_length=32),
                  who: Principal = Depends(principal)) -> tuple[int, str]:
    """(account id, number) the caller may see; a customer asking for another's account gets the same
    404 as for an account that does not exist."""
    if not who.is_staff:
        found = who.account_id(account_no)
        if found is None:
            raise Problem(404, "no_such_account", "no such account")
        return found, account_no
    found = await run_in_threadpool(_account_id, request.app.state.pool, account_no)
    if found is None:
        raise Problem(404, "no_such_account", "no such account")
    return found, account_no


def _account_id(pool, account_no: str) -> int | None:
    from storage.accounts import account_id_of

    with pool.connection() as conn:
        return account_id_of(conn, account_no)


def valid_account_no(text: str) -> bool:
    return bool(_ACCOUNT.match(text))


def client_address(request: Request) -> str:
    """The caller's address as the server saw it (a proxy in front must pass it on as the client)."""
    return request.client.host if request.client else "unknown"


def sign_in_or_refuse(request: Request, username: str, password: str) -> str | None:
    """A session token, or None (wrong user name or password); raises 429 with Retry-After while this
    user name or address must wait after repeated failures - whether or not the user exists."""
    import math

    from portal.auth import login

    metrics = request.app.state.metrics
    with request.app.state.pool.connection() as conn:
        result = login(conn, username, password, client_address(request))
    if result.throttled:
        metrics.sign_ins.labels("throttled").inc()
        wait = max(1, math.ceil(result.retry_after_s))
        raise Problem(429, "sign_in_throttled", f"too many failed sign-ins: try again in {wait} s",
                      headers={"Retry-After": str(wait)}, retry_after_s=wait)
    if result.locked_now:
        metrics.sign_in_locks.inc()
    metrics.sign_ins.labels("ok" if result.token else "refused").inc()
    return result.token
