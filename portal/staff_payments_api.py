"""Staff work on payments in the API, besides the exception queue and its match (``portal.staff_api``):
a payment the bank returned (NSF, closed account) reversed with the entity's fee, a credit balance
refunded, and a lockbox file uploaded and imported with its summary. Each with who and why, in the
audit log; a lockbox file imported twice applies nothing twice."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, File, Path, Request, UploadFile
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import ACCOUNT_NO, staff
from portal.problems import Problem
from portal.staff_accounts_api import adjustment_minor
from storage import staff_views as views

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the change")
LOCKBOX_LIMIT = 5 * 1024 * 1024  # bytes


@router.get("/payments/{payment_id}")
def show_payment(request: Request, payment_id: int = Path(ge=1, le=2**62),
                 who: Principal = Depends(staff("clerk"))) -> dict:
    from storage.accounts import account_no_of
    from storage.payments import payment

    with request.app.state.pool.connection() as conn:
        found = payment(conn, payment_id)
        if found is None:
            raise Problem(404, "no_such_payment", f"no payment {payment_id}")
        status, amount, account_id, reference = found
        account_no = account_no_of(conn, account_id) if account_id is not None else None
    return {"id": payment_id, "status": status, "amount_minor": amount, "account_no": account_no,
            "reference": reference}


class Returned(BaseModel):
    why: str = WHY


@router.post("/payments/{payment_id}/return")
def return_payment(request: Request, body: Returned, payment_id: int = Path(ge=1, le=2**62),
                   who: Principal = Depends(staff("supervisor"))) -> dict:
    """Reverse a payment the bank returned and charge the entity's returned-payment fee (the customer
    is told by a notice)."""
    from billing.payments import return_payment as reverse

    with request.app.state.pool.connection() as conn:
        fee = reverse(conn, payment_id, who.username, body.why, datetime.now(timezone.utc),
                      request.app.state.entities)
        record(conn, who, "payment.return", str(payment_id), {"why": body.why, "fee_minor": fee})
    return {"payment_id": payment_id, "status": "returned", "fee_minor": fee}


class Refund(BaseModel):
    amount: str = Field(max_length=20, description="in the currency's major unit, at most the account's credit")
    why: str = WHY


@router.post("/accounts/{account_no}/refunds", status_code=201)
def refund(request: Request, body: Refund, account_no: str = Path(pattern=ACCOUNT_NO),
           who: Principal = Depends(staff("supervisor"))) -> dict:
    """Pay (part of) a credit balance back to the customer."""
    from billing.payments import refund as pay_back
    from billing.postings import account_balance

    with request.app.state.pool.connection() as conn:
        row = views.account_row(conn, account_no)
        if row is None:
            raise Problem(404, "no_such_account", "no such account")
        minor = adjustment_minor(body.amount, row[4])
        transaction = pay_back(conn, row[0], minor, who.username, body.why, datetime.now(timezone.utc))
        record(conn, who, "account.refund", account_no, {"why": body.why, "amount_minor": minor})
        balance = account_balance(conn, row[0])
    return {"account_no": account_no, "transaction_id": transaction, "amount_minor": minor, "balance_minor": balance}


@router.post("/lockbox", status_code=201)
async def lockbox(request: Request, file: UploadFile = File(description="the bank's lockbox CSV"),
                  who: Principal = Depends(staff("clerk"))) -> dict:
    """Import a lockbox file: each line applied, left unmatched for the queue, or refused with its line."""
    from starlette.concurrency import run_in_threadpool

    data = await file.read(LOCKBOX_LIMIT + 1)
    if len(data) > LOCKBOX_LIMIT:
        raise Problem(413, "file_too_large", f"a lockbox file is at most {LOCKBOX_LIMIT // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "not_text", "a lockbox file is UTF-8 CSV text") from None
    name = (file.filename or "upload.csv")[:200]
    return await run_in_threadpool(_import, request, text, name, who)


def _import(request: Request, text: str, name: str, who: Principal) -> dict:
    from billing.lockbox import import_lockbox

    with request.app.state.pool.connection() as conn:
        summary = import_lockbox(conn, text, name, datetime.now(timezone.utc),
                                 currency=request.app.state.settings.currency, entities=request.app.state.entities)
        found = {"file": name, "lines": summary.lines, "applied": summary.applied, "unmatched": summary.unmatched,
                 "duplicates": summary.duplicates, "applied_minor": summary.applied_minor,
                 "errors": [{"line": line, "message": message} for line, message in summary.errors]}
        record(conn, who, "payment.lockbox", name, {k: v for k, v in found.items() if k != "errors"})
    return found
