"""Staff pages for customer cases: the queue (filtered by status, kind, owner, past due; paginated,
with its total) and one case with its links, the request it holds, its history and its actions
(assign, change status or due day, close with a resolution, carry out a stop/move/start request).
Each action is confirmed first with what it will do; the data and the actions are the staff API's
(``portal.cases_api``)."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from cis.cases import KINDS, STATUSES
from config.errors import M2CError
from portal import cases_api
from portal.auth import Principal
from portal.deps import optional_principal
from portal.errors import RequestRefused
from portal.order_pages import _local
from portal.pages import _page, _same_origin, _staff, refusal
from portal.problems import Problem
from storage.db_errors import first_line

router = APIRouter(include_in_schema=False)
PAGE = 25
OPEN = [s for s in STATUSES if s != "closed"]


@router.get("/staff/cases", response_class=HTMLResponse)
def cases_page(request: Request, status: str = Query("", max_length=20), kind: str = Query("", max_length=24),
               owner: str = Query("", max_length=64), overdue: str = Query("", max_length=8),
               offset: int = Query(0, ge=0, le=10**9), who: Principal | None = Depends(optional_principal)):
    who = _staff(who)
    if status not in ("", "all", *STATUSES) or kind not in ("", *KINDS):
        raise Problem(422, "bad_filter", "no such status or kind")
    statuses = OPEN if status == "" else list(STATUSES) if status == "all" else [status]
    found = cases_api.list_cases(request, status=statuses, owner=owner.strip() or None, account_no=None,
                                 kind=kind or None, overdue=bool(overdue), limit=PAGE, offset=offset, who=who)

    def page_url(at: int) -> str:
        return "/staff/cases?" + urlencode({"status": status, "kind": kind, "owner": owner, "overdue": overdue,
                                            "offset": max(0, at)})

    return _page(request, "staff_cases.html", who, title="Cases", cases=found["cases"], total=found["total"],
                 offset=offset, limit=PAGE, statuses=STATUSES, kinds=KINDS, chosen=status, kind=kind, owner=owner,
                 overdue=bool(overdue), page_url=page_url)


def _case_page(request: Request, who: Principal, case_id: int, status: int = 200, error: M2CError | None = None,
               message: str | None = None, confirm: dict | None = None) -> HTMLResponse:
    case = cases_api.show_case(request, case_id, who)
    zone = request.app.state.settings.utility_zone
    history = [{**h, "at": _local(h["at"], zone)} for h in case["history"]]
    return _page(request, "staff_case.html", who, status, title=f"Case {case_id}", case=case, history=history,
                 message=message, confirm=confirm, opened=_local(case["opened_at"], zone),
                 closed=_local(case["closed_at"], zone), statuses=OPEN,
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


@router.get("/staff/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int = Path(ge=1, le=2**62),
              who: Principal | None = Depends(optional_principal)):
    return _case_page(request, _staff(who), case_id)


def _effect(case: dict, action: str, fields: dict) -> str:
    """What the action will do, said before it is done."""
    what = f"case {case['id']} ({case['kind'].replace('_', ' ')}, account {case['account_no']})"
    if action == "update":
        changes = [f"owner {fields['owner'] or 'nobody'}" if fields["owner"] != (case["owner"] or "") else "",
                   f"status {fields['status']}" if fields["status"] and fields["status"] != case["status"] else "",
                   f"due {fields['due_on']}" if fields["due_on"] and fields["due_on"] != case["due_on"] else ""]
        said = ", ".join(c for c in changes if c)
        if not said:
            raise RequestRefused("nothing to change: give another owner, status or due day")
        return f"change {what}: {said}"
    if action == "close":
        return (f"close {what} with the resolution “{fields['resolution']}”; the customer is told by their "
                f"channel")
    request = case.get("request") or {}
    if not request:
        raise RequestRefused(f"case {case['id']} holds no stop, move or start request")
    doing = {"stop": f"stop {request['service']} at {request['from_address']}: the last day served is the day "
                     f"before {request['on']} and the final bill follows",
             "move": f"stop {request['service']} at {request['from_address']} and start it at "
                     f"{request['to_address']} on {request['on']}",
             "start": f"start {request['service']} at {request['to_address']} on {request['on']} on tariff "
                      f"{fields['tariff'] or request.get('tariff') or '(none: name one)'}, with the entity's "
                      f"deposit rule"}[request["action"]]
    return f"carry out the request of {what}: {doing}; then close the case and tell the customer"


@router.post("/staff/cases/{case_id}", response_class=HTMLResponse)
def case_form(request: Request, case_id: int = Path(ge=1, le=2**62), action: str = Form(max_length=16),
              why: str = Form("", max_length=500), owner: str = Form("", max_length=64),
              status: str = Form("", max_length=20), due_on: str = Form("", max_length=10),
              resolution: str = Form("", max_length=2000), tariff: str = Form("", max_length=64),
              confirmed: str = Form("", max_length=8), who: Principal | None = Depends(optional_principal)):
    """First what the action will do, then (confirmed) the action itself."""
    _same_origin(request)
    who = _staff(who)
    fields = {"action": action, "why": why, "owner": owner.strip(), "status": status, "due_on": due_on,
              "resolution": resolution.strip(), "tariff": tariff.strip()}
    try:
        if action not in ("update", "close", "confirm"):
            raise RequestRefused(f"no action {action!r}")
        if status and status not in OPEN:
            raise RequestRefused(f"no status {status!r} (close the case to close it)")
        if not confirmed:
            case = cases_api.show_case(request, case_id, who)
            return _case_page(request, who, case_id, confirm={"text": f"This will {_effect(case, action, fields)}.",
                                                              "action": action, "fields": fields})
        if action == "update":
            body = cases_api.CaseChange(why=why, owner=fields["owner"] or None, status=status or None,
                                        due_on=date.fromisoformat(due_on) if due_on else None)
            cases_api.update_case(request, body, case_id, who)
            said = f"Case {case_id} changed."
        elif action == "close":
            cases_api.close_case(request, cases_api.CaseClose(resolution=fields["resolution"]), case_id, who)
            said = f"Case {case_id} is closed; the customer is told."
        else:
            done = cases_api.confirm_request(request, cases_api.Confirm(why=why, tariff=fields["tariff"] or None),
                                             case_id, who)
            made = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in done["done"].items()
                             if v is not None and k != "deposit")
            said = f"Case {case_id}: the request is carried out ({made})."
    except (Problem, M2CError, ValueError) as error:  # refused: said on the page
        refused = refusal(error)
        return _case_page(request, who, case_id, refused.status, error=refused)
    return _case_page(request, who, case_id, message=said)


@router.post("/staff/accounts/{account_no}/contacts", response_class=HTMLResponse)
def contact_form(request: Request, account_no: str = Path(max_length=32), channel: str = Form(max_length=16),
                 reason: str = Form(max_length=32), notes: str = Form("", max_length=4000),
                 who: Principal | None = Depends(optional_principal)):
    """Log a contact from the staff account page (the API's)."""
    _same_origin(request)
    who = _staff(who)
    try:
        body = cases_api.NewContact(channel=channel, reason=reason, notes=notes.strip())
    except ValueError:
        raise Problem(422, "bad_contact", "a channel and a reason from the lists") from None
    cases_api.log_contact(request, body, account_no, who)
    return RedirectResponse(f"/staff/accounts/{account_no}?message=Contact+logged.#account-contacts", status_code=303)


@router.post("/staff/accounts/{account_no}/cases", response_class=HTMLResponse)
def new_case_form(request: Request, account_no: str = Path(max_length=32), kind: str = Form(max_length=24),
                  channel: str = Form(max_length=16), summary: str = Form(max_length=2000),
                  who: Principal | None = Depends(optional_principal)):
    """Open a case from the staff account page (the API's), the contact that raised it logged with it."""
    _same_origin(request)
    who = _staff(who)
    try:
        body = cases_api.NewCase(account_no=account_no, kind=kind, channel=channel, summary=summary.strip())
    except ValueError:
        raise Problem(422, "bad_case", "a kind and a channel from the lists and a summary of three letters or more") \
            from None
    made = cases_api.open_case(request, body, who)
    return RedirectResponse(f"/staff/accounts/{account_no}?message=Case+{made['id']}+opened.#account-cases",
                            status_code=303)
