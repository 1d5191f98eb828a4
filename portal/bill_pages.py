"""Staff pages for bill runs and bills: the runs with a form to start a cycle close, one run's progress
(accounts by outcome, the held and failed ones with their reasons, each held one released and billed
after a confirmation), a bill with its lines and its cancel or rebill (the rebill's difference shown
line by line), and the corrections late reads raised, each one rebilled in one step after a
confirmation. The data and the changes are the staff API's (``portal.staff_api``, ``portal.bills_api``)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from config.errors import M2CError
from portal import bills_api, staff_api
from portal.auth import Principal
from portal.deps import ACCOUNT_NO, optional_principal
from portal.errors import RequestRefused
from portal.order_pages import _local
from portal.pages import _page, _same_origin, _staff, refusal
from portal.problems import Problem
from storage.db_errors import first_line

router = APIRouter(include_in_schema=False)


def _error(error: M2CError | None) -> dict | None:
    return None if error is None else {"code": error.code, "message": first_line(error)}


RUNS_PAGE = 25


def _runs_page(request: Request, who: Principal, status: int = 200, message: str | None = None,
               error: M2CError | None = None, offset: int = 0):
    from storage.customers import cycle_codes

    found = staff_api.bill_runs(request, who, RUNS_PAGE, offset)
    runs = found["bill_runs"]
    zone = request.app.state.settings.utility_zone
    for run in runs:
        run["started_at"], run["finished_at"] = _local(run["started_at"], zone), _local(run["finished_at"], zone)
    corrections = bills_api.corrections(request, who)
    with request.app.state.pool.connection() as conn:
        cycles = cycle_codes(conn)
    return _page(request, "staff_bill_runs.html", who, status, title="Bill runs", runs=runs, cycles=cycles,
                 total=found["total"], offset=offset, limit=RUNS_PAGE,
                 corrections=corrections, message=message, error=_error(error),
                 can_start=who.at_least("supervisor"))


@router.get("/staff/bill-runs", response_class=HTMLResponse)
def runs_page(request: Request, offset: int = Query(0, ge=0, le=10**9),
              who: Principal | None = Depends(optional_principal)):
    return _runs_page(request, _staff(who), offset=offset)


@router.post("/staff/bill-runs", response_class=HTMLResponse)
def start_form(request: Request, cycle: str = Form(max_length=16), period_start: str = Form("", max_length=10),
               who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _staff(who)
    try:
        body = staff_api.BillRunRequest(cycle=cycle, period_start=date.fromisoformat(period_start) if period_start
                                        else None)
        if not who.at_least("supervisor"):
            raise Problem(403, "role_required", "starting a bill run needs a supervisor")
        started = staff_api.start_bill_run(request, body, who)
    except (Problem, M2CError, ValueError) as error:
        refused = refusal(error)
        return _runs_page(request, who, refused.status, error=refused)
    return _runs_page(request, who, message=f"Bill run of cycle {cycle} started (period "
                                            f"{started['billing_period_id']}): it appears below as it runs.")


def _run_page(request: Request, who: Principal, run_id: int, status: int = 200, message: str | None = None,
              error: M2CError | None = None, confirm: dict | None = None):
    run = staff_api.bill_run(request, run_id, who)
    zone = request.app.state.settings.utility_zone
    run["started_at"], run["finished_at"] = _local(run["started_at"], zone), _local(run["finished_at"], zone)
    return _page(request, "staff_bill_run.html", who, status, title=f"Bill run {run_id}", run=run, message=message,
                 error=_error(error), confirm=confirm, can_release=who.at_least("supervisor"),
                 refresh=run["status"] == "running" and confirm is None)


@router.get("/staff/bill-runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int = Path(ge=1, le=2**62), who: Principal | None = Depends(optional_principal)):
    return _run_page(request, _staff(who), run_id)


@router.post("/staff/bill-runs/{run_id}/release", response_class=HTMLResponse)
def release_form(request: Request, run_id: int = Path(ge=1, le=2**62), account_no: str = Form(pattern=ACCOUNT_NO),
                 why: str = Form(max_length=500), confirmed: str = Form("", max_length=8),
                 who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _staff(who)
    try:
        body = bills_api.Why(why=why)
        if not confirmed:
            run = staff_api.bill_run(request, run_id, who)
            reason = next((h["reason"] for h in run["held"] if h["account_no"] == account_no), "not held")
            return _run_page(request, who, run_id, confirm={
                "text": f"This will release the open exceptions that block account {account_no}'s bill of cycle "
                        f"{run['cycle']} {run['period_start']} to billing (held: {reason}) and bill the account "
                        f"now from its reads as stored.", "fields": {"account_no": account_no, "why": why}})
        done = bills_api.release_held(request, body, run_id, account_no, who)
    except (Problem, M2CError, ValueError) as error:
        refused = refusal(error)
        return _run_page(request, who, run_id, refused.status, error=refused)
    said = (f"Account {account_no}: {done['released_exceptions']} exceptions released; bill {done['bill_id']} "
            f"issued." if done["bill_id"] else
            f"Account {account_no}: {done['released_exceptions']} exceptions released; still held: "
            f"{', '.join(done['still_held'].values()) or 'nothing to bill'}.")
    return _run_page(request, who, run_id, message=said)


def _bill_page(request: Request, who: Principal, bill_id: int, status: int = 200, message: str | None = None,
               error: M2CError | None = None, confirm: dict | None = None, rebilled: dict | None = None):
    bill = bills_api.show_bill(request, bill_id, who)
    return _page(request, "staff_bill.html", who, status, title=f"Bill {bill_id}", bill=bill, message=message,
                 error=_error(error), confirm=confirm, rebilled=rebilled, can_change=who.at_least("supervisor"))


@router.get("/staff/bills/{bill_id}", response_class=HTMLResponse)
def bill_page(request: Request, bill_id: int = Path(ge=1, le=2**62), who: Principal | None = Depends(optional_principal)):
    return _bill_page(request, _staff(who), bill_id)


@router.post("/staff/bills/{bill_id}", response_class=HTMLResponse)
def bill_form(request: Request, bill_id: int = Path(ge=1, le=2**62), action: str = Form(max_length=8),
              why: str = Form(max_length=500), confirmed: str = Form("", max_length=8),
              who: Principal | None = Depends(optional_principal)):
    """Cancel or rebill: first what it will do, then (confirmed) it; a rebill shows what changed."""
    _same_origin(request)
    who = _staff(who)
    try:
        if action not in ("cancel", "rebill"):
            raise RequestRefused(f"no action {action!r}")
        body = bills_api.Why(why=why)
        if not confirmed:
            bill = bills_api.show_bill(request, bill_id, who)
            what = ("cancel bill {id} of account {account} ({start} to {end}): every posting it made is reversed, "
                    "the period is open again for the account" if action == "cancel" else
                    "cancel bill {id} of account {account} ({start} to {end}) unless it was, and bill the period "
                    "again from the reads as they are now; what changed is shown line by line")
            text = what.format(id=bill_id, account=bill["account_no"], start=bill["period_start"],
                               end=bill["period_end"])
            return _bill_page(request, who, bill_id, confirm={"text": f"This will {text}.",
                                                              "fields": {"action": action, "why": why}})
        if action == "cancel":
            bills_api.cancel(request, body, bill_id, who)
            return _bill_page(request, who, bill_id, message=f"Bill {bill_id} cancelled; its reversal is posted.")
        done = bills_api.rebill(request, body, bill_id, who)
    except (Problem, M2CError, ValueError) as error:
        refused = refusal(error)
        return _bill_page(request, who, bill_id, refused.status, error=refused)
    if done["rebill_id"] is None:
        said = ("Cancelled; nothing else of the account to bill in its period (the final bill takes the days)."
                if done["nothing_left"] else f"Cancelled; the rebill was not issued: {done['held']}.")
        return _bill_page(request, who, bill_id, message=said)
    return _bill_page(request, who, bill_id, message=f"Bill {bill_id} cancelled; rebill {done['rebill_id']} issued.",
                      rebilled=done)
