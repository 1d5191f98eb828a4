"""The staff payments page: the payment-exception queue with a match to an account or an invoice, a
returned payment (NSF) reversed with its fee, a credit refunded, and a lockbox file uploaded with its
summary. Every change is first shown as what it will do; the data and the changes are the staff
API's (``portal.staff_api``, ``portal.staff_payments_api``)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse

from config.errors import M2CError
from portal import staff_api, staff_payments_api
from portal.auth import Principal
from portal.deps import optional_principal
from portal.pages import _page, _same_origin, _staff, refusal
from portal.problems import Problem
from rating.money import format_minor
from storage.db_errors import first_line

router = APIRouter(include_in_schema=False)


PAGE = 50


def _payments_page(request: Request, who: Principal, status: int = 200, message: str | None = None,
                   error: M2CError | None = None, confirm: dict | None = None, imported: dict | None = None,
                   offset: int = 0):
    queue = staff_api.payment_exceptions(request, who, PAGE, offset)
    return _page(request, "staff_payments.html", who, status, title="Payments", payments=queue["payments"],
                 total=queue["total"], offset=offset, limit=PAGE,
                 message=message, confirm=confirm, imported=imported, currency=request.app.state.settings.currency,
                 can_reverse=who.at_least("supervisor"),
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


def _refused(request: Request, who: Principal, error: Exception):
    refused = refusal(error)
    return _payments_page(request, who, refused.status, error=refused)


@router.get("/staff/payments", response_class=HTMLResponse)
def payments_page(request: Request, offset: int = Query(0, ge=0, le=10**9),
                  who: Principal | None = Depends(optional_principal)):
    return _payments_page(request, _staff(who), offset=offset)


def _money(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"


@router.post("/staff/payments/match", response_class=HTMLResponse)
def match_form(request: Request, payment_id: int = Form(ge=1, le=2**62), target: str = Form(max_length=32),
               why: str = Form(max_length=500), confirmed: str = Form("", max_length=8),
               who: Principal | None = Depends(optional_principal)):
    """``target``: an account number, or a bill (invoice) number."""
    _same_origin(request)
    who = _staff(who)
    target = target.strip()
    by_invoice = target.isdigit()
    try:
        body = staff_api.Match(account_no=None if by_invoice else target,
                               invoice_no=int(target) if by_invoice else None, why=why)
        if not confirmed:
            found = staff_payments_api.show_payment(request, payment_id, who)
            where = f"the account of bill {target}" if by_invoice else f"account {target}"
            return _payments_page(request, who, confirm={
                "text": f"This will apply payment {found['reference']} of "
                        f"{_money(found['amount_minor'], request.app.state.settings.currency)} to {where}, lowering "
                        f"what it owes.", "action": "/staff/payments/match",
                "fields": {"payment_id": payment_id, "target": target, "why": why}})
        done = staff_api.match(request, body, payment_id, who)
    except (Problem, M2CError, ValueError) as error:  # a refusal is shown on the page
        return _refused(request, who, error)
    return _payments_page(request, who, message=f"Payment {payment_id} applied to account {done['account_no']}.")


@router.post("/staff/payments/return", response_class=HTMLResponse)
def return_form(request: Request, payment_id: int = Form(ge=1, le=2**62), why: str = Form(max_length=500),
                confirmed: str = Form("", max_length=8), who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _staff(who)
    try:
        body = staff_payments_api.Returned(why=why)
        if not who.at_least("supervisor"):
            raise Problem(403, "role_required", "reversing a payment needs a supervisor")
        if not confirmed:
            found = staff_payments_api.show_payment(request, payment_id, who)
            currency = request.app.state.settings.currency
            return _payments_page(request, who, confirm={
                "text": f"This will reverse payment {found['reference']} of {_money(found['amount_minor'], currency)}"
                        f" on account {found['account_no'] or '(none)'} as returned by the bank (“{why}”), charge "
                        f"the billing entity's returned-payment fee and tell the customer.",
                "action": "/staff/payments/return", "fields": {"payment_id": payment_id, "why": why}})
        done = staff_payments_api.return_payment(request, body, payment_id, who)
    except (Problem, M2CError, ValueError) as error:  # a refusal is shown on the page
        return _refused(request, who, error)
    return _payments_page(request, who, message=f"Payment {payment_id} returned; fee "
                                                f"{_money(done['fee_minor'], request.app.state.settings.currency)}.")


@router.post("/staff/payments/refund", response_class=HTMLResponse)
def refund_form(request: Request, account_no: str = Form(max_length=32), amount: str = Form(max_length=20),
                why: str = Form(max_length=500), confirmed: str = Form("", max_length=8),
                who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _staff(who)
    try:
        body = staff_payments_api.Refund(amount=amount.strip(), why=why)
        if not who.at_least("supervisor"):
            raise Problem(403, "role_required", "a refund needs a supervisor")
        if not confirmed:
            view = staff_api.account_view(request, account_no.strip(), who)
            currency = view["currency"]
            return _payments_page(request, who, confirm={
                "text": f"This will pay {amount.strip()} {currency} of account {account_no.strip()}'s credit back to "
                        f"the customer (“{why}”); the balance is now {_money(view['balance_minor'], currency)}.",
                "action": "/staff/payments/refund", "fields": {"account_no": account_no.strip(),
                                                              "amount": amount.strip(), "why": why}})
        done = staff_payments_api.refund(request, body, account_no.strip(), who)
    except (Problem, M2CError, ValueError) as error:  # a refusal is shown on the page
        return _refused(request, who, error)
    currency = request.app.state.settings.currency
    return _payments_page(request, who, message=f"Refunded {_money(done['amount_minor'], currency)} to account "
                                                f"{account_no.strip()}; the balance is "
                                                f"{_money(done['balance_minor'], currency)}.")


@router.post("/staff/payments/lockbox", response_class=HTMLResponse)
async def lockbox_form(request: Request, file: UploadFile = File(), who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _staff(who)
    try:
        imported = await staff_payments_api.lockbox(request, file, who)
    except (Problem, M2CError) as error:
        return _refused(request, who, error)
    return _payments_page(request, who, imported=imported, message=f"Lockbox file {imported['file']} imported.")
