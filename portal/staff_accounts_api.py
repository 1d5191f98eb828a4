"""Staff work on an account in the API: find it (by number, name, e-mail, meter number or address; a
page with the total), read its timeline (bills, payments, charges and credits, notices, exceptions,
contacts, cases, orders and changes of its records, newest first), and change what it owes: an
adjustment or a payment arrangement, each with who and why, in the audit log."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import ACCOUNT_NO, staff
from portal.problems import Problem
from storage import staff_views as views
from storage.timeline import KINDS, timeline

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the change")
CLERK_ADJUSTMENT_LIMIT_MINOR = 10_000  # a clerk adjusts up to this either way; beyond it, a supervisor


@router.get("/accounts")
def search(request: Request, q: str = Query(min_length=2, max_length=64), limit: int = Query(20, ge=1, le=100),
           offset: int = Query(0, ge=0, le=10**9), who: Principal = Depends(staff("clerk"))) -> dict:
    """Accounts by number, customer name, e-mail, meter number or service address."""
    with request.app.state.pool.connection() as conn:
        total, rows = views.search_accounts(conn, q, limit, offset)
    return {"total": total, "limit": limit, "offset": offset,
            "accounts": [{"account_no": r[0], "customer_name": r[1], "email": r[2], "addresses": r[3]}
                         for r in rows]}


def _account(conn, account_no: str) -> tuple:
    row = views.account_row(conn, account_no)
    if row is None:
        raise Problem(404, "no_such_account", "no such account")
    return row


@router.get("/accounts/{account_no}/timeline")
def account_timeline(request: Request, account_no: str = Path(pattern=ACCOUNT_NO),
                     kind: list[str] = Query(default=[], description="only these kinds of event"),
                     limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**9),
                     who: Principal = Depends(staff("clerk"))) -> dict:
    """Everything that happened on the account, newest first; amounts in minor units (a payment or a
    credit is negative: it lowers what the customer owes)."""
    unknown = [k for k in kind if k not in KINDS]
    if unknown:
        raise Problem(422, "bad_filter", f"no kind {unknown[0]!r}: one of {', '.join(KINDS)}")
    with request.app.state.pool.connection() as conn:
        row = _account(conn, account_no)
        total, rows = timeline(conn, row[0], account_no, kind or list(KINDS), limit, offset)
    return {"account_no": account_no, "currency": row[4], "total": total, "limit": limit, "offset": offset,
            "events": [{"at": at.isoformat(), "kind": k, "ref": ref, "what": what, "amount_minor": amount, "who": actor}
                       for at, k, ref, what, amount, actor in rows]}


class Adjustment(BaseModel):
    amount: str = Field(max_length=20, description="in the currency's major unit: positive charges the customer, "
                                                   "negative credits them")
    why: str = WHY


def adjustment_minor(amount: str, currency: str) -> int:
    from billing.postings import to_minor_exact

    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        raise Problem(422, "bad_amount", f"{amount!r} is not an amount like -12.50") from None
    if not value.is_finite():
        raise Problem(422, "bad_amount", f"{amount!r} is not an amount like -12.50")
    return to_minor_exact(value, currency, "adjustment")


@router.post("/accounts/{account_no}/adjustments", status_code=201)
def adjust_account(request: Request, body: Adjustment, account_no: str = Path(pattern=ACCOUNT_NO),
                   who: Principal = Depends(staff("clerk"))) -> dict:
    """Charge or credit the account by hand (a clerk up to 100.00 either way, beyond that a supervisor)."""
    from billing.postings import account_balance, adjust

    with request.app.state.pool.connection() as conn:
        row = _account(conn, account_no)
        minor = adjustment_minor(body.amount, row[4])
        if abs(minor) > CLERK_ADJUSTMENT_LIMIT_MINOR and not who.at_least("supervisor"):
            raise Problem(403, "role_required", "an adjustment over 100.00 needs a supervisor")
        transaction = adjust(conn, row[0], minor, body.why, who.username, datetime.now(timezone.utc))
        record(conn, who, "account.adjust", account_no, {"why": body.why, "amount_minor": minor,
                                                         "transaction_id": transaction})
        balance = account_balance(conn, row[0])
    return {"account_no": account_no, "transaction_id": transaction, "amount_minor": minor, "balance_minor": balance}


class Arrangement(BaseModel):
    installments: int = Field(ge=2, le=24)
    first_due: date
    every_days: int = Field(30, ge=7, le=92)
    why: str = WHY


@router.post("/accounts/{account_no}/arrangements", status_code=201)
def arrange(request: Request, body: Arrangement, account_no: str = Path(pattern=ACCOUNT_NO),
            who: Principal = Depends(staff("clerk"))) -> dict:
    """Put the account's whole balance on a payment arrangement (collections pause while it is kept; a
    disconnect in progress is cancelled, a disconnected service ordered reconnected)."""
    from billing.dunning import create_arrangement
    from billing.entities import entity_for

    if body.first_due < date.today():
        raise Problem(422, "bad_date", "the first installment is due today or later")
    with request.app.state.pool.connection() as conn:
        row = _account(conn, account_no)
        arrangement = create_arrangement(conn, row[0], body.installments, body.first_due, body.every_days,
                                         who.username, body.why, datetime.now(timezone.utc),
                                         entity_for(request.app.state.entities, row[6]))
        record(conn, who, "account.arrangement", account_no, {"why": body.why, "arrangement_id": arrangement,
                                                              "installments": body.installments})
    return {"account_no": account_no, "arrangement_id": arrangement}
