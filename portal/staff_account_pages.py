"""The staff page of one account: who and what it is, its bills, ledger and notices, its cases and
contacts, its timeline (everything that happened, newest first, by kind, a page at a time with the
total; times in the utility's zone, amounts with the currency), and the changes staff make to what it
owes — an adjustment or a payment arrangement — each shown first as what it will do, then done with
who and why. The data and the changes are the staff API's (``portal.staff_api``,
``portal.staff_accounts_api``, ``portal.cases_api``)."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from config.errors import M2CError
from portal import cases_api, staff_accounts_api, staff_api
from portal.auth import Principal
from portal.deps import ACCOUNT_NO, optional_principal
from portal.order_pages import _local
from portal.pages import _page, _same_origin, _staff, refusal
from portal.problems import Problem
from rating.money import format_minor
from storage.db_errors import first_line
from storage.timeline import KINDS as EVENT_KINDS

router = APIRouter(include_in_schema=False)
TIMELINE_PAGE = 25
SAID = re.compile(r"(Contact logged|Case \d+ opened|Adjusted by -?[\d,.]+ [A-Z]{3}: the balance is -?[\d,.]+ [A-Z]{3}"
                  r"|Arrangement \d+ made: \d+ installments from \d{4}-\d{2}-\d{2})\.")


def _account_page(request: Request, who: Principal, account_no: str, kind: str = "", offset: int = 0,
                  status: int = 200, message: str | None = None, error: M2CError | None = None,
                  confirm: dict | None = None) -> HTMLResponse:
    from cis.cases import CHANNELS, KINDS, REASONS

    view = staff_api.account_view(request, account_no, who)
    cases = cases_api.list_cases(request, status=["open", "in_progress", "waiting_customer", "closed"], owner=None,
                                 account_no=account_no, kind=None, overdue=False, limit=20, offset=0, who=who)
    contacts = cases_api.list_contacts(request, account_no, 20, 0, who)
    events = staff_accounts_api.account_timeline(request, account_no, [kind] if kind else [], TIMELINE_PAGE, offset,
                                                 who)
    zone = request.app.state.settings.utility_zone
    for event in events["events"]:
        event["at"] = _local(event["at"], zone)

    def page_url(at: int) -> str:
        return f"/staff/accounts/{account_no}?" + urlencode({"kind": kind, "offset": max(0, at)}) + "#timeline"

    return _page(request, "staff_account.html", who, status, title=f"Account {account_no}", view=view, cases=cases,
                 contacts=contacts, channels=CHANNELS, reasons=REASONS, kinds=KINDS, message=message,
                 timeline=events, event_kinds=EVENT_KINDS, event_kind=kind, page_url=page_url,
                 timeline_page=TIMELINE_PAGE, confirm=confirm, today=date.today().isoformat(),
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


@router.get("/staff/accounts/{account_no}", response_class=HTMLResponse)
def staff_account_page(request: Request, account_no: str = Path(pattern=ACCOUNT_NO),
                       kind: str = Query("", max_length=16), offset: int = Query(0, ge=0, le=10**9),
                       message: str | None = Query(None, max_length=200),
                       who: Principal | None = Depends(optional_principal)) -> HTMLResponse:
    if kind not in ("", *EVENT_KINDS):
        raise Problem(422, "bad_filter", "no such kind of event")
    said = message if message and SAID.fullmatch(message) else None
    return _account_page(request, _staff(who), account_no, kind, offset, message=said)


def _money(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"


@router.post("/staff/accounts/{account_no}/adjustments", response_class=HTMLResponse)
def adjustment_form(request: Request, account_no: str = Path(pattern=ACCOUNT_NO), amount: str = Form(max_length=20),
                    why: str = Form(max_length=500), confirmed: str = Form("", max_length=8),
                    who: Principal | None = Depends(optional_principal)):
    """First what the adjustment will do to the balance, then (confirmed) the adjustment."""
    _same_origin(request)
    who = _staff(who)
    body_fields = {"amount": amount.strip(), "why": why}
    try:
        body = staff_accounts_api.Adjustment(amount=amount.strip(), why=why)
        view = staff_api.account_view(request, account_no, who)
        currency = view["currency"]
        minor = staff_accounts_api.adjustment_minor(body.amount, currency)
        if not confirmed:
            what = "charge the customer" if minor > 0 else "credit the customer"
            text = (f"This will {what} {_money(abs(minor), currency)} on account {account_no} (“{why}”): the balance "
                    f"goes from {_money(view['balance_minor'], currency)} to "
                    f"{_money(view['balance_minor'] + minor, currency)}.")
            return _account_page(request, who, account_no, confirm={
                "text": text, "action": "/adjustments", "button": "Yes, adjust it", "fields": body_fields})
        done = staff_accounts_api.adjust_account(request, body, account_no, who)
    except (Problem, M2CError, ValueError) as error:  # refused: said on the page
        refused = refusal(error)
        return _account_page(request, who, account_no, status=refused.status, error=refused)
    said = (f"Adjusted by {format_minor(done['amount_minor'], currency)} {currency}: the balance is "
            f"{format_minor(done['balance_minor'], currency)} {currency}.")
    return _account_page(request, who, account_no, message=said)


@router.post("/staff/accounts/{account_no}/arrangements", response_class=HTMLResponse)
def arrangement_form(request: Request, account_no: str = Path(pattern=ACCOUNT_NO),
                     installments: int = Form(ge=0, le=1000), first_due: str = Form(max_length=10),
                     every_days: int = Form(30, ge=0, le=1000), why: str = Form(max_length=500),
                     confirmed: str = Form("", max_length=8), who: Principal | None = Depends(optional_principal)):
    """First the installments the arrangement will make, then (confirmed) the arrangement."""
    _same_origin(request)
    who = _staff(who)
    fields = {"installments": installments, "first_due": first_due, "every_days": every_days, "why": why}
    try:
        body = staff_accounts_api.Arrangement(installments=installments, first_due=date.fromisoformat(first_due),
                                              every_days=every_days, why=why)
        view = staff_api.account_view(request, account_no, who)
        if not confirmed:
            share = view["balance_minor"] // installments if view["balance_minor"] > 0 else 0
            text = (f"This will put the balance of {_money(view['balance_minor'], view['currency'])} on account "
                    f"{account_no} on {installments} installments of about {_money(share, view['currency'])}, every "
                    f"{every_days} days from {body.first_due}; collections pause while they are paid, and a "
                    f"disconnect in progress is cancelled.")
            return _account_page(request, who, account_no, confirm={
                "text": text, "action": "/arrangements", "button": "Yes, make the arrangement", "fields": fields})
        done = staff_accounts_api.arrange(request, body, account_no, who)
    except (Problem, M2CError, ValueError) as error:  # refused: said on the page
        refused = refusal(error)
        return _account_page(request, who, account_no, status=refused.status, error=refused)
    said = f"Arrangement {done['arrangement_id']} made: {installments} installments from {body.first_due}."
    return _account_page(request, who, account_no, message=said)
